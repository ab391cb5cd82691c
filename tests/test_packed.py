"""Variable-length batches: ``layer(x, h0, lengths=...)`` and PackedSequence against a numpy reference.

The reference (tests/recurrent_reference.py, plain numpy from the published equations) runs
each sequence ALONE, without padding; the batched layer must give the same outputs (zeros
after each end), the same final states and, by central differences of the reference, the
same gradient for every parameter, input and initial state. Padded steps hold random values
to show they contribute nothing. PyTorch parity: tests/parity/packed_parity.py (on demand).
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence, pad_sequence

try:
    from . import recurrent_reference as ref
except ImportError:
    import recurrent_reference as ref

I, H, T = 2, 3, 4  # noqa: E741 - input size, hidden size, steps, as PyTorch names them
LENGTHS = [2, 4, 1]  # unsorted, one full, one of length 1
LAYERS = {"rnn": mg.nn.RNN, "gru": mg.nn.GRU, "lstm": mg.nn.LSTM}
CONFIGS = [
    ("rnn", 1, False, False),
    ("rnn", 2, True, True),
    ("gru", 1, True, False),
    ("gru", 2, False, True),
    ("lstm", 1, False, True),
    ("lstm", 2, True, False),
]


def make(family: str, num_layers: int, bidirectional: bool, batch_first: bool, seed: int = 0):
    mg.manual_seed(seed)
    return LAYERS[family](
        I, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, dtype=np.float64
    )


def reference_loss(family, arrays, names_of_states, lengths, num_layers, bidirectional, weights):
    """Sum over sequences run alone of <out, V> + <h_n, W> (+ <c_n, U>); arrays may carry a leading N axis."""
    params = {k: v for k, v in arrays.items() if k not in ("x", *names_of_states)}
    x = arrays["x"]  # (..., T, B, I), time-major
    total = 0.0
    for b, n in enumerate(lengths):
        states = [arrays[s][..., :, b : b + 1, :] for s in names_of_states] or None
        out, finals = ref.layers_forward(family, params, x[..., :n, b : b + 1, :], states, H, num_layers, bidirectional)
        total = total + (out * weights["out"][:n, b : b + 1]).sum(axis=(-1, -2, -3))
        for k, f in enumerate(finals):
            total = total + (f * weights["final"][k][:, b : b + 1]).sum(axis=(-1, -2, -3))
    return total


@pytest.mark.parametrize("family, num_layers, bidirectional, batch_first", CONFIGS)
@pytest.mark.parametrize("with_h0", [False, True])
def test_lengths_match_each_sequence_run_alone(family, num_layers, bidirectional, batch_first, with_h0):
    rng = np.random.default_rng(1)
    layer = make(family, num_layers, bidirectional, batch_first)
    D, B = 2 if bidirectional else 1, len(LENGTHS)
    x = rng.standard_normal((T, B, I))  # the padded steps hold noise, not zeros
    state_names = (["h0", "c0"] if family == "lstm" else ["h0"]) if with_h0 else []
    states = {s: rng.standard_normal((D * num_layers, B, H)) for s in state_names}
    x_t = mg.tensor(x.transpose(1, 0, 2) if batch_first else x, requires_grad=True)
    state_t = {s: mg.tensor(v, requires_grad=True) for s, v in states.items()}
    h0 = None
    if with_h0:
        h0 = (state_t["h0"], state_t["c0"]) if family == "lstm" else state_t["h0"]
    out, final = layer(x_t, h0, lengths=LENGTHS)
    finals = list(final) if family == "lstm" else [final]
    out_tm = out.data.transpose(1, 0, 2) if batch_first else out.data

    weights = {"out": rng.standard_normal((T, B, D * H)), "final": [rng.standard_normal(f.shape) for f in finals]}
    arrays = {**{k: v.copy() for k, v in layer.state_dict().items()}, "x": x, **states}
    for b, n in enumerate(LENGTHS):
        ref_out, ref_finals = ref.layers_forward(
            family,
            {k: v for k, v in arrays.items() if k not in ("x", *state_names)},
            x[:n, b : b + 1],
            [states[s][:, b : b + 1] for s in state_names] or None,
            H,
            num_layers,
            bidirectional,
        )
        np.testing.assert_allclose(out_tm[:n, b], ref_out[:, 0], rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(out_tm[n:, b], 0.0)  # zeros after the end
        for f, r in zip(finals, ref_finals):
            np.testing.assert_allclose(f.data[:, b], r[:, 0], rtol=1e-10, atol=1e-12)

    w_out = weights["out"].transpose(1, 0, 2) if batch_first else weights["out"]
    loss = (out * mg.tensor(w_out)).sum()
    for f, w in zip(finals, weights["final"]):
        loss = loss + (f * mg.tensor(w)).sum()
    loss.backward()
    expected = ref.fd_gradients(
        lambda a: reference_loss(family, a, state_names, LENGTHS, num_layers, bidirectional, weights), arrays
    )
    grads = {name: p.grad for name, p in layer.named_parameters()}
    grads["x"] = x_t.grad.transpose(1, 0, 2) if batch_first else x_t.grad
    grads.update({s: t.grad for s, t in state_t.items()})
    for name, g in grads.items():
        np.testing.assert_allclose(g, expected[name], rtol=1e-5, atol=1e-7, err_msg=name)
    x_grad = grads["x"]
    for b, n in enumerate(LENGTHS):
        np.testing.assert_array_equal(x_grad[n:, b], 0.0)  # padded steps: no gradient


@pytest.mark.parametrize("family", ["rnn", "gru", "lstm"])
def test_packed_input_gives_the_lengths_result_and_returns_a_packed_output(family):
    rng = np.random.default_rng(2)
    layer = make(family, 2, True, False)
    x = rng.standard_normal((T, 3, I))
    out_l, final_l = layer(mg.tensor(x), lengths=LENGTHS)
    packed = pack_padded_sequence(mg.tensor(x), LENGTHS, enforce_sorted=False)
    out_p, final_p = layer(packed)
    assert isinstance(out_p, PackedSequence)
    np.testing.assert_array_equal(out_p.batch_sizes.data, packed.batch_sizes.data)
    np.testing.assert_array_equal(out_p.sorted_indices.data, packed.sorted_indices.data)
    padded, lengths = pad_packed_sequence(out_p)
    np.testing.assert_array_equal(lengths.data, LENGTHS)
    np.testing.assert_allclose(padded.data, out_l.data, rtol=0, atol=0)
    for a, b in zip(final_p if family == "lstm" else [final_p], final_l if family == "lstm" else [final_l]):
        np.testing.assert_array_equal(a.data, b.data)  # original batch order


def test_full_lengths_change_nothing():
    layer = make("gru", 2, True, True)
    x = mg.tensor(np.random.default_rng(3).standard_normal((3, T, I)))
    plain_out, plain_h = layer(x)
    out, h = layer(x, lengths=[T, T, T])
    np.testing.assert_array_equal(out.data, plain_out.data)
    np.testing.assert_array_equal(h.data, plain_h.data)


def test_masked_steps_run_only_where_a_sequence_has_ended():
    layer = make("rnn", 1, False, False)
    x = mg.tensor(np.random.default_rng(4).standard_normal((T, 2, I)))
    with mg.trace() as tape:
        layer(x, lengths=[T, 2])
    masked = [r for r in tape.records if r.op == "where"]
    steps = [r for r in masked if "/t" in r.scope]
    assert {r.scope.rsplit("/", 1)[-1] for r in steps} == {"t2", "t3"}  # only where a sequence has ended
    outputs = [r for r in masked if "/t" not in r.scope]
    assert [r.scope for r in outputs] == ["rnn/l0/fwd"]  # zeros past the ends: one op for all steps
    assert all(r.output.tags.get("masked") and r.output.tags["role"] == "mask" for r in masked)
    assert {r.output.tags["step"] for r in steps} == {2, 3}


def test_lengths_errors_name_the_problem():
    layer = make("lstm", 1, False, False)
    x = mg.tensor(np.zeros((T, 3, I)))
    with pytest.raises(ValueError, match="LSTM: expected 3 lengths, one per sequence in the batch, got 2"):
        layer(x, lengths=[4, 2])
    with pytest.raises(
        ValueError,
        match=r"LSTM: every length must be between 1 and the padded length 4, got "
        r"lengths \[4, 0, 1\]",
    ):
        layer(x, lengths=[4, 0, 1])
    with pytest.raises(ValueError, match="between 1 and the padded length 4"):
        layer(x, lengths=[5, 1, 1])
    with pytest.raises(TypeError, match="LSTM: lengths must be a 1-D list, array or tensor of integers"):
        layer(x, lengths=[1.5, 1, 1])
    with pytest.raises(ValueError, match="LSTM: lengths= needs a batched input"):
        layer(mg.tensor(np.zeros((T, I))), lengths=[4])
    with pytest.raises(ValueError, match="LSTM: a PackedSequence carries its own lengths"):
        layer(pack_padded_sequence(x, [4, 2, 1]), lengths=[4, 2, 1])


def test_pack_pad_helpers_round_trip_and_carry_gradients():
    rng = np.random.default_rng(5)
    seqs = [mg.tensor(rng.standard_normal((n, 2)), requires_grad=True) for n in (2, 4, 1)]
    padded = pad_sequence(seqs, batch_first=True, padding_value=-1.0)
    assert padded.shape == (3, 4, 2)
    np.testing.assert_array_equal(padded.data[0, :2], seqs[0].data)
    np.testing.assert_array_equal(padded.data[0, 2:], -1.0)
    left = pad_sequence(seqs, padding_side="left")
    np.testing.assert_array_equal(left.data[2:, 0], seqs[0].data)
    packed = pack_padded_sequence(padded, [2, 4, 1], batch_first=True, enforce_sorted=False)
    np.testing.assert_array_equal(packed.batch_sizes.data, [3, 2, 1, 1])
    np.testing.assert_array_equal(packed.sorted_indices.data, [1, 0, 2])
    np.testing.assert_array_equal(packed.data.data[:3], np.stack([seqs[1].data[0], seqs[0].data[0], seqs[2].data[0]]))
    back, lengths = pad_packed_sequence(packed, batch_first=True, padding_value=7.0, total_length=5)
    assert back.shape == (3, 5, 2)
    np.testing.assert_array_equal(lengths.data, [2, 4, 1])
    np.testing.assert_array_equal(back.data[2, 1:], 7.0)
    (back * 2.0).sum().backward()
    for s in seqs:
        np.testing.assert_array_equal(s.grad, 2.0)  # each real step once


def test_pack_errors():
    x = mg.tensor(np.zeros((4, 3, 2)))
    with pytest.raises(
        ValueError,
        match=r"pack_padded_sequence: lengths \[2, 4, 1\] must be sorted in decreasing "
        "order when enforce_sorted=True",
    ):
        pack_padded_sequence(x, [2, 4, 1])
    with pytest.raises(ValueError, match="pack_padded_sequence: input must have a time and a batch axis"):
        pack_padded_sequence(mg.tensor([1.0, 2.0]), [2])
    with pytest.raises(ValueError, match="pad_sequence: every sequence needs shape"):
        pad_sequence([mg.tensor(np.zeros((2, 3))), mg.tensor(np.zeros((2, 4)))])
    with pytest.raises(TypeError, match="pad_packed_sequence: expects a PackedSequence"):
        pad_packed_sequence(x)
    packed = pack_padded_sequence(x, [4, 2, 1])
    with pytest.raises(ValueError, match="total_length 3 is shorter than the longest sequence"):
        pad_packed_sequence(packed, total_length=3)
