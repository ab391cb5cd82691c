"""Gradient through time: ``||dL/dh_t||`` for every timestep, read off the engine, not derived.

What a learner wants to see is the gradient of the loss with respect to the hidden state
``h_t`` of the recurrence at step ``t``: everything that flows into ``h_t`` during backward,
from its own output (if the loss reads it) and from every later step (through ``h_{t+1}``).
That is neither ``dL/d out[t]`` (the layer's stacked output is only the first of those paths)
nor anything we could write down by hand for every cell kind, so we let the engine tell us.

Mechanism (the engine's public API only: the tape, tags and hooks). The forward pass runs inside ``mg.trace()``.
The recurrent layers run each step in a scope ending in ``t{t}`` (``lstm/l1/bwd/t3``: layer
``lstm``, stacked layer 1, backward direction, INPUT time index 3); a hand-written loop that
opens ``mg.scope(f"t{t}")`` around its cell call is read the same way. A *state* of step ``t``
is a tensor made inside step ``t`` and read outside it: by the next step, by the op that stacks
the layer's outputs, or by the one that stacks the final states ``h_n, c_n``. (The tape sees
those readers even when the loss ignores them, which a walk back from the loss would not.)
A state tagged by ``nn`` (``t.tags["role"] == "state"``) keeps its tag's name, ``h`` or ``c``.
Otherwise a step with one state names it ``h``; an LSTM step has two, and makes ``c_t`` before
``h_t = o * tanh(c_t)``, so the earlier one is ``c`` and the later one ``h``.

One hook on every state records ``||g||`` of the gradient ``g`` it receives. The engine calls
a tensor's hooks once, with the sum of every path's contribution (it pops a node's gradient
only after all of its consumers ran), so the recorded norm is the full ``||dL/dh_t||``; the
hooks return None and change nothing. The norm is the Frobenius norm over the batch and the
features of the (B, H) gradient. Parameters' ``.grad`` accumulate as after any ``backward()``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

import minigrad as mg
from minigrad import Tensor
from minigrad.tracing import Tape

__all__ = ["TimeGradients", "find_states", "gradient_through_time"]

_STEP = re.compile(r"t(\d+)")


def _step_of(scope: str) -> tuple[str, int] | None:
    """``"gru/l0/fwd/t3/x"`` -> ``("gru/l0/fwd", 3)``: the group and the innermost ``t{t}`` component."""
    parts = scope.split("/") if scope else []
    for i in range(len(parts) - 1, -1, -1):
        match = _STEP.fullmatch(parts[i])
        if match:
            return "/".join(parts[:i]), int(match.group(1))
    return None


def find_states(tape: Tape) -> dict[str, dict[int, Tensor]]:
    """The recurrent states of a traced forward pass: ``{"lstm/l0/fwd/h": {t: h_t}, ...}``.

    Keys are ``<group>/<state>``, the group being the scope path above ``t{t}`` (empty for a
    hand-written loop at top level: keys ``h`` and ``c``), the state ``h`` or ``c`` (``s0``,
    ``s1``, ... if a step has more than two). Raises ValueError if no step scope was traced, or
    if one step scope ran twice (two layers sharing a scope name cannot be told apart).
    """
    made: dict[int, tuple[str, int, int]] = {}  # id(tensor) -> (group, t, order made)
    tensors: dict[int, Tensor] = {}
    read_outside: dict[tuple[str, int], dict[int, int]] = {}
    steps_seen = False
    finished: set[tuple[str, int]] = set()  # steps whose ops have all run (a step's ops are contiguous)
    current = None
    for order, record in enumerate(tape.records):
        step = _step_of(record.scope)
        steps_seen = steps_seen or step is not None
        if step != current:
            if step in finished:
                where = f"{step[0]}/t{step[1]}" if step[0] else f"t{step[1]}"
                raise ValueError(
                    f"find_states: the scope {where!r} ran twice in one forward pass (two layers "
                    "with the same scope name, e.g. an encoder and a decoder GRU?): wrap each in "
                    "its own mg.scope('name') so that their states can be told apart"
                )
            if current is not None:
                finished.add(current)
            current = step
        for x in record.inputs:
            origin = made.get(id(x))
            if origin is not None and (origin[0], origin[1]) != step:
                read_outside.setdefault(origin[:2], {})[id(x)] = origin[2]
        if step is not None and isinstance(record.output, Tensor):
            made[id(record.output)] = (*step, order)
            tensors[id(record.output)] = record.output
    if not steps_seen:
        raise ValueError(
            "find_states: no op of the traced forward ran in a timestep scope 't{t}' "
            "(run nn.RNN/GRU/LSTM layers, or open mg.scope(f't{t}') around each step of your loop)"
        )
    states: dict[str, dict[int, Tensor]] = {}
    for (group, t), found in read_outside.items():
        ordered = [tensors[i] for i, _ in sorted(found.items(), key=lambda item: item[1])]
        names = (
            ["h"] if len(ordered) == 1 else ["c", "h"] if len(ordered) == 2 else [f"s{k}" for k in range(len(ordered))]
        )
        # nn's cells tag their states (t.tags: role "state", name "h" or "c"); the order made is
        # the fallback for a hand-written step that tags nothing.
        names = [t.tags["name"] if t.tags.get("role") == "state" else name for t, name in zip(ordered, names)]
        for name, tensor in zip(names, ordered):
            states.setdefault(f"{group}/{name}" if group else name, {})[t] = tensor
    return states


@dataclass
class TimeGradients:
    """The result of :func:`gradient_through_time`.

    ``norms["lstm/l0/fwd/h"][t] = ||dL/dh_t||`` (an array over input time t = 0..T-1; a state
    the loss does not depend on gets 0), ``loss`` the scalar loss, ``steps`` = T.
    """

    loss: float
    norms: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self.norms:
            raise KeyError(f"TimeGradients: no state {key!r}; the states are {sorted(self.norms)}")
        return self.norms[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.norms)

    def keys(self) -> list[str]:
        return list(self.norms)

    @property
    def steps(self) -> int:
        return max((len(v) for v in self.norms.values()), default=0)


def gradient_through_time(run: Callable[[], Tensor]) -> TimeGradients:
    """Run ``run()`` (a forward pass returning a scalar loss L), backpropagate, return ``||dL/ds_t||``.

    ``run`` is called once, inside ``mg.trace()``; e.g.
    ``gradient_through_time(lambda: mse_loss(head(lstm(x)[0][-1]), y))``. See the module
    docstring for which tensors count as states and why the hooks see the full gradient.
    """
    with mg.trace() as tape:
        loss = run()
    if not isinstance(loss, Tensor):
        raise TypeError(f"gradient_through_time: run() must return the loss as a Tensor, got {type(loss).__name__}")
    if loss.data.size != 1:
        raise ValueError(f"gradient_through_time: run() must return a scalar loss, got shape {loss.shape}")
    if not loss.requires_grad:
        raise ValueError(
            "gradient_through_time: the loss does not require grad (was run() called under "
            "mg.no_grad(), or does the model have no parameters that require grad?)"
        )
    states = find_states(tape)
    del tape  # the records hold every tensor; backward needs only the graph
    norms = {key: np.zeros(max(steps) + 1) for key, steps in states.items()}
    handles = []

    def recorder(key: str, t: int) -> Callable[[np.ndarray], None]:
        def hook(g: np.ndarray) -> None:
            norms[key][t] = float(np.linalg.norm(g))

        return hook

    for key, steps in states.items():
        for t, state in steps.items():
            if state.requires_grad:
                handles.append(state.register_hook(recorder(key, t)))
    try:
        loss.backward()
    finally:
        for handle in handles:
            handle.remove()
    return TimeGradients(float(loss.item()), dict(sorted(norms.items())))
