"""Every primitive in the derivative table against central finite differences (float64).

Shapes and values come from hypothesis: broadcastable pairs, positive values where the
op needs them. A final test asserts that no row of the table went unchecked.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad import ops

SETTINGS = settings(max_examples=12, deadline=None)
COVERED: set[str] = set()


def covers(*names: str):
    """Declare which rows of the table a test gradchecks (read by the coverage test below)."""
    COVERED.update(names)
    return lambda test: test


def leaf(array) -> mg.Tensor:
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def values(shape, low=-2.0, high=2.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, width=64))


def away_from_zero(shape, low=0.3, high=2.0):
    magnitude = values(shape, low, high)
    signs = hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0]))
    return st.tuples(magnitude, signs).map(lambda ms: ms[0] * ms[1])


small_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
broadcast_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


def check(name: str, fn, *arrays) -> None:
    assert name in COVERED, f"declare {name} with @covers"
    assert mg.gradcheck(fn, [leaf(a) for a in arrays])


@covers("add", "sub", "mul")
@pytest.mark.parametrize("name", ["add", "sub", "mul"])
@SETTINGS
@given(data=st.data(), shapes=broadcast_pairs)
def test_binary_arithmetic(data, shapes, name):
    a = data.draw(values(shapes.input_shapes[0]))
    b = data.draw(values(shapes.input_shapes[1]))
    fn = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y}[name]
    check(name, fn, a, b)


@covers("div")
@SETTINGS
@given(st.data(), broadcast_pairs)
def test_div(data, shapes):
    a = data.draw(values(shapes.input_shapes[0]))
    b = data.draw(away_from_zero(shapes.input_shapes[1], 0.5))
    check("div", lambda x, y: x / y, a, b)


@covers("neg", "exp", "tanh", "sigmoid")
@SETTINGS
@given(st.data(), small_shapes)
def test_neg_exp_tanh_sigmoid(data, shape):
    x = data.draw(values(shape))
    check("neg", lambda t: -t, x)
    check("exp", lambda t: t.exp(), x)
    check("tanh", lambda t: t.tanh(), x)
    check("sigmoid", lambda t: t.sigmoid(), x)


@covers("log", "sqrt", "pow")
@SETTINGS
@given(st.data(), small_shapes)
def test_log_sqrt_pow(data, shape):
    x = data.draw(values(shape, 0.3, 3.0))
    check("log", lambda t: t.log(), x)
    check("sqrt", lambda t: t.sqrt(), x)
    exponent = data.draw(st.sampled_from([2, 3, 0.5, -1.5]))
    check("pow", lambda t: t**exponent, x)


@covers("power")
@SETTINGS
@given(st.data(), broadcast_pairs)
def test_power_with_tensor_exponent(data, shapes):
    a = data.draw(values(shapes.input_shapes[0], 0.3, 2.0))
    b = data.draw(values(shapes.input_shapes[1], -2.0, 2.0))
    check("power", lambda x, y: x**y, a, b)
    check("power", lambda y: 2.0**y, b)


def test_power_gradient_at_zero_base_follows_pytorch():
    a = mg.tensor(np.array([0.0, 2.0]), requires_grad=True)
    b = mg.tensor(np.array([2.0, 3.0]), requires_grad=True)
    (a**b).sum().backward()
    np.testing.assert_allclose(a.grad, [0.0, 12.0])
    np.testing.assert_allclose(b.grad, [0.0, 8 * np.log(2.0)])


@covers("relu", "abs", "clip")
@SETTINGS
@given(st.data(), small_shapes)
def test_relu_abs_clip_away_from_kinks(data, shape):
    x = data.draw(away_from_zero(shape, 0.05))
    check("relu", lambda t: t.relu(), x)
    check("abs", lambda t: t.abs(), x)
    # Kinks of clip at +-1: keep values 0.05 away from them.
    y = np.where(np.abs(np.abs(x) - 1) < 0.05, x * 0.5, x)
    check("clip", lambda t: t.clip(-1.0, 1.0), y)


@covers("matmul")
@SETTINGS
@given(
    st.data(),
    st.sampled_from(
        [
            ((2, 3), (3, 4)),
            ((3,), (3, 2)),
            ((2, 3), (3,)),
            ((4,), (4,)),
            ((2, 2, 3), (3, 2)),
            ((2, 1, 2, 3), (3, 3, 2)),
            ((3,), (2, 3, 2)),
        ]
    ),
)
def test_matmul(data, shapes):
    a = data.draw(values(shapes[0]))
    b = data.draw(values(shapes[1]))
    check("matmul", lambda x, y: x @ y, a, b)


@covers("addmm")
@SETTINGS
@given(
    st.data(),
    st.sampled_from(
        [
            ((2, 4), (2, 3), (3, 4)),  # a full (B, N) term: a recurrent step's x_proj + h W_hh^T
            ((4,), (2, 3), (3, 4)),  # a bias broadcast over the rows: x W^T + b
            ((1, 4), (2, 3), (3, 4)),
            ((2, 1), (2, 3), (3, 4)),
            ((), (2, 3), (3, 4)),
            ((3, 1, 1), (2, 3), (3, 4)),  # input grows the shape: numpy's broadcasting, as +
            ((4,), (5, 2, 3), (3, 4)),  # batched mat1 (T, B, I) against a 2-d mat2, as numpy's matmul
            ((2,), (2, 3), (3,)),
        ]
    ),
)
def test_addmm(data, shapes):
    c, a, b = (data.draw(values(shape)) for shape in shapes)
    check("addmm", lambda x, y, z: mg.addmm(x, y, z), c, a, b)
    check("addmm", lambda x, y, z: x.addmm(y, z), c, a, b)


def test_addmm_equals_add_of_matmul_to_the_last_bit_and_keeps_one_array():
    rng = np.random.default_rng(0)
    c = mg.tensor(rng.standard_normal((6, 8)).astype(np.float32), requires_grad=True)
    a = mg.tensor(rng.standard_normal((6, 5)).astype(np.float32), requires_grad=True)
    b = mg.tensor(rng.standard_normal((5, 8)).astype(np.float32), requires_grad=True)
    fused = mg.addmm(c, a, b)
    twice = c + a @ b
    np.testing.assert_array_equal(fused.data, twice.data)  # the same float sums, not merely close
    assert fused.op == "addmm" and fused.parents == (c, a, b)  # one node where + and @ make two
    assert twice.op == "add" and twice.parents[1].op == "matmul"
    g = rng.standard_normal((6, 8)).astype(np.float32)
    grads = []
    for y in (fused, twice):
        for t in (c, a, b):
            t.grad = None
        y.backward(g)
        grads.append([t.grad.copy() for t in (c, a, b)])
    for ours, theirs in zip(*grads):
        np.testing.assert_array_equal(ours, theirs)


def test_addmm_promotes_and_broadcasts_like_add_and_matmul():
    a = mg.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    b = mg.tensor(np.ones((3, 4), np.float32))
    assert mg.addmm(0.5, a, b).dtype == np.float32  # a Python number adopts the tensors' dtype
    wide = mg.addmm(mg.tensor(np.ones(4, np.float64)), a, b)
    assert wide.dtype == np.float64 and wide.shape == (2, 4)
    np.testing.assert_array_equal(wide.data, np.full((2, 4), 4.0))
    wide.sum().backward()
    assert a.grad.dtype == np.float32  # the cast's gradient comes back in a's dtype
    np.testing.assert_array_equal(a.grad, np.full((2, 3), 4.0))
    grown = mg.addmm(mg.tensor(np.zeros((3, 1, 1), np.float32)), a, b)
    assert grown.shape == (3, 2, 4)


axes = st.sampled_from([None, 0, -1, (0, 1)])


@covers("sum", "mean", "max")
@SETTINGS
@given(st.data(), hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=3), axes, st.booleans())
def test_reductions(data, shape, axis, keepdims):
    x = data.draw(values(shape))
    check("sum", lambda t: t.sum(axis=axis, keepdims=keepdims), x)
    check("mean", lambda t: t.mean(axis=axis, keepdims=keepdims), x)
    # Distinct values: max is differentiable there (ties are tested separately).
    order = data.draw(st.permutations(range(x.size)))
    distinct = np.array(order, dtype=np.float64).reshape(shape) * 0.37
    check("max", lambda t: t.max(axis=axis, keepdims=keepdims), distinct)


@covers("softmax", "log_softmax")
@SETTINGS
@given(st.data(), hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), st.sampled_from([0, -1]))
def test_softmax_log_softmax(data, shape, axis):
    x = data.draw(values(shape, -5, 5))
    check("softmax", lambda t: t.softmax(axis), x)
    check("log_softmax", lambda t: t.log_softmax(axis), x)


@covers("reshape", "transpose", "cast")
@SETTINGS
@given(st.data(), hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=3))
def test_reshape_transpose_cast(data, shape):
    x = data.draw(values(shape))
    check("reshape", lambda t: t.reshape(-1), x)
    check("transpose", lambda t: t.transpose(0, 1), x)
    check("transpose", lambda t: t.T * 1.0, x)
    # float32 holds ~7 digits, so the finite differences need a larger step.
    assert mg.gradcheck(lambda t: t.astype(np.float32) * 2.0, [leaf(x)], eps=1e-2, atol=1e-3)


def test_cast_gradient_comes_back_in_input_dtype():
    x = mg.tensor(np.ones(3, np.float32), requires_grad=True)
    (x.astype(np.float64) * 2.0).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, 2.0)


@covers("getitem")
@SETTINGS
@given(st.data())
def test_getitem_slices_ints_and_repeated_indices(data):
    x = data.draw(values((4, 3)))
    check("getitem", lambda t: t[1], x)
    check("getitem", lambda t: t[1:3, ::2], x)
    check("getitem", lambda t: t[np.array([0, 2, 2, 0])], x)  # repeats accumulate
    check("getitem", lambda t: t[np.array([0, 1, 1]), np.array([2, 2, 0])], x)
    check("getitem", lambda t: t[..., None, 0], x)


@covers("concat", "stack", "getitem")
@SETTINGS
@given(st.data(), st.integers(0, 1))
def test_concat_stack_split(data, axis):
    a, b, c = (data.draw(values((2, 3))) for _ in range(3))
    check("concat", lambda x, y, z: mg.concat([x, y, z], axis=axis), a, b, c)
    check("stack", lambda x, y, z: mg.stack([x, y, z], axis=axis), a, b, c)
    check("getitem", lambda x: mg.split(x, [1, 2], axis=1)[1] * mg.split(x, 1, axis=1)[0], a)


@covers("where")
@SETTINGS
@given(st.data(), broadcast_pairs)
def test_where(data, shapes):
    a = data.draw(values(shapes.input_shapes[0]))
    b = data.draw(values(shapes.input_shapes[1]))
    cond = data.draw(hnp.arrays(np.bool_, np.broadcast_shapes(*shapes.input_shapes)))
    check("where", lambda x, y: mg.where(cond, x, y), a, b)


def test_max_ties_share_the_gradient():
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def test_every_primitive_is_gradchecked():
    # check() refuses an undeclared row, so a declared row is one some test gradchecks.
    missing = set(ops.PRIMITIVES) - COVERED
    assert not missing, f"primitives without a gradcheck: {sorted(missing)}"


@pytest.mark.parametrize(
    "shape, target", [((2, 3, 4), (3, 4)), ((2, 3, 4), (3, 1)), ((5,), ()), ((2, 1, 3), (1, 1, 3)), ((4, 3), (4, 3))]
)
def test_unbroadcast_sums_back_to_shape(shape, target):
    g = np.random.default_rng(0).standard_normal(shape)
    expected = g
    while expected.ndim > len(target):
        expected = expected.sum(axis=0)
    for axis, n in enumerate(target):
        if n == 1 and expected.shape[axis] != 1:
            expected = expected.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(ops.unbroadcast(g, target), expected.reshape(target))


@pytest.mark.parametrize("axes", [(0, -1, 1), (-1, 0, 1), (2, 0, 1), (-3, -1, -2)])
def test_permute_with_negative_axes(axes):
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    assert mg.gradcheck(lambda t: t.permute(*axes), [leaf(x)])


def test_pow_gradient_of_exponent_zero_is_zero_at_zero():
    x = leaf([0.0, 2.0])
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    a, b = leaf([0.0, 2.0]), leaf([0.0, 0.0])
    (a**b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 0.0])


def test_unbroadcast_refuses_a_gradient_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"unbroadcast: a gradient of shape \(4, 2, 3\) cannot be summed back"):
        ops.unbroadcast(np.ones((4, 2, 3)), (2, 3, 4))


# --------------------------------------------------------------------------------------
# Rows added for issue 14 (PyTorch's everyday ops); values against torch live in
# tests/parity/ops_parity.py, behaviour and errors in tests/test_ops_new.py.
# --------------------------------------------------------------------------------------


@covers("min", "logsumexp", "var", "cumsum")
@SETTINGS
@given(
    st.data(),
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=3),
    st.sampled_from([None, 0, -1]),
    st.booleans(),
)
def test_min_logsumexp_var_cumsum(data, shape, axis, keepdims):
    order = data.draw(st.permutations(range(int(np.prod(shape)))))
    distinct = np.array(order, dtype=np.float64).reshape(shape) * 0.37
    check("min", lambda t: t.min(axis=axis, keepdims=keepdims), distinct)
    x = data.draw(values(shape, -5, 5))
    check("logsumexp", lambda t: t.logsumexp(axis=axis, keepdims=keepdims), x)
    check("var", lambda t: t.var(axis=axis, keepdims=keepdims), x)
    check("var", lambda t: t.var(axis=axis, correction=0), x)
    check("cumsum", lambda t: t.cumsum(-1 if axis is None else axis), x)


@covers("maximum", "minimum")
@SETTINGS
@given(st.data(), broadcast_pairs)
def test_maximum_minimum(data, shapes):
    a = data.draw(values(shapes.input_shapes[0]))
    b = data.draw(values(shapes.input_shapes[1]))
    b = np.where(np.abs(a - b) < 0.05, b + 0.1, b)  # away from the kink a == b
    check("maximum", lambda x, y: x.maximum(y), a, b)
    check("minimum", lambda x, y: mg.minimum(x, y), a, b)


@covers("gather", "expand", "repeat", "flip", "tril", "triu")
@SETTINGS
@given(st.data(), st.integers(0, 1))
def test_gather_expand_repeat_flip_tril_triu(data, axis):
    x = data.draw(values((3, 4)))
    index = data.draw(hnp.arrays(np.int64, (2, 3), elements=st.integers(0, x.shape[axis] - 1)))
    check("gather", lambda t: t.gather(axis, index), x)  # repeated indices add up
    check("expand", lambda t: t[:, :1].expand(2, 3, 5), x)
    check("expand", lambda t: t.expand(-1, 4), x)
    check("repeat", lambda t: t.repeat(2, 1, 3), x)
    check("flip", lambda t: t.flip(axis), x)
    check("flip", lambda t: t.flip((0, 1)), x)
    check("tril", lambda t: t.tril(), x)
    check("triu", lambda t: t.triu(1), x)
    check("tril", lambda t: t.reshape(2, 2, 3).tril(-1), x)


@covers("softplus", "gelu", "silu", "elu", "leaky_relu")
@SETTINGS
@given(st.data(), small_shapes)
def test_activations(data, shape):
    x = data.draw(away_from_zero(shape, 0.05, 4.0))
    check("softplus", lambda t: t.softplus(), x)
    check("softplus", lambda t: t.softplus(beta=2.0, threshold=3.0), x * 0.9 + 0.01)
    check("gelu", lambda t: t.gelu(), x)
    check("gelu", lambda t: t.gelu(approximate="tanh"), x)
    check("silu", lambda t: t.silu(), x)
    check("elu", lambda t: t.elu(alpha=0.7), x)
    check("leaky_relu", lambda t: t.leaky_relu(0.2), x)


@covers("binary_cross_entropy")
@SETTINGS
@given(st.data(), small_shapes)
def test_binary_cross_entropy(data, shape):
    p = data.draw(values(shape, 0.05, 0.95))
    y = data.draw(values(shape, 0.0, 1.0))
    check("binary_cross_entropy", lambda a, b: mg.nn.functional.binary_cross_entropy(a, b, reduction="none"), p, y)


@covers("cross_entropy")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [-100, 1])
def test_fused_cross_entropy_row(reduction, ignore_index):
    from minigrad.nn.functional import cross_entropy

    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4)) * 2
    targets = np.array([0, 1, 3, 1, 2])
    options = {"ignore_index": ignore_index, "reduction": reduction}
    assert cross_entropy(leaf(x), targets, **options).op == "cross_entropy"  # the fused row
    check("cross_entropy", lambda t: cross_entropy(t, targets, **options), x)


@pytest.mark.parametrize(
    "g_shape, shape",
    [((), (1, 100)), ((1, 1), (3, 4)), ((3, 1), (3, 4)), ((1, 4), (2, 3, 4)), ((4,), (2, 4)), ((2, 3), (2, 3))],
)
@pytest.mark.parametrize("layout", ["own", "view", "strided"])
def test_broadcast_view_equals_numpys_broadcast_to(g_shape, shape, layout):
    from minigrad.ops_helpers import broadcast_view

    size = int(np.prod(g_shape))
    base = np.arange(1.0, 2 * size + 3)
    g = {"own": base[:size].copy(), "view": base[2 : 2 + size], "strided": base[: 2 * size : 2]}[layout]
    g = g.reshape(g_shape)
    got, want = broadcast_view(g, shape), np.broadcast_to(g, shape)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    assert got is g or not got.flags.writeable  # a VJP's view must never be written through


def test_broadcast_view_refuses_shapes_numpy_refuses():
    from minigrad.ops_helpers import broadcast_view

    with pytest.raises(ValueError):
        broadcast_view(np.ones(3), (2, 4))
    with pytest.raises(ValueError):
        broadcast_view(np.ones((2, 3)), (3,))
