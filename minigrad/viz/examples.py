"""Small recurrent models whose BPTT graphs the command line and the gallery draw.

``bptt_example`` builds ``nn.RNN``/``GRU``/``LSTM`` with a linear head, runs it on a random
sequence, takes an MSE loss against random targets and calls ``backward()``, so the graph
carries real gradients. With ``truncate=k`` the sequence runs in chunks of ``k`` steps, the
state carried across with ``detach()`` (truncated BPTT), each chunk in ``scope("chunk<i>")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import nn, tracing
from ..random import manual_seed
from ..tensor import Tensor, tensor

CELLS = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}
LOSSES = ("all", "last")


class Net(nn.Module):
    """A recurrent layer and a linear head: ``y_t = head(h_t)``."""

    def __init__(self, cell: str, input_size: int, hidden: int, layers: int, bidirectional: bool) -> None:
        super().__init__()
        # Named after its kind (net.lstm, net.gru, net.rnn), so the picture's parameters read
        # lstm.weight_hh_l0 inside the lstm box, never rnn.weight_hh_l0 on an LSTM.
        self.cell = cell
        setattr(
            self, cell, getattr(nn, CELLS[cell])(input_size, hidden, num_layers=layers, bidirectional=bidirectional)
        )
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), 1)

    @property
    def recurrent(self) -> nn.Module:
        """The recurrent layer (``self.rnn``, ``self.gru`` or ``self.lstm``)."""
        return getattr(self, self.cell)

    def forward(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        out, state = self.recurrent(x, state)
        return out, state


@dataclass
class Example:
    roots: list[Tensor]  # the loss (one per chunk with ``truncate``)
    model: Net
    tape: tracing.Tape  # every op of the forward passes (draw_graph(tape=...) shows cuts)
    targets: list[Tensor]

    def draw(self, **options: Any) -> Any:
        """``draw_graph`` of this example, its parameters named, its targets and tape passed."""
        from . import draw_graph

        return draw_graph(self.roots, params=self.model, targets=self.targets, tape=self.tape, **options)

    def explore(self, path: Any, **options: Any) -> Any:
        """``explore`` of this example (the HTML page replaying its backward pass); returns the path."""
        from .explore import explore

        return explore(self.roots, path, params=self.model, targets=self.targets, tape=self.tape, **options)


def bptt_example(
    cell: str = "lstm",
    steps: int = 4,
    layers: int = 1,
    bidirectional: bool = False,
    hidden: int = 4,
    input_size: int = 3,
    batch: int = 2,
    truncate: int | None = None,
    loss: str = "all",
    seed: int = 0,
) -> Example:
    """Run a small model forward and backward; return its loss(es) and the model.

    loss: ``"all"``, the MSE of the head's output at every step, or ``"last"``, at the last
    step only (the gradient must then travel back through every step: vanishing gradients).
    """
    if cell not in CELLS:
        raise ValueError(f"bptt_example: cell must be one of {sorted(CELLS)}, got {cell!r}")
    if loss not in LOSSES:
        raise ValueError(f"bptt_example: loss must be one of {LOSSES}, got {loss!r}")
    for name, value in (
        ("steps", steps),
        ("layers", layers),
        ("hidden", hidden),
        ("input_size", input_size),
        ("batch", batch),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"bptt_example: {name} must be a positive integer, got {value!r}")
    if truncate is not None and (not isinstance(truncate, int) or not 1 <= truncate < steps):
        raise ValueError(f"bptt_example: truncate must be an integer in [1, steps={steps}), got {truncate!r}")
    manual_seed(seed)
    model = Net(cell, input_size, hidden, layers, bidirectional)
    model.name_parameters()
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((steps, batch, input_size)).astype(np.float32)
    y = rng.standard_normal((steps, batch, 1)).astype(np.float32)
    chunk = truncate or steps
    roots, targets, state = [], [], None
    with tracing.trace() as tape:
        for k, start in enumerate(range(0, steps, chunk)):
            state = _chunk(model, x, y, start, chunk, k, state, loss, truncate, roots, targets)
    return Example(roots, model, tape, targets)


def _chunk(
    model: Net,
    x: np.ndarray,
    y: np.ndarray,
    start: int,
    chunk: int,
    k: int,
    state: Any,
    loss: str,
    truncate: int | None,
    roots: list[Tensor],
    targets: list[Tensor],
) -> Any:
    """Run chunk ``k`` (steps ``start`` to ``start + chunk``), backward, and return the state after it."""
    xs, ys = tensor(x[start : start + chunk]), tensor(y[start : start + chunk])
    xs.name, ys.name = "x", "targets y"
    targets.append(ys)
    with tracing.scope(f"chunk{k}") if truncate else _nothing():
        out, state = model(xs, state)
        pred = model.head(out)
        if loss == "last":
            pred, ys = pred[-1], ys[-1]
        value = nn.functional.mse_loss(pred, ys)
    for tensor_, name in zip(state if isinstance(state, tuple) else (state,), ("h_n", "c_n")):
        tensor_.name = name
    value.name = f"loss (chunk {k})" if truncate else "loss"
    value.backward()
    roots.append(value)
    if truncate:  # truncated BPTT: the next chunk starts from this state, cut from its graph
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
    return state


class _nothing:  # noqa: N801 - a no-op context manager, named like one
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None
