"""Gradient checkpointing: ``mg.checkpoint(fn, *args)`` keeps fn's inputs, not its graph.

A training step keeps every op's output alive until ``backward()``: the graph *is* those
outputs. For BPTT over T timesteps that is O(T) memory. ``checkpoint`` runs ``fn`` without
building a graph, keeps only its inputs and outputs, and during ``backward()`` runs ``fn``
again, this time with a graph, and backpropagates through that fresh graph at once. Memory
for fn's insides is then needed for one segment at a time; the price is a second forward
pass (Chen et al. 2016, "Training deep nets with sublinear memory cost": with segments of
sqrt(T) steps, memory O(sqrt(T)) for one extra forward; Gruslys et al. 2016 for BPTT).

The semantics are ``torch.utils.checkpoint``'s:

* gradients reach the tensor arguments of ``fn`` and every tensor ``fn`` reads that
  requires grad (the parameters of the modules it calls), as without checkpointing;
* the random state is saved before the first run and restored for the second, so dropout
  draws the same masks (minigrad's generator: ``mg.manual_seed``);
* ``fn`` must be a pure function of its inputs, parameters and the random state: the
  recomputation must see what the first run saw.

``fn`` returns a tensor or a tuple/list of tensors (e.g. ``(h, c)``). In the graph the call
is one node, ``checkpoint``, whose inputs are fn's tensors (arguments, then the
parameters it read); with several outputs, each output is a slice of that node's output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import autograd, random
from .ops import Primitive
from .tensor import Tensor, apply


class _Segment:
    """What the recomputation needs: fn, its arguments (tensors stood in by their slot), the random
    state before the first run, and how the outputs were packed."""

    __slots__ = ("fn", "args", "kwargs", "tensor_slots", "closure", "rng_state", "shapes", "packed")

    def __init__(self, fn: Callable, args: tuple, kwargs: dict) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.tensor_slots = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.closure: list[Tensor] = []
        self.rng_state = random.generator().bit_generator.state
        self.shapes: list[tuple[int, ...]] | None = None  # None: fn returned one tensor
        self.packed: np.ndarray | None = None

    def __repr__(self) -> str:  # shown by the tracer and the renderer
        return f"<segment {getattr(self.fn, '__qualname__', self.fn)}>"

    def call(self, tensors: list[Tensor]) -> Any:
        args = list(self.args)
        for slot, t in zip(self.tensor_slots, tensors):
            args[slot] = t
        return self.fn(*args, **self.kwargs)


def checkpoint(
    fn: Callable[..., Any],
    *args: Any,
    use_reentrant: bool | None = None,
    preserve_rng_state: bool = True,
    **kwargs: Any,
) -> Any:
    """``fn(*args, **kwargs)``, its graph dropped now and rebuilt during ``backward()``.

    Returns what ``fn`` returns (a tensor, or a tuple/list of tensors). See the module
    docstring for the semantics (those of ``torch.utils.checkpoint``).

    ``use_reentrant`` and ``preserve_rng_state`` are PyTorch's keywords, taken (not passed on to
    ``fn``) so that code written for ``torch.utils.checkpoint`` runs: minigrad has one
    implementation (PyTorch's non-reentrant semantics, any ``use_reentrant``), and it always
    restores the random state for the recomputation, so dropout masks match (a
    ``preserve_rng_state=False`` would only make the gradient wrong).
    """
    if not callable(fn):
        raise TypeError(f"checkpoint: fn must be callable, got {type(fn).__name__}")
    for name, value in (("use_reentrant", use_reentrant), ("preserve_rng_state", preserve_rng_state)):
        if value is not None and not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"checkpoint: {name} must be a bool (PyTorch's keyword), got {value!r}")
    segment = _Segment(fn, args, kwargs)
    inputs = [args[i] for i in segment.tensor_slots]
    if not autograd.is_grad_enabled():
        return fn(*args, **kwargs)  # no graph wanted: nothing to save or recompute
    reads = _TensorsRead()
    with autograd.state_changed(tape=reads, grad_enabled=False):
        result = fn(*args, **kwargs)
    outputs = _outputs(result)
    known = {id(t) for t in inputs}
    for t in reads.needing_grad:
        if id(t) in known:
            continue
        if t.op is not None:
            raise ValueError(
                f"checkpoint: fn reads a tensor that requires grad and is not a leaf (op "
                f"{t.op}, shape {t.shape}) without taking it as an argument; pass it as one of "
                "*args, so its gradient can flow on through the rest of the graph"
            )
        known.add(id(t))
        segment.closure.append(t)
    if not any(t.requires_grad for t in inputs) and not segment.closure:
        return result  # nothing fn computes needs a gradient
    if isinstance(result, Tensor):
        segment.packed = result.data
    else:
        segment.shapes = [t.shape for t in outputs]
        dtypes = {t.dtype for t in outputs}
        if len(dtypes) != 1:
            raise TypeError(f"checkpoint: fn's outputs must share one dtype, got {sorted(map(str, dtypes))}")
        segment.packed = np.concatenate([t.data.reshape(-1) for t in outputs])
    node = apply(CHECKPOINT, (*inputs, *segment.closure), {"segment": segment})
    if segment.shapes is None:
        return node
    pieces, start = [], 0
    for shape in segment.shapes:
        size = int(np.prod(shape))
        pieces.append(node[start : start + size].reshape(shape))
        start += size
    return type(result)(pieces) if isinstance(result, (tuple, list)) else tuple(pieces)


def _outputs(result: Any) -> list[Tensor]:
    outputs = [result] if isinstance(result, Tensor) else list(result) if isinstance(result, (tuple, list)) else None
    if not outputs or not all(isinstance(t, Tensor) for t in outputs):
        raise TypeError(f"checkpoint: fn must return a tensor or a tuple/list of tensors, got {type(result).__name__}")
    return outputs


class _TensorsRead:
    """A stand-in for the tracer's tape during the first run: it keeps only the tensors that
    require grad among the ops' inputs (fn's parameters), not every op's output."""

    def __init__(self) -> None:
        self.needing_grad: list[Tensor] = []
        self._seen: set[int] = set()

    def record(self, op: str, inputs: tuple, output: Any, kwargs: Any, scope: str) -> None:
        for t in inputs:
            if t.requires_grad and id(t) not in self._seen:
                self._seen.add(id(t))
                self.needing_grad.append(t)


def _forward(*arrays: np.ndarray, segment: _Segment) -> np.ndarray:
    """The first run already happened (it had to, to find the parameters fn reads): hand over its output."""
    packed, segment.packed = segment.packed, None  # the node's output holds it from now on
    return packed


def _recompute_vjp(g: np.ndarray, out: np.ndarray, *arrays: np.ndarray, segment: _Segment) -> list[np.ndarray]:
    """Run fn again with a graph (same random state), backpropagate ``g`` through it, return every input's gradient.

    fn's tensor arguments are fresh leaves here; the parameters it read are the real ones, so
    their ``.grad`` and hooks are set aside while the inner pass runs and the gradient goes back
    to the outer pass like any input's (which then accumulates it and runs the hooks once).
    """
    n_args = len(segment.tensor_slots)
    leaves = [Tensor(a, requires_grad=a.dtype.kind in "fc") for a in arrays[:n_args]]
    closure = segment.closure
    set_aside = [(p.grad, p.__dict__.pop("_hooks", None)) for p in closure]
    for p in closure:
        p.grad = None
    generator = random.generator()
    state_after = generator.bit_generator.state
    generator.bit_generator.state = segment.rng_state
    try:
        with autograd.enable_grad():
            outputs = _outputs(segment.call(leaves))
            root = outputs[0] if segment.shapes is None else _concat_flat(outputs)
        if root.requires_grad:
            root.backward(g)
        grads = [_grad_or_zeros(t) for t in (*leaves, *closure)]
    finally:
        generator.bit_generator.state = state_after
        for p, (grad, hooks) in zip(closure, set_aside):
            p.grad = grad
            if hooks is not None:
                p.__dict__["_hooks"] = hooks
    return grads


def _concat_flat(outputs: list[Tensor]) -> Tensor:
    from .tensor import concat

    return concat([t.reshape(-1) for t in outputs])


def _grad_or_zeros(t: Tensor) -> np.ndarray:
    return t.grad if t.grad is not None else np.zeros_like(t.data)


CHECKPOINT = Primitive("checkpoint", _forward, _recompute_vjp)

__all__ = ["checkpoint"]
