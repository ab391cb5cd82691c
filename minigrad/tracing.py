"""The tracer: ``with trace() as tape`` records every op; ``with scope(name)`` names where it ran.

Scopes cost nothing to read on the op path: the joined path string is kept current in the
thread's engine state (``autograd.engine_state().scope``) and every tensor stores it as
``t.scope``, traced or not, so the renderer can group nodes by layer, direction and timestep
after the fact. Both scopes and traces are per thread: one thread's ops never land in
another thread's scope or tape.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import autograd


@dataclass(eq=False)
class Record:
    """One op as it ran: its primitive's name, tensors, keyword arguments and scope path."""

    op: str
    inputs: tuple
    output: Any
    kwargs: dict | None
    scope: str

    @property
    def input_shapes(self) -> list[tuple[int, ...]]:
        return [t.shape for t in self.inputs]

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.output.shape

    @property
    def shape(self) -> tuple[int, ...]:
        return self.output.shape

    @property
    def dtype(self) -> np.dtype:
        return self.output.dtype

    @property
    def scope_parts(self) -> list[str]:
        return self.scope.split("/") if self.scope else []

    def __repr__(self) -> str:
        ins = ", ".join(str(s) for s in self.input_shapes)
        return f"Record({self.op}: ({ins}) -> {self.output_shape} {self.dtype}, scope='{self.scope}')"


@dataclass(eq=False)
class Tape:
    """The records of one ``trace()`` block, in execution order."""

    records: list[Record] = field(default_factory=list)

    def record(self, op: str, inputs: tuple, output: Any, kwargs: dict | None, scope: str) -> None:
        """Append one op (``tensor.apply`` calls this for every op while the trace is active)."""
        self.records.append(Record(op, inputs, output, kwargs, scope))

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def ops(self) -> list[str]:
        return [r.op for r in self.records]

    def in_scope(self, prefix: str) -> list[Record]:
        """Records whose scope path is ``prefix`` or lies below it."""
        return [r for r in self.records if r.scope == prefix or r.scope.startswith(prefix + "/")]


@contextmanager
def trace() -> Iterator[Tape]:
    """Record every op run inside the block (nested traces each see the ops of their block)."""
    tape = Tape()
    outer = autograd.engine_state().tape
    with autograd.state_changed(tape=tape if outer is None else _ChainedTape(tape, outer)):
        yield tape


class _ChainedTape:
    """Inside a nested trace: each op goes to the inner tape and on to the outer one(s)."""

    def __init__(self, inner: Tape, outer: Any) -> None:
        self.inner, self.outer = inner, outer

    def record(self, *args: Any) -> None:
        self.inner.record(*args)
        self.outer.record(*args)


def scope(name: str) -> autograd.StateChange:
    """Nest a scope name: ops inside run under ``outer/name`` (e.g. ``lstm/l0/fwd/t3``).

    ``with mg.scope("enc") as state:`` gives the engine state inside (``state.scope`` is the path).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"scope: name must be a non-empty string, got {name!r}")
    outer = autograd.engine_state().scope
    return autograd.state_changed(scope=f"{outer}/{name}" if outer else name)
