"""mg.checkpoint: the same values and gradients as without it, with fn's graph rebuilt in backward."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn.functional import dropout


def f64(array) -> mg.Tensor:
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def lstm_segment(cell, h, c, xs):
    for t in range(xs.shape[0]):
        h, c = cell(xs[t], (h, c))
    return h, c


def _cell_and_data(seed=0, steps=6, batch=2, size=(3, 4)):
    mg.manual_seed(seed)
    cell = nn.LSTMCell(*size).double()
    xs = np.random.default_rng(seed).standard_normal((steps, batch, size[0]))
    return cell, xs


def _run_lstm(cell, xs, bounds):
    """Loss and gradients of an LSTM over xs, checkpointed at ``bounds`` (None: plain)."""
    cell.zero_grad()
    x = f64(xs)
    h = c = mg.tensor(np.zeros((xs.shape[1], cell.hidden_size)))
    if bounds is None:
        h, c = lstm_segment(cell, h, c, x)
    else:
        for start, stop in zip(bounds[:-1], bounds[1:]):
            h, c = mg.checkpoint(lstm_segment, cell, h, c, x[start:stop])
    loss = (h * h).sum() + c.sum()
    loss.backward()
    return loss.item(), x.grad.copy(), {n: p.grad.copy() for n, p in cell.named_parameters()}


def test_gradients_for_arguments_and_parameters_equal_the_plain_run():
    cell, xs = _cell_and_data()
    plain = _run_lstm(cell, xs, None)
    checkpointed = _run_lstm(cell, xs, [0, 2, 5, 6])
    assert checkpointed[0] == pytest.approx(plain[0], abs=1e-12)
    np.testing.assert_allclose(checkpointed[1], plain[1], rtol=0, atol=1e-12)
    for name, grad in plain[2].items():
        np.testing.assert_allclose(checkpointed[2][name], grad, rtol=0, atol=1e-12, err_msg=name)


def test_the_graph_holds_one_node_per_call_and_fn_runs_again_in_backward():
    calls = []

    def fn(x):
        calls.append(mg.is_grad_enabled())
        return (x * x).tanh()

    x = f64([0.5, -1.0])
    with mg.trace() as tape:
        y = mg.checkpoint(fn, x)
    assert tape.ops() == ["checkpoint"] and y.op == "checkpoint"
    assert calls == [False]  # the first run builds no graph
    y.sum().backward()
    assert calls == [False, True]  # the recomputation does
    np.testing.assert_allclose(x.grad, (1 - np.tanh(x.data**2) ** 2) * 2 * x.data)


def test_parameters_get_gradients_when_no_argument_requires_grad():
    layer = nn.Linear(3, 2).double()
    x = mg.tensor(np.ones((1, 3)))  # data: no gradient wanted
    out = mg.checkpoint(lambda v: layer(v).tanh(), x)
    assert out.requires_grad
    out.sum().backward()
    expected = (1 - np.tanh(layer(x).data) ** 2).T @ x.data
    np.testing.assert_allclose(layer.weight.grad, expected, rtol=1e-12)


def test_parameter_hooks_run_once_and_existing_grads_accumulate():
    layer = nn.Linear(2, 2).double()
    seen = []
    layer.weight.register_hook(lambda g: seen.append(g.copy()))
    layer.weight.grad = np.ones((2, 2))
    x = f64([[1.0, 2.0]])
    mg.checkpoint(layer, x).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(layer.weight.grad, 1 + np.array([[1.0, 2.0], [1.0, 2.0]]))


def test_dropout_draws_the_same_mask_when_recomputed():
    mg.manual_seed(3)
    x = f64(np.ones((4, 50)))
    y = mg.checkpoint(lambda v: dropout(v * 2.0, p=0.5), x)
    after_forward = mg.random.generator().bit_generator.state
    y.sum().backward()
    kept = y.data != 0
    np.testing.assert_allclose(x.grad, np.where(kept, 4.0, 0.0))  # 2 / (1 - p) where kept
    assert mg.random.generator().bit_generator.state == after_forward  # later draws are unaffected


def test_several_outputs_and_non_tensor_arguments():
    def fn(a, scale, b):
        return a * scale, (a + b).exp()

    a, b = f64([1.0, 2.0]), f64([0.5, 0.25])
    p, q = mg.checkpoint(fn, a, 3.0, b)
    assert p.shape == (2,) and q.shape == (2,)
    (p.sum() + q.sum()).backward()
    np.testing.assert_allclose(a.grad, 3.0 + np.exp([1.5, 2.25]))
    np.testing.assert_allclose(b.grad, np.exp([1.5, 2.25]))


def test_under_no_grad_it_is_just_a_call():
    x = f64([1.0])
    with mg.no_grad():
        y = mg.checkpoint(lambda v: v * 2, x)
    assert y.op is None and not y.requires_grad


def test_an_in_place_change_of_an_input_before_backward_is_refused():
    x = f64([1.0, 2.0])
    y = mg.checkpoint(lambda v: v * v, x)
    x.add_(1.0)
    with pytest.raises(mg.GradientError, match="checkpoint"):
        y.sum().backward()


def test_errors_name_checkpoint_and_what_was_expected():
    x = f64([1.0])
    with pytest.raises(TypeError, match="checkpoint: fn must be callable"):
        mg.checkpoint(3, x)
    with pytest.raises(TypeError, match="checkpoint: fn must return a tensor or a tuple/list of tensors"):
        mg.checkpoint(lambda v: 3.0, x)
    hidden = x * 2  # a non-leaf read from the enclosing scope
    with pytest.raises(ValueError, match="checkpoint: fn reads a tensor that requires grad and is not a leaf"):
        mg.checkpoint(lambda v: v * hidden, x)
    with pytest.raises(TypeError, match="share one dtype"):
        mg.checkpoint(lambda v: (v, v.astype(np.float32)), x)
