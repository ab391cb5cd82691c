"""optim: SGD, Adam and Adagrad against their update rules written out in numpy (PyTorch's docs)."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim
from minigrad.nn import functional as F  # noqa: N812 - PyTorch's idiom

rng = np.random.default_rng(0)
SHAPES = [(4, 3), (3,), (2, 2, 2)]
STEPS = 5


# ---- the update rules, written out (PyTorch's documented algorithms) -------------------------------


def ref_sgd(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    p, b = p.copy(), None
    for g in grads:
        g = g + weight_decay * p
        if momentum:
            b = g.copy() if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
    return p


def ref_adam(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
    b1, b2 = betas
    p, m, v, v_max = p.copy(), np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        if amsgrad:
            v_max = np.maximum(v_max, v)
            v_hat = v_max / (1 - b2**t)
        else:
            v_hat = v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def ref_adagrad(p, grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    p, s = p.copy(), np.full_like(p, initial_accumulator_value)
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g**2
        p = p - clr * g / (np.sqrt(s) + eps)
    return p


CASES = [
    (optim.SGD, ref_sgd, dict(lr=0.1)),
    (optim.SGD, ref_sgd, dict(lr=0.1, momentum=0.9)),
    (optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    (optim.SGD, ref_sgd, dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.1)),
    (optim.Adam, ref_adam, dict()),
    (optim.Adam, ref_adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    (optim.Adam, ref_adam, dict(lr=0.02, amsgrad=True)),
    (optim.Adam, ref_adam, dict(lr=0.02, betas=(0.5, 0.9), amsgrad=True, weight_decay=0.05)),
    (optim.Adagrad, ref_adagrad, dict()),
    (
        optim.Adagrad,
        ref_adagrad,
        dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.2, eps=1e-8),
    ),
]


def run(cls, kwargs, dtype, grads_per_step, init):
    params = [nn.Parameter(v.astype(dtype)) for v in init]
    opt = cls(params, **kwargs)
    for grads in grads_per_step:
        for p, g in zip(params, grads):
            p.grad = g.astype(dtype)
        opt.step()
    return params, opt


@pytest.mark.parametrize("cls,ref,kwargs", CASES)
def test_matches_written_out_update_rule(cls, ref, kwargs):
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]
    params, _ = run(cls, kwargs, np.float64, grads, init)
    for i, p in enumerate(params):
        expected = ref(init[i], [g[i] for g in grads], **kwargs)
        np.testing.assert_allclose(p.data, expected, rtol=0, atol=1e-12)
        assert not np.allclose(p.data, init[i])


@pytest.mark.parametrize("cls,ref,kwargs", CASES)
def test_float32_end_to_end(cls, ref, kwargs):
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]
    params, opt = run(cls, kwargs, np.float32, grads, init)
    for i, p in enumerate(params):
        assert p.dtype == np.float32
        for value in opt.state[p].values():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32
        expected = ref(
            init[i].astype(np.float32).astype(np.float64),
            [g[i].astype(np.float32).astype(np.float64) for g in grads],
            **kwargs,
        )
        np.testing.assert_allclose(p.data, expected, rtol=1e-5, atol=1e-6)


def test_parameters_without_grad_are_skipped():
    a, b = nn.Parameter(np.ones(3)), nn.Parameter(np.ones(2))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = np.ones(3)
    opt.step()
    assert np.all(a.data < 1) and np.all(b.data == 1)
    assert b not in opt.state


def test_updates_are_versioned_in_place_writes():
    w = nn.Parameter(np.ones(3))
    data = w.data
    loss = (w * w).sum()
    loss.backward()
    optim.SGD([w], lr=0.1).step()
    assert w.data is data  # in place: views of the weights stay valid
    np.testing.assert_allclose(w.data, 0.8)
    with pytest.raises(mg.GradientError, match="modified in place"):
        loss.backward()  # the graph saw the old weights


def test_zero_grad():
    w = nn.Parameter(np.ones(3))
    opt = optim.SGD([w], lr=0.1)
    w.grad = np.ones(3)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad, 0)
    opt.zero_grad()
    assert w.grad is None


def test_param_groups_take_their_own_options():
    a, b = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(2))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1, momentum=0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0]
    assert opt.param_groups[1]["momentum"] == 0.5
    a.grad, b.grad = np.ones(2), np.ones(2)
    opt.step()
    np.testing.assert_allclose(a.data, -0.1)
    np.testing.assert_allclose(b.data, -1.0)


def test_state_dict_round_trip_continues_exactly():
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(4)]
    straight, _ = run(optim.Adam, dict(lr=0.05, amsgrad=True), np.float64, grads, init)

    first, opt = run(optim.Adam, dict(lr=0.05, amsgrad=True), np.float64, grads[:2], init)
    saved = opt.state_dict()
    assert sorted(saved["state"]) == [0, 1, 2] and saved["param_groups"][0]["params"] == [0, 1, 2]
    params = [nn.Parameter(p.data) for p in first]
    resumed = optim.Adam(params, lr=0.5)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == 0.05
    for step in grads[2:]:
        for p, g in zip(params, step):
            p.grad = g
        resumed.step()
    for p, q in zip(params, straight):
        np.testing.assert_array_equal(p.data, q.data)
    with pytest.raises(ValueError, match="parameters"):
        optim.Adam(params[:2]).load_state_dict(saved)


def test_closure_is_evaluated():
    w = nn.Parameter(np.array([3.0]))
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 9.0
    np.testing.assert_allclose(w.data, [1.5])


def test_errors():
    w = nn.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.SGD([w], lr=-0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="got a single Parameter"):
        optim.Adam(w)
    with pytest.raises(TypeError, match="floating-point"):
        optim.SGD([mg.tensor(np.ones(2, dtype=np.int64))], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize tensors"):
        optim.SGD([np.ones(2)], lr=0.1)
    for betas in [(1.0, 0.999), (0.9, -0.1), (0.9,)]:
        with pytest.raises(ValueError, match="betas"):
            optim.Adam([w], betas=betas)
    with pytest.raises(ValueError, match="eps must be >= 0"):
        optim.Adam([w], eps=-1e-8)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        optim.Adagrad([w], weight_decay=-1)
    with pytest.raises(ValueError, match="lr_decay must be >= 0"):
        optim.Adagrad([w], lr_decay=-1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="unknown options"):
        optim.SGD([{"params": [w], "betas": (0.9, 0.9)}], lr=0.1)


def test_adam_trains_a_linear_model():
    mg.manual_seed(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32) + 0.3
    model = nn.Linear(3, 1)
    opt = optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(200):
        opt.zero_grad()
        loss = F.mse_loss(model(mg.tensor(x)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 1e-3 * losses[0]
    np.testing.assert_allclose(model.weight.data, [[1.0, -2.0, 0.5]], atol=0.02)
