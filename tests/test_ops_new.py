"""Issue 14's ops: values against numpy references, PyTorch's semantics, the listed bugs, errors.

Gradients are gradchecked row by row in tests/test_ops.py; values and gradients against torch
itself in tests/parity/ops_parity.py (on demand).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F  # noqa: N812 - PyTorch's idiom

rng = np.random.default_rng(0)


def leaf(array) -> mg.Tensor:
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


# ---- comparisons --------------------------------------------------------------------------


def test_comparisons_give_boolean_tensors_that_never_require_grad():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([3.0, 2.0, 1.0])
    for result, expected in [
        (a == b, [0, 1, 0]),
        (a != b, [1, 0, 1]),
        (a < b, [1, 0, 0]),
        (a <= b, [1, 1, 0]),
        (a > b, [0, 0, 1]),
        (a >= b, [0, 1, 1]),
        (a == 2.0, [0, 1, 0]),
        (a.eq(b), [0, 1, 0]),
    ]:
        assert isinstance(result, mg.Tensor) and result.dtype == np.bool_
        assert not result.requires_grad and result.op is None
        np.testing.assert_array_equal(result.data, np.array(expected, dtype=bool))


def test_accuracy_idiom_works_and_equality_is_not_identity():
    logits = mg.tensor([[0.1, 2.0], [3.0, 0.5], [0.2, 0.1]])
    y = mg.tensor(np.array([1, 0, 1]))
    assert (logits.argmax(1) == y).float().mean().item() == pytest.approx(2 / 3)
    t = mg.tensor([1.0, 2.0])
    assert isinstance(t == t.detach(), mg.Tensor) and bool((t == t.detach()).data.all())
    assert (t == None) is False  # noqa: E711 - comparing with None falls back to identity, as PyTorch


def test_tensors_still_hash_by_identity():
    a, b = mg.tensor([1.0]), mg.tensor([1.0])
    seen = {a: "a", b: "b"}
    assert seen[a] == "a" and seen[b] == "b" and len({a, b, a}) == 2
    assert a is not b


def test_logical_operators_combine_masks():
    x = mg.tensor([-2.0, 0.5, 3.0])
    np.testing.assert_array_equal(((x > 0) & (x < 1)).data, [False, True, False])
    np.testing.assert_array_equal(((x < 0) | (x > 1)).data, [True, False, True])
    np.testing.assert_array_equal((~(x > 0)).data, [True, False, False])
    with pytest.raises(TypeError, match="~: needs a boolean or integer tensor"):
        _ = ~x


# ---- indices and reductions ----------------------------------------------------------------


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin_match_numpy(axis, keepdims):
    x = rng.standard_normal((3, 4))
    x[1, :2] = 5.0  # a tie: the first index wins
    for name in ("argmax", "argmin"):
        got = getattr(mg.tensor(x), name)(axis, keepdims)
        assert got.dtype == np.int64 and not got.requires_grad
        np.testing.assert_array_equal(got.data, getattr(np, name)(x, axis=axis, keepdims=keepdims))
    np.testing.assert_array_equal(mg.tensor(x).argmax(dim=1).data, x.argmax(1))


def test_min_ties_share_the_gradient_like_max():
    x = leaf([[1.0, 1.0, 3.0], [0.0, 2.0, 2.0]])
    out = x.min(axis=1)
    np.testing.assert_array_equal(out.data, [1.0, 0.0])
    out.sum().backward()
    np.testing.assert_allclose(x.grad, [[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])


def test_maximum_minimum_split_ties_in_half():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([3.0, 2.0, 1.0])
    np.testing.assert_array_equal(mg.maximum(a, b).data, [3.0, 2.0, 3.0])
    (mg.maximum(a, b) + 10 * mg.minimum(a, b)).sum().backward()
    np.testing.assert_allclose(a.grad, [10.0, 5.5, 1.0])
    np.testing.assert_allclose(b.grad, [1.0, 5.5, 10.0])


def test_logsumexp_is_stable_and_its_gradient_is_softmax():
    x = leaf([[1000.0, 1000.0], [-1000.0, 0.0]])
    out = x.logsumexp(axis=1)
    np.testing.assert_allclose(out.data, [1000.0 + math.log(2.0), 0.0])
    out.sum().backward()
    np.testing.assert_allclose(x.grad, [[0.5, 0.5], [0.0, 1.0]])
    assert mg.logsumexp(mg.tensor(np.array([-np.inf, -np.inf])), 0).item() == -np.inf
    assert x.logsumexp(1, keepdims=True).shape == (2, 1)


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("correction", [0, 1, 2])
def test_var_std_match_numpy_with_correction(axis, correction):
    x = rng.standard_normal((4, 5))
    np.testing.assert_allclose(
        mg.tensor(x).var(axis, correction=correction).data, np.var(x, axis=axis, ddof=correction)
    )
    np.testing.assert_allclose(
        mg.tensor(x).std(axis, correction=correction, keepdims=True).data,
        np.std(x, axis=axis, ddof=correction, keepdims=True),
    )
    np.testing.assert_allclose(mg.tensor(x).var(axis, unbiased=False).data, np.var(x, axis=axis))


def test_var_of_one_element_with_correction_is_nan_not_an_exception():
    x = leaf([2.0])
    out = x.var()
    assert np.isnan(out.item())
    out.backward()
    assert np.isnan(x.grad).all()


def test_cumsum_matches_numpy_and_integers_sum_as_int64():
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(mg.tensor(x).cumsum(1).data, np.cumsum(x, 1))
    np.testing.assert_allclose(mg.cumsum(mg.tensor(x), dim=0).data, np.cumsum(x, 0))
    counts = mg.tensor(np.array([1, 2, 3], np.uint8)).cumsum(0)
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(counts.data, [1, 3, 6])
    with pytest.raises(TypeError, match="cumsum: needs an axis"):
        mg.tensor(x).cumsum()


# ---- indexing and shapes --------------------------------------------------------------------


def test_gather_matches_take_along_axis_and_scatters_gradients_back():
    x = leaf(rng.standard_normal((3, 4)))
    index = np.array([[0, 0, 3], [2, 1, 1]])  # smaller than x on axis 0, repeats
    out = x.gather(1, index)
    np.testing.assert_array_equal(out.data, np.take_along_axis(x.data[:2], index, 1))
    out.sum().backward()
    expected = np.zeros((3, 4))
    np.add.at(expected, (np.array([[0], [1]]), index), 1.0)
    np.testing.assert_array_equal(x.grad, expected)


def test_gather_errors_name_the_problem():
    x = mg.tensor(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="gather: index must hold integers, got dtype float32"):
        x.gather(1, mg.tensor([[0.0]]))
    with pytest.raises(IndexError, match=r"gather: index 3 is out of range for axis 1 of size 3"):
        x.gather(1, np.array([[3]]))
    with pytest.raises(ValueError, match="gather: index must have the tensor's rank 2"):
        x.gather(1, np.array([0]))
    with pytest.raises(ValueError, match="larger than the tensor"):
        x.gather(1, np.zeros((3, 1), np.int64))
    with pytest.raises(ValueError, match="gather: axis 2 is out of range"):
        x.gather(2, np.zeros((2, 1), np.int64))


def test_one_hot():
    out = F.one_hot(mg.tensor(np.array([[0, 2], [1, 0]])))
    assert out.dtype == np.int64 and out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.data[0], [[1, 0, 0], [0, 0, 1]])
    assert F.one_hot(np.array([1]), num_classes=4).shape == (1, 4)
    assert F.one_hot(mg.tensor([0.0, 1.0])).shape == (2, 2)  # integral floats are indices
    with pytest.raises(IndexError, match="one_hot: class index 4 is out of range for 3 classes"):
        F.one_hot(np.array([4]), 3)
    with pytest.raises(ValueError, match="one_hot: class-index targets must be integers"):
        F.one_hot(mg.tensor([0.5]))
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        F.one_hot(np.array([0]), 0)


def test_squeeze_unsqueeze_flatten_shapes_as_pytorch():
    x = mg.tensor(np.zeros((3, 1, 4, 1)))
    assert x.squeeze().shape == (3, 4)
    assert x.squeeze(1).shape == (3, 4, 1)
    assert x.squeeze(0).shape == (3, 1, 4, 1)  # not of size 1: unchanged
    assert x.squeeze((1, -1)).shape == (3, 4)
    assert x.unsqueeze(0).shape == (1, 3, 1, 4, 1)
    assert x.unsqueeze(-1).shape == (3, 1, 4, 1, 1)
    assert x.flatten().shape == (12,)
    assert x.flatten(1).shape == (3, 4)
    assert x.flatten(0, 1).shape == (3, 4, 1)
    assert mg.tensor(2.0).flatten().shape == (1,)
    with pytest.raises(ValueError, match=r"unsqueeze: axis 5 is out of range for a tensor of shape \(3, 1, 4, 1\)"):
        x.unsqueeze(5)
    with pytest.raises(ValueError, match="squeeze: axis 4 is out of range"):
        x.squeeze(4)
    with pytest.raises(ValueError, match="flatten: start_dim 2 comes after end_dim 1"):
        x.flatten(2, 1)


def test_expand_repeat_flip_match_numpy():
    x = leaf(rng.standard_normal((3, 1)))
    out = x.expand(2, 3, 4)
    np.testing.assert_array_equal(out.data, np.broadcast_to(x.data, (2, 3, 4)))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((3, 1), 8.0))
    np.testing.assert_array_equal(x.expand(-1, 5).data, np.broadcast_to(x.data, (3, 5)))
    np.testing.assert_array_equal(x.repeat(2, 1, 3).data, np.tile(x.data, (2, 1, 3)))
    np.testing.assert_array_equal(x.flip(0).data, x.data[::-1])
    np.testing.assert_array_equal(mg.flip(x, (0, 1)).data, x.data[::-1, ::-1])
    with pytest.raises(ValueError, match=r"expand: a tensor of shape \(3, 1\) cannot expand to \(2, 4\)"):
        x.expand(2, 4)
    with pytest.raises(ValueError, match="expand: -1 is not allowed for the new leading axes"):
        x.expand(-1, 3, 1)
    with pytest.raises(ValueError, match="repeat: needs at least 2 non-negative counts"):
        x.repeat(2)


def test_tril_triu_match_numpy():
    x = rng.standard_normal((2, 3, 4))
    for k in (-1, 0, 2):
        np.testing.assert_array_equal(mg.tensor(x).tril(k).data, np.tril(x, k))
        np.testing.assert_array_equal(mg.triu(mg.tensor(x), k).data, np.triu(x, k))
    with pytest.raises(ValueError, match="tril: needs a tensor with at least 2 axes"):
        mg.tensor([1.0]).tril()


def test_sort_and_topk_values_indices_and_gradients():
    x = leaf([[3.0, 1.0, 3.0, 2.0], [0.0, np.nan, -1.0, 5.0]])
    values, indices = x.sort(1)
    np.testing.assert_array_equal(indices.data, [[1, 3, 0, 2], [2, 0, 3, 1]])  # NaN sorts last
    assert indices.dtype == np.int64
    desc = x.sort(1, descending=True)
    np.testing.assert_array_equal(desc.indices.data, [[0, 2, 3, 1], [1, 3, 0, 2]])  # ties keep order, NaN first
    top = x.topk(2)
    np.testing.assert_array_equal(top.indices.data, [[0, 2], [1, 3]])
    low = mg.topk(x, 1, axis=1, largest=False)
    np.testing.assert_array_equal(low.values.data, [[1.0], [-1.0]])
    (values[0] * mg.tensor(np.arange(4.0))).sum().backward()  # position p of the sorted row gets p
    np.testing.assert_array_equal(x.grad[0], [2.0, 0.0, 3.0, 1.0])
    with pytest.raises(ValueError, match=r"topk: k must be an int in \[0, 4\]"):
        x.topk(5)


def test_masked_fill_fills_and_routes_gradients_around_the_mask():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    out = x.masked_fill(np.array([True, False]), -np.inf)
    np.testing.assert_array_equal(out.data, [[-np.inf, 2.0], [-np.inf, 4.0]])
    x.masked_fill(x > 2.5, 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 1.0], [0.0, 0.0]])
    with pytest.raises(TypeError, match="masked_fill: mask must be boolean"):
        x.masked_fill(np.array([1, 0]), 0.0)
    with pytest.raises(ValueError, match="masked_fill: mask of shape"):
        x.masked_fill(np.ones((3, 2, 2), bool), 0.0)


# ---- activations -----------------------------------------------------------------------------

GRID = np.concatenate([np.linspace(-8, 8, 33), [-40.0, 40.0]])
ERF = np.vectorize(math.erf)  # the reference may touch elements; the engine may not


@pytest.mark.parametrize(
    "name, fn, reference",
    [
        ("softplus", F.softplus, lambda x: np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))),
        ("gelu", F.gelu, lambda x: 0.5 * x * (1 + ERF(x / math.sqrt(2)))),
        (
            "gelu tanh",
            lambda t: F.gelu(t, approximate="tanh"),
            lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
        ),
        ("silu", F.silu, lambda x: x / (1 + np.exp(-x))),
        ("elu", lambda t: F.elu(t, 0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
        ("leaky_relu", lambda t: F.leaky_relu(t, 0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    ],
)
def test_activations_match_their_formulas(name, fn, reference):
    np.testing.assert_allclose(fn(mg.tensor(GRID)).data, reference(GRID), rtol=1e-13, atol=1e-13, err_msg=name)
    assert fn(mg.tensor(GRID.astype(np.float32))).dtype == np.float32


def test_activation_modules_are_pytorch_named_and_call_the_functions():
    x = mg.tensor(GRID)
    for module, fn in [
        (nn.Softplus(beta=2.0), lambda t: F.softplus(t, 2.0)),
        (nn.GELU("tanh"), lambda t: F.gelu(t, "tanh")),
        (nn.SiLU(), F.silu),
        (nn.ELU(alpha=0.3), lambda t: F.elu(t, 0.3)),
        (nn.LeakyReLU(0.2), lambda t: F.leaky_relu(t, 0.2)),
        (nn.ReLU(), F.relu),
        (nn.Tanh(), F.tanh),
        (nn.Sigmoid(), F.sigmoid),
    ]:
        np.testing.assert_array_equal(module(x).data, fn(x).data)
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        F.gelu(x, approximate="fast")
    with pytest.raises(TypeError, match="softplus: needs a floating-point tensor, got dtype int64"):
        F.softplus(mg.tensor(np.array([1, 2])))


# ---- losses ----------------------------------------------------------------------------------


def test_binary_cross_entropy_matches_formula_and_clamps_logs():
    p = rng.uniform(0.05, 0.95, (4, 3))
    y = rng.uniform(0, 1, (4, 3))
    w = rng.uniform(0.5, 2, 3)
    expected = -(w * (y * np.log(p) + (1 - y) * np.log(1 - p)))
    np.testing.assert_allclose(F.binary_cross_entropy(mg.tensor(p), y, weight=w, reduction="none").data, expected)
    np.testing.assert_allclose(F.binary_cross_entropy(mg.tensor(p), y, weight=w).item(), expected.mean())
    edge = F.binary_cross_entropy(mg.tensor(np.array([0.0, 1.0])), np.array([1.0, 0.0]), reduction="none")
    np.testing.assert_array_equal(edge.data, [100.0, 100.0])
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input must hold probabilities in \[0, 1\]"):
        F.binary_cross_entropy(mg.tensor([1.5]), [1.0])
    with pytest.raises(ValueError, match=r"target of shape \(2,\) must have the input's shape \(1,\)"):
        F.binary_cross_entropy(mg.tensor([0.5]), [1.0, 0.0])


def test_binary_cross_entropy_with_logits_is_stable_and_weighs_positives():
    x = np.array([[-800.0, 0.3, 800.0], [2.0, -1.0, 0.0]])
    y = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.5]])
    pw = np.array([2.0, 1.0, 3.0])
    log_sig = -np.logaddexp(0, -x)  # log sigmoid(x)
    log_one_minus = -np.logaddexp(0, x)  # log(1 - sigmoid(x))
    expected = -(pw * y * log_sig + (1 - y) * log_one_minus)
    got = F.binary_cross_entropy_with_logits(leaf(x), y, pos_weight=pw, reduction="none")
    np.testing.assert_allclose(got.data, expected)
    logits = leaf(x)
    F.binary_cross_entropy_with_logits(logits, y, reduction="sum").backward()
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(logits.grad, 1 / (1 + np.exp(-x)) - y)
    with pytest.raises(ValueError, match="pos_weight of shape"):
        F.binary_cross_entropy_with_logits(leaf(x), y, pos_weight=np.ones(2))


def _reference_cross_entropy(z, y, w, eps, ignore=-100):
    """PyTorch's documented formula, in plain numpy, for class-index targets (mean reduction)."""
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    keep = y != ignore
    safe = np.where(keep, y, 0)
    C = z.shape[1]
    nll = -(w[safe] * logp[np.arange(len(y)), safe] * keep).sum() / (w[safe] * keep).sum()
    smooth = -((logp * w).sum(1) * keep).sum() / (w[safe] * keep).sum()
    return (1 - eps) * nll + eps / C * smooth


@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_weight_and_label_smoothing(eps, weighted):
    z = rng.standard_normal((6, 4))
    y = np.array([0, 3, -100, 1, 2, 3])
    w = rng.uniform(0.2, 2.0, 4) if weighted else np.ones(4)
    got = F.cross_entropy(mg.tensor(z), y, weight=w if weighted else None, label_smoothing=eps)
    np.testing.assert_allclose(got.item(), _reference_cross_entropy(z, y, w, eps), rtol=1e-12)
    assert mg.gradcheck(lambda t: F.cross_entropy(t, y, weight=w, label_smoothing=eps), [leaf(z)])


def test_cross_entropy_with_probabilities_smooths_the_targets():
    z = rng.standard_normal((3, 4))
    p = rng.dirichlet(np.ones(4), 3)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    smoothed = 0.8 * p + 0.2 / 4
    got = F.cross_entropy(mg.tensor(z), p, label_smoothing=0.2, reduction="none")
    np.testing.assert_allclose(got.data, -(smoothed * logp).sum(1))


def test_nll_loss_weight_is_a_weighted_mean():
    logp = np.log(rng.dirichlet(np.ones(3), 4))
    y = np.array([0, 2, 2, 1])
    w = np.array([1.0, 2.0, 0.5])
    expected = -(w[y] * logp[np.arange(4), y]).sum() / w[y].sum()
    np.testing.assert_allclose(F.nll_loss(mg.tensor(logp), y, weight=w).item(), expected)
    np.testing.assert_allclose(
        F.nll_loss(mg.tensor(logp), y, weight=w, reduction="none").data, -(w[y] * logp[np.arange(4), y])
    )


def test_weighted_losses_refuse_bad_arguments():
    z = mg.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"cross_entropy: weight must hold one value per class, shape \(3,\)"):
        F.cross_entropy(z, [0, 1], weight=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"cross_entropy: label_smoothing must be in \[0, 1\], got 1.5"):
        F.cross_entropy(z, [0, 1], label_smoothing=1.5)
    with pytest.raises(IndexError, match="nll_loss: target 3 is out of range for 3 classes"):
        F.nll_loss(z, [0, 3], weight=[1.0, 1.0, 1.0])


# ---- LayerNorm -------------------------------------------------------------------------------


def test_layer_norm_matches_the_formula_and_pytorch_names():
    x = rng.standard_normal((2, 3, 4))
    ln = nn.LayerNorm((3, 4), dtype=np.float64)
    assert list(ln.state_dict()) == ["weight", "bias"] and ln.weight.shape == (3, 4)
    ln.weight.data[...] = rng.standard_normal((3, 4))
    ln.bias.data[...] = rng.standard_normal((3, 4))
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-5) * ln.weight.data + ln.bias.data
    np.testing.assert_allclose(ln(mg.tensor(x)).data, expected, rtol=1e-12)
    assert mg.gradcheck(lambda t: ln(t), [leaf(x)])
    assert list(nn.LayerNorm(4, elementwise_affine=False).state_dict()) == []
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(5,\) must match the last axes"):
        nn.LayerNorm(5)(mg.tensor(x))
    with pytest.raises(ValueError, match="LayerNorm: normalized_shape must be a positive int"):
        nn.LayerNorm(0)


# ---- the bugs of issue 14 ----------------------------------------------------------------------


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min", "logsumexp"])
@pytest.mark.parametrize("axis", [0, -1, (0,)])
def test_reductions_of_a_0d_tensor_accept_axis_0_and_minus_1(reduce, axis):
    x = leaf(2.5)
    out = getattr(x, reduce)(axis)
    assert out.shape == () and out.item() == pytest.approx(2.5)
    out.backward()
    assert x.grad.shape == () and x.grad == pytest.approx(1.0)
    with pytest.raises(ValueError, match=rf"{reduce}: axis 1 is out of range for a tensor of shape \(\)"):
        getattr(x, reduce)(1)


def test_pow_exponent_gradient_at_zero_base_and_negative_exponent_is_minus_inf():
    a = leaf([0.0, 0.0, 0.0])
    b = leaf([-1.5, 0.0, 2.0])
    with np.errstate(divide="ignore"):
        (a**b).sum().backward()
    np.testing.assert_array_equal(b.grad, [-np.inf, 0.0, 0.0])


def test_clip_with_no_bounds_raises_naming_clip():
    with pytest.raises(ValueError, match="clip: at least one of low and high must be given"):
        mg.tensor([1.0]).clip(None, None)
    with pytest.raises(ValueError, match="clip"):
        mg.tensor([1.0]).clamp()
    np.testing.assert_array_equal(mg.tensor([-2.0, 2.0]).clamp(min=0.0).data, [0.0, 2.0])


def test_casting_to_an_integer_dtype_cuts_the_gradient():
    x = leaf([1.7, -2.2])
    rounded = x.astype(np.int32)
    assert rounded.dtype == np.int32 and not rounded.requires_grad
    np.testing.assert_array_equal(rounded.data, [1, -2])
    y = x * 2.0 + rounded
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])  # nothing through the rounding
    assert not x.long().requires_grad


def test_complex_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="requires_grad: complex tensors .* cannot require gradients"):
        mg.tensor(np.array([3 + 4j]), requires_grad=True)
    with pytest.raises(TypeError, match="astype: a tensor that requires grad cannot become complex128"):
        leaf([1.0]).astype(np.complex128)
    z = mg.tensor(np.array([3 + 4j]))  # without gradients, complex arithmetic works
    np.testing.assert_allclose((z * z).abs().data, [25.0])


def test_bool_subtraction_is_refused_as_in_pytorch():
    mask = mg.tensor(np.array([True, False]))
    with pytest.raises(TypeError, match="sub: not supported on boolean tensors"):
        mask - mask
    with pytest.raises(TypeError, match="mean: needs a floating-point tensor, got dtype bool"):
        mask.mean()
    assert mask.sum().item() == 1 and mask.sum().dtype == np.int64
