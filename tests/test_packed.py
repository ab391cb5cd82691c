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
from minigrad.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

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
