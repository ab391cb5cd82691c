"""nn.functional: losses and activations against written-out numpy maths (float64) and gradcheck."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn import functional as F  # noqa: N812 - PyTorch's idiom

rng = np.random.default_rng(0)


# ---- the reference, in plain numpy ------------------------------------------------------


def ref_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def ref_nll(logp, y, ignore_index=-100, reduction="mean"):
    """l[n, d...] = -logp[n, y[n, d...], d...], looping over every position (no fancy indexing)."""
    class_axis = 0 if logp.ndim == 1 else 1
    lp = np.moveaxis(logp, class_axis, -1)  # (..., C)
    losses = np.zeros(y.shape)
    weights = np.zeros(y.shape)
    for pos in np.ndindex(y.shape):
        if y[pos] != ignore_index:
            losses[pos] = -lp[pos][y[pos]]
            weights[pos] = 1.0
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / weights.sum()


def ref_ce_grad(x, y, ignore_index=-100, reduction="mean"):
    """d mean-CE / d logits = (softmax - onehot) * weight / count, the textbook formula."""
    class_axis = 0 if x.ndim == 1 else 1
    p = np.exp(ref_log_softmax(x, class_axis))
    p = np.moveaxis(p, class_axis, -1)
    grad = np.zeros_like(p)
    count = 0
    for pos in np.ndindex(y.shape):
        if y[pos] != ignore_index:
            grad[pos] = p[pos]
            grad[pos][y[pos]] -= 1
            count += 1
    if reduction == "mean":
        grad /= count
    return np.moveaxis(grad, -1, class_axis)


LAYOUTS = [((5,), ()), ((6, 4), (6,)), ((3, 4, 2), (3, 2)), ((2, 3, 2, 3), (2, 2, 3))]


def make(shape, tshape, ignore_some=True):
    n_classes = shape[0] if len(shape) == 1 else shape[1]
    x = rng.standard_normal(shape)
    y = rng.integers(0, n_classes, size=tshape)
    if ignore_some and y.size > 2:
        y.ravel()[::3] = -100
    return x, y


# ---- cross_entropy / nll_loss -----------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape,tshape", LAYOUTS)
def test_cross_entropy_matches_numpy(shape, tshape, reduction):
    x, y = make(shape, tshape)
    logits = mg.tensor(x, requires_grad=True)
    loss = F.cross_entropy(logits, y, reduction=reduction)
    class_axis = 0 if x.ndim == 1 else 1
    expected = ref_nll(ref_log_softmax(x, class_axis), y, reduction=reduction)
    assert loss.shape == np.shape(expected)
    np.testing.assert_allclose(loss.data, expected, rtol=0, atol=1e-10)
    if reduction != "none":
        loss.backward()
        np.testing.assert_allclose(logits.grad, ref_ce_grad(x, y, reduction=reduction), rtol=0, atol=1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape,tshape", LAYOUTS)
def test_cross_entropy_gradcheck(shape, tshape, reduction):
    x, y = make(shape, tshape)
    logits = mg.tensor(x, requires_grad=True)
    assert mg.gradcheck(lambda a: F.cross_entropy(a, y, reduction=reduction), [logits])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape,tshape", LAYOUTS)
def test_nll_loss_matches_numpy_and_gradcheck(shape, tshape, reduction):
    x, y = make(shape, tshape)
    logp = mg.tensor(x, requires_grad=True)
    loss = F.nll_loss(logp, y, reduction=reduction)
    np.testing.assert_allclose(loss.data, ref_nll(x, y, reduction=reduction), rtol=0, atol=1e-10)
    assert mg.gradcheck(lambda a: F.nll_loss(a, y, reduction=reduction), [logp])


def test_ignore_index_custom_value_and_none_reduction_zeroes():
    x = rng.standard_normal((5, 3))
    y = np.array([0, 2, 1, 2, 0])
    loss = F.cross_entropy(mg.tensor(x), y, ignore_index=2, reduction="none")
    assert loss.data[1] == 0 and loss.data[3] == 0
    mean = F.cross_entropy(mg.tensor(x), y, ignore_index=2)
    np.testing.assert_allclose(mean.item(), ref_nll(ref_log_softmax(x, 1), y, ignore_index=2), atol=1e-12)
    # ignoring nothing (default -100 never occurs) is the plain mean
    plain = F.cross_entropy(mg.tensor(x), y)
    np.testing.assert_allclose(plain.item(), ref_nll(ref_log_softmax(x, 1), y, ignore_index=-1), atol=1e-12)


def test_ignored_entries_get_zero_gradient():
    x, y = make((7, 4), (7,))
    logits = mg.tensor(x, requires_grad=True)
    F.cross_entropy(logits, y).backward()
    assert np.all(logits.grad[y == -100] == 0)
    assert np.all(np.abs(logits.grad[y != -100]).sum(axis=1) > 0)


def test_every_target_ignored_gives_nan_loss_and_zero_gradient_as_pytorch():
    logits = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    loss = F.cross_entropy(logits, [-100, -100, -100])
    assert np.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(logits.grad, np.zeros((3, 4)))


@pytest.mark.parametrize(
    "make_targets",
    [
        lambda y: y,  # int64 ndarray
        lambda y: y.astype(np.int32),
        lambda y: y.tolist(),  # Python list
        lambda y: mg.tensor(y.tolist()),  # float32 tensor of integral values
        lambda y: mg.tensor(y, dtype=np.int64),
        lambda y: y.astype(np.float64),
    ],
)
def test_target_containers(make_targets):
    x = rng.standard_normal((4, 3))
    y = np.array([0, 2, 1, 1])
    loss = F.cross_entropy(mg.tensor(x), make_targets(y))
    np.testing.assert_allclose(loss.item(), ref_nll(ref_log_softmax(x, 1), y), atol=1e-12)


def test_float32_stays_float32():
    logits = mg.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(logits, [0, 1, 2, -100])
    assert loss.dtype == np.float32
    loss.backward()
    assert logits.grad.dtype == np.float32


def test_probability_targets_as_pytorch():
    x = rng.standard_normal((4, 3, 2))
    p = rng.random((4, 3, 2))
    p /= p.sum(axis=1, keepdims=True)
    losses = -(p * ref_log_softmax(x, 1)).sum(axis=1)
    for reduction, expected in [("none", losses), ("sum", losses.sum()), ("mean", losses.mean())]:
        got = F.cross_entropy(mg.tensor(x), p, reduction=reduction)
        np.testing.assert_allclose(got.data, expected, rtol=0, atol=1e-10)
    assert mg.gradcheck(lambda a: F.cross_entropy(a, p), [mg.tensor(x, requires_grad=True)])


def test_cross_entropy_errors():
    logits = mg.tensor(rng.standard_normal((3, 4)))
    with pytest.raises(ValueError, match="integers"):
        F.cross_entropy(logits, [0.5, 1.0, 2.0])
    with pytest.raises(IndexError, match="out of range for 4 classes"):
        F.cross_entropy(logits, [0, 4, 1])
    with pytest.raises(IndexError, match="-1 is out of range"):
        F.cross_entropy(logits, [0, -1, 1])
    with pytest.raises(ValueError, match=r"targets of shape \(3,\), got \(4,\)"):
        F.cross_entropy(logits, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, [0, 1, 2], reduction="avg")
    with pytest.raises(ValueError, match="class axis"):
        F.cross_entropy(mg.tensor(1.0), 0)
    with pytest.raises(TypeError, match="floats"):
        F.cross_entropy(mg.tensor(np.zeros((2, 3), dtype=np.int64)), [0, 1])
    with pytest.raises(TypeError, match="class indices"):
        F.cross_entropy(logits, np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match="integers"):
        F.nll_loss(logits, [np.nan, 1, 2])


# ---- mse_loss -----------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_matches_numpy_and_gradcheck(reduction):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    sq = (a - b) ** 2
    expected = {"mean": sq.mean(), "sum": sq.sum(), "none": sq}[reduction]
    pred = mg.tensor(a, requires_grad=True)
    np.testing.assert_allclose(F.mse_loss(pred, b, reduction=reduction).data, expected, rtol=0, atol=1e-12)
    target = mg.tensor(b, requires_grad=True)  # both sides get gradients
    assert mg.gradcheck(lambda p, t: F.mse_loss(p, t, reduction=reduction), [pred, target])


def test_mse_loss_gradient_formula():
    a, b = rng.standard_normal(6), rng.standard_normal(6)
    pred = mg.tensor(a, requires_grad=True)
    F.mse_loss(pred, b).backward()
    np.testing.assert_allclose(pred.grad, 2 * (a - b) / a.size, rtol=0, atol=1e-14)


def test_mse_loss_errors():
    with pytest.raises(ValueError, match=r"\(3, 1\) and target of shape \(3,\)"):
        F.mse_loss(mg.tensor(np.zeros((3, 1))), np.zeros(3))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(mg.tensor(np.zeros(3)), np.zeros(3), reduction="mena")


# ---- softmax / log_softmax ------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_and_log_softmax(axis):
    x = rng.standard_normal((3, 4, 2)) * 5
    t = mg.tensor(x, requires_grad=True)
    np.testing.assert_allclose(F.log_softmax(t, axis).data, ref_log_softmax(x, axis), rtol=0, atol=1e-12)
    np.testing.assert_allclose(F.softmax(t, axis).data, np.exp(ref_log_softmax(x, axis)), rtol=0, atol=1e-12)
    np.testing.assert_allclose(F.softmax(t, dim=axis).data, F.softmax(t, axis).data)
    assert mg.gradcheck(lambda a: F.log_softmax(a, axis), [t])
    assert mg.gradcheck(lambda a: F.softmax(a, axis), [t])


def test_log_softmax_is_stable_for_large_logits():
    out = F.log_softmax(mg.tensor(np.array([1000.0, 0.0])))
    np.testing.assert_allclose(out.data, [0.0, -1000.0])


# ---- dropout ----------------------------------------------------------------------------------


def test_dropout_mask_scaling_and_gradient():
    mg.manual_seed(3)
    x = mg.tensor(np.ones((200, 50)), requires_grad=True)
    out = F.dropout(x, 0.3)
    values = np.unique(out.data)
    np.testing.assert_allclose(values, [0.0, 1 / 0.7])
    kept = (out.data != 0).mean()
    assert abs(kept - 0.7) < 0.02
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)  # d(x * m / (1-p)) / dx = m / (1-p)


def test_dropout_follows_manual_seed():
    x = mg.tensor(np.ones((10, 10)))
    mg.manual_seed(7)
    a = F.dropout(x, 0.5).data
    b = F.dropout(x, 0.5).data
    mg.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x, 0.5).data, a)
    assert not np.array_equal(a, b)


def test_dropout_identity_cases_and_errors():
    x = mg.tensor(rng.standard_normal((4, 4)))
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, np.zeros((4, 4)))
    assert F.dropout(mg.tensor(np.ones(3, dtype=np.float32)), 0.5).dtype == np.float32
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"dropout: probability p must be in \[0, 1\]"):
            F.dropout(x, p)


def test_cross_entropy_errors_name_cross_entropy():
    logits = mg.tensor(np.zeros((2, 5)))
    with pytest.raises(IndexError, match="cross_entropy: target 7 is out of range for 5 classes"):
        F.cross_entropy(logits, np.array([0, 7]))
