"""Gates by name: what each tagged tensor of a recurrent step means, in PyTorch's or the course's notation.

``nn``'s cells tag the tensors of each step (``autograd.tag``, read back as ``t.tags``):
``{"role": "gate" | "candidate" | "state", "name": "i" | "f" | ..., "cell": "lstm" | ...}``.
The renderer turns a tag into a label that says what the node is and the equation it computes,
e.g. ``f  forget gate`` / ``f = σ(W_if x + W_hf h + b_f)``; the primitive stays on the label.

``notation="pytorch"`` (default) uses PyTorch's letters (LSTM i, f, g, o, c, h; GRU r, z, n, h);
``notation="course"`` the Sequence Models course's (LSTM Γ_u, Γ_f, c̃, Γ_o, c, a; GRU Γ_r, Γ_u,
c̃, c; RNN a). The GRU's update gate is where they disagree: PyTorch's z keeps the old state
(h' = (1 - z) n + z h), the course's Γ_u takes the new one, so z = 1 - Γ_u.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

NOTATIONS = ("pytorch", "course")
_NO_TAGS: Mapping[str, Any] = MappingProxyType({})

# (cell, name) -> (meaning, PyTorch symbol and equation, course symbol and equation)
_GATES: dict[tuple[str, str], tuple[str, str, str, str, str]] = {
    ("rnn", "h"): (
        "hidden state",
        "h",
        "h = tanh(W_ih x + W_hh h + b)",
        "a",
        "a = tanh(W_aa a + W_ax x + b_a)",
    ),
    ("lstm", "i"): ("input gate", "i", "i = σ(W_ii x + W_hi h + b_i)", "Γ_u", "Γ_u = σ(W_u [a, x] + b_u)"),
    ("lstm", "f"): ("forget gate", "f", "f = σ(W_if x + W_hf h + b_f)", "Γ_f", "Γ_f = σ(W_f [a, x] + b_f)"),
    ("lstm", "g"): ("candidate", "g", "g = tanh(W_ig x + W_hg h + b_g)", "c̃", "c̃ = tanh(W_c [a, x] + b_c)"),
    ("lstm", "o"): ("output gate", "o", "o = σ(W_io x + W_ho h + b_o)", "Γ_o", "Γ_o = σ(W_o [a, x] + b_o)"),
    ("lstm", "c"): ("cell state", "c", "c = f * c + i * g", "c", "c = Γ_f * c + Γ_u * c̃"),
    ("lstm", "h"): ("hidden state", "h", "h = o * tanh(c)", "a", "a = Γ_o * tanh(c)"),
    ("gru", "r"): ("reset gate", "r", "r = σ(W_ir x + W_hr h + b_r)", "Γ_r", "Γ_r = σ(W_r [c, x] + b_r)"),
    ("gru", "z"): ("update gate", "z", "z = σ(W_iz x + W_hz h + b_z)", "1 − Γ_u", "Γ_u = σ(W_u [c, x] + b_u)"),
    ("gru", "n"): (
        "candidate",
        "n",
        "n = tanh(W_in x + b_in + r * (W_hn h + b_hn))",
        "c̃",
        "c̃ = tanh(W_c [Γ_r * c, x] + b_c)",
    ),
    ("gru", "h"): ("hidden state", "h", "h = (1 − z) * n + z * h", "c", "c = Γ_u * c̃ + (1 − Γ_u) * c"),
}


def describe(tags: Mapping[str, Any], notation: str = "pytorch") -> tuple[str, str, str] | None:
    """``(symbol, meaning, equation)`` of a tensor tagged by ``nn``'s cells, or None when the tags
    do not name a gate, candidate or state this module knows."""
    if notation not in NOTATIONS:
        raise ValueError(f"draw_graph: notation must be one of {NOTATIONS}, got {notation!r}")
    entry = _GATES.get((str(tags.get("cell", "")), str(tags.get("name", ""))))
    if entry is None:
        return None
    meaning, symbol, equation, course_symbol, course_equation = entry
    if notation == "course":
        return course_symbol, meaning, course_equation
    return symbol, meaning, equation


def tags_of(tensor: Any) -> Mapping[str, Any]:
    """The engine's structural tags of ``tensor`` (``t.tags``); empty before the engine has them."""
    tags = getattr(tensor, "tags", None)
    if not tags:  # most tensors: the engine's empty mapping (an ABC isinstance check costs more)
        return _NO_TAGS
    return tags if isinstance(tags, Mapping) else _NO_TAGS
