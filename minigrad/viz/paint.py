"""Pass 7, paint: the gradient of every drawn node, computed without touching ``.grad``.

The sweep is :func:`.walk.gradient_sweep`: the engine's own VJP rows (``autograd.vjps``), from
the root down, seeded with ones. It writes no ``.grad`` and runs no hook, so drawing never
changes what training sees, and needs no ``retain_grad()``. A parameter node's norm is its whole
gradient G, the sum over every timestep that used it; ``grad_shares=True`` also sums each use's
gradient g_k, and the last pass labels each parameter edge with g_k projected on G,
``<g_k, G> / ||G||``, so the shares of a parameter's edges add up to the ``||G||`` it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .walk import back_to_leaf, gradient_sweep, norm, vjps

if TYPE_CHECKING:
    from .build import Draft
    from .elide import Hiding
    from .graph import Projection, States


@dataclass(eq=False)
class Paint:
    """The gradients painted (all empty when ``show_grads`` is off)."""

    grads: dict[int, np.ndarray]  # id(tensor) -> dL/d tensor
    shares: dict[Any, np.ndarray]  # (parameter node, drawn reader) -> that use's gradient (grad_shares)
    norms: dict[str, float]  # node id -> ||dL/d tensor|| of the node's own tensor


def paint_gradients(draft: Draft, hiding: Hiding, states: States, projections: list[Projection]) -> Paint:
    """Paint: ``||dL/d node||`` on every drawn node, from :func:`.walk.gradient_sweep` (the engine's
    VJPs from the root, seeded with ones; no ``.grad`` written, no hook run). A node standing for
    several tensors (a folded cell) gets the norm over all of them; an elided box the range of
    ``||dL/dh_t||`` it hides. With ``grad_shares``, each parameter edge's gradient is summed too,
    and a projection run once for all steps is split into each step's part."""
    if not draft.paint:
        return Paint({}, {}, {})
    keys = None
    if draft.options.grad_shares:
        keys = {
            e.key: (e.src, hiding.drawn(e.dst))
            for e in draft.edges
            if e.key is not None and e.src is not None and draft.nodes[e.src].kind == "param"
        }
    grads, shares = gradient_sweep(draft.order, draft.roots, keys)
    if draft.options.grad_shares:
        for proj in projections:
            _projection_shares(draft, hiding, proj, grads, shares)
    if not grads:
        return Paint(grads, shares, {})
    norms = {nid: norm(grads[id(t)]) for nid, t in draft.tensor_of.items() if id(t) in grads}
    squares: dict[str, float] = {}
    for nid, value in norms.items():
        if nid in hiding.hidden or nid in draft.absorbed:
            continue
        target = hiding.drawn(nid)
        squares[target] = squares.get(target, 0.0) + value * value
    for nid, s in squares.items():
        draft.nodes[nid].grad_norm = float(np.sqrt(s))
    for chain, runs in hiding.elided.items():
        for box, gone in runs:
            hs = [norms[states.h_of[(chain, s)]] for s in gone if states.h_of.get((chain, s)) in norms]
            if hs:
                draft.nodes[box].grad_range = (min(hs), max(hs))
    return Paint(grads, shares, norms)


def _projection_shares(
    draft: Draft, hiding: Hiding, proj: Projection, grads: dict[int, np.ndarray], shares: dict[Any, np.ndarray]
) -> None:
    """Each step's share of a parameter read by the one pass for all steps: that pass's VJPs
    run on the gradient of step t's slice alone (the VJPs are linear, so the shares add up)."""
    for step in proj.steps:
        t = draft.tensor_of[step]
        if id(t) not in grads:
            continue
        local: dict[int, np.ndarray] = {}
        for _, parent, gi in vjps(t, grads[id(t)]):
            local[id(parent)] = gi
        for u in reversed(proj.members):
            g = local.pop(id(u), None)
            if g is None:
                continue
            for _, parent, gi in vjps(u, g):
                pid = draft.node_of.get(id(parent))
                if pid in proj.params:
                    key = (pid, hiding.drawn(step))
                    gi = back_to_leaf(parent, gi)
                    shares[key] = gi if key not in shares else shares[key] + gi
                else:
                    local[id(parent)] = gi if id(parent) not in local else local[id(parent)] + gi
