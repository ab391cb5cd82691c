"""Reading the engine's graph for the renderer: which tensors to draw, and their gradients.

Only the engine's public graph API is used: ``t.op``, ``t.parents``, ``t.requires_grad``,
``t.id``, ``autograd.topological_order`` and ``autograd.vjps`` (the VJP rows of ``ops.py``
without side effects). Nothing here knows about nodes, clusters or pictures; the passes in
:mod:`.graph` call these.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..autograd import topological_order
from ..autograd import vjps as autograd_vjps
from ..tensor import Tensor


def flatten(obj: Any, what: str) -> list[Tensor]:
    """Tensors in ``obj`` (a tensor or nested tuples/lists, like an LSTM's ``out, (h, c)``)."""
    found, stack = [], [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            found.append(item)
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            raise TypeError(f"{what}: expected a Tensor or a list/tuple of Tensors, got {type(item).__name__}")
    return found


def walk(roots: list[Tensor], traced: Mapping[int, Any] | None = None) -> list[Tensor]:
    """Every tensor the roots depend on, inputs before outputs.

    The differentiated part is the engine's own ``autograd.topological_order(root)``. A picture
    also draws what that order leaves out: leaves that need no gradient (data, targets, zero
    states) and, where a trace ran, the no-grad ops that made them (``traced`` maps ``id(leaf)``
    to the tape record of the op that made it; the autograd graph keeps no link through such
    ops). Those are gathered here from ``t.parents`` and the records, then everything is sorted
    by ``t.id``: tensors are numbered as they are made, so that is a topological order.
    """
    traced = traced or {}
    found: dict[int, Tensor] = {}
    pending: list[Tensor] = []

    def add(t: Tensor) -> None:
        if id(t) in found:
            return
        # A tensor in the autograd graph brings its whole differentiated history at once.
        for u in topological_order(t) if t.requires_grad and t.op is not None else (t,):
            if id(u) not in found:
                found[id(u)] = u
                pending.append(u)

    for root in roots:
        add(root)
    while pending:
        t = pending.pop()
        record = traced.get(id(t)) if t.op is None else None
        for u in record.inputs if record is not None else t.parents:
            add(u)
    return sorted(found.values(), key=lambda t: t.id)


def vjps(node: Tensor, g: np.ndarray) -> Iterator[tuple[int, Tensor, np.ndarray]]:
    """``(input index, input, dL/d input)`` for every input of ``node`` that requires grad, given
    ``g = dL/d node``: the engine's ``autograd.vjps`` (no ``.grad`` written, no hook run)."""
    if node.op is None:
        return
    for i, (parent, gi) in enumerate(zip(node.parents, autograd_vjps(node, g))):
        if gi is not None:
            yield i, parent, gi


def gradient_sweep(
    order: list[Tensor],
    roots: list[Tensor],
    edge_keys: Mapping[tuple[int, int], Any] | None = None,
) -> tuple[dict[int, np.ndarray], dict[Any, np.ndarray]]:
    """dL/dt for every tensor in ``order`` that requires grad, from the VJP rows in ``ops``.

    The same reverse sweep as ``autograd.backward`` without its side effects: no ``.grad`` is
    written, no hook runs. Each root is seeded with ones (a non-scalar root is treated as its
    sum). ``edge_keys`` maps ``(id(consumer), input index)`` to a key; the contributions of the
    edges sharing a key are summed and returned (a parameter's share per timestep).
    """
    grads: dict[int, np.ndarray] = {}
    shares: dict[Any, np.ndarray] = {}
    for root in roots:
        if root.requires_grad:
            grads[id(root)] = grads.get(id(root), 0) + np.ones_like(root.data)
    for node in reversed(order):
        g = grads.get(id(node))
        if g is None:
            continue
        for i, parent, gi in vjps(node, g):
            key = id(parent)
            grads[key] = gi if key not in grads else grads[key] + gi
            if edge_keys is not None:
                share_key = edge_keys.get((id(node), i))
                if share_key is not None:
                    gi = back_to_leaf(parent, gi)
                    shares[share_key] = gi if share_key not in shares else shares[share_key] + gi
    return grads, shares


def back_to_leaf(view: Tensor, g: np.ndarray) -> np.ndarray:
    """The gradient ``g`` of a parameter's view (``W.T``, ``W.reshape``, a fixed slice of ``W``),
    carried back through the view ops to the parameter itself, in its own layout."""
    while view.op is not None:
        ((_, view, g),) = vjps(view, g)  # a view op has exactly one input
    return g


def has_grads(order: list[Tensor]) -> bool:
    """Has a backward pass reached any of these tensors (``show_grads``' default)?"""
    return any(t.grad is not None for t in order)


def norm(a: np.ndarray) -> float:
    """The Frobenius norm, in float64."""
    a = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.vdot(a, a).real))


def share(use: np.ndarray, total: np.ndarray) -> tuple[float, float, float]:
    """One use's share of a parameter's gradient ``G = sum of its uses' gradients g_k``.

    Norms do not add up (``||g_1|| + ||g_2|| >= ||G||``), so the share is ``g_k`` projected on
    ``G``: ``<g_k, G> / ||G||``. These add up to exactly ``||G||``, the norm shown on the
    parameter (a use pulling against the others gets a negative share). Returns the share,
    ``||g_k||`` and the share as a fraction of ``||G||`` (fractions add up to 1)."""
    use64, total64 = np.asarray(use, dtype=np.float64), np.asarray(total, dtype=np.float64)
    total_norm = float(np.sqrt(np.vdot(total64, total64)))
    projection = float(np.vdot(use64, total64)) / total_norm if total_norm else 0.0
    return projection, float(np.sqrt(np.vdot(use64, use64))), (projection / total_norm if total_norm else 0.0)
