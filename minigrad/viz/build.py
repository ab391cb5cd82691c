"""Pass 1, build: the draft graph, one node per drawn tensor and one raw edge per op input.

:func:`read_tensors` walks the tensors the roots depend on (:func:`.walk.walk`, the engine's
public graph API only) and makes the :class:`Draft` the later passes refine. Nothing here knows
about timesteps beyond where a tensor's scope record puts it (:meth:`Draft.place`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..tensor import Tensor
from .gates import describe, tags_of
from .model import Node
from .names import dtype_name, format_index, named_tensors, param_names, split_scope
from .walk import has_grads, walk

if TYPE_CHECKING:
    from .graph import DrawOptions

# Ops that only re-view a parameter: folded into the parameter's node (drawn once, edges to every use).
FOLDABLE = ("transpose", "reshape", "cast")


@dataclass(eq=False)
class RawEdge:
    """One input of one op (before merging): ``src`` feeds ``dst``."""

    src: str | None  # node id (None: a constant, drawn per consumer cluster)
    dst: str
    shape: tuple[int, ...]
    const: Tensor | None = None
    key: tuple[int, int] | None = None  # (id(consumer), input index), for gradient shares
    cut: bool = False


@dataclass(eq=False)
class Draft:
    """The graph under construction: what :func:`read_tensors` found, refined by the later passes
    (which add nodes: elided boxes, constants; and relabel, regroup and rewire them)."""

    options: DrawOptions
    roots: list[Tensor]
    traced: Mapping[int, Any]  # id(leaf) -> the tape record of the no-grad op that made it
    order: list[Tensor]  # every tensor reached, inputs before outputs
    paint: bool  # gradients are painted
    nodes: dict[str, Node] = field(default_factory=dict)  # by id, n0, n1, ... in the order made
    node_of: dict[int, str] = field(default_factory=dict)  # id(tensor) -> its node (a view: the parameter)
    tensor_of: dict[str, Tensor] = field(default_factory=dict)  # node id -> its tensor (a parameter: the leaf)
    edges: list[RawEdge] = field(default_factory=list)
    consumers: dict[int, list[Tensor]] = field(default_factory=dict)  # id(tensor) -> the tensors made from it
    consts: dict[int, Tensor] = field(default_factory=dict)  # zero states, drawn once per cluster reading them
    absorbed: set[str] = field(default_factory=set)  # op nodes drawn inside each step's input term
    made: dict[int, Any] = field(default_factory=dict)  # id(tensor) -> producer(tensor), for every tensor in order

    def new(self, kind: str, label: str, t: Tensor | None = None, **kw: Any) -> Node:
        """Add a node (drawing ``t``, if given)."""
        node = Node(
            id=f"n{len(self.nodes)}",
            kind=kind,
            label=label,
            shape=() if t is None else t.data.shape,
            dtype="" if t is None else dtype_name(t.data.dtype),
            scope="" if t is None else t.scope,
            **kw,
        )
        self.nodes[node.id] = node
        if t is not None:
            self.node_of[id(t)] = node.id
            self.tensor_of[node.id] = t
        return node

    def producer(self, t: Tensor) -> tuple[str, tuple, Mapping[str, Any] | None, bool] | None:
        """(op name, inputs, kwargs, differentiated) of the op that made ``t``; None for a leaf."""
        made = self.made.get(id(t), self)
        if made is not self:
            return made
        if t.op is not None:
            return t.op, t.parents, t.attrs, True
        record = self.traced.get(id(t))
        if record is not None:
            return record.op, record.inputs, record.kwargs, False
        return None

    def place(self, t: Tensor) -> tuple[tuple[str, ...], tuple[str, ...] | None, int | None]:
        """Where ``t`` is drawn, from its scope record: (cluster path, chain, timestep)."""
        group_by = self.options.group_by
        if group_by is None or not t.scope:
            return (), None, None
        if group_by == "scope":
            return tuple(t.scope.split("/")), None, None
        return split_scope(t.scope)

    def is_param(self, t: Tensor) -> bool:
        """Is ``t`` drawn as a parameter (the parameter, or one of its folded views)?"""
        nid = self.node_of.get(id(t))
        return nid is not None and self.nodes[nid].kind == "param"


def read_tensors(roots: list[Tensor], options: DrawOptions) -> Draft:
    """Build: walk every tensor ``roots`` depend on (:func:`.walk.walk`) and make the draft graph.

    Each tensor becomes a node in its scope's cluster (:meth:`Draft.place`): a leaf that needs a
    gradient is a parameter, named by ``params=`` or its ``.name``; other leaves are inputs,
    targets, or (a zero state) a constant drawn beside each op reading it (scalars and boolean
    masks are not drawn); an op output is an op node, the root a loss or output, a tensor ``nn``
    tagged as a gate or state gets its name and equation (:mod:`.gates`). An op that only
    re-views a parameter (``W.T``, a reshape, a fixed slice before the loop) is folded into the
    parameter's node. Each op input is a raw edge; a ``detach()`` is a cut edge from the tensor it
    was cut from (a faint ghost node when that tensor is not in the graph)."""
    tape = options.tape
    # Ops on tensors that need no gradient leave no graph link; a trace recorded them.
    traced = {} if tape is None else {id(r.output): r for r in tape.records if r.output.op is None}
    order = walk(roots, traced)
    paint = has_grads(order) if options.show_grads is None else bool(options.show_grads)
    draft = Draft(options, roots, traced, order, paint)
    names = _Names(
        param_names(options.params),
        named_tensors(options.inputs, "input", "draw_graph(inputs=...)"),
        named_tensors(options.targets, "target", "draw_graph(targets=...)"),
    )
    consumers = draft.consumers
    producers = draft.made = {id(t): draft.producer(t) for t in order}
    for t in order:
        for u in (producers[id(t)] or ("", ()))[1]:
            consumers.setdefault(id(u), []).append(t)
    root_ids = {id(r) for r in roots}
    maybe_targets: list[tuple[Node, Tensor]] = []
    cut_pairs = []
    for t in order:
        made = producers[id(t)]
        if made is None:
            _leaf_node(draft, t, names, root_ids, maybe_targets)
            origin = t.detached_from
            if origin is not None:
                cut_pairs.append((origin, t))
            continue
        name, inputs, kwargs, tracked = made
        if (
            tracked
            and id(t) not in root_ids
            and inputs
            and draft.is_param(inputs[0])
            and (name in FOLDABLE or _is_param_slice(draft, t, name, kwargs))
        ):
            pid = draft.node_of[id(inputs[0])]
            draft.node_of[id(t)] = pid
            view = {"transpose": ".T", "getitem": format_index((kwargs or {}).get("index"))}.get(name, f".{name}()")
            if view not in draft.nodes[pid].folded:
                draft.nodes[pid].folded.append(view)
            continue
        _op_node(draft, t, root_ids, name, kwargs, tracked)
        dst = draft.node_of[id(t)]
        for i, u in enumerate(inputs):
            if id(u) in draft.consts:
                draft.edges.append(RawEdge(None, dst, tuple(u.shape), const=u, key=(id(t), i)))
            elif id(u) in draft.node_of:
                draft.edges.append(RawEdge(draft.node_of[id(u)], dst, tuple(u.shape), key=(id(t), i)))
    for node, t in maybe_targets:  # now that every parameter view is known
        if _looks_like_target(draft, t, names):
            node.kind = "target"
            node.label = t.name or "target"
    for origin, t in cut_pairs:
        _cut_edge(draft, origin, t)
    return draft


@dataclass(frozen=True)
class _Names:
    """The names given by ``params=``, ``inputs=``, ``targets=`` (``id(tensor) -> name``)."""

    params: dict[int, str]
    inputs: dict[int, str]
    targets: dict[int, str]


def _leaf_node(
    draft: Draft, t: Tensor, names: _Names, root_ids: set[int], maybe_targets: list[tuple[Node, Tensor]]
) -> None:
    cluster, _, step = draft.place(t)
    if t.requires_grad:
        draft.new("param", names.params.get(id(t)) or t.name or "param", t)
    elif id(t) in names.inputs:
        draft.new("input", names.inputs[id(t)], t, cluster=cluster, timestep=step)
    elif id(t) in names.targets:
        draft.new("target", names.targets[id(t)], t)
    elif id(t) in root_ids:
        draft.new("output", t.name or "output", t)
    elif t.data.ndim == 0 or t.data.dtype == np.bool_:
        return  # 1 - z's "1", where()'s mask: not drawn
    elif t.name is None and t.detached_from is None and t.data.size and t.data.dtype.kind in "fiu" and not t.data.any():
        draft.consts[id(t)] = t  # a zero state: drawn in each cluster reading it
    else:
        label = t.name or ("detached" if t.detached_from is not None else "input")
        node = draft.new("input", label, t, cluster=cluster, timestep=step)
        if step is None and not t.scope:
            maybe_targets.append((node, t))


def _op_node(
    draft: Draft, t: Tensor, root_ids: set[int], name: str, kwargs: Mapping[str, Any] | None, tracked: bool
) -> None:
    if id(t) in root_ids:
        if t.data.size == 1:
            draft.new("loss", t.name or "loss", t, op=name, detail=f"{name} = {float(t.data.reshape(-1)[0]):.4g}")
        else:
            draft.new("output", t.name or "output", t, op=name, detail=name)
        return
    cluster, _, step = draft.place(t)
    detail = format_index((kwargs or {}).get("index")) if name == "getitem" else ""
    if not tracked:
        detail = (detail + "  no grad").strip()
    node = draft.new("op", t.name or name, t, op=name, cluster=cluster, timestep=step, detail=detail, tracked=tracked)
    tags = tags_of(t)
    named = describe(tags, draft.options.notation) if tags else None  # a gate, candidate or state nn tagged
    if named is not None:
        node.gate, node.meaning, node.equation = named


def _is_param_slice(draft: Draft, t: Tensor, name: str, kwargs: Mapping[str, Any] | None) -> bool:
    """A fixed slice of a parameter taken before the time loop (GRU ``reset_before`` splits
    ``W_hh^T`` into its r, z and n blocks once): folded into the parameter like ``.T``. A lookup
    by data (an embedding ``E[ids]``) or a slice taken inside a step stays an op."""
    if name != "getitem" or draft.place(t)[2] is not None:
        return False
    index = (kwargs or {}).get("index")
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(part, (slice, int)) or part is Ellipsis for part in parts)


def _looks_like_target(draft: Draft, t: Tensor, names: _Names) -> bool:
    """A target meets the prediction at the loss: a consumer outside the recurrent steps also
    reads an op's output that is not a parameter view (``pred - y``; ``x @ W`` is an input).
    Only leaves made outside every scope qualify (a layer's own leaves are its inputs)."""
    if t.detached_from is not None or id(t) in names.inputs:
        return False
    for c in draft.consumers.get(id(t), ()):
        if draft.place(c)[2] is not None:
            continue
        for u in c.parents:
            if u is not t and u.requires_grad and u.op is not None and not draft.is_param(u):
                return True
    return False


def _cut_edge(draft: Draft, origin: Tensor, t: Tensor) -> None:
    """``t = origin.detach()``: a dashed cut edge ``origin -> t`` (truncated BPTT)."""
    if id(t) not in draft.node_of and id(t) not in draft.consts:
        return
    src = draft.node_of.get(id(origin))
    if src is None:  # cut from a tensor this graph does not reach: drawn faint, in its scope
        name = origin.name or origin.op or "tensor"
        ghost = draft.new("ghost", name, origin, detail="not in this graph", cluster=draft.place(origin)[0])
        src = ghost.id
        for u in origin.parents:  # linked to what made it, where that is drawn
            if id(u) in draft.node_of and draft.nodes[draft.node_of[id(u)]].kind != "param":
                draft.edges.append(RawEdge(draft.node_of[id(u)], src, tuple(u.shape)))
    if id(t) in draft.consts:  # a detached zero state: draw it once, as a leaf
        del draft.consts[id(t)]
        draft.new("input", t.name or "detached", t)
        for e in draft.edges:
            if e.const is t:
                e.src, e.const = draft.node_of[id(t)], None
    draft.edges.append(RawEdge(src, draft.node_of[id(t)], tuple(t.shape), cut=True))
