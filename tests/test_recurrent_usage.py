"""Recurrent layers in use: PyTorch names and checkpoints, tracer scopes, errors, dropout,
10,000-step sequences, truncated BPTT and a small model that learns.

(The maths of every configuration is checked in test_recurrent.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn.functional import cross_entropy

try:
    from . import recurrent_reference as ref
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    import recurrent_reference as ref

F64 = np.float64


def ones(shape: tuple[int, ...]) -> np.ndarray:
    """float32, the layers' default dtype (a float64 array is refused, as PyTorch does)."""
    return np.ones(shape, dtype=np.float32)


def randn(*shape: int, seed: int = 0) -> mg.Tensor:
    return mg.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


# ---- names, shapes, checkpoints ------------------------------------------------------------


def test_state_dict_keys_and_shapes_are_pytorchs():
    lstm = mg.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    # torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2).state_dict(), in order:
    assert list(lstm.state_dict()) == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_hr_l0",
        "weight_ih_l0_reverse",
        "weight_hh_l0_reverse",
        "bias_ih_l0_reverse",
        "bias_hh_l0_reverse",
        "weight_hr_l0_reverse",
        "weight_ih_l1",
        "weight_hh_l1",
        "bias_ih_l1",
        "bias_hh_l1",
        "weight_hr_l1",
        "weight_ih_l1_reverse",
        "weight_hh_l1_reverse",
        "bias_ih_l1_reverse",
        "bias_hh_l1_reverse",
        "weight_hr_l1_reverse",
    ]
    shapes = {k: v.shape for k, v in lstm.state_dict().items()}
    assert shapes["weight_ih_l0"] == (16, 3) and shapes["weight_hh_l0"] == (16, 2)
    assert shapes["weight_ih_l1_reverse"] == (16, 4) and shapes["weight_hr_l1"] == (2, 4)
    assert shapes["bias_hh_l1"] == (16,)
    gru = mg.nn.GRU(5, 6, num_layers=2, bias=False)
    assert {k: v.shape for k, v in gru.state_dict().items()} == {
        "weight_ih_l0": (18, 5),
        "weight_hh_l0": (18, 6),
        "weight_ih_l1": (18, 6),
        "weight_hh_l1": (18, 6),
    }
    assert list(mg.nn.RNNCell(2, 3).state_dict()) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert mg.nn.GRU(2, 3, variant="minimal").weight_ih_l0.shape == (6, 2)
    peep = mg.nn.LSTM(2, 3, peephole=True)
    assert [k for k in peep.state_dict() if "_c" in k] == ["weight_ci_l0", "weight_cf_l0", "weight_co_l0"]
    assert peep.weight_co_l0.shape == (3,)


def test_initialisation_is_uniform_within_one_over_sqrt_hidden_and_seeded():
    mg.manual_seed(0)
    a = mg.nn.LSTM(3, 25, num_layers=2, peephole=True)
    mg.manual_seed(0)
    b = mg.nn.LSTM(3, 25, num_layers=2, peephole=True)
    values = np.concatenate([p.data.ravel() for p in a.parameters()])
    assert np.abs(values).max() <= 1 / 5 and np.abs(values).max() > 0.19  # U(-1/sqrt(H), 1/sqrt(H))
    assert all(p.dtype == np.float32 for p in a.parameters())
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    assert not np.array_equal(a.weight_ih_l0.data, mg.nn.LSTM(3, 25, num_layers=2).weight_ih_l0.data)


@pytest.mark.parametrize(
    "make",
    [
        lambda: mg.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2, dtype=F64),
        lambda: mg.nn.GRU(3, 4, num_layers=3, batch_first=True, variant="reset_before", dtype=F64),
        lambda: mg.nn.RNN(3, 4, nonlinearity="relu", bias=False, bidirectional=True, dtype=F64),
    ],
)
def test_state_dict_round_trip_through_a_file(make, tmp_path):
    mg.manual_seed(1)
    source = make()
    mg.manual_seed(2)
    target = make()
    x = randn(5, 2, 3)
    before = target(x)[0].data.copy()
    path = tmp_path / "rnn.npz"
    mg.save(source.state_dict(), path)
    target.load_state_dict(mg.load(path))
    np.testing.assert_array_equal(target(x)[0].data, source(x)[0].data)
    assert not np.allclose(before, source(x)[0].data)


def test_a_pytorch_style_state_dict_loads_and_keeps_the_models_dtype():
    """Arrays named and shaped as PyTorch's (e.g. ``{k: v.numpy() for k, v in torch_sd.items()}``)."""
    rng = np.random.default_rng(0)
    model = mg.nn.GRU(3, 2, num_layers=2, bidirectional=True)
    sd = {}
    for layer, n_in in ((0, 3), (1, 4)):  # layer 1 reads both directions: 2H = 4
        for sfx in ("", "_reverse"):
            shapes = {"weight_ih": (6, n_in), "weight_hh": (6, 2), "bias_ih": (6,), "bias_hh": (6,)}
            sd.update({f"{k}_l{layer}{sfx}": rng.standard_normal(shape) for k, shape in shapes.items()})
    model.load_state_dict(sd)
    assert all(p.dtype == np.float32 for p in model.parameters())
    np.testing.assert_allclose(model.weight_ih_l1_reverse.data, sd["weight_ih_l1_reverse"], rtol=1e-6)
    with pytest.raises(ValueError, match="weight_hh_l1"):
        model.load_state_dict({**sd, "weight_hh_l1": np.zeros((6, 3))})


def test_repr_names_the_options_like_pytorch():
    assert (
        repr(mg.nn.LSTM(3, 4, num_layers=2, dropout=0.1, bidirectional=True, proj_size=2))
        == "LSTM(3, 4, proj_size=2, num_layers=2, dropout=0.1, bidirectional=True)"
    )
    assert repr(mg.nn.RNNCell(3, 4, bias=False, nonlinearity="relu")) == "RNNCell(3, 4, bias=False, nonlinearity=relu)"
    assert repr(mg.nn.GRU(3, 4, batch_first=True, variant="minimal")) == "GRU(3, 4, batch_first=True, variant=minimal)"
    assert repr(mg.nn.LSTMCell(3, 4, peephole=True)) == "LSTMCell(3, 4, peephole=True)"


def test_float32_by_default_and_float64_after_double():
    model = mg.nn.GRU(2, 3)
    out, h_n = model([[1.0, 1.0]] * 4)  # lists carry no dtype: they take the parameters'
    assert out.dtype == np.float32 and h_n.dtype == np.float32
    with pytest.raises(TypeError, match="GRU: input has dtype float64 but the parameters are float32"):
        model(np.ones((4, 2)))  # a float64 array is refused, as nn.Linear does (issue 16)
    model.double()
    out, _ = model(randn(4, 1, 2))
    assert out.dtype == np.float64


# ---- tracer scopes and the cost of a step ----------------------------------------------------


def test_scopes_name_layer_direction_and_input_timestep():
    steps, batch = 3, 2
    model = mg.nn.LSTM(2, 3, num_layers=2, bidirectional=True, dtype=F64)
    with mg.trace() as tape:
        model(randn(steps, batch, 2))
    scopes = {r.scope for r in tape.records}
    step_scopes = {f"lstm/l{k}/{d}/t{t}" for k in (0, 1) for d in ("fwd", "bwd") for t in range(steps)}
    outer = {"lstm", "lstm/l0", "lstm/l1", "lstm/l0/fwd", "lstm/l0/bwd", "lstm/l1/fwd", "lstm/l1/bwd"}
    assert step_scopes <= scopes and scopes <= step_scopes | outer
    # the backward direction walks the input from its end: its steps run t2, t1, t0
    order = [r.scope for r in tape.in_scope("lstm/l0/bwd") if r.scope != "lstm/l0/bwd"]
    assert list(dict.fromkeys(order)) == ["lstm/l0/bwd/t2", "lstm/l0/bwd/t1", "lstm/l0/bwd/t0"]
    # the input projection of every timestep is one addmm (x W_ih^T + b) in the direction's scope, before the loop
    projection = [r for r in tape.records if r.scope == "lstm/l1/bwd" and r.op in ("matmul", "addmm")]
    assert [(r.op, r.input_shapes) for r in projection] == [("addmm", [(12,), (steps * batch, 6), (6, 12)])]
    # W^T is made once per call, never inside a step; each step is ONE matmul on the stacked gates,
    # fused with the add of the input term (addmm: x_proj[t] + h W_hh^T)
    for k in (0, 1):
        for d in ("fwd", "bwd"):
            assert [r.op for r in tape.records if r.scope == f"lstm/l{k}/{d}"].count("transpose") == 2
            for t in range(steps):
                ops = [r.op for r in tape.records if r.scope == f"lstm/l{k}/{d}/t{t}"]
                assert ops.count("addmm") == 1 and "matmul" not in ops
                assert "transpose" not in ops


def test_missing_states_share_one_zero_tensor():
    model = mg.nn.GRU(2, 3, num_layers=2, bidirectional=True)
    with mg.trace() as tape:
        model(ones((3, 2, 2)))
    first_steps = [
        r
        for r in tape.records
        if r.op == "addmm" and r.scope in ("gru/l0/fwd/t0", "gru/l0/bwd/t2", "gru/l1/fwd/t0", "gru/l1/bwd/t2")
    ]  # h_proj = addmm(b_hh, h, W_hh^T): h is mat1
    assert len(first_steps) == 4
    assert len({id(r.inputs[1]) for r in first_steps}) == 1
    assert not first_steps[0].inputs[1].data.any()


def test_cells_open_their_own_scope():
    cell = mg.nn.LSTMCell(2, 3)
    with mg.trace() as tape, mg.scope("t7"):
        cell(ones((1, 2)))
    assert tape.records and {r.scope for r in tape.records} == {"t7/lstmcell"}


def test_gru_step_op_counts_per_variant():
    """reset_before needs r * h before its candidate matmul: two matmuls a step, the others one.

    A matmul whose result is only added to (a bias b_hh, the input term x_n) is an addmm."""
    for variant, matmuls in (("reset_after", 1), ("reset_before", 2), ("minimal", 1)):
        with mg.trace() as tape:
            mg.nn.GRU(2, 3, variant=variant)(ones((2, 1, 2)))
        ops = [r.op for r in tape.in_scope("gru/l0/fwd/t1")]
        assert ops.count("matmul") + ops.count("addmm") == matmuls
        assert ops.count("addmm") == {"reset_after": 1, "reset_before": 1, "minimal": 0}[variant]


# ---- errors ------------------------------------------------------------------------------------

LAYER_ERRORS = [
    (lambda: mg.nn.LSTM(3, 4)(ones((2, 2, 2, 3))), ValueError, r"LSTM: Expected input to be 2D or 3D, got 4D"),
    (lambda: mg.nn.LSTM(3, 4)(ones((5, 2, 2))), ValueError, r"input_size. Expected 3, got 2"),
    (
        lambda: mg.nn.GRU(3, 4, num_layers=2)(ones((5, 2, 3)), ones((2, 3, 4))),
        ValueError,
        r"GRU: Expected hidden size \(2, 2, 4\), got \(2, 3, 4\)",
    ),
    (
        lambda: mg.nn.LSTM(3, 4, bidirectional=True)(ones((5, 2, 3)), (ones((1, 2, 4)), ones((2, 2, 4)))),
        ValueError,
        r"Expected hidden\[0\] size \(2, 2, 4\), got \(1, 2, 4\)",
    ),
    (
        lambda: mg.nn.LSTM(3, 4, proj_size=2)(ones((5, 2, 3)), (ones((1, 2, 2)), ones((1, 2, 2)))),
        ValueError,
        r"Expected hidden\[1\] size \(1, 2, 4\), got \(1, 2, 2\)",
    ),
    (
        lambda: mg.nn.RNN(3, 4)(ones((5, 3)), ones((1, 1, 4))),
        ValueError,
        r"For unbatched 2-D input, hx should also be 2-D",
    ),
    (
        lambda: mg.nn.LSTM(3, 4)(ones((5, 2, 3)), (ones((1, 4)), ones((1, 4)))),
        ValueError,
        r"For batched 3-D input, hx and cx should also be 3-D",
    ),
    (lambda: mg.nn.LSTM(3, 4)(ones((5, 2, 3)), (ones((1, 2, 4)), None)), ValueError, r"both h0 and c0"),
    (lambda: mg.nn.LSTM(3, 4)(ones((5, 2, 3)), ones((1, 2, 4))), TypeError, r"a pair \(h, c\)"),
    (lambda: mg.nn.RNN(3, 4)(ones((0, 2, 3))), ValueError, r"sequence length to be larger than 0"),
    (
        lambda: mg.nn.RNN(3, 4)(randn(5, 2, 3)),
        TypeError,
        r"RNN: input has dtype float64 but the parameters are float32",
    ),
    (lambda: mg.nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError, r"RNN: Unknown nonlinearity 'sigmoid'"),
    (lambda: mg.nn.GRU(3, 4, variant="cho"), ValueError, r"GRU: Unknown variant 'cho'"),
    (lambda: mg.nn.LSTM(3, 4, num_layers=0), ValueError, r"num_layers must be an integer greater than zero"),
    (lambda: mg.nn.GRU(3, 4, num_layers=2, dropout=1.5), ValueError, r"dropout should be a number in range \[0, 1\]"),
    (lambda: mg.nn.GRU(3, 4, num_layers=2, dropout=-0.1), ValueError, r"range \[0, 1\]"),
    (lambda: mg.nn.LSTM(3, 4, proj_size=4), ValueError, r"LSTM: proj_size must be an integer in \[0, hidden_size=4\)"),
    (lambda: mg.nn.RNN(3, 0), ValueError, r"RNN: hidden_size must be a positive integer, got 0"),
    (lambda: mg.nn.RNN(0, 3), ValueError, r"RNN: input_size must be a positive integer, got 0"),
]

CELL_ERRORS = [
    (lambda: mg.nn.LSTMCell(3, 4)(ones((2, 2, 3))), ValueError, r"LSTMCell: Expected input to be 1D or 2D, got 3D"),
    (lambda: mg.nn.RNNCell(3, 4)(ones((2, 5))), ValueError, r"inconsistent input_size: got 5, expected 3"),
    (
        lambda: mg.nn.GRUCell(3, 4)(ones((2, 3)), ones((3, 4))),
        ValueError,
        r"GRUCell: expected h of shape \(2, 4\) .* got \(3, 4\)",
    ),
    (
        lambda: mg.nn.LSTMCell(3, 4)(ones((2, 3)), (ones((2, 4)), ones((2, 5)))),
        ValueError,
        r"expected c of shape \(2, 4\)",
    ),
    (lambda: mg.nn.LSTMCell(3, 4)(ones(3), (ones((2, 4)), ones((2, 4)))), ValueError, r"expected h of shape \(4,\)"),
    (lambda: mg.nn.RNNCell(3, 4, nonlinearity="gelu"), ValueError, r"RNNCell: Unknown nonlinearity 'gelu'"),
    (lambda: mg.nn.GRUCell(3, 4, variant="keras"), ValueError, r"GRUCell: Unknown variant 'keras'"),
]


@pytest.mark.parametrize("call,error,message", LAYER_ERRORS + CELL_ERRORS)
def test_bad_arguments_get_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---- dropout between layers -----------------------------------------------------------------


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="dropout"):
        mg.nn.LSTM(3, 4, dropout=0.5)


def test_dropout_acts_between_layers_in_training_only():
    mg.manual_seed(0)
    model = mg.nn.GRU(3, 4, num_layers=2, bidirectional=True, dropout=0.5, dtype=F64)
    plain = mg.nn.GRU(3, 4, num_layers=2, bidirectional=True, dtype=F64)
    plain.load_state_dict(model.state_dict())
    x = randn(6, 2, 3)
    out_plain, h_plain = plain(x)
    mg.manual_seed(1)
    out_a, h_a = model(x)
    mg.manual_seed(1)
    out_b, _ = model(x)
    np.testing.assert_array_equal(out_a.data, out_b.data)  # the mask comes from mg's generator
    assert not np.allclose(out_a.data, out_plain.data)
    np.testing.assert_array_equal(h_a.data[:2], h_plain.data[:2])  # layer 0 (both directions) untouched
    model.eval()
    np.testing.assert_array_equal(model(x)[0].data, out_plain.data)


def test_dropout_one_zeroes_the_input_of_the_next_layer():
    mg.manual_seed(0)
    model = mg.nn.LSTM(3, 4, num_layers=2, dropout=1.0, dtype=F64)
    upper = mg.nn.LSTM(4, 4, dtype=F64)
    upper.load_state_dict({k.replace("_l1", "_l0"): v for k, v in model.state_dict().items() if "_l1" in k})
    out, (h_n, _) = model(randn(5, 2, 3))
    expected, (h_upper, _) = upper(np.zeros((5, 2, 4)))
    np.testing.assert_allclose(out.data, expected.data, rtol=0, atol=1e-15)
    np.testing.assert_allclose(h_n.data[1], h_upper.data[0], rtol=0, atol=1e-15)


def test_dropout_gradients_pass_gradcheck():
    mg.manual_seed(0)
    model = mg.nn.RNN(2, 3, num_layers=2, dropout=0.4, dtype=F64)
    x = randn(3, 2, 2)

    def fn(x, *params):
        mg.manual_seed(5)  # the same mask on every evaluation
        return model(x)

    assert mg.gradcheck(fn, [x, *model.parameters()])


# ---- long sequences and truncated BPTT --------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_ten_thousand_steps_forward_and_backward(kind):
    steps = 10_000
    mg.manual_seed(0)
    model = mg.nn.RNN(1, 2, dtype=F64) if kind == "rnn" else mg.nn.LSTM(1, 2, dtype=F64)
    x_np = np.random.default_rng(0).standard_normal((steps, 1, 1))
    x = mg.tensor(x_np, requires_grad=True)
    out = model(x)[0]
    out[-1].sum().backward()  # the last output depends on every step
    assert x.grad.shape == (steps, 1, 1) and np.isfinite(x.grad).all()
    assert x.grad[-1, 0, 0] != 0
    p = {k.removesuffix("_l0"): v for k, v in model.state_dict().items()}
    state = (np.zeros((1, 2)),) * (2 if kind == "lstm" else 1)
    for t in range(steps):
        state = ref.STEPS[kind](p, x_np[t], state)
    np.testing.assert_allclose(out.data[-1], state[0], rtol=0, atol=1e-10)


def test_truncated_bptt_cuts_the_gradient_at_the_detach():
    mg.manual_seed(0)
    model = mg.nn.LSTM(2, 3, dtype=F64)
    first, second = randn(4, 2, 2, seed=1), randn(4, 2, 2, seed=2)
    _, (h, c) = model(first)
    state = (h.detach(), c.detach())
    out, _ = model(second, state)
    out.sum().backward()
    assert first.grad is None  # nothing flowed past the cut
    carried = {name: p.grad.copy() for name, p in model.named_parameters()}

    # the same chunk run alone from fresh leaves holding the same state: identical gradients
    model.zero_grad()
    alone, _ = model(randn(4, 2, 2, seed=2), (mg.tensor(h.data), mg.tensor(c.data)))
    alone.sum().backward()
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(carried[name], p.grad, err_msg=name)

    # without the cut, the loss of the second chunk reaches the first chunk
    model.zero_grad()
    _, (h, c) = model(first)
    model(second, (h, c))[0].sum().backward()
    assert first.grad is not None and np.abs(first.grad).max() > 0
    assert not np.allclose(model.weight_hh_l0.grad, carried["weight_hh_l0"])


# ---- a model that learns -----------------------------------------------------------------------


def test_lstm_learns_to_repeat_the_previous_token_with_adam():
    """Many-to-many: at every step predict the token seen one step earlier (memory of one step)."""
    mg.manual_seed(0)
    vocab, steps, batch = 4, 8, 16
    lstm, head = mg.nn.LSTM(vocab, 16), mg.nn.Linear(16, vocab)
    opt = mg.optim.Adam([*lstm.parameters(), *head.parameters()], lr=0.05)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(60):
        tokens = rng.integers(0, vocab, size=(steps, batch))
        targets = np.full((steps, batch), -100)  # step 0 has no previous token: ignored
        targets[1:] = tokens[:-1]
        out, _ = lstm(np.eye(vocab, dtype=np.float32)[tokens])
        loss = cross_entropy(head(out).reshape(steps * batch, vocab), targets.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 1.2  # chance is log(4) = 1.39
    assert np.mean(losses[-5:]) < 0.1 * losses[0]
