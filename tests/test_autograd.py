"""The backward pass: fan-out, accumulation, long chains, modes, hooks, versions, anomalies."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import ops


def f64(array, requires_grad=True) -> mg.Tensor:
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def test_diamond_and_fan_out():
    a = f64([1.5, -2.0])
    b = a + a
    c = b * b  # c = 4 a^2, dc/da = 8 a
    c.sum().backward()
    np.testing.assert_allclose(a.grad, 8 * a.data)


def test_reused_leaf_in_many_places():
    w = f64(0.7)
    x = f64([1.0, 2.0, 3.0], requires_grad=False)
    y = (w * x + w * w * x - x / w).sum()
    y.backward()
    np.testing.assert_allclose(w.grad, (x.data + 2 * w.data * x.data + x.data / w.data**2).sum())


def test_gradients_accumulate_and_second_backward_adds_again():
    w = f64([1.0, 2.0])
    loss = (w * w).sum()
    loss.backward()
    np.testing.assert_allclose(w.grad, 2 * w.data)
    loss.backward()  # graph is kept: the same gradient is added a second time
    np.testing.assert_allclose(w.grad, 4 * w.data)
    w.grad = None
    (w * 3.0).sum().backward()
    np.testing.assert_allclose(w.grad, [3.0, 3.0])


def test_leaf_grads_do_not_alias_each_other():
    a, b = f64([1.0]), f64([2.0])
    (a + b).sum().backward()  # add's VJP hands the same array to both inputs
    a.grad *= 10
    np.testing.assert_allclose(b.grad, [1.0])


def test_ten_thousand_step_chain_matches_hand_written_bptt():
    steps = 10_000
    rng = np.random.default_rng(0)
    xs = rng.standard_normal(steps) * 0.5
    w = f64(0.9)
    h = f64(0.0, requires_grad=False)
    for x in xs:
        h = (h * w + float(x)).tanh()
    h.backward()
    # Hand-written BPTT for h_t = tanh(w h_{t-1} + x_t).
    hs = np.zeros(steps + 1)
    for t, x in enumerate(xs):
        hs[t + 1] = np.tanh(0.9 * hs[t] + x)
    dh, dw = 1.0, 0.0
    for t in range(steps, 0, -1):
        dpre = dh * (1 - hs[t] ** 2)
        dw += dpre * hs[t - 1]
        dh = dpre * 0.9
    np.testing.assert_allclose(w.grad, dw, rtol=1e-10)


def test_no_grad_builds_no_graph():
    w = f64([1.0, 2.0])
    with mg.no_grad():
        y = (w * 2.0).tanh()
    assert not y.requires_grad and y.is_leaf and y.parents == () and y.op is None
    assert mg.is_grad_enabled()
    with mg.no_grad():
        with mg.enable_grad():
            z = w * 2.0
    assert z.requires_grad


def test_retain_grad_keeps_intermediate_gradients():
    x = f64([0.5, -1.0])
    hidden = []
    h = x
    for _ in range(3):
        h = (h * 2.0).tanh().retain_grad()
        hidden.append(h)
    h.sum().backward()
    np.testing.assert_allclose(hidden[-1].grad, [1.0, 1.0])
    expected = hidden[-1].grad * (1 - hidden[-1].data ** 2) * 2.0
    np.testing.assert_allclose(hidden[-2].grad, expected)
    assert (x * 1.0).grad is None


def test_register_hook_sees_and_replaces_gradient():
    x = f64([1.0, 2.0])
    y = x * 3.0
    seen = []
    y.register_hook(lambda g: seen.append(g.copy()))
    handle = y.register_hook(lambda g: g * 0.5)
    y.sum().backward()
    np.testing.assert_allclose(seen[0], [1.0, 1.0])
    np.testing.assert_allclose(x.grad, [1.5, 1.5])
    handle.remove()
    x.grad = None
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])


def test_hook_on_leaf_sees_the_total_gradient():
    w = f64([1.0])
    totals = []
    w.register_hook(lambda g: totals.append(g.copy()))
    (w * 2.0 + w * 3.0).sum().backward()
    np.testing.assert_allclose(totals, [[5.0]])


def test_detach_stops_gradient():
    w = f64([2.0])
    h = w * 3.0
    cut = h.detach()
    assert not cut.requires_grad and cut.detached_from is h and cut.is_leaf
    assert h.detach().detached_from is h and f64([1.0], requires_grad=False).detach().detached_from is None
    (cut * w).sum().backward()
    np.testing.assert_allclose(w.grad, [6.0])  # only the direct use of w


def test_in_place_update_after_forward_is_caught():
    w = f64([1.0, 2.0])
    y = (w * w).sum()
    w.add_(np.ones(2), alpha=-0.1)
    assert w.version > 0
    with pytest.raises(mg.GradientError, match="modified in place"):
        y.backward()
    # A fresh forward after the update is fine.
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad, 2 * w.data)


def test_anomaly_mode_names_op_scope_and_line():
    x = f64([-1.0, 1.0])
    with mg.detect_anomaly(), mg.scope("rnn"), mg.scope("t3"):
        with pytest.raises(mg.AnomalyError, match=r"log.*rnn/t3.*test_autograd.py"), warnings.catch_warnings():
            warnings.simplefilter("error")  # the error comes alone, not after numpy's warning
            x.log()
    with np.errstate(invalid="ignore"):
        y = x.log()  # outside anomaly mode: NaN passes silently, as in numpy
    assert np.isnan(y.data[0])


def test_anomaly_mode_catches_nan_gradient():
    x = f64([0.0, 4.0])
    with mg.detect_anomaly():
        y = x.sqrt()  # sqrt(0) is fine; its gradient 1/(2*0) is not
        with pytest.raises(mg.AnomalyError, match="sqrt"), np.errstate(divide="ignore"):
            (y * 1.0).sum().backward()


def test_dtypes_follow_numpy_and_grads_match_their_tensor():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    assert a.dtype == np.float32
    b = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert b.dtype == np.float64
    c = a * b
    assert c.dtype == np.float64
    c.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    assert (a * 2.0).dtype == np.float32  # Python scalars do not promote
    assert mg.tensor(3).dtype == np.float32
    assert mg.tensor(np.arange(3)).dtype == np.int64


def test_backward_with_explicit_grad():
    x = f64([1.0, 2.0, 3.0])
    y = x * 2.0
    y.backward(np.array([1.0, 0.0, -1.0]))
    np.testing.assert_allclose(x.grad, [2.0, 0.0, -2.0])


def test_composite_expression_gradcheck():
    rng = np.random.default_rng(1)
    logits = f64(rng.standard_normal((4, 5)))
    w = f64(rng.standard_normal((5, 5)))
    targets = np.array([0, 3, 3, 1])

    def loss(logits, w):
        z = (logits @ w).tanh() * 2.0 - logits.mean(axis=0) / (1.0 + w.abs().sum())
        picked = z.log_softmax(axis=1)[np.arange(4), targets]
        return -picked.mean() + mg.stack([z.max(axis=1), z.sum(axis=1)]).sigmoid().sum()

    assert mg.gradcheck(loss, [logits, w])


def test_gradcheck_catches_a_wrong_vjp(monkeypatch):
    wrong = ops.Primitive("tanh", np.tanh, (lambda g, out, x: g * (1 - out),))
    monkeypatch.setattr(ops, "tanh", wrong)
    x = f64([0.3, -0.2])
    with pytest.raises(mg.GradcheckError, match=r"input 0 .* element \(\d,\)"):
        mg.gradcheck(lambda t: t.tanh(), [x])


def test_gradcheck_requires_float64():
    with pytest.raises(TypeError, match="float64"):
        mg.gradcheck(lambda t: t * 2.0, [mg.tensor([1.0], requires_grad=True)])


def test_gradcheck_restores_existing_grads():
    x = f64([1.0, 2.0])
    (x * 5.0).sum().backward()
    mg.gradcheck(lambda t: t * t, [x])
    np.testing.assert_allclose(x.grad, [5.0, 5.0])


def test_stack_and_concat_of_many_inputs_route_each_gradient():
    # Every input's gradient comes from one VJP call (a per-input call would pass all N arrays N times).
    xs = [f64(np.full(2, float(k))) for k in range(5000)]
    weights = np.arange(10000.0).reshape(5000, 2)
    (mg.stack(xs, axis=0) * weights).sum().backward()
    (mg.concat(xs, axis=0) * weights.ravel()).sum().backward()
    np.testing.assert_allclose(xs[1234].grad, 2 * weights[1234])


def test_scalar_results_are_still_ndarrays():
    a = f64(np.ones(3))
    for scalar in (a.sum(), a.mean(), a.max(), a[1], a @ a):
        assert isinstance(scalar.data, np.ndarray) and scalar.shape == ()
        assert np.asarray(scalar).shape == () and float(np.asarray(scalar)) == scalar.item()


def test_in_place_write_to_an_output_its_vjp_reads_is_caught():
    x = f64([1.0, 2.0])
    y = x.exp()  # exp's VJP reads its output
    y.mul_(2.0)
    with pytest.raises(mg.GradientError, match="the output of 'exp'"):
        y.sum().backward()


def test_in_place_write_through_a_view_or_a_detached_alias_is_caught():
    w = f64(np.ones(3))
    xs = f64(np.ones((2, 3)), requires_grad=False)
    loss = (xs[0] * w).sum()  # xs[0] is a view of xs's array
    xs.add_(5.0)
    with pytest.raises(mg.GradientError, match="an input of 'mul'"):
        loss.backward()
    h = f64([1.0], requires_grad=False)
    loss = (h * w).sum()
    h.detach().add_(10.0)  # detach() shares the array
    with pytest.raises(mg.GradientError, match="an input of 'mul'"):
        loss.backward()
    v = xs[1]
    xs.add_(1.0)  # written before the op ran: fine
    (v * w).sum().backward()
    np.testing.assert_allclose(w.grad, xs.data[1])


def test_hook_replacement_keeps_the_tensor_dtype():
    p = mg.tensor([1.0, 2.0], requires_grad=True)
    p.register_hook(lambda g: g.astype(np.float64) * 2)
    (p * 3.0).sum().backward()
    assert p.grad.dtype == np.float32
    np.testing.assert_array_equal(p.grad, [6.0, 6.0])


def test_gradcheck_restores_inputs_when_fn_raises():
    x = f64([1.0, 2.0])
    calls = []

    def fn(t):
        calls.append(1)
        if len(calls) > 2:
            raise RuntimeError("boom")
        return t * 2.0

    with pytest.raises(RuntimeError, match="boom"):
        mg.gradcheck(fn, [x])
    np.testing.assert_array_equal(x.data, [1.0, 2.0])


def test_a_hook_that_writes_into_its_argument_changes_only_its_own_tensor():
    def halve(g):
        g *= 0.5  # in place, returns None

    for swap in (False, True):
        a, b = f64([1.0, 2.0]), f64([3.0, 4.0])
        a.register_hook(halve)
        seed = np.ones(2)
        (b + a if swap else a + b).backward(seed)  # add hands the same array to both inputs
        np.testing.assert_array_equal(a.grad, [0.5, 0.5])
        np.testing.assert_array_equal(b.grad, [1.0, 1.0])
        np.testing.assert_array_equal(seed, [1.0, 1.0])  # the caller's array is left alone
    x = f64([1.0, 2.0])
    x.register_hook(halve)
    x.sum().backward()  # sum's gradient is a read-only broadcast view
    np.testing.assert_array_equal(x.grad, [0.5, 0.5])


# ---- the public graph API ---------------------------------------------------------------


def test_graph_api_names_op_parents_attrs_scope_and_primitive():
    x = f64(np.ones((2, 3)))
    w = f64(np.ones((3, 4)), requires_grad=False)
    with mg.scope("layer"):
        y = x @ w
        s = y.sum(axis=1, keepdims=True)
    assert (y.op, y.parents, y.scope) == ("matmul", (x, w), "layer")
    assert y.primitive is ops.matmul and y.attrs == {}
    assert s.op == "sum" and s.parents == (y,) and dict(s.attrs) == {"axis": 1, "keepdims": True}
    assert x.op is None and x.parents == () and x.attrs == {} and x.primitive is None and x.scope == ""
    assert x.tags == {} and y.tags == {}
    with pytest.raises(TypeError):
        s.attrs["axis"] = 0  # read-only: the graph is the record of what ran
    with pytest.raises(AttributeError):
        s.parents = ()


def test_ids_are_unique_stable_and_a_topological_order():
    x = f64([1.0, 2.0])
    c = mg.tensor([3.0, 4.0])
    y = (x * c).tanh()
    z = y * x + y
    order = mg.autograd.topological_order(z)
    assert order[0] is x and order[-1] is z and set(order) == {x, y, z, y.parents[0], z.parents[0]}
    ids = [t.id for t in order]
    assert ids == sorted(ids) and len(set(ids + [c.id])) == len(ids) + 1
    assert x.id < c.id < y.id and x.id == x.id
    for node in order:
        assert all(p.id < node.id for p in node.parents)


def test_vjps_give_each_inputs_gradient_as_backward_does():
    rng = np.random.default_rng(0)
    a = f64(rng.standard_normal((2, 3)))
    b = f64(rng.standard_normal(3))  # broadcast: summed back to (3,)
    frozen = f64(rng.standard_normal((2, 3)), requires_grad=False)
    g = rng.standard_normal((2, 3))
    ga, gb = mg.autograd.vjps(a * b, g)
    np.testing.assert_allclose(ga, g * b.data)
    np.testing.assert_allclose(gb, (g * a.data).sum(axis=0))
    assert gb.shape == (3,)
    assert mg.autograd.vjps(a + frozen, g)[1] is None  # needs no gradient: None
    # getitem (an accumulating row) and stack (a variadic one) answer the same way.
    (gx,) = mg.autograd.vjps(a[np.array([0, 0])], np.ones((2, 3)))
    np.testing.assert_array_equal(gx, [[2, 2, 2], [0, 0, 0]])
    g0, g1 = mg.autograd.vjps(mg.stack([a, frozen]), np.arange(12.0).reshape(2, 2, 3))
    np.testing.assert_array_equal(g0, np.arange(6.0).reshape(2, 3))
    assert g1 is None
    # And they agree with a real backward pass.
    y = (a * b).tanh()
    y.backward(g)
    (g_product,) = mg.autograd.vjps(y, g)
    np.testing.assert_allclose(mg.autograd.vjps(y.parents[0], g_product)[0], a.grad)


def test_vjps_of_a_leaf_is_an_error_that_says_so():
    with pytest.raises(ValueError, match="vjps: this tensor is a leaf"):
        mg.autograd.vjps(f64([1.0]), np.ones(1))


def test_tags_are_read_only_and_merge():
    x = f64([1.0])
    y = mg.autograd.tag(x * 2.0, role="gate", name="f")
    assert y.tags == {"role": "gate", "name": "f"}
    mg.autograd.tag(y, step=3)
    assert dict(y.tags) == {"role": "gate", "name": "f", "step": 3}
    with pytest.raises(TypeError):
        y.tags["role"] = "state"


def test_engine_state_is_immutable_and_names_its_fields():
    state = mg.autograd.engine_state()
    with pytest.raises(AttributeError, match="immutable"):
        state.grad_enabled = False
    with pytest.raises(TypeError, match="unknown engine state field"):
        with mg.autograd.state_changed(grad=False):
            pass
    with mg.autograd.state_changed(scope="a/b") as inside:
        assert mg.autograd.current_scope() == "a/b" == inside.scope
    assert mg.autograd.engine_state() is state


def test_a_hook_returning_something_that_is_not_an_array_is_named():
    x = f64([1.0, 2.0])
    (x * 1.0).register_hook(lambda g: "oops")
    y = x * 1.0
    y.register_hook(lambda g: "oops")
    with pytest.raises(TypeError, match="register_hook: the value hook '<lambda>' returned must be numeric"):
        y.sum().backward()


# ---- engine state is per thread (real concurrent threads, steps forced to interleave) ----


def _run_threads(*targets):
    import threading

    errors = []

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as err:  # reported in the main thread below
                errors.append(err)

        return run

    threads = [threading.Thread(target=guarded(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def test_no_grad_in_one_thread_does_not_stop_another_threads_graph():
    import threading

    inside, built = threading.Event(), threading.Event()
    w = f64([1.0, 2.0])
    seen = {}

    def quiet():
        with mg.no_grad():
            inside.set()
            assert built.wait(10)
            seen["quiet"] = (w * 2.0).requires_grad

    def learner():
        assert inside.wait(10)  # the other thread is inside no_grad() right now
        y = (w * 3.0).sum()
        seen["learner"] = y.requires_grad
        y.backward()
        built.set()

    _run_threads(quiet, learner)
    assert seen == {"quiet": False, "learner": True}
    np.testing.assert_allclose(w.grad, [3.0, 3.0])


def test_overlapping_no_grad_blocks_in_two_threads_leave_grad_mode_on():
    import threading

    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    after = {}

    def first():  # enters first, leaves first
        with mg.no_grad():
            a_in.set()
            assert b_in.wait(10)
        a_out.set()
        after["first"] = mg.is_grad_enabled()

    def second():  # enters second, leaves last
        assert a_in.wait(10)
        with mg.no_grad():
            b_in.set()
            assert a_out.wait(10)
        after["second"] = mg.is_grad_enabled()

    _run_threads(first, second)
    assert after == {"first": True, "second": True}
    assert mg.is_grad_enabled() and (f64([1.0]) * 2.0).requires_grad


def test_one_threads_ops_never_land_in_another_threads_scope_or_trace():
    import threading

    inside, done = threading.Event(), threading.Event()
    x = f64([1.0])
    result = {}

    def tracer():
        with mg.trace() as tape, mg.scope("encoder"), mg.detect_anomaly():
            inside.set()
            assert done.wait(10)
            y = x * 2.0
        result["tape"] = tape.ops()
        result["traced_scope"] = y.scope

    def other():
        assert inside.wait(10)  # the tracer is inside its trace, scope and anomaly mode
        z = x + 1.0
        result["other_scope"] = z.scope
        result["other_state"] = mg.autograd.engine_state()
        done.set()

    _run_threads(tracer, other)
    assert result["tape"] == ["mul"] and result["traced_scope"] == "encoder"
    assert result["other_scope"] == ""
    state = result["other_state"]
    assert state.tape is None and not state.anomaly and state.grad_enabled and state.scope == ""


def test_a_new_thread_starts_from_the_default_state():
    seen = {}

    def child():
        seen["state"] = mg.autograd.engine_state()
        seen["y"] = f64([1.0]) * 2.0

    with mg.no_grad(), mg.scope("outer"), mg.trace() as tape:
        _run_threads(child)
    assert seen["state"].grad_enabled and seen["state"].scope == "" and seen["state"].tape is None
    assert seen["y"].requires_grad and tape.records == []


def test_the_one_buffer_helpers_compute_the_formulas_their_names_say():
    from minigrad import ops_helpers as h

    rng = np.random.default_rng(3)
    x, g = rng.standard_normal((4, 5)) * 10, rng.standard_normal((4, 5))
    s = h.sigmoid_via_tanh(x)
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(s, 1 / (1 + np.exp(-x)), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(h.g_times_out_times_one_minus_out(g, s, x), g * s * (1 - s))
    t = np.tanh(x)
    np.testing.assert_allclose(h.g_times_one_minus_out_squared(g, t, x), g * (1 - t**2))
    assert mg.ops.tanh.vjps == (h.g_times_one_minus_out_squared,)


def test_hooks_and_retains_grad_are_readable_without_private_fields():
    x = mg.tensor(np.ones(3), requires_grad=True)
    y = x * 2
    assert y.hooks == () and not y.retains_grad and not x.retains_grad

    def double(g):
        return g * 2

    handle = y.register_hook(double)
    y.retain_grad()
    x.retain_grad()  # a leaf keeps .grad anyway: PyTorch's retains_grad is False for it
    assert y.hooks == (double,) and y.retains_grad and not x.retains_grad
    handle.remove()
    assert y.hooks == ()
