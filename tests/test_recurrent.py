"""Recurrent cells and layers against independent plain-numpy references, in float64.

Every configuration (cell kind and variant x layers 1-3 x uni/bidirectional x batch_first x
bias x initial state, plus unbatched inputs) is compared with ``recurrent_reference``'s
forward (outputs and final states to 1e-10) and ALL gradients (parameters, input, initial
states) with central differences of that reference. Single-layer RNN (tanh, relu), GRU and
LSTM gradients are also compared with hand-derived BPTT to 1e-10, and ``mg.gradcheck`` runs
on small stacked bidirectional layers and on every cell.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import minigrad as mg

try:
    from . import recurrent_reference as ref
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    import recurrent_reference as ref

F64 = np.float64
IN, H, T, B = 2, 3, 3, 2  # distinct sizes, so a swapped axis cannot pass

# name: (layer class, cell class, reference family, options passed to both and to the reference)
KINDS = {
    "rnn_tanh": (mg.nn.RNN, mg.nn.RNNCell, "rnn", {"nonlinearity": "tanh"}),
    "rnn_relu": (mg.nn.RNN, mg.nn.RNNCell, "rnn", {"nonlinearity": "relu"}),
    "gru": (mg.nn.GRU, mg.nn.GRUCell, "gru", {"variant": "reset_after"}),
    "gru_reset_before": (mg.nn.GRU, mg.nn.GRUCell, "gru", {"variant": "reset_before"}),
    "gru_minimal": (mg.nn.GRU, mg.nn.GRUCell, "gru", {"variant": "minimal"}),
    "lstm": (mg.nn.LSTM, mg.nn.LSTMCell, "lstm", {}),
    "lstm_peephole": (mg.nn.LSTM, mg.nn.LSTMCell, "lstm", {"peephole": True}),
    "lstm_proj": (mg.nn.LSTM, mg.nn.LSTMCell, "lstm", {"proj_size": 2}),
}


def run_layer(model: mg.nn.Module, family: str, x: mg.Tensor, states: list | None) -> tuple:
    if family == "lstm":
        out, (h_n, c_n) = model(x, None if states is None else tuple(states))
        return out, [h_n, c_n]
    out, h_n = model(x, None if states is None else states[0])
    return out, [h_n]


def run_cell(cell: mg.nn.Module, family: str, x: mg.Tensor, states: list | None) -> list:
    if family == "lstm":
        return list(cell(x, None if states is None else tuple(states)))
    return [cell(x, None if states is None else states[0])]


def weighted_sum(outputs: list, weights: list) -> np.ndarray:
    """sum(o * w) over each output's own axes; a leading perturbation axis, if any, survives."""
    return sum((o * w).sum(axis=tuple(range(-w.ndim, 0))) for o, w in zip(outputs, weights))


def check_against_reference(reference, arrays: dict, outputs: list, grads: dict, rng) -> None:
    """Forward to 1e-10, then every gradient against central differences of the reference."""
    expected = reference(arrays)
    for k, (got, want) in enumerate(zip(outputs, expected)):
        assert got.shape == want.shape, f"output {k}: shape {got.shape}, reference {want.shape}"
        np.testing.assert_allclose(got.data, want, rtol=0, atol=1e-10, err_msg=f"output {k}")
    weights = [rng.standard_normal(o.shape) for o in outputs]
    loss = None
    for o, w in zip(outputs, weights):
        loss = (o * w).sum() if loss is None else loss + (o * w).sum()
    loss.backward()
    numerical = ref.fd_gradients(lambda a: weighted_sum(reference(a), weights), arrays)
    for name, fd in numerical.items():
        got = grads[name]()
        assert got is not None, f"no gradient reached {name}"
        np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-7, err_msg=f"gradient of {name}")


LAYER_CONFIGS = list(itertools.product(KINDS, [1, 2, 3], [False, True], [False, True], [True, False], [False, True]))


@pytest.mark.parametrize(
    "kind,num_layers,bidirectional,batch_first,bias,with_state",
    LAYER_CONFIGS,
    ids=[
        f"{k}-L{n}-{'bi' if d else 'uni'}-{'bf' if f else 'tb'}-{'bias' if b else 'nobias'}-{'h0' if s else 'zeros'}"
        for k, n, d, f, b, s in LAYER_CONFIGS
    ],
)
def test_layer_matches_reference(kind, num_layers, bidirectional, batch_first, bias, with_state):
    layer_cls, _, family, options = KINDS[kind]
    mg.manual_seed(3)
    model = layer_cls(
        IN,
        H,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        bias=bias,
        dtype=F64,
        **options,
    )
    rng = np.random.default_rng(num_layers)
    D = 2 if bidirectional else 1
    sizes = ref.state_sizes(family, H, **options)
    arrays = dict(model.state_dict())
    arrays["x"] = rng.standard_normal((B, T, IN) if batch_first else (T, B, IN))
    state_names = [f"state{k}" for k in range(len(sizes))] if with_state else []
    for name, size in zip(state_names, sizes):
        arrays[name] = rng.standard_normal((D * num_layers, B, size))

    x = mg.tensor(arrays["x"], requires_grad=True)
    states = [mg.tensor(arrays[n], requires_grad=True) for n in state_names] or None
    out, finals = run_layer(model, family, x, states)
    assert out.shape == ((B, T, D * sizes[0]) if batch_first else (T, B, D * sizes[0]))
    assert [f.shape for f in finals] == [(D * num_layers, B, s) for s in sizes]

    def reference(a: dict) -> list:
        xs = np.swapaxes(a["x"], -3, -2) if batch_first else a["x"]
        ref_out, ref_finals = ref.layers_forward(
            family,
            {k: a[k] for k in model.state_dict()},
            xs,
            [a[n] for n in state_names] or None,
            H,
            num_layers,
            bidirectional,
            **options,
        )
        return [np.swapaxes(ref_out, -3, -2) if batch_first else ref_out, *ref_finals]

    params = dict(model.named_parameters())
    grads = {name: (lambda p=p: p.grad) for name, p in params.items()}
    grads["x"] = lambda: x.grad
    for name, s in zip(state_names, states or []):
        grads[name] = lambda s=s: s.grad
    check_against_reference(reference, arrays, [out, *finals], grads, rng)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_layer_matches_reference(kind, bidirectional, with_state):
    """(T, I) input gives (T, D*H) and states (D*L, H), as PyTorch; batch_first is ignored."""
    layer_cls, _, family, options = KINDS[kind]
    mg.manual_seed(5)
    L, D = 2, 2 if bidirectional else 1
    model = layer_cls(IN, H, num_layers=L, bidirectional=bidirectional, batch_first=True, dtype=F64, **options)
    rng = np.random.default_rng(11)
    sizes = ref.state_sizes(family, H, **options)
    arrays = dict(model.state_dict())
    arrays["x"] = rng.standard_normal((T, IN))
    state_names = [f"state{k}" for k in range(len(sizes))] if with_state else []
    for name, size in zip(state_names, sizes):
        arrays[name] = rng.standard_normal((D * L, size))
    x = mg.tensor(arrays["x"], requires_grad=True)
    states = [mg.tensor(arrays[n], requires_grad=True) for n in state_names] or None
    out, finals = run_layer(model, family, x, states)
    assert out.shape == (T, D * sizes[0])
    assert [f.shape for f in finals] == [(D * L, s) for s in sizes]

    def reference(a: dict) -> list:
        ref_out, ref_finals = ref.layers_forward(
            family,
            {k: a[k] for k in model.state_dict()},
            a["x"][..., :, None, :],
            [a[n][..., :, None, :] for n in state_names] or None,
            H,
            L,
            bidirectional,
            **options,
        )
        return [ref_out[..., 0, :], *(f[..., 0, :] for f in ref_finals)]

    grads = {name: (lambda p=p: p.grad) for name, p in model.named_parameters()}
    grads["x"] = lambda: x.grad
    for name, s in zip(state_names, states or []):
        grads[name] = lambda s=s: s.grad
    check_against_reference(reference, arrays, [out, *finals], grads, rng)


CELL_CONFIGS = list(itertools.product(KINDS, [True, False], [False, True], [False, True]))


@pytest.mark.parametrize(
    "kind,bias,unbatched,with_state",
    CELL_CONFIGS,
    ids=[
        f"{k}-{'bias' if b else 'nobias'}-{'unbatched' if u else 'batched'}-{'state' if s else 'zeros'}"
        for k, b, u, s in CELL_CONFIGS
    ],
)
def test_cell_matches_reference(kind, bias, unbatched, with_state):
    _, cell_cls, family, options = KINDS[kind]
    mg.manual_seed(9)
    cell = cell_cls(IN, H, bias=bias, dtype=F64, **options)
    rng = np.random.default_rng(13)
    sizes = ref.state_sizes(family, H, **options)
    lead = () if unbatched else (B,)
    arrays = dict(cell.state_dict())
    arrays["x"] = rng.standard_normal(lead + (IN,))
    state_names = [f"state{k}" for k in range(len(sizes))] if with_state else []
    for name, size in zip(state_names, sizes):
        arrays[name] = rng.standard_normal(lead + (size,))
    x = mg.tensor(arrays["x"], requires_grad=True)
    states = [mg.tensor(arrays[n], requires_grad=True) for n in state_names] or None
    outputs = run_cell(cell, family, x, states)
    assert [o.shape for o in outputs] == [lead + (s,) for s in sizes]

    def reference(a: dict) -> list:
        xs = a["x"][..., None, :] if unbatched else a["x"]
        if state_names:
            state = tuple(a[n][..., None, :] if unbatched else a[n] for n in state_names)
        else:
            state = tuple(np.zeros(xs.shape[:-1] + (s,)) for s in sizes)
        new = ref.STEPS[family]({k: a[k] for k in cell.state_dict()}, xs, state, **options)
        return [s[..., 0, :] if unbatched else s for s in new]

    grads = {name: (lambda p=p: p.grad) for name, p in cell.named_parameters()}
    grads["x"] = lambda: x.grad
    for name, s in zip(state_names, states or []):
        grads[name] = lambda s=s: s.grad
    check_against_reference(reference, arrays, outputs, grads, rng)


@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "gru", "lstm"])
def test_gradients_match_hand_derived_bptt(kind):
    """Single layer, one direction: every gradient equals the written-out BPTT to 1e-10."""
    layer_cls, _, family, options = KINDS[kind]
    mg.manual_seed(21)
    steps, batch, n_in, hidden = 6, 3, 2, 4
    model = layer_cls(n_in, hidden, dtype=F64, **options)
    rng = np.random.default_rng(17)
    x_np = rng.standard_normal((steps, batch, n_in))
    init = [rng.standard_normal((1, batch, hidden)) for _ in range(2 if family == "lstm" else 1)]
    x = mg.tensor(x_np, requires_grad=True)
    states = [mg.tensor(s, requires_grad=True) for s in init]
    out, finals = run_layer(model, family, x, states)
    d_out = rng.standard_normal(out.shape)
    d_finals = [rng.standard_normal(f.shape) for f in finals]
    loss = (out * d_out).sum()
    for f, d in zip(finals, d_finals):
        loss = loss + (f * d).sum()
    loss.backward()

    p = {name.removesuffix("_l0"): v for name, v in model.state_dict().items()}
    if family == "lstm":
        grads, dx, dh0, dc0 = ref.lstm_bptt(p, x_np, init[0][0], init[1][0], d_out, d_finals[0][0], d_finals[1][0])
        np.testing.assert_allclose(states[1].grad[0], dc0, rtol=0, atol=1e-10)
    elif family == "gru":
        grads, dx, dh0 = ref.gru_bptt(p, x_np, init[0][0], d_out, d_finals[0][0])
    else:
        grads, dx, dh0 = ref.rnn_bptt(p, x_np, init[0][0], d_out, d_finals[0][0], options["nonlinearity"])
    np.testing.assert_allclose(x.grad, dx, rtol=0, atol=1e-10)
    np.testing.assert_allclose(states[0].grad[0], dh0, rtol=0, atol=1e-10)
    for name, param in model.named_parameters():
        np.testing.assert_allclose(param.grad, grads[name.removesuffix("_l0")], rtol=0, atol=1e-10, err_msg=name)
    assert np.abs(dx).max() > 1e-3  # the comparison is not between two zero arrays


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_stacked_bidirectional_layer(kind):
    layer_cls, _, family, options = KINDS[kind]
    options = {**options, "proj_size": 1} if "proj_size" in options else options  # P < H = 2
    mg.manual_seed(31)
    model = layer_cls(2, 2, num_layers=2, bidirectional=True, dtype=F64, **options)
    rng = np.random.default_rng(2)
    x = mg.tensor(rng.standard_normal((2, 1, 2)), requires_grad=True)
    sizes = ref.state_sizes(family, 2, **options)
    states = [mg.tensor(rng.standard_normal((4, 1, s)), requires_grad=True) for s in sizes]

    def fn(x, *rest):
        out, finals = run_layer(model, family, x, list(rest[: len(states)]))
        return (out, *finals)

    assert mg.gradcheck(fn, [x, *states, *model.parameters()])


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_cell(kind):
    _, cell_cls, family, options = KINDS[kind]
    mg.manual_seed(37)
    cell = cell_cls(2, 3, dtype=F64, **options)
    rng = np.random.default_rng(4)
    x = mg.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    states = [mg.tensor(rng.standard_normal((2, s)), requires_grad=True) for s in ref.state_sizes(family, 3, **options)]

    def fn(x, *rest):
        return tuple(run_cell(cell, family, x, list(rest[: len(states)])))

    assert mg.gradcheck(fn, [x, *states, *cell.parameters()])
