"""The eager fast paths give what the general paths give: the fused cross-entropy row, the
per-version cache of a parameter's transpose, and thin weight gradients summed as one matmul."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn.functional import cross_entropy, log_softmax, nll_loss


def _general_cross_entropy(logits, targets, **options):
    # The composition the fused row replaces: log_softmax, then pick and reduce.
    return nll_loss(log_softmax(logits, 1), targets, **options)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignored", [False, True])
def test_fused_cross_entropy_equals_the_composed_one(dtype, tol, reduction, ignored):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((7, 6)) * 3).astype(dtype)
    targets = rng.integers(0, 6, 7)
    if ignored:
        targets[[1, 4]] = -100
    fused, composed = mg.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    a = cross_entropy(fused, targets, reduction=reduction)
    b = _general_cross_entropy(composed, targets, reduction=reduction)
    assert a.op == "cross_entropy" and a.dtype == dtype
    np.testing.assert_allclose(a.data, b.data, rtol=tol, atol=tol)
    g = rng.standard_normal(a.shape).astype(dtype) if a.ndim else None
    a.backward(g)
    b.backward(g)
    assert fused.grad.dtype == dtype
    np.testing.assert_allclose(fused.grad, composed.grad, rtol=tol, atol=tol)


def test_fused_cross_entropy_is_one_node_and_a_second_backward_adds_the_same():
    logits = mg.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    with mg.trace() as tape:
        loss = cross_entropy(logits, np.array([0, 3, 1]))
    assert [r.op for r in tape.records] == ["cross_entropy"]
    loss.backward()
    first = logits.grad.copy()
    loss.backward()  # the saved softmax must not have been overwritten by the first pass
    np.testing.assert_allclose(logits.grad, 2 * first)


def test_fused_cross_entropy_with_an_ignore_index_inside_the_classes():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 4))
    targets = np.array([0, 2, 2, 3, 1])
    a, b = mg.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    la, lb = cross_entropy(a, targets, ignore_index=2), _general_cross_entropy(b, targets, ignore_index=2)
    assert la.op == "cross_entropy"
    la.backward()
    lb.backward()
    np.testing.assert_allclose(la.data, lb.data)
    np.testing.assert_allclose(a.grad, b.grad)
    assert not a.grad[1].any() and not a.grad[2].any()


def test_every_target_ignored_on_the_fused_path_gives_nan_and_zero_gradient():
    logits = mg.tensor(np.ones((3, 2)), requires_grad=True)
    loss = cross_entropy(logits, np.array([-100, -100, -100]))
    loss.backward()
    assert np.isnan(loss.item()) and not logits.grad.any()


@pytest.mark.parametrize(
    "targets, error, words",
    [
        (np.array([0, 5]), IndexError, "target 5 is out of range for 4 classes"),
        (np.array([-3, 1]), IndexError, "target -3 is out of range"),
        (np.array([0, 1, 2]), ValueError, "needs targets of shape (2,)"),
    ],
)
def test_bad_targets_still_get_the_named_errors(targets, error, words):
    logits = mg.tensor(np.zeros((2, 4)), requires_grad=True)
    with pytest.raises(error, match=r"cross_entropy: .*" + words.replace("(", r"\(").replace(")", r"\)")):
        cross_entropy(logits, targets)


# ---- the transpose of a parameter, cached per version ---------------------------------


def test_a_parameters_transpose_is_reused_while_it_is_unchanged():
    w = mg.nn.Parameter(np.arange(6.0).reshape(3, 2))
    first = w.T
    assert w.T is first
    w.add_(1.0)  # a new version: a new transpose, showing the new values
    second = w.T
    assert second is not first
    np.testing.assert_array_equal(second.data, w.data.T)
    w.data = np.zeros((3, 2))  # a new array altogether
    assert w.T is not second and not w.T.data.any()


def test_the_cache_survives_writes_to_other_tensors_and_not_writes_through_a_view():
    w = mg.nn.Parameter(np.arange(6.0).reshape(3, 2))
    other = mg.nn.Parameter(np.zeros(2))
    first = w.T
    other.add_(1.0)  # the in-place clock moved, but not for w's memory
    assert w.T is first
    w.detach()[0].add_(5.0)  # a write into w's memory through a view of it
    second = w.T
    assert second is not first
    np.testing.assert_array_equal(second.data, w.data.T)
    assert w.T is second


def test_the_cache_follows_the_grad_mode_and_is_off_while_tracing():
    w = mg.nn.Parameter(np.ones((2, 2)))
    with mg.no_grad():
        frozen = w.T
    assert not frozen.requires_grad
    live = w.T
    assert live.requires_grad and live.op == "transpose"
    with mg.trace() as tape:
        first, second = w.T, w.T
    assert first is not second
    assert [r.op for r in tape.records] == ["transpose", "transpose"]


def test_gradients_through_a_reused_transpose_add_up_as_without_the_cache():
    rng = np.random.default_rng(4)
    w = mg.nn.Parameter(rng.standard_normal((4, 3)))
    h0 = rng.standard_normal((2, 3))

    def unroll(transpose_of_w):
        h = mg.tensor(h0)
        for _ in range(3):  # a time loop: h @ W^T at every step
            h = (h @ transpose_of_w() @ w).tanh()
        h.sum().backward()
        grad, w.grad = w.grad, None
        return grad

    cached = unroll(lambda: w.T)
    assert w.T is w.T
    uncached = unroll(lambda: w.transpose())  # a new transpose op at every step
    np.testing.assert_allclose(cached, uncached, rtol=1e-12)


def test_weight_and_label_smoothing_take_the_general_path():
    logits = mg.tensor(np.random.default_rng(5).standard_normal((3, 4)), requires_grad=True)
    targets = np.array([0, 3, 1])
    assert cross_entropy(logits, targets, label_smoothing=0.1).op != "cross_entropy"
    assert cross_entropy(logits, targets, weight=np.ones(4)).op != "cross_entropy"
    np.testing.assert_allclose(
        cross_entropy(logits, targets, weight=np.ones(4)).data, cross_entropy(logits, targets).data, rtol=1e-12
    )


# ---- thin weight gradients: sum_t a_t^T g_t as one matmul --------------------------------


def _unrolled(w_ih, w_hh, xs, h, use_addmm):
    loss = 0.0
    for x in xs:
        pre = mg.addmm(x @ w_ih.T, h, w_hh.T) if use_addmm else x @ w_ih.T + h @ w_hh.T
        h = pre.tanh()
        loss = loss + (h * h).sum()
    return loss


def _per_step_reference(w_ih, w_hh, xs, h0):
    """The same gradients by hand, adding each step's outer product as it comes (float64)."""
    hs, h = [h0], h0
    for x in xs:
        h = np.tanh(x @ w_ih.T + h @ w_hh.T)
        hs.append(h)
    g_ih, g_hh, dh = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros_like(h0)
    for t in reversed(range(len(xs))):
        dh = dh + 2 * hs[t + 1]
        draw = dh * (1 - hs[t + 1] ** 2)
        g_ih += draw.T @ xs[t]
        g_hh += draw.T @ hs[t]
        dh = draw @ w_hh
    return g_ih, g_hh


@pytest.mark.parametrize("rows", [1, 3, 8, 9, 32])
@pytest.mark.parametrize("use_addmm", [False, True])
def test_thin_weight_gradients_summed_once_equal_the_per_step_sum(rows, use_addmm):
    rng = np.random.default_rng(rows)
    w_ih, w_hh = rng.standard_normal((5, 4)) * 0.5, rng.standard_normal((5, 5)) * 0.5
    xs, h0 = [rng.standard_normal((rows, 4)) for _ in range(6)], rng.standard_normal((rows, 5))
    W_ih, W_hh = mg.nn.Parameter(w_ih), mg.nn.Parameter(w_hh)
    seen = []
    W_hh.register_hook(lambda g: seen.append(g.copy()))  # a hook sees the complete sum
    _unrolled(W_ih, W_hh, [mg.tensor(x) for x in xs], mg.tensor(h0), use_addmm).backward()
    want_ih, want_hh = _per_step_reference(w_ih, w_hh, xs, h0)
    np.testing.assert_allclose(W_ih.grad, want_ih, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(W_hh.grad, want_hh, rtol=1e-12, atol=1e-12)
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], want_hh, rtol=1e-12, atol=1e-12)


def test_a_thin_product_of_a_tensor_with_itself_keeps_both_paths():
    a = mg.tensor(np.arange(4.0).reshape(2, 2) / 4, requires_grad=True)
    (a @ a).sum().backward()
    ones = np.ones((2, 2))
    np.testing.assert_allclose(a.grad, ones @ a.data.T + a.data.T @ ones, rtol=1e-15)


def test_an_addmm_whose_bias_is_its_weight_keeps_every_path():
    rng = np.random.default_rng(5)
    w = mg.nn.Parameter(rng.standard_normal((3, 3)))
    a = mg.tensor(rng.standard_normal((1, 3)))
    total = 0.0
    for _ in range(3):  # several products of the same weight: the deferred path
        total = total + mg.addmm(w, a, w).tanh().sum()
    total.backward()
    want = np.zeros((3, 3))
    for _ in range(3):
        y = np.tanh(w.data + a.data @ w.data)
        d = 1 - y**2
        want += d + a.data.T @ d.sum(axis=0, keepdims=True)  # the product (1, 3) grew to (3, 3)
    np.testing.assert_allclose(w.grad, want, rtol=1e-12)


def test_a_weight_that_is_not_a_matrix_is_never_deferred():
    # addmm's input grows a 1-d product (4,) into (3, 4): the weight b is (5,), not a matrix
    c = mg.tensor(np.ones((3, 4)), requires_grad=True)
    a = mg.tensor(np.ones((4, 5)), requires_grad=True)
    b = mg.tensor(np.arange(5.0), requires_grad=True)
    total = 0.0
    for _ in range(3):
        total = total + mg.addmm(c, a, b).sum()
    total.backward()
    np.testing.assert_allclose(b.grad, np.full(5, 3 * 3 * 4.0))
    np.testing.assert_allclose(a.grad, np.full((4, 5), 3 * 3.0) * np.arange(5.0))
