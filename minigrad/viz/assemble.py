"""Pass 8: from the draft to the :class:`.model.Graph`: the drawn edges, the clusters, the graph.

:func:`connect` merges the raw edges between the nodes that stand for their ends (an elided
box, a folded cell) and labels them; :func:`make_clusters` makes a box for every scope a drawn
node sits in; :func:`assemble` drops what is hidden and returns the :class:`.model.Graph`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .model import Cluster, Edge, Graph
from .names import TIMESTEP, direction_of, fmt
from .walk import share

if TYPE_CHECKING:
    from .build import Draft
    from .elide import Hiding
    from .graph import States, Steps
    from .paint import Paint


def connect(draft: Draft, steps: Steps, states: States, hiding: Hiding, paint: Paint) -> list[Edge]:
    """The drawn edges: the raw edges between the nodes that stand for their ends, merged (``x4``)
    and labelled. An edge between two timesteps of one chain is ``recurrent`` (labelled with the
    state it carries, ``h`` or ``c``), one from a parameter is ``parameter`` (with its gradient
    share), a ``detach()`` is ``cut``. A zero-state constant gets a node in each cluster reading it."""
    nodes, chain_of, merge, hidden = draft.nodes, steps.chain_of, hiding.merge, hiding.hidden
    merged: dict[tuple[str, str, str], Edge] = {}
    carried: dict[tuple[str, str, str], str] = {}
    const_nodes: dict[tuple[int, tuple[str, ...]], str] = {}
    for e in draft.edges:
        dst = merge.get(e.dst) or hidden.get(e.dst) or e.dst  # hiding.drawn(e.dst), inlined: 2 calls an edge
        if e.const is not None:
            if e.dst in hidden:
                continue
            cluster = nodes[dst].cluster
            ckey = (id(e.const), cluster)
            if ckey not in const_nodes:
                node = draft.new("const", "zeros", cluster=cluster)
                node.shape, node.dtype, node.scope = tuple(e.const.shape), str(e.const.dtype), e.const.scope
                const_nodes[ckey] = node.id
            src = const_nodes[ckey]
            kind = "data"
        else:
            src = merge.get(e.src) or hidden.get(e.src) or e.src
            if e.cut:
                kind = "cut"
            elif nodes[e.src].kind == "param":
                kind = "parameter"
            elif (
                e.src in chain_of
                and chain_of[e.src] == chain_of.get(e.dst)
                and nodes[e.src].timestep != nodes[e.dst].timestep
            ):
                kind = "recurrent"
            else:
                kind = "data"
            if src == dst and (e.src in hidden or (kind != "recurrent" and e.src in merge)):
                continue  # inside one elided block or one folded cell
        key = (src, dst, kind)
        if key in merged:
            merged[key].count += 1
        else:
            merged[key] = Edge(src, dst, kind, e.shape)
            if kind == "recurrent":
                carried[key] = states.name.get(e.src, "state")
    folded = draft.options.fold
    for key, edge in merged.items():
        parts = []
        if edge.kind == "recurrent":
            parts.append(carried[key])
            chain = chain_of.get(key[1])
            if folded and chain in hiding.folds:
                parts.append(f"loop: {len(hiding.folds[chain][1])} steps")
        elif edge.kind == "cut":
            parts.append("cut: detach()")
        inside_cell = folded and nodes[edge.src].cluster == nodes[edge.dst].cluster
        if edge.count > 1 and not inside_cell and edge.kind != "recurrent":
            parts.append(f"x{edge.count}")
        if edge.kind == "parameter" and (edge.src, edge.dst) in paint.shares:
            edge.grad_share, edge.grad_share_norm, fraction = share(
                paint.shares[(edge.src, edge.dst)], paint.grads[id(draft.tensor_of[edge.src])]
            )
            parts.append(f"share {fmt(edge.grad_share)} ({100 * fraction:.0f}%)")
        edge.label = "  ".join(parts)
    return list(merged.values())


def drop_undifferentiated(draft: Draft, edges: list[Edge]) -> list[Edge]:
    """``backward=True``: keep only what a gradient flows through (no inputs, targets, constants)."""

    def differentiable(nid: str) -> bool:
        t = draft.tensor_of.get(nid)
        return (t is not None and t.requires_grad) or draft.nodes[nid].kind == "elided"

    edges = [e for e in edges if e.kind == "cut" or differentiable(e.src)]
    linked = {e.src for e in edges} | {e.dst for e in edges}
    for nid in [nid for nid in draft.nodes if nid not in linked and not differentiable(nid)]:
        del draft.nodes[nid]
    return edges


def make_clusters(
    draft: Draft, steps: Steps, states: States, hiding: Hiding, paint: Paint
) -> dict[tuple[str, ...], Cluster]:
    """A cluster for every scope path a drawn node sits in (and their parents): a ``timestep``
    (labelled ``t = 3``, its border painted with ``||dL/dh_t||``), an ``elided`` run, a ``folded``
    cell, or a plain ``scope`` (a layer, a direction, a chunk)."""
    clusters: dict[tuple[str, ...], Cluster] = {}
    seen: set[tuple[str, ...]] = set()
    for nid, node in draft.nodes.items():
        if not node.cluster or node.cluster in seen:
            continue
        if nid in hiding.hidden or nid in hiding.merge or nid in draft.absorbed:
            continue
        seen.add(node.cluster)
        for k in range(1, len(node.cluster) + 1):
            path = node.cluster[:k]
            if path not in clusters:
                clusters[path] = Cluster(path, label=path[-1])
    by_timestep = draft.options.group_by == "timestep"
    for path, cl in clusters.items():
        chain, last = path[:-1], path[-1]
        m = TIMESTEP.fullmatch(last) if by_timestep else None
        runs = hiding.elided.get(chain, ())
        if m and chain in steps.chains:
            cl.kind, cl.timestep, cl.direction = "timestep", int(m.group(1)), direction_of(chain)
            cl.label = f"t = {cl.timestep}"
            cl.state = states.h_of.get((chain, cl.timestep))
            cl.grad_norm = paint.norms.get(cl.state) if cl.state else None
        elif any(box in draft.nodes and draft.nodes[box].cluster == path for box, _ in runs):
            gone = next(g for box, g in runs if draft.nodes[box].cluster == path)
            cl.kind, cl.hidden, cl.timestep, cl.direction = "elided", len(gone), gone[0], direction_of(chain)
            cl.label = f"t = {gone[0]} ... {gone[-1]}"
        elif chain in hiding.folds and last == "cell":
            rep_step, ts = hiding.folds[chain]
            cl.kind, cl.steps, cl.direction, cl.timestep = "folded", len(ts), direction_of(chain), rep_step
            cl.span = (ts[0], ts[-1])
            cl.label = f"one cell, run {len(ts)} times (t = {ts[0]} ... {ts[-1]})"
            cl.state = states.h_of.get((chain, rep_step))
            cl.grad_norm = draft.nodes[cl.state].grad_norm if cl.state else None
    return clusters


def assemble(
    draft: Draft, hiding: Hiding, paint: Paint, edges: list[Edge], clusters: dict[tuple[str, ...], Cluster]
) -> Graph:
    """The :class:`Graph`: the drawn nodes (hidden, merged and absorbed ones removed), the tensors
    and gradients the explorer shows, the colour scale's range; a backward graph's edges reversed."""
    nodes, options = draft.nodes, draft.options
    for nid in [nid for nid in nodes if nid in hiding.hidden or nid in hiding.merge or nid in draft.absorbed]:
        del nodes[nid]
    graph = Graph(
        nodes,
        edges,
        clusters,
        backward=options.backward,
        folded=options.fold,
        grads=draft.paint,
        layout=options.layout,
        steps_per_row=options.steps_per_row,
        focus=options.focus,
    )
    graph.tensors = {nid: draft.tensor_of[nid] for nid in nodes if nid in draft.tensor_of}
    graph.gradients = {nid: paint.grads[id(t)] for nid, t in graph.tensors.items() if id(t) in paint.grads}
    for tid, nid in draft.node_of.items():
        if nid not in draft.absorbed:
            shown = hiding.drawn(nid)
            if shown in nodes:
                graph.drawn_of[tid] = shown
    # The colour scale spans the model's gradients; the root's seed (dL/dL = 1) would only squash it.
    seeds = {draft.node_of.get(id(r)) for r in draft.roots}
    values = [n.grad_norm for n in nodes.values() if n.grad_norm and n.id not in seeds]
    values += [v for n in nodes.values() if n.grad_range for v in n.grad_range if v]
    values += [c.grad_norm for c in clusters.values() if c.grad_norm]
    if values:
        graph.grad_range = (min(values), max(values))
    if options.backward:
        for e in graph.edges:
            e.src, e.dst = e.dst, e.src
            e.label = f"grad {e.shape}" + (f"  {e.label}" if e.label else "")
    return graph
