"""The structure nn records on the graph (autograd.tag): which tensor is which gate, state,
input projection and step weight of which layer, direction and timestep, checked against the
equations the tags claim (so a tag on the wrong tensor fails)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn.recurrent import COURSE_NOTATION

F64 = np.float64
T, B, IN, H = 3, 2, 4, 5


def tagged(root):
    """{(role, name, layer, direction, step): tensor} over the graph behind root."""
    found = {}
    for t in mg.autograd.topological_order(root):
        tags = t.tags
        if tags:
            key = (tags["role"], tags.get("name"), tags.get("layer"), tags.get("direction"), tags.get("step"))
            assert key not in found, f"two tensors tagged {key}"
            found[key] = t
    return found


def run(layer, x):
    out, state = layer(x)
    states = state if isinstance(state, tuple) else (state,)
    root = out.sum() + sum(s.sum() for s in states)
    return out, states, tagged(root)


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def test_lstm_tags_every_gate_and_state_of_every_layer_direction_and_step():
    mg.manual_seed(0)
    lstm = mg.nn.LSTM(IN, H, num_layers=2, bidirectional=True, dtype=F64)
    x = mg.tensor(np.random.default_rng(0).standard_normal((T, B, IN)))
    out, (h_n, c_n), found = run(lstm, x)
    for layer in range(2):
        for direction in ("fwd", "bwd"):
            projection = found[("input_projection", None, layer, direction, None)]
            assert projection.shape == (T, B, 4 * H) and projection.tags["cell"] == "lstm"
            assert found[("weight", "W_hh_T", layer, direction, None)].shape == (H, 4 * H)
            order = range(T) if direction == "fwd" else range(T - 1, -1, -1)
            c_prev = np.zeros((B, H))
            for t in order:

                def at(role, name, key=(layer, direction, t)):
                    return found[(role, name, *key)].data

                pre = found[("gate", "i", layer, direction, t)].parents[0]  # split of x_t + h W_hh^T
                x_t = pre.parents[0].parents[0]
                assert x_t.op == "getitem" and x_t.parents == (projection,) and x_t.attrs["index"] == t
                i, f, g, o = at("gate", "i"), at("gate", "f"), at("candidate", "g"), at("gate", "o")
                c, h = at("state", "c"), at("state", "h")
                np.testing.assert_allclose(c, f * c_prev + i * g, rtol=1e-12)
                np.testing.assert_allclose(h, o * np.tanh(c), rtol=1e-12)
                assert np.all((0 < i) & (i < 1)) and np.all(np.abs(g) < 1)
                if layer == 1:  # the top layer's h is what the layer outputs
                    half = slice(0, H) if direction == "fwd" else slice(H, 2 * H)
                    np.testing.assert_array_equal(out.data[t, :, half], h)
                c_prev = c
            index = 2 * layer + (direction == "bwd")
            np.testing.assert_array_equal(c_n.data[index], c_prev)


def test_gru_tags_match_its_equations_in_every_variant():
    for variant in ("reset_after", "reset_before", "minimal"):
        mg.manual_seed(1)
        gru = mg.nn.GRU(IN, H, variant=variant, dtype=F64)
        x = mg.tensor(np.random.default_rng(1).standard_normal((T, B, IN)))
        out, _, found = run(gru, x)
        h_prev = np.zeros((B, H))
        for t in range(T):
            z, n, h = (
                found[(role, name, 0, "fwd", t)].data
                for role, name in (("gate", "z"), ("candidate", "n"), ("state", "h"))
            )
            np.testing.assert_allclose(h, (1 - z) * n + z * h_prev, rtol=1e-12, atol=1e-15)
            assert (("gate", "r", 0, "fwd", t) in found) == (variant != "minimal")
            h_prev = h
        np.testing.assert_array_equal(out.data[-1], h_prev)


def test_rnn_tags_its_state_and_reads_the_projection_once():
    mg.manual_seed(2)
    rnn = mg.nn.RNN(IN, H, dtype=F64)
    x = mg.tensor(np.random.default_rng(2).standard_normal((T, B, IN)))
    out, _, found = run(rnn, x)
    projection = found[("input_projection", None, 0, "fwd", None)]
    W_hh_T = found[("weight", "W_hh_T", 0, "fwd", None)]
    h_prev = np.zeros((B, H))
    for t in range(T):
        h = found[("state", "h", 0, "fwd", t)].data
        np.testing.assert_allclose(h, np.tanh(projection.data[t] + h_prev @ W_hh_T.data), rtol=1e-12)
        h_prev = h
    assert sum(1 for key in found if key[0] == "input_projection") == 1


def test_a_cell_called_on_its_own_tags_names_without_layer_or_step():
    cell = mg.nn.LSTMCell(IN, H, dtype=F64)
    h, c = cell(mg.tensor(np.ones((B, IN))))
    assert dict(h.tags) == {"role": "state", "name": "h", "cell": "lstm"}
    assert dict(c.tags) == {"role": "state", "name": "c", "cell": "lstm"}


def test_parameters_are_never_tagged_so_repeated_calls_do_not_grow_anything():
    lstm = mg.nn.LSTM(IN, H, peephole=True, dtype=F64)
    x = mg.tensor(np.ones((T, B, IN)))
    for _ in range(3):
        lstm(x)
    assert all(p.tags == {} for p in lstm.parameters())


def test_every_tag_name_has_a_course_name():
    for cell in (mg.nn.RNNCell(2, 3), mg.nn.GRUCell(2, 3), mg.nn.LSTMCell(2, 3)):
        assert set(cell.TAGS) == set(COURSE_NOTATION[cell.kind])
    assert COURSE_NOTATION["lstm"]["f"] == "Γ_f" and COURSE_NOTATION["gru"]["z"] == "1 − Γ_u"


def test_cell_options_are_keywords_and_a_misplaced_positional_is_named():
    # RNN keeps PyTorch's positional order (nonlinearity fourth); GRU's variant is keyword-only
    assert mg.nn.RNN(3, 4, 1, "relu").nonlinearity == "relu"
    with pytest.raises(TypeError, match="GRU: bias must be True or False, got 'minimal'"):
        mg.nn.GRU(3, 4, 1, "minimal")
    with pytest.raises(TypeError, match="GRU: unexpected keyword argument.*nonlinearity.*variant"):
        mg.nn.GRU(3, 4, nonlinearity="relu")
    rnn = mg.nn.RNN(3, 4, nonlinearity="relu")
    assert rnn.nonlinearity == "relu" and mg.nn.GRU(3, 4).variant == "reset_after"
    assert mg.nn.LSTM(3, 4).proj_size == 0 and mg.nn.LSTM(3, 4, peephole=True).peephole
