"""The graph model the renderer draws, and the passes that build it from the autograd graph.

``draw_graph(root)`` is ``dot.to_dot(build_graph(root))``. :func:`build_graph` runs the passes
below in order (read :func:`run_passes` first: one line per pass); each is one function here,
with a docstring saying what it does:

1. :func:`read_tensors` (build): walk the tensors ``root`` depends on through the engine's
   public graph API; one node per drawn tensor, one raw edge per op input. A parameter's views
   (``W.T``, a fixed slice) are folded into its node; a no-grad zero state becomes a small
   constant drawn beside each reader; ``detach()`` cuts become dashed edges.
2. :func:`group_timesteps` (group): every node sits in the cluster of its scope record
   (``lstm/l0/fwd/t3``); the timestep clusters of one layer and direction form a chain.
3. :func:`absorb_input_projections` (absorb): the input projection a layer runs once for all
   steps (``nn`` tags it ``role="input_projection"``) is drawn as each step's input term
   ``x_t W_ih^T + b``, with an edge from each parameter into every step.
4. :func:`place_parameters` (group): each parameter in the innermost scope shared by its readers.
5. :func:`name_states` (group): which node is step t's ``h`` (and ``c``), from ``nn``'s
   ``role="state"`` tags.
6. :func:`elide_steps` or :func:`fold_steps` (elide): hide the middle of a long chain, the
   steps around ``focus``, or fold every chain into one cell.
7. :func:`paint_gradients` (paint): ``||dL/d node||`` from a side-effect-free reverse sweep.
8. :func:`connect`, :func:`make_clusters`, :func:`assemble`: the drawn edges (merged, labelled),
   the clusters, and the :class:`Graph`.
9. ``dot.to_dot`` (lay out, in :mod:`.dot`): the model as a ``graphviz.Digraph``.

The model (what tests and the explorer read, without parsing DOT):

* **nodes** with a ``kind`` (``op``, ``param``, ``input``, ``target``, ``const``, ``loss``,
  ``output``, ``ghost`` for the far side of a ``detach()``, ``elided`` for hidden timesteps),
  a label, the output shape, the scope path and, when gradients are painted, ``grad_norm`` =
  ``||dL/d node||`` (Frobenius norm);
* **edges** with a ``kind``: ``data``, ``recurrent`` (from one timestep into another of the same
  layer and direction), ``parameter`` (from a parameter into the op that reads it) and ``cut``
  (dashed: a tensor made by ``detach()``, drawn from the tensor it was cut from);
* **clusters** keyed by scope path (``("lstm", "l0", "fwd", "t3")``), one per timestep, nested
  in layer and direction.

Gradients (``show_grads``) are computed by a second reverse sweep over the same graph, with the
same VJP rows as ``backward()`` (``minigrad.ops``), seeded with ones at the root: it writes no
``.grad`` and runs no hooks, so drawing never changes what training sees. A parameter node's
norm is its whole gradient G, the sum over every timestep that used it; ``grad_shares=True``
labels each parameter edge with that use's share: its gradient g_k projected on G,
``<g_k, G> / ||G||``, so the shares of a parameter's edges add up to the ``||G||`` it shows.

What is read from tags and what from scopes: ``nn``'s tags (``t.tags``, see docs/engine.md) name
the input projection, the gates and the states. Timesteps, layers and directions come from the
scope path, the record ``mg.scope`` keeps. A loop written by hand in raw ops has no tags; the two
passes that need them (3 and 5) then fall back to the structure, as their docstrings say.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..tensor import Tensor
from .gates import NOTATIONS, describe, tags_of
from .names import (
    TIMESTEP,
    direction_of,
    dtype_name,
    fmt,
    format_index,
    index_pattern,
    leading_index,
    named_tensors,
    param_names,
    split_scope,
)
from .walk import back_to_leaf, flatten, gradient_sweep, has_grads, norm, share, vjps, walk

NODE_KINDS = ("op", "param", "input", "target", "const", "loss", "output", "ghost", "elided")
EDGE_KINDS = ("data", "recurrent", "parameter", "cut")
GROUP_BY = ("timestep", "scope", None)
LAYOUTS = ("columns", "rows")

# Ops that only re-view a parameter: folded into the parameter's node (drawn once, edges to every use).
_FOLDABLE = ("transpose", "reshape", "cast")

__all__ = [
    "Cluster",
    "DrawOptions",
    "Edge",
    "Graph",
    "Node",
    "back_to_leaf",
    "build_graph",
    "gradient_sweep",
    "run_passes",
    "vjps",
    "walk",
]


# --------------------------------------------------------------------------------------
# The model: what draw_graph draws
# --------------------------------------------------------------------------------------


@dataclass(eq=False)
class Node:
    """One box in the picture. ``cluster`` is the scope path it is drawn in (``()``: top level)."""

    id: str
    kind: str
    label: str
    shape: tuple[int, ...]
    op: str = ""  # the primitive that made it ("" for a leaf)
    gate: str = ""  # nn's tag named it: its symbol in the chosen notation (f, Γ_f, ...)
    meaning: str = ""  # ... what it is ("forget gate", "cell state")
    equation: str = ""  # ... and the equation it computes ("f = σ(W_if x + W_hf h + b_f)")
    scope: str = ""
    cluster: tuple[str, ...] = ()
    grad_norm: float | None = None
    dtype: str = ""
    detail: str = ""  # a second line: an index, a folded ``.T``, a loss value
    folded: list[str] = field(default_factory=list)
    timestep: int | None = None
    count: int = 1  # nodes merged into this one (fold) or steps hidden (elided)
    grad_range: tuple[float, float] | None = None  # elided: min and max |dL/dh_t| hidden
    tracked: bool = True  # False: an op on tensors needing no gradient (seen by a trace)
    step_input: bool = False  # x_t: a step's slice [t] of a sequence made outside the steps
    batched: tuple[str, ...] = ()  # step input term: the ops run ONCE for all steps that it stands for


@dataclass(eq=False)
class Edge:
    """``src -> dst`` in the direction values flow (reversed in a ``backward=True`` graph)."""

    src: str
    dst: str
    kind: str
    shape: tuple[int, ...]  # shape of the tensor carried, which is also its gradient's shape
    label: str = ""
    count: int = 1  # edges merged into this one (elision, fold)
    grad_share: float | None = None  # parameter edges, grad_shares=True: this use's gradient projected
    #                                   on the parameter's whole gradient G, <g_k, G>/||G||: they sum to ||G||
    grad_share_norm: float | None = None  # ||g_k||, this use's gradient alone


@dataclass(eq=False)
class Cluster:
    """A scope drawn as a box. ``kind``: ``scope``, ``timestep``, ``elided`` or ``folded``."""

    path: tuple[str, ...]
    kind: str = "scope"
    label: str = ""
    timestep: int | None = None
    direction: str | None = None  # "fwd" / "bwd" for timestep clusters
    grad_norm: float | None = None  # |dL/dh_t|: the gradient reaching this step's hidden state
    state: str | None = None  # id of the node taken as h_t
    hidden: int = 0  # elided: how many timesteps it stands for
    steps: int = 0  # folded: how many timesteps the one cell stands for
    span: tuple[int, int] | None = None  # folded: the first and last timestep it stands for


@dataclass(eq=False)
class Graph:
    """What ``draw_graph`` draws; tests read it without parsing DOT."""

    nodes: dict[str, Node]
    edges: list[Edge]
    clusters: dict[tuple[str, ...], Cluster]
    backward: bool = False
    folded: bool = False
    grads: bool = False  # gradients painted
    grad_range: tuple[float, float] | None = None  # smallest and largest non-zero norm shown
    title: str = ""
    layout: str = "columns"  # "rows": timesteps wrapped into rows of ``steps_per_row``
    steps_per_row: int | None = None
    focus: int | None = None  # the timestep drawn in full, the others folded into boxes
    # What the explorer reads (mg.viz.explore): the tensor each drawn node shows, its gradient
    # dL/d node from the painting sweep, and the drawn node of every tensor the graph reached
    # (a parameter's views map to the parameter, a folded step's ops to the cell's, hidden steps'
    # to the elided box), so the engine's backward order can be replayed on the picture.
    tensors: dict[str, Any] = field(default_factory=dict)
    gradients: dict[str, np.ndarray] = field(default_factory=dict)
    drawn_of: dict[int, str] = field(default_factory=dict)

    def nodes_of(self, kind: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == kind]

    def edges_of(self, kind: str) -> list[Edge]:
        return [e for e in self.edges if e.kind == kind]

    def timestep_clusters(self) -> list[Cluster]:
        return [c for c in self.clusters.values() if c.kind == "timestep"]

    def param(self, name: str) -> Node:
        """The node of the parameter labelled ``name`` (its dotted name)."""
        for n in self.nodes.values():
            if n.kind == "param" and n.label == name:
                return n
        raise KeyError(
            f"Graph.param: no parameter named {name!r}; have {sorted(n.label for n in self.nodes_of('param'))}"
        )


# --------------------------------------------------------------------------------------
# The options, checked once
# --------------------------------------------------------------------------------------


@dataclass
class DrawOptions:
    """Every option of ``draw_graph`` / ``build_graph`` / ``explore`` in one place, checked once.
    ``draw_graph``'s docstring says what each one does."""

    group_by: str | None = "timestep"
    show_grads: bool | None = None
    params: Any = None
    inputs: Any = None
    targets: Any = None
    max_timesteps: int | None = 12
    fold: bool = False
    backward: bool = False
    grad_shares: bool = False
    tape: Any = None
    layout: str = "columns"
    focus: int | None = None
    steps_per_row: int | None = None
    notation: str = "pytorch"

    def __post_init__(self) -> None:
        if self.notation not in NOTATIONS:
            raise ValueError(
                f"draw_graph: notation must be one of {NOTATIONS} (PyTorch's i, f, g, o or the "
                f"course's Γ_u, Γ_f, c̃, Γ_o), got {self.notation!r}"
            )
        if self.group_by not in GROUP_BY:
            raise ValueError(f"draw_graph: group_by must be one of {GROUP_BY}, got {self.group_by!r}")
        if self.max_timesteps is not None and (
            isinstance(self.max_timesteps, bool) or not isinstance(self.max_timesteps, int) or self.max_timesteps < 2
        ):
            raise ValueError(
                f"draw_graph: max_timesteps must be an integer >= 2 (the first and last steps "
                f"stay visible) or None (show all), got {self.max_timesteps!r}"
            )
        if self.fold and self.group_by != "timestep":
            raise ValueError(
                f"draw_graph: fold=True folds the timesteps, so it needs group_by='timestep', "
                f"got group_by={self.group_by!r}"
            )
        if self.tape is not None and not hasattr(self.tape, "records"):
            raise TypeError(
                f"draw_graph: tape must be the Tape of a `with mg.trace() as tape:` block, "
                f"got {type(self.tape).__name__}"
            )
        if self.layout not in LAYOUTS:
            raise ValueError(f"draw_graph: layout must be one of {LAYOUTS}, got {self.layout!r}")
        if self.focus is not None:
            if isinstance(self.focus, bool) or not isinstance(self.focus, int) or self.focus < 0:
                raise ValueError(f"draw_graph: focus must be a timestep (an integer >= 0) or None, got {self.focus!r}")
            if self.fold or self.group_by != "timestep":
                raise ValueError(
                    "draw_graph: focus=t draws step t in full and folds the others; it needs "
                    f"group_by='timestep' and fold=False, got group_by={self.group_by!r}, "
                    f"fold={self.fold}"
                )
        if self.steps_per_row is not None and (
            isinstance(self.steps_per_row, bool) or not isinstance(self.steps_per_row, int) or self.steps_per_row < 1
        ):
            raise ValueError(
                f"draw_graph: steps_per_row must be a positive integer or None (chosen for a "
                f"page-shaped picture), got {self.steps_per_row!r}"
            )
        if self.steps_per_row is not None and self.layout != "rows":
            raise ValueError(
                f"draw_graph: steps_per_row wraps timesteps into rows; it needs layout='rows', "
                f"got layout={self.layout!r}"
            )


# --------------------------------------------------------------------------------------
# The pipeline
# --------------------------------------------------------------------------------------


def build_graph(root: Any, **options: Any) -> Graph:
    """The graph model of everything ``root`` depends on; ``draw_graph`` documents the options
    (the fields of :class:`DrawOptions`)."""
    roots = flatten(root, "draw_graph")
    if not roots:
        raise ValueError("draw_graph: expected a Tensor (e.g. the loss), got an empty list")
    known = DrawOptions.__dataclass_fields__
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"draw_graph: unknown option(s) {', '.join(unknown)}; the options are {', '.join(known)}")
    checked = DrawOptions(**options)
    # The passes make a few objects per tensor and free none until they are done: the cyclic
    # collector would rescan every live tensor again and again (per-step cost growing with T).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return run_passes(roots, checked)
    finally:
        if collecting:
            gc.enable()


def run_passes(roots: list[Tensor], options: DrawOptions) -> Graph:
    """The renderer's pipeline, one pass a line; ``dot.to_dot`` then lays the result out."""
    draft = read_tensors(roots, options)  # build: a node per drawn tensor, a raw edge per input
    steps = group_timesteps(draft)  # group: timestep clusters by layer and direction (scope records)
    projections = absorb_input_projections(draft, steps)  # absorb: x_t W_ih^T + b into each step (tags)
    place_parameters(draft)  # group: each parameter beside the steps that read it
    states = name_states(draft, steps)  # group: which node is h_t, c_t (tags)
    hiding = fold_steps(draft, steps) if options.fold else elide_steps(draft, steps)  # elide
    paint = paint_gradients(draft, hiding, states, projections)  # paint: ||dL/d node||, shares
    edges = connect(draft, steps, states, hiding, paint)  # the drawn edges, merged and labelled
    if options.backward:
        edges = drop_undifferentiated(draft, edges)  # no gradient flows into data or constants
    clusters = make_clusters(draft, steps, states, hiding, paint)
    return assemble(draft, hiding, paint, edges, clusters)


# --------------------------------------------------------------------------------------
# Pass 1, build: a node per drawn tensor, a raw edge per op input
# --------------------------------------------------------------------------------------


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

    def producer(self, t: Tensor) -> tuple[str, tuple, dict | None, bool] | None:
        """(op name, inputs, kwargs, differentiated) of the op that made ``t``; None for a leaf."""
        made = self.made.get(id(t), self)
        if made is not self:
            return made
        if t.op is not None:
            return t.op, t.parents, dict(t.attrs), True
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
    """Build: walk every tensor ``roots`` depend on (:func:`walk.walk`) and make the draft graph.

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
            and (name in _FOLDABLE or _is_param_slice(draft, t, name, kwargs))
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


def _op_node(draft: Draft, t: Tensor, root_ids: set[int], name: str, kwargs: dict | None, tracked: bool) -> None:
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
    named = describe(tags_of(t), draft.options.notation)  # a gate, candidate or state nn tagged
    if named is not None:
        node.gate, node.meaning, node.equation = named


def _is_param_slice(draft: Draft, t: Tensor, name: str, kwargs: dict | None) -> bool:
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


# --------------------------------------------------------------------------------------
# Pass 2, group: chains of timesteps
# --------------------------------------------------------------------------------------


@dataclass(eq=False)
class Steps:
    """The timesteps of each chain (one layer and direction: ``("lstm", "l0", "fwd")``)."""

    chains: dict[tuple[str, ...], dict[int, list[str]]]  # chain -> timestep -> its node ids, in order
    chain_of: dict[str, tuple[str, ...]]  # node id -> its chain, for every node inside a timestep


def group_timesteps(draft: Draft) -> Steps:
    """Group: collect the nodes :func:`read_tensors` placed in a timestep cluster into chains.

    A node's cluster is its scope path up to the innermost ``t<k>`` part (``lstm/l0/fwd/t3``,
    as ``nn``'s layers open them), so its timestep is k and its chain (the layer and direction
    it belongs to) the path before that: ``("lstm", "l0", "fwd")``. With ``group_by="scope"`` or
    ``None`` there are no chains."""
    chains: dict[tuple[str, ...], dict[int, list[str]]] = {}
    chain_of: dict[str, tuple[str, ...]] = {}
    for nid, node in draft.nodes.items():
        if node.timestep is not None:
            chain = chain_of[nid] = node.cluster[:-1]
            chains.setdefault(chain, {}).setdefault(node.timestep, []).append(nid)
    return Steps(chains, chain_of)


def place_parameters(draft: Draft) -> None:
    """Group: a parameter sits in the innermost scope shared by all its readers, above their
    timesteps (``lstm/l0/fwd`` for ``weight_hh_l0``): drawn once, beside the steps it feeds."""
    group_by = draft.options.group_by
    if group_by is None:
        return
    nodes = draft.nodes
    common: dict[str, tuple[str, ...]] = {}
    for e in draft.edges:
        if e.src is None or nodes[e.src].kind != "param":
            continue
        dst = nodes[e.dst]
        path = dst.cluster[:-1] if dst.timestep is not None and group_by == "timestep" else dst.cluster
        if e.src not in common:
            common[e.src] = path
        else:
            prefix = common[e.src]
            k = 0
            while k < min(len(prefix), len(path)) and prefix[k] == path[k]:
                k += 1
            common[e.src] = prefix[:k]
    for nid, path in common.items():
        nodes[nid].cluster = path


# --------------------------------------------------------------------------------------
# Pass 3, absorb: the input projection drawn inside each step
# --------------------------------------------------------------------------------------


@dataclass(eq=False)
class Projection:
    """Ops run once for all steps (an input projection), drawn inside each step that reads them."""

    members: list[Tensor]  # inputs before outputs
    steps: list[str]  # the step nodes x_t W_ih^T + b standing for them
    params: set[str]  # the parameter nodes they read


def absorb_input_projections(draft: Draft, steps: Steps) -> list[Projection]:
    """Absorb: draw each step's input term ``x_t W_ih^T + b`` inside that step.

    ``nn``'s layers compute the input projection of EVERY timestep with one matmul before the
    time loop (the tensor tagged ``role="input_projection"``), then step t reads row ``[t]`` of
    it. Drawn as computed, ``W_ih`` and the folded biases would feed one node outside the steps.
    The maths a student learns says step t computes ``x_t W_ih^T + b``: so the ops made once for
    all steps (in the direction's scope, reading parameters) are not drawn as nodes; each step's
    slice node stands for its share of them, labelled with the formula (:func:`_formula`), and
    gets an edge from every parameter and data input they read. The node keeps the real op count
    (``batched``: the ops run once for all steps). Done only when nothing else reads those ops.

    Fallback, for a loop written by hand without tags (``tests/test_viz.py``'s RNN): a step's
    input is a ``getitem`` in step t whose index starts with t, reading a tensor made outside
    the steps."""
    _mark_step_inputs(draft, steps)
    nodes, node_of = draft.nodes, draft.node_of
    groups: dict[int, list[str]] = {}
    sources: dict[int, Tensor] = {}
    for nid, node in nodes.items():
        made = draft.producer(draft.tensor_of[nid]) if node.step_input else None
        if made is not None and made[0] == "getitem" and made[1]:
            groups.setdefault(id(made[1][0]), []).append(nid)
            sources[id(made[1][0])] = made[1][0]
    touched = {n for e in draft.edges if e.cut for n in (e.src, e.dst)}
    projections = []
    for key, readers in groups.items():
        source = sources[key]
        chain = steps.chain_of[readers[0]]
        if any(steps.chain_of.get(g) != chain for g in readers):
            continue
        members, params, data = _projection_members(draft, source, chain)
        reading = set(readers) | {node_of.get(id(u)) for u in members}
        if (
            not params
            or not members
            or any(node_of.get(id(c)) not in reading for u in members for c in draft.consumers.get(id(u), ()))
        ):
            continue  # something else reads them: drawn as they are
        ids = {node_of[id(u)] for u in members}
        if ids & touched:
            continue
        member_ids = {id(u) for u in members}
        order = [t for t in draft.order if id(t) in member_ids]
        formula = _clip(_formula(draft, source, member_ids))
        names = tuple(draft.producer(u)[0] for u in order)
        edge_shape = {}
        for e in draft.edges:
            if e.dst in ids and e.src is not None and e.src not in ids:
                edge_shape.setdefault(e.src, e.shape)
        draft.edges = [e for e in draft.edges if e.src not in ids and e.dst not in ids]
        draft.absorbed |= ids
        projections.append(Projection(order, readers, set(params)))
        once = f"{_op_summary(names)}: once for all {len(readers)} steps"
        for g in readers:
            node = nodes[g]
            node.label, node.batched = formula, names
            node.detail = f"{node.detail}\n{once}"
            for src in [*params, *data]:
                draft.edges.append(RawEdge(src, g, edge_shape[src]))
    return projections


def _mark_step_inputs(draft: Draft, steps: Steps) -> None:
    """Mark ``x_proj[t]`` (or ``x[t]``) read in step t from a sequence made before the loop.

    ``nn``'s layers say so: step t's ``getitem`` reads the tensor tagged
    ``role="input_projection"``. A hand-written loop has no tags; there it is a ``getitem``
    in step t whose index starts with t, reading a tensor made outside the steps."""
    chain_of = steps.chain_of
    for e in draft.edges:
        node = draft.nodes[e.dst]
        if e.src is None or node.timestep is None or e.dst not in chain_of:
            continue
        made = draft.producer(draft.tensor_of[e.dst])
        if made is None or made[0] != "getitem" or not made[1]:
            continue
        source, index = made[1][0], (made[2] or {}).get("index")
        if tags_of(source).get("role") == "input_projection":
            node.step_input = True
        elif chain_of.get(e.src) != chain_of[e.dst] and leading_index(index) == node.timestep:
            node.step_input = True


def _projection_members(
    draft: Draft, source: Tensor, chain: tuple[str, ...]
) -> tuple[list[Tensor], list[str], list[str]]:
    """The differentiated ops made in ``chain``'s own scope (not in a step) that ``source`` comes
    from, and the parameter and data nodes they read. A no-grad view of the data (``x.reshape``
    seen by a trace) is data: it stays drawn, in the direction's box, feeding every step."""
    members: list[Tensor] = []
    params: list[str] = []
    data: list[str] = []
    seen: set[int] = set()
    stack = [source]
    while stack:
        u = stack.pop()
        if id(u) in seen:
            continue
        seen.add(id(u))
        nid = draft.node_of.get(id(u))
        made = draft.producer(u)
        if nid is not None and draft.nodes[nid].kind == "param":
            if nid not in params:
                params.append(nid)
        elif (
            made is None
            or not made[3]
            or nid is None
            or draft.nodes[nid].kind != "op"
            or draft.place(u)[:2] != (chain, None)
        ):
            if nid is not None and nid not in data:
                data.append(nid)
        else:
            members.append(u)
            stack.extend(made[1])
    return members, params, data


def _formula(draft: Draft, t: Tensor, members: set[int]) -> str:
    """``x_t W_ih^T + b_ih + b_hh``: the maths of a step's input term, from the ops that made it."""
    nid = draft.node_of.get(id(t))
    if nid is not None and draft.nodes[nid].kind == "param":
        name = _math_name(draft.nodes[nid].label)
        return name + ("^T" if t.op == "transpose" else "")
    if id(t) not in members:
        return "x_t" if nid is not None else _scalar(t)
    name, inputs, _, _ = draft.producer(t)
    args = [_formula(draft, u, members) for u in inputs]
    if name in ("reshape", "transpose", "cast") and args:
        return args[0]
    if name == "add" and len(args) == 2:
        return f"{args[0]} + {args[1]}"
    if name == "sub" and len(args) == 2:
        return f"{args[0]} - {_paren(args[1])}"
    if name in ("matmul", "mul") and len(args) == 2:
        joiner = " " if name == "matmul" else " * "
        return joiner.join(_paren(a) for a in args)
    return f"{name}({', '.join(args)})"


def _op_summary(names: tuple[str, ...]) -> str:
    """``("reshape", "matmul", "add", "add")`` -> ``"1 matmul + 2 adds"`` (views are free, not counted)."""
    counts: dict[str, int] = {}
    for name in names:
        if name not in _FOLDABLE:
            counts[name] = counts.get(name, 0) + 1
    # Products before sums, as the formula reads (x_t W_ih^T + b), whatever order the ops ran in.
    ordered = sorted(counts.items(), key=lambda item: item[0] not in ("matmul", "mul"))
    return " + ".join(f"{k} {name}{'s' if k > 1 else ''}" for name, k in ordered) or "views"


_MATH_NAME = re.compile(r"(weight|bias)(?:_([a-z]+?))?(?:_l\d+)?(?:_reverse)?")


def _math_name(name: str) -> str:
    """``rnn.weight_ih_l0_reverse`` -> ``W_ih``, ``rnn.bias_hh_l1`` -> ``b_hh``, ``w`` -> ``w``."""
    last = name.rsplit(".", 1)[-1]
    m = _MATH_NAME.fullmatch(last)
    if m is None:
        return last
    return ("W" if m.group(1) == "weight" else "b") + (f"_{m.group(2)}" if m.group(2) else "")


def _paren(term: str) -> str:
    return f"({term})" if " + " in term or " - " in term else term


def _scalar(t: Tensor) -> str:
    return f"{t.data.item():g}" if t.data.size == 1 else "c"


def _clip(formula: str, limit: int = 48) -> str:
    return formula if len(formula) <= limit else "x_t's input term"


# --------------------------------------------------------------------------------------
# Pass 5, group: the state each step carries
# --------------------------------------------------------------------------------------


@dataclass(eq=False)
class States:
    """The recurrent state of each step."""

    name: dict[str, str]  # node id -> "h", "c" (or "state"): what a recurrent edge from it carries
    h_of: dict[tuple[tuple[str, ...], int], str]  # (chain, timestep) -> the node of h_t


def name_states(draft: Draft, steps: Steps) -> States:
    """Group: name each step's state nodes, ``h`` (and ``c``), and find h_t.

    ``nn``'s cells tag them (``role="state"``, ``name="h"`` or ``"c"``); where a variable-length
    batch masks a step, the state carried on is the ``where`` tagged ``role="mask"`` that wraps
    the tagged one. A chain with no state tags (a loop written by hand in raw ops) falls back to
    :func:`_vote_states`, which reads the recurrent edges."""
    states = States({}, {})
    untagged = []
    for chain, by_step in steps.chains.items():
        if not _states_from_tags(draft, chain, by_step, states):
            untagged.append(chain)
    if untagged:
        _vote_states(draft, steps, untagged, states)
    return states


def _states_from_tags(draft: Draft, chain: tuple[str, ...], by_step: dict[int, list[str]], states: States) -> bool:
    """Name the states of ``chain``'s steps from nn's tags; False when it has none."""
    tensor_of = draft.tensor_of
    tagged = False
    for s, ids in by_step.items():
        for nid in ids:
            tags = tags_of(tensor_of[nid])
            role = tags.get("role")
            if role == "state":
                name = str(tags.get("name", "state"))
            elif role == "mask":  # where(keep, new, old): carries on the state `new`
                inner = tensor_of[nid].parents
                carried = tags_of(inner[1]) if len(inner) == 3 else {}
                if carried.get("role") != "state":
                    continue
                name = str(carried.get("name", "state"))
            else:
                continue
            tagged = True
            states.name[nid] = name
            if name == "h":
                states.h_of[(chain, s)] = nid
    return tagged


def _vote_states(draft: Draft, steps: Steps, chains: list[tuple[str, ...]], states: States) -> None:
    """The fallback for chains without tags: ``h`` is recurrent (read by the next step) and also
    leaves the chain (the output); another recurrent node that does not leave is ``c``. Nodes are
    matched across steps by :func:`_step_keys`, and the most common match wins."""
    recurrent: set[str] = set()
    leaving: set[str] = set()
    chain_of, nodes = steps.chain_of, draft.nodes
    for e in draft.edges:
        if e.src is None or e.cut or e.src not in chain_of:
            continue
        chain, dst_chain = chain_of[e.src], chain_of.get(e.dst)
        if dst_chain == chain and nodes[e.dst].timestep != nodes[e.src].timestep:
            recurrent.add(e.src)
        elif dst_chain != chain:
            leaving.add(e.src)
    for chain in chains:
        by_step = steps.chains[chain]
        keys = {s: _step_keys(draft, ids) for s, ids in by_step.items()}
        votes_h: dict[tuple, int] = {}
        votes_state: dict[tuple, int] = {}
        for s, ids in by_step.items():
            for nid, key in zip(ids, keys[s]):
                if nid in recurrent:
                    votes_state[key] = votes_state.get(key, 0) + 1
                    if nid in leaving:
                        votes_h[key] = votes_h.get(key, 0) + 1
        if votes_h:
            h_key = max(votes_h, key=votes_h.get)
        elif votes_state:
            h_key = max(votes_state, key=votes_state.get)
        else:  # one step only: h is what leaves it
            h_key = None
        others = [k for k in votes_state if k != h_key]
        for s, ids in by_step.items():
            for nid, key in zip(ids, keys[s]):
                if key == h_key:
                    states.name[nid] = "h"
                    states.h_of[(chain, s)] = nid
                elif key in others:
                    states.name[nid] = "c" if len(others) == 1 else "state"
            if h_key is None:
                out = [nid for nid in ids if nid in leaving]
                if out:
                    states.h_of[(chain, s)] = out[-1]


def _step_keys(draft: Draft, ids: list[str]) -> list[tuple]:
    """What each of a step's nodes is, the same at every step: its kind, name or primitive, index
    pattern (``x[3]`` matches ``x[4]``) and whether it is differentiated, numbered by occurrence."""
    seen: dict[tuple, int] = {}
    keys = []
    for nid in ids:
        node = draft.nodes[nid]
        made = draft.producer(draft.tensor_of[nid]) if node.op == "getitem" else None
        index = index_pattern((made[2] or {}).get("index")) if made is not None else ()
        name = (node.kind, node.label, index, node.tracked)
        seen[name] = seen.get(name, -1) + 1
        keys.append((name, seen[name]))
    return keys


# --------------------------------------------------------------------------------------
# Pass 6, elide: long chains elided, or every chain folded to one cell
# --------------------------------------------------------------------------------------


@dataclass(eq=False)
class Hiding:
    """What :func:`elide_steps` or :func:`fold_steps` took out of the picture."""

    hidden: dict[str, str] = field(default_factory=dict)  # hidden node -> its elided box
    elided: dict[tuple[str, ...], list[tuple[str, list[int]]]] = field(default_factory=dict)  # chain -> (box, steps)
    merge: dict[str, str] = field(default_factory=dict)  # folded: a step's node -> the cell's node
    folds: dict[tuple[str, ...], tuple[int, list[int]]] = field(default_factory=dict)  # chain -> (cell's step, all)

    def drawn(self, nid: str) -> str:
        """The node that stands for ``nid`` in the picture (itself, the cell's, or a box)."""
        return self.merge.get(nid) or self.hidden.get(nid) or nid


def elide_steps(draft: Draft, steps: Steps) -> Hiding:
    """Elide: hide runs of timesteps behind one dashed box each: the middle of a long chain
    (``max_timesteps``), or every step but the one in ``focus``, on either side of it."""
    hiding = Hiding()
    focus, max_timesteps = draft.options.focus, draft.options.max_timesteps
    if focus is None and max_timesteps is None:
        return hiding
    if focus is not None and steps.chains and not any(focus in by_step for by_step in steps.chains.values()):
        drawn = sorted({t for by_step in steps.chains.values() for t in by_step})
        raise ValueError(f"draw_graph: focus={focus}, but the graph's timesteps are {drawn[0]} ... {drawn[-1]}")
    for chain, by_step in steps.chains.items():
        ts = sorted(by_step)
        if focus is not None:
            runs = [[s for s in ts if s < focus], [s for s in ts if s > focus]]
        elif len(ts) > max_timesteps:
            runs = [ts[(max_timesteps + 1) // 2 : len(ts) - max_timesteps // 2]]
        else:
            continue
        for gone in runs:
            if gone:
                box = draft.new(
                    "elided",
                    f"... {len(gone)} timesteps hidden ...",
                    timestep=gone[0],
                    count=len(gone),
                    cluster=chain + (f"t{gone[0]}..t{gone[-1]}",),
                    detail=f"t = {gone[0]} ... {gone[-1]}",
                )
                hiding.elided.setdefault(chain, []).append((box.id, gone))
                for s in gone:
                    for nid in by_step[s]:
                        hiding.hidden[nid] = box.id
    return hiding


def fold_steps(draft: Draft, steps: Steps) -> Hiding:
    """Elide (``fold=True``): the rolled view. Each chain is drawn as ONE cell, its fullest step;
    every other step's nodes merge into the cell's matching nodes (:func:`_step_keys`), so the
    cell's node counts and painted norms stand for every step. An op only some steps run stays."""
    hiding = Hiding()
    for chain, by_step in steps.chains.items():
        ts = sorted(by_step)
        rep_step = max(ts, key=lambda s: (len(by_step[s]), -s))
        hiding.folds[chain] = (rep_step, ts)
        cell = chain + ("cell",)
        rep_keys = dict(zip(_step_keys(draft, by_step[rep_step]), by_step[rep_step]))
        for nid in by_step[rep_step]:
            node = draft.nodes[nid]
            node.cluster, node.count = cell, len(ts)
            made = draft.producer(draft.tensor_of[nid]) if node.op == "getitem" else None
            if made is not None and leading_index((made[2] or {}).get("index")) == rep_step:
                node.detail = "[t" + node.detail[len(f"[{rep_step}") :]  # x_proj[t]
        for s in ts:
            if s == rep_step:
                continue
            for nid, key in zip(by_step[s], _step_keys(draft, by_step[s])):
                if key in rep_keys:
                    hiding.merge[nid] = rep_keys[key]
                else:  # an op only some steps run stays as it is
                    draft.nodes[nid].cluster = cell
    return hiding


# --------------------------------------------------------------------------------------
# Pass 7, paint: gradients
# --------------------------------------------------------------------------------------


@dataclass(eq=False)
class Paint:
    """The gradients painted (all empty when ``show_grads`` is off)."""

    grads: dict[int, np.ndarray]  # id(tensor) -> dL/d tensor
    shares: dict[Any, np.ndarray]  # (parameter node, drawn reader) -> that use's gradient (grad_shares)
    norms: dict[str, float]  # node id -> ||dL/d tensor|| of the node's own tensor


def paint_gradients(draft: Draft, hiding: Hiding, states: States, projections: list[Projection]) -> Paint:
    """Paint: ``||dL/d node||`` on every drawn node, from :func:`walk.gradient_sweep` (the engine's
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


# --------------------------------------------------------------------------------------
# Pass 8: the drawn edges and clusters, and the Graph
# --------------------------------------------------------------------------------------


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
    for nid, node in draft.nodes.items():
        if nid in hiding.hidden or nid in hiding.merge or nid in draft.absorbed or not node.cluster:
            continue
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
