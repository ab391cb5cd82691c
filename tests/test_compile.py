"""mg.compile: the replay equals eager (values and .grad), and every guard falls back or recompiles."""

from __future__ import annotations

import types

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn.functional import cross_entropy, dropout

VOCAB, HIDDEN, STEPS, BATCH = 7, 5, 4, 3


class RawRNN:
    """min-char-rnn written op by op, as the course and Karpathy's script do."""

    def __init__(self, dtype=np.float64, seed=0):
        rng = np.random.default_rng(seed)
        self.W_ih = nn.Parameter((rng.standard_normal((HIDDEN, VOCAB)) * 0.3).astype(dtype))
        self.W_hh = nn.Parameter((rng.standard_normal((HIDDEN, HIDDEN)) * 0.3).astype(dtype))
        self.b = nn.Parameter(np.zeros(HIDDEN, dtype))
        self.W_hy = nn.Parameter((rng.standard_normal((VOCAB, HIDDEN)) * 0.3).astype(dtype))
        self.b_y = nn.Parameter(np.zeros(VOCAB, dtype))
        for name in ("W_ih", "W_hh", "b", "W_hy", "b_y"):
            getattr(self, name).name = name
        self.params = [self.W_ih, self.W_hh, self.b, self.W_hy, self.b_y]

    def loss(self, x, y, h):
        total = 0
        for t in range(x.shape[0]):
            h = (x[t] @ self.W_ih.T + h @ self.W_hh.T + self.b).tanh()
            total = total + cross_entropy(h @ self.W_hy.T + self.b_y, y[t])
        return total / x.shape[0], h


def batch(rng, dtype=np.float64, steps=STEPS):
    x = mg.tensor(rng.standard_normal((steps, BATCH, VOCAB)).astype(dtype))
    return x, rng.integers(0, VOCAB, (steps, BATCH)), mg.tensor(rng.standard_normal((BATCH, HIDDEN)).astype(dtype))


def eager_grads(model, *inputs):
    for p in model.params:
        p.grad = None
    loss, h = model.loss(*inputs)
    loss.backward()
    return loss.data.copy(), h.data.copy(), [p.grad.copy() for p in model.params]


def compiled_grads(step, model, *inputs):
    for p in model.params:
        p.grad = None
    loss, h = step(*inputs)
    return loss.data.copy(), h.data.copy(), [p.grad.copy() for p in model.params]


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-6), (np.float64, 1e-12)])
def test_replay_equals_eager_and_fills_grad(dtype, tol):
    model = RawRNN(dtype)
    step = mg.compile(model.loss)
    rng = np.random.default_rng(1)
    for call in range(5):
        inputs = batch(rng, dtype)
        got = compiled_grads(step, model, *inputs)
        want = eager_grads(model, *inputs)
        if call >= 2:
            assert step.last_fallback is None  # this call was a replay
        np.testing.assert_allclose(got[0], want[0], rtol=tol, atol=tol)
        np.testing.assert_allclose(got[1], want[1], rtol=tol, atol=tol)
        for a, b in zip(got[2], want[2]):
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_gradients_accumulate_like_backward_and_a_training_loop_matches_eager():
    compiled_model, eager_model = RawRNN(), RawRNN()
    step = mg.compile(compiled_model.loss)
    opt_c = mg.optim.Adagrad(compiled_model.params, lr=0.1)
    opt_e = mg.optim.Adagrad(eager_model.params, lr=0.1)
    rng = np.random.default_rng(2)
    for _ in range(6):
        inputs = batch(rng)
        opt_c.zero_grad()
        opt_e.zero_grad()
        loss_c, _ = step(*inputs)
        loss_e, _ = eager_model.loss(*inputs)
        loss_e.backward()
        opt_c.step()
        opt_e.step()
        assert loss_c.item() == pytest.approx(loss_e.item(), abs=1e-12)
    for a, b in zip(compiled_model.params, eager_model.params):
        np.testing.assert_allclose(a.data, b.data, atol=1e-12)
    before = compiled_model.W_hh.grad.copy()
    step(*inputs)  # no zero_grad: it adds, as backward() does
    assert not np.allclose(compiled_model.W_hh.grad, before)


def test_source_is_one_line_per_op_and_per_vjp_calling_the_table():
    model = RawRNN()
    step = mg.compile(model.loss)
    rng = np.random.default_rng(3)
    step(*batch(rng))
    with pytest.raises(RuntimeError, match="no replay compiled yet"):
        _ = step.source
    step(*batch(rng))
    source = step.source
    assert "def compiled_step(" in source
    assert source.count("= tanh(") == STEPS and source.count("tanh_vjp0(") == STEPS
    assert source.count("= cross_entropy(") == STEPS and "cross_entropy_vjp0(g_v" in source
    assert "_accumulate_into(W_hh, g_W_hh)" in source
    compile(source, "<test>", "exec")  # valid Python


def test_new_input_shapes_compile_a_second_replay():
    model = RawRNN()
    step = mg.compile(model.loss)
    rng = np.random.default_rng(4)
    for _ in range(2):
        step(*batch(rng))
    longer = batch(rng, steps=STEPS + 2)
    got = compiled_grads(step, model, *longer)
    assert step.last_fallback == "recording (the step compiles at its second call)"
    want = eager_grads(model, *longer)
    np.testing.assert_allclose(got[0], want[0], atol=1e-12)
    step(*batch(rng, steps=STEPS + 2))
    step(*batch(rng))
    assert step.last_fallback is None  # the first signature still replays


def test_a_data_dependent_branch_that_differs_between_the_recorded_calls_stays_eager():
    w = nn.Parameter(np.array([1.0, -2.0]))

    def loss_fn(x):
        if x.data.sum() > 0:  # Python branch on a value: invisible to a tracer
            return (x * w).sum()
        return (x * w).exp().sum()

    step = mg.compile(loss_fn)
    step(mg.tensor(np.array([1.0, 1.0])))
    step(mg.tensor(np.array([-1.0, -1.0])))
    assert "differ" in step.last_fallback and "data-dependent" in step.last_fallback
    w.grad = None
    x = mg.tensor(np.array([-3.0, 1.0]))
    loss = step(x)
    assert loss.item() == pytest.approx(np.exp([-3.0, -2.0]).sum())
    np.testing.assert_allclose(w.grad, x.data * np.exp(x.data * w.data))


def test_check_every_n_calls_catches_a_branch_that_flips_after_capture():
    w = nn.Parameter(np.array([0.5, 0.5]))

    def loss_fn(x):
        if x.data[0] < 10:
            return (x * w).sum()
        return (x * w * w).sum()

    step = mg.compile(loss_fn, check=1)
    for _ in range(3):
        step(mg.tensor(np.array([1.0, 2.0])))
    w.grad = None
    with pytest.warns(RuntimeWarning, match="disagreed with eager"):
        loss = step(mg.tensor(np.array([20.0, 2.0])))
    assert loss.item() == pytest.approx(20 * 0.25 + 2 * 0.25)  # eager's answer, not the replay's
    np.testing.assert_allclose(w.grad, 2 * w.data * np.array([20.0, 2.0]))
    assert "disagreed" in step.last_fallback
    step(mg.tensor(np.array([1.0, 2.0])))
    assert "disagreed" in step.last_fallback  # eager from then on


def test_a_replaced_parameter_recompiles():
    layer = nn.Linear(3, 2).double()
    step = mg.compile(lambda x: layer(x).tanh().sum())
    x = mg.tensor(np.ones((1, 3)))
    step(x)
    step(x)
    step(x)
    assert step.last_fallback is None
    layer.weight = nn.Parameter(np.full((2, 3), 0.1))
    layer.weight.grad = None
    loss = step(x)
    assert "recompiling" in step.last_fallback
    np.testing.assert_allclose(loss.item(), np.tanh(0.3 + layer.bias.data).sum(), rtol=1e-12)
    assert layer.weight.grad is not None


def test_parameter_updates_in_place_are_seen_by_the_replay():
    w = nn.Parameter(np.array([1.0, 2.0]))
    step = mg.compile(lambda x: (x * w).sum())
    x = mg.tensor(np.array([3.0, 4.0]))
    for _ in range(3):
        step(x)
    w.add_(np.array([1.0, 1.0]))
    assert step(x).item() == pytest.approx(3 * 2 + 4 * 3)


def test_hooks_grad_mode_trace_and_anomaly_run_eagerly_with_the_reason():
    w = nn.Parameter(np.array([1.0, 2.0]))
    step = mg.compile(lambda x: (x * w).sum())
    x = mg.tensor(np.array([3.0, 4.0]))
    for _ in range(3):
        step(x)
    seen = []
    handle = w.register_hook(lambda g: seen.append(g))
    step(x)
    assert "hook" in step.last_fallback and len(seen) == 1
    handle.remove()
    step(x)
    assert step.last_fallback is None
    with mg.no_grad():
        step(x)
    assert "grad mode is off" in step.last_fallback
    with mg.trace() as tape:
        step(x)
    assert "trace()" in step.last_fallback and tape.ops() == ["mul", "sum"]
    with mg.detect_anomaly():
        step(x)
    assert "detect_anomaly" in step.last_fallback


def test_dropout_and_in_place_changes_and_hooks_inside_stay_eager():
    w = nn.Parameter(np.ones(4))
    mg.manual_seed(0)
    step = mg.compile(lambda x: dropout(x * w, p=0.5).sum())
    step(mg.tensor(np.ones(4)))
    assert "random" in step.last_fallback
    step(mg.tensor(np.ones(4)))
    assert "random" in step.last_fallback

    def modifies(x):
        w.add_(1.0)
        return (x * w).sum()

    step = mg.compile(modifies)
    step(mg.tensor(np.ones(4)))
    assert "in place" in step.last_fallback

    def hooked(x):
        y = x * w
        y.register_hook(lambda g: None)
        return y.sum()

    step = mg.compile(hooked)
    step(mg.tensor(np.ones(4)))
    assert "hook" in step.last_fallback


def test_bad_arguments_name_compile():
    with pytest.raises(TypeError, match="compile: loss_fn must be callable"):
        mg.compile(3)
    with pytest.raises(ValueError, match="compile: check must be a positive int"):
        mg.compile(lambda: None, check=0)
    step = mg.compile(lambda x: x * 2)
    with pytest.raises(ValueError, match="compile: loss_fn's loss must be a scalar"):
        step(mg.tensor(np.ones(3), requires_grad=True))
    step = mg.compile(lambda x: 3.0)
    with pytest.raises(TypeError, match="compile: loss_fn must return a loss tensor"):
        step(mg.tensor(np.ones(3)))


def test_a_replaced_parameter_of_a_plain_object_recompiles_and_carried_state_does_not():
    model = RawRNN()
    step = mg.compile(model.loss)
    rng = np.random.default_rng(6)
    h = batch(rng)[2]
    for _ in range(3):
        x, y, _ = batch(rng)
        _, h = step(x, y, h)  # the state is an input: a new object every call
    assert step.last_fallback is None
    model.W_hh = model.params[1] = nn.Parameter(np.zeros((HIDDEN, HIDDEN)))
    model.W_hh.name = "W_hh"
    x, y, _ = batch(rng)
    step(x, y, h)
    assert "recompiling" in step.last_fallback
    got = compiled_grads(step, model, x, y, h)
    want = eager_grads(model, x, y, h)
    np.testing.assert_allclose(got[2][1], want[2][1], atol=1e-12)


ALIASING_CASES = {
    # each one: gradients that pass through unchanged (add, sub) meet again, in place or not
    "x + x": lambda a, b: ((a + a) * b).sum(),
    "(a + b) * a": lambda a, b: ((a + b) * a).sum(),
    "a - b, then reused": lambda a, b: ((a - b) * (a - b) + (a - b)).sum(),
    "bias broadcast over rows": lambda a, b: ((a.T @ b + b[0]) * a[:3]).sum(),
    "keepdims-shaped bias (1, n)": lambda a, b: ((a + b[:1]) * (a + b[:1])).sum(),
    "0-d sums meet": lambda a, b: a.sum() + a.sum() * b.sum() + b.sum(),
    "one tensor feeds five adds": lambda a, b: sum((a + b * k for k in range(5)), a).tanh().sum(),
}


@pytest.mark.parametrize("name", sorted(ALIASING_CASES))
def test_in_place_accumulation_and_pass_through_gradients_equal_eager(name):
    """The replay adds a gradient's later paths in place (``g += ...``) and writes add's VJP as
    ``g`` itself: no array that another gradient still reads may be written."""
    fn = ALIASING_CASES[name]
    rng = np.random.default_rng(3)
    a = nn.Parameter(rng.standard_normal((4, 3)))
    b = nn.Parameter(rng.standard_normal((4, 3)))
    step = mg.compile(lambda: fn(a, b))
    for call in range(4):
        a.grad = b.grad = None
        got = step()
        assert step.last_fallback is None or call < 2
        got_grads = [a.grad.copy(), b.grad.copy()]
        a.grad = b.grad = None
        want = fn(a, b)
        want.backward()
        np.testing.assert_allclose(got.data, want.data, rtol=1e-12, atol=1e-12)
        for g, w in zip(got_grads, [a.grad, b.grad]):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_source_adds_later_paths_in_place_and_passes_add_gradients_through():
    model = RawRNN()
    step = mg.compile(model.loss)
    rng = np.random.default_rng(0)
    for _ in range(3):
        step(*batch(rng))
    source = step.source
    assert "add_vjp" not in source  # d(a + b)/da = g: written as g itself
    assert ".sum(axis=(0,))" in source and "unbroadcast(" not in source  # the bias sums, shapes known
    # batch 3: each weight's per-step products a_t^T g_t wait, then ONE matmul of the stacked pairs
    assert source.count("= np.dot(np.concatenate([") == 3 and "matmul_vjp1(" not in source


def test_a_thick_batch_adds_each_steps_weight_gradient_in_place():
    model = RawRNN()
    step = mg.compile(model.loss)
    rng = np.random.default_rng(0)

    def thick_batch():
        x = mg.tensor(rng.standard_normal((STEPS, 16, VOCAB)))
        return x, rng.integers(0, VOCAB, (STEPS, 16)), mg.tensor(rng.standard_normal((16, HIDDEN)))

    for _ in range(3):
        inputs = thick_batch()
        got = compiled_grads(step, model, *inputs)
    want = eager_grads(model, *inputs)
    for a, b in zip(got[2], want[2]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # 16 rows: the per-step products already run at full speed, so they are added as they come
    assert step.source.count("+= matmul_vjp1(") >= STEPS and "np.concatenate" not in step.source


GLOBAL_W = nn.Parameter(np.full((3, 2), 0.5))


def _global_loss(x):
    return (x @ GLOBAL_W).tanh().sum()


def test_a_replaced_global_or_nested_module_parameter_recompiles():
    global GLOBAL_W
    x = mg.tensor(np.ones((1, 3)))
    step = mg.compile(_global_loss)
    for _ in range(3):
        step(x)
    assert step.last_fallback is None
    GLOBAL_W = nn.Parameter(np.full((3, 2), -0.5))  # the name now holds another tensor
    loss = step(x)
    assert "recompiling" in step.last_fallback
    np.testing.assert_allclose(loss.item(), 2 * np.tanh(-1.5), rtol=1e-12)

    model = nn.Sequential(nn.Linear(3, 2).double())
    step = mg.compile(lambda x: model(x).sum())
    for _ in range(3):
        step(x)
    assert step.last_fallback is None
    model[0].bias = nn.Parameter(np.full(2, 10.0))  # "0.bias" inside the closure's module
    loss = step(x)
    assert "recompiling" in step.last_fallback
    np.testing.assert_allclose(loss.item(), (x.data @ model[0].weight.data.T).sum() + 20.0, rtol=1e-12)


def test_nn_lstm_and_linear_replay_their_addmm_rows():
    """nn's layers fuse each matmul that only feeds an add into one addmm (the input projection, every
    step's x_proj[t] + h W_hh^T, Linear's x W^T + b): the replay calls that row and equals eager."""
    mg.manual_seed(0)
    lstm, head = nn.LSTM(VOCAB, HIDDEN, dtype=np.float64), nn.Linear(HIDDEN, VOCAB, dtype=np.float64)
    params = [*lstm.parameters(), *head.parameters()]

    def loss_fn(x, y):
        out, _ = lstm(x)
        return cross_entropy(head(out).reshape(-1, VOCAB), y.reshape(-1))

    step = mg.compile(loss_fn)
    rng = np.random.default_rng(3)
    for _ in range(3):
        x, y, _ = batch(rng)
        y = mg.tensor(y, dtype=np.int64)
        for p in params:
            p.grad = None
        got = step(x, y).item(), [p.grad.copy() for p in params]
        for p in params:
            p.grad = None
        loss = loss_fn(x, y)
        loss.backward()
        assert got[0] == pytest.approx(loss.item(), abs=1e-12)
        for a, b in zip(got[1], [p.grad for p in params]):
            np.testing.assert_allclose(a, b, atol=1e-12)
    assert step.last_fallback is None
    assert step.source.count("= addmm(") == 1 + STEPS + 1  # projection, each step, head
    assert "addmm_vjp1(" in step.source and "addmm_vjp2(" in step.source


# ---- guards on what loss_fn reads from outside: never a silently stale replay ------------------

SCALE = 2.0
MASK = np.array([1.0, 0.0, 1.0, 1.0])
HOLDER = types.SimpleNamespace(W=nn.Parameter(np.full((4, 4), 0.1)))
GLOBAL_LINEAR = nn.Linear(4, 4).double()


def _uses_globals(x):
    return ((x @ HOLDER.W) * SCALE * mg.tensor(MASK)).tanh().sum()


def _uses_a_global_module(x):
    return GLOBAL_LINEAR(x).tanh().sum()


def _replay_then(step, x, change):
    for _ in range(3):
        step(x)
    assert step.last_fallback is None  # replaying
    change()
    return step(x)


@pytest.mark.parametrize(
    "change",
    ["replace HOLDER.W", "SCALE", "MASK in place"],
)
def test_what_loss_fn_reads_from_outside_is_watched(change):
    global SCALE
    x = mg.tensor(np.ones((1, 4)))
    saved = (HOLDER.W, SCALE, MASK.copy())
    try:
        step = mg.compile(_uses_globals)

        def do():
            global SCALE
            if change == "replace HOLDER.W":
                HOLDER.W = nn.Parameter(np.full((4, 4), -0.3))
            elif change == "SCALE":
                SCALE = 5.0
            else:
                MASK[1] = 1.0

        loss = _replay_then(step, x, do)
        assert "recompiling" in step.last_fallback
        HOLDER.W.grad = None
        want = _uses_globals(x)
        want.backward()
        assert loss.item() == pytest.approx(want.item(), abs=1e-12)
    finally:
        HOLDER.W, SCALE = saved[0], saved[1]
        MASK[:] = saved[2]


def test_a_global_module_replays_and_a_replaced_parameter_in_a_nested_container_recompiles():
    x = mg.tensor(np.ones((1, 4)))
    step = mg.compile(_uses_a_global_module)
    for _ in range(5):
        step(x)
    assert step.last_fallback is None  # compiled once, replayed since (no endless recompiling)
    params = {"rnn": [[nn.Parameter(np.full((4, 4), 0.2))]]}
    step = mg.compile(lambda x: (x @ params["rnn"][0][0]).sum())
    loss = _replay_then(step, x, lambda: params["rnn"][0].__setitem__(0, nn.Parameter(np.full((4, 4), 1.0))))
    assert "recompiling" in step.last_fallback and loss.item() == pytest.approx(16.0)


def test_a_parameter_compile_cannot_find_stays_eager_with_the_reason():
    hidden = [[[[[nn.Parameter(np.full((4, 4), 0.5))]]]]]  # five containers deep: beyond the search
    step = mg.compile(lambda x: (x @ hidden[0][0][0][0][0]).sum())
    x = mg.tensor(np.ones((1, 4)))
    for _ in range(3):
        loss = step(x)
    assert "not reachable" in step.last_fallback and loss.item() == pytest.approx(8.0)
    hidden[0][0][0][0][0] = nn.Parameter(np.zeros((4, 4)))
    assert step(x).item() == 0.0  # eager: it sees the new parameter


# ---- the second review's cases: each once silently wrong, or a crash, or endless recompiling ---


class _Lin(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.W = w


class _Tied(nn.Module):
    def __init__(self):
        super().__init__()
        w = nn.Parameter(np.full((4, 3), 0.2))
        self.a, self.b = _Lin(w), _Lin(w)


TIED = _Tied()
HELPER_W = nn.Parameter(np.full((4, 3), 0.3))
HELPER_SCALE = 2.0
COMPREHENSION_SCALE = 2.0
STEP_ARRAY = np.zeros(1)


def _helper(y):
    return (y @ HELPER_W) * HELPER_SCALE


def _tied_loss(x):
    return (x @ TIED.b.W).tanh().sum()


def _helper_loss(x):
    return _helper(x).tanh().sum()


def _comprehension_loss(x):
    return sum([(x @ HELPER_W * COMPREHENSION_SCALE).tanh().sum() for _ in range(1)])


class _Buffered(nn.Module):
    def __init__(self):
        super().__init__()
        self.W = nn.Parameter(np.full((4, 4), 0.1))
        self.mask = mg.tensor(np.ones(4))
        self.temperature = 0.5

    def forward(self, x):
        return ((x @ self.W) * self.mask * self.temperature).tanh().sum()


def _eager_equals(step, fn, x, params):
    for p in params:
        p.grad = None
    got = step(x)
    got_grads = [p.grad.copy() for p in params]
    for p in params:
        p.grad = None
    want = fn(x)
    want.backward()
    assert got.item() == pytest.approx(want.item(), abs=1e-12)
    for g, p in zip(got_grads, params):
        np.testing.assert_allclose(g, p.grad, atol=1e-12)


@pytest.mark.parametrize(
    "case", ["tied weight", "helper's global", "helper's number", "comprehension", "buffer", "number attribute"]
)
def test_what_a_loss_reads_through_helpers_tied_weights_and_buffers_is_watched(case):
    global HELPER_W, HELPER_SCALE, COMPREHENSION_SCALE
    x = mg.tensor(np.ones((1, 4)))
    saved = (TIED.b.W, HELPER_W, HELPER_SCALE, COMPREHENSION_SCALE)
    module = _Buffered()
    fn, params, change = {
        "tied weight": (_tied_loss, lambda: [TIED.b.W], lambda: setattr(TIED.b, "W", nn.Parameter(np.ones((4, 3))))),
        "helper's global": (
            _helper_loss,
            lambda: [HELPER_W],
            lambda: globals().update(HELPER_W=nn.Parameter(np.ones((4, 3)))),
        ),
        "helper's number": (_helper_loss, lambda: [HELPER_W], lambda: globals().update(HELPER_SCALE=-1.0)),
        "comprehension": (_comprehension_loss, lambda: [HELPER_W], lambda: globals().update(COMPREHENSION_SCALE=5.0)),
        "buffer": (module.forward, lambda: [module.W], lambda: setattr(module, "mask", mg.tensor(np.zeros(4)))),
        "number attribute": (module.forward, lambda: [module.W], lambda: setattr(module, "temperature", 3.0)),
    }[case]
    try:
        step = mg.compile(fn)
        for _ in range(3):
            step(x)
        assert step.last_fallback is None
        change()
        _eager_equals(step, fn, x, params())
        assert "recompiling" in step.last_fallback
    finally:
        TIED.b.W, HELPER_W, HELPER_SCALE, COMPREHENSION_SCALE = saved


def test_a_value_that_changes_at_every_call_stops_recompiling_after_eight():
    w = nn.Parameter(np.full((4, 4), 0.1))
    step = mg.compile(lambda x: (x @ w * mg.tensor(STEP_ARRAY)).sum())
    x = mg.tensor(np.ones((1, 4)))
    try:
        for i in range(40):
            STEP_ARRAY[0] = float(i // 3)  # a new value every third call: recorded twice, replayed once
            assert step(x).item() == pytest.approx(1.6 * (i // 3))
        assert "recompiled 8 times" in step.last_fallback
    finally:
        STEP_ARRAY[0] = 0.0


def test_a_bound_method_of_a_container_compiles():
    class Params(list):
        def loss(self, x):
            return (x @ self[0]).tanh().sum()

    params = Params([nn.Parameter(np.full((4, 3), 0.2))])
    step = mg.compile(params.loss)
    x = mg.tensor(np.ones((1, 4)))
    for _ in range(4):
        _eager_equals(step, params.loss, x, params)
    assert step.last_fallback is None
    params[0] = nn.Parameter(np.ones((4, 3)))
    _eager_equals(step, params.loss, x, params)
    assert "recompiling" in step.last_fallback
