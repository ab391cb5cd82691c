"""Gates by name: every gate, candidate and state nn's cells tag is labelled by what it is and
the equation it computes, in PyTorch's or the course's notation, the primitive kept visible."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.viz import build_graph, draw_graph, gates
from minigrad.viz.examples import bptt_example


def hand_tagged_lstm_step(monkeypatch):
    """One LSTM step written by hand, its tensors tagged with ``mg.autograd.tag`` as nn's LSTMCell
    tags them: the renderer names whatever carries the tags, nn's or the user's."""
    rng = np.random.default_rng(0)
    x, h, c = (mg.tensor(rng.standard_normal((2, 3))) for _ in range(3))
    w = mg.nn.Parameter(rng.standard_normal((3, 12)))
    with mg.scope("lstm"), mg.scope("l0"), mg.scope("fwd"), mg.scope("t0"):
        pre = (x + h) @ w
        i, f, g, o = pre[:, 0:3].sigmoid(), pre[:, 3:6].sigmoid(), pre[:, 6:9].tanh(), pre[:, 9:12].sigmoid()
        c_next = f * c + i * g
        h_next = o * c_next.tanh()
    for t, name in ((i, "i"), (f, "f"), (g, "g"), (o, "o"), (c_next, "c"), (h_next, "h")):
        role = "state" if name in "ch" else "candidate" if name == "g" else "gate"
        mg.autograd.tag(t, role=role, name=name, cell="lstm", layer=0, direction="fwd", step=0)
    return (h_next.sum() + c_next.sum()), {"weight": w}


def test_every_tagged_tensor_is_named_with_its_equation(monkeypatch):
    loss, params = hand_tagged_lstm_step(monkeypatch)
    g = build_graph(loss, params=params)
    named = {n.gate: (n.meaning, n.equation, n.op) for n in g.nodes.values() if n.gate}
    assert named == {
        "i": ("input gate", "i = σ(W_ii x + W_hi h + b_i)", "sigmoid"),
        "f": ("forget gate", "f = σ(W_if x + W_hf h + b_f)", "sigmoid"),
        "g": ("candidate", "g = tanh(W_ig x + W_hg h + b_g)", "tanh"),
        "o": ("output gate", "o = σ(W_io x + W_ho h + b_o)", "sigmoid"),
        "c": ("cell state", "c = f * c + i * g", "add"),
        "h": ("hidden state", "h = o * tanh(c)", "mul"),
    }
    source = draw_graph(loss, params=params).source
    assert (
        "<B>f</B>  forget gate" in source
        and "f = σ(W_if x + W_hf h + b_f)".encode("ascii", "xmlcharrefreplace").decode() in source
    )
    assert "sigmoid (2, 3)" in source  # the primitive stays on the label
    assert "gate names" in source  # and the legend lists the names


def test_course_notation(monkeypatch):
    loss, params = hand_tagged_lstm_step(monkeypatch)
    g = build_graph(loss, params=params, notation="course")
    named = {n.meaning: (n.gate, n.equation) for n in g.nodes.values() if n.gate}
    assert named["forget gate"] == ("Γ_f", "Γ_f = σ(W_f [a, x] + b_f)")
    assert named["input gate"][0] == "Γ_u" and named["candidate"][0] == "c̃" and named["output gate"][0] == "Γ_o"
    assert named["hidden state"] == ("a", "a = Γ_o * tanh(c)") and named["cell state"][0] == "c"


def test_gru_update_gate_in_both_notations():
    assert gates.describe({"cell": "gru", "name": "z"}) == ("z", "update gate", "z = σ(W_iz x + W_hz h + b_z)")
    assert gates.describe({"cell": "gru", "name": "z"}, "course")[0] == "1 − Γ_u"  # z keeps the old state
    assert gates.describe({"cell": "gru", "name": "n"}, "course")[0] == "c̃"
    assert gates.describe({"cell": "rnn", "name": "h"}, "course")[0] == "a"
    assert gates.describe({"cell": "lstm", "name": "x_proj"}) is None
    assert gates.describe({}) is None


def test_notation_must_be_known():
    ex = bptt_example("rnn", steps=2)
    with pytest.raises(ValueError, match=r"notation must be one of \('pytorch', 'course'\).*'torch'"):
        ex.draw(notation="torch")


@pytest.mark.parametrize("notation", ["pytorch", "course"])
@pytest.mark.parametrize(
    "cell, names", [("rnn", {"h"}), ("gru", {"r", "z", "n", "h"}), ("lstm", {"i", "f", "g", "o", "c", "h"})]
)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_nn_layers_gates_are_named(cell, names, notation, bidirectional):
    """Every gate, candidate and state nn's layers tag is drawn under its meaning, in each step of
    each direction, with the symbol of the chosen notation (the course's from COURSE_NOTATION)."""
    ex = bptt_example(cell, steps=3, bidirectional=bidirectional)
    g = build_graph(ex.roots, params=ex.model, targets=ex.targets, tape=ex.tape, notation=notation)
    symbols = names if notation == "pytorch" else {mg.nn.recurrent.COURSE_NOTATION[cell][n] for n in names}
    directions = ("fwd", "bwd") if bidirectional else ("fwd",)
    for direction in directions:
        for t in range(3):
            drawn = [n for n in g.nodes.values() if n.gate and n.timestep == t and direction in n.cluster]
            assert sorted(n.gate for n in drawn) == sorted(symbols), (direction, t)
            for n in drawn:
                tags = g.tensors[n.id].tags
                assert tags["cell"] == cell and tags["direction"] == direction and tags["step"] == t
                assert n.meaning and " = " in n.equation, n  # "forget gate", "f = σ(...)"
    roles = ("gate", "candidate", "state")
    tagged = [t for t in mg.autograd.topological_order(ex.roots[0]) if t.tags.get("role") in roles]
    assert len({id(t) for t in tagged}) == len(directions) * 3 * len(names)
    assert not [n for n in g.nodes_of("param") if n.label.startswith("rnn.") and cell != "rnn"]
    if notation == "course":
        gamma = "Γ".encode("ascii", "xmlcharrefreplace").decode()  # the DOT source escapes non-ASCII
        assert (gamma in ex.draw(notation="course").source) == (cell != "rnn")
