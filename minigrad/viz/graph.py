"""How ``draw_graph`` turns the autograd graph into a picture: a pipeline of passes.

``draw_graph(root)`` is ``dot.to_dot(build_graph(root))``. :func:`run_passes` (below) is the
whole pipeline, one pass a line. Each pass is a function with a docstring saying what it does:

1. build:    :func:`.build.read_tensors` walks the tensors ``root`` depends on (the engine's
   public graph API only) into a draft: one node per drawn tensor, one raw edge per op input.
   A parameter's views (``W.T``, a fixed slice) fold into its node; a zero state becomes a small
   constant beside each reader; a ``detach()`` becomes a dashed cut edge.
2. group:    :func:`group_timesteps` (here): each node sits in the cluster of its scope record
   (``lstm/l0/fwd/t3``); the timesteps of one layer and direction form a chain.
3. absorb:   :func:`absorb_input_projections` (here): the input projection a layer runs once for
   all steps (tagged ``role="input_projection"``) is drawn as each step's input term
   ``x_t W_ih^T + b`` (:func:`_formula`), with an edge from each parameter into every step.
4. group:    :func:`place_parameters` (here): each parameter beside the steps that read it.
5. group:    :func:`name_states` (here): which node is step t's ``h`` (and ``c``), from the
   ``role="state"`` tags; then :func:`describe_fused` writes under each ``addmm`` (a matmul and
   the add after it, one op) the sum it computes: ``x_t W_ih^T + b + h W_hh^T``.
6. elide:    :func:`.elide.elide_steps` hides the middle of a long chain or the steps around
   ``focus``; :func:`.elide.fold_steps` folds each chain into one cell (``fold=True``).
7. paint:    :func:`.paint.paint_gradients`: ``||dL/d node||`` from a side-effect-free sweep.
8. assemble: :func:`.assemble.connect` merges and labels the edges, :func:`.assemble.make_clusters`
   makes the boxes, :func:`.assemble.assemble` returns the :class:`.model.Graph`.
9. lay out:  ``dot.to_dot`` writes the Graph as a ``graphviz.Digraph`` (time left to right, or
   in rows); :mod:`.render` draws it with ``dot`` or graphviz-pure.

The passes that know about recurrent layers (2 to 5) are in this file. What they read: ``nn``'s
tags (``t.tags``, see docs/engine.md) name the input projection, the gates and the states;
timesteps, layers and directions come from the scope path, the record ``mg.scope`` keeps. A loop
written by hand in raw ops has no tags: passes 3 and 5 then fall back to the graph's structure,
as their docstrings say. The model (:class:`Node`, :class:`Edge`, :class:`Cluster`,
:class:`Graph`) is defined in :mod:`.model` and importable from here.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass
from typing import Any

from ..tensor import Tensor
from .assemble import assemble, connect, drop_undifferentiated, make_clusters
from .build import FOLDABLE as _FOLDABLE
from .build import Draft, RawEdge, read_tensors
from .elide import elide_steps, fold_steps, step_keys
from .gates import NOTATIONS, tags_of
from .model import EDGE_KINDS, NODE_KINDS, Cluster, Edge, Graph, Node
from .names import leading_index
from .paint import paint_gradients
from .walk import back_to_leaf, flatten, gradient_sweep, vjps, walk

GROUP_BY = ("timestep", "scope", None)
LAYOUTS = ("columns", "rows")

__all__ = [
    "EDGE_KINDS",
    "NODE_KINDS",
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
    describe_fused(draft, states)  # label: each addmm's maths, x_t W_ih^T + b + h W_hh^T
    hiding = fold_steps(draft, steps) if options.fold else elide_steps(draft, steps)  # elide
    paint = paint_gradients(draft, hiding, states, projections)  # paint: ||dL/d node||, shares
    edges = connect(draft, steps, states, hiding, paint)  # the drawn edges, merged and labelled
    if options.backward:
        edges = drop_undifferentiated(draft, edges)  # no gradient flows into data or constants
    clusters = make_clusters(draft, steps, states, hiding, paint)
    return assemble(draft, hiding, paint, edges, clusters)


# --------------------------------------------------------------------------------------
# Pass 2, group: chains of timesteps; where parameters sit
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
    params = {nid for nid, node in nodes.items() if node.kind == "param"}
    common: dict[str, tuple[str, ...]] = {}
    for e in draft.edges:
        if e.src not in params:
            continue
        dst = nodes[e.dst]
        path = dst.cluster[:-1] if dst.timestep is not None and group_by == "timestep" else dst.cluster
        if e.src not in common:
            common[e.src] = path
        elif common[e.src] != path:
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
    in step t whose index starts with t, reading a tensor made outside the steps (the fallback
    ``tests/test_viz.py``'s ``handmade_rnn`` needs: it checks the renderer apart from ``nn``)."""
    nodes, node_of, consts = draft.nodes, draft.node_of, draft.consts
    for nid, chain in steps.chain_of.items():
        node = nodes[nid]
        if node.op != "getitem":
            continue
        made = draft.producer(draft.tensor_of[nid])
        if made is None or not made[1]:
            continue
        source, index = made[1][0], (made[2] or {}).get("index")
        src = node_of.get(id(source)) if id(source) not in consts else None
        if src is None:  # read from a constant, or from nothing drawn
            continue
        if tags_of(source).get("role") == "input_projection":
            node.step_input = True
        elif steps.chain_of.get(src) != chain and leading_index(index) == node.timestep:
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
    if name == "addmm" and len(args) == 3:  # c + a @ b: x_t W_ih^T + b_ih + b_hh
        return f"{_paren(args[1])} {_paren(args[2])} + {args[0]}"
    return f"{name}({', '.join(args)})"


_PRODUCTS = ("matmul", "addmm", "mul")  # counted first in a summary, as the formula reads: x_t W_ih^T + b


def _op_summary(names: tuple[str, ...]) -> str:
    """``("reshape", "addmm", "add")`` -> ``"1 addmm + 1 add"`` (views are free, not counted)."""
    counts: dict[str, int] = {}
    for name in names:
        if name not in _FOLDABLE:
            counts[name] = counts.get(name, 0) + 1
    # Products before sums, as the formula reads (x_t W_ih^T + b), whatever order the ops ran in.
    ordered = sorted(counts.items(), key=lambda item: item[0] not in _PRODUCTS)
    return " + ".join(f"{k} {name}{'s' if k > 1 else ''}" for name, k in ordered) or "views"


def _wrap_sum(formula: str, width: int = 16) -> str:
    """A long sum on short lines, each further line starting with its ``+``: a step's addmm stays as
    narrow as the add it replaces (``x_t W_ih^T`` / ``+ b_ih + b_hh`` / ``+ h W_hh^T``)."""
    if "(" in formula:  # a parenthesised sum would break inside its parentheses
        return formula
    lines: list[str] = []
    for term in formula.split(" + "):
        if lines and len(lines[-1]) + 3 + len(term) <= width:
            lines[-1] += " + " + term
        else:
            lines.append(("+ " if lines else "") + term)
    return "\n".join(lines)


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


def describe_fused(draft: Draft, states: States) -> None:
    """Label: give each drawn ``addmm`` (``c + a @ b``, a matmul and the add after it as one op) the
    maths it computes beside its shape: ``x_t W_ih^T + b_ih + b_hh + h W_hh^T`` in a recurrent step,
    ``h W_hh^T + b_hh`` (GRU), ``x W^T + b`` (a Linear layer). Left as the bare primitive when an
    operand has no name (an intermediate result). The same text in every step, so folding
    matches the steps' nodes as before."""
    for nid, node in draft.nodes.items():
        if node.kind != "op" or nid in draft.absorbed or nid not in draft.tensor_of:
            continue
        made = draft.producer(draft.tensor_of[nid])
        if made is None or made[0] != "addmm" or len(made[1]) != 3:
            continue
        c, a, b = made[1]
        step = node.timestep
        added, left, right = (
            _term(draft, states, c, step),
            _term(draft, states, a, step, True),
            _term(draft, states, b, step),
        )
        if left is None and added is not None and draft.is_param(c) and right is not None:
            left = "x"  # a layer's input: x W^T + b
        if None in (added, left, right):
            continue
        product = f"{_paren(left)} {_paren(right)}"
        formula = f"{product} + {added}" if draft.is_param(c) else f"{added} + {product}"
        node.detail = f"{node.detail}\n{_wrap_sum(formula)}"  # below the shape: the node stays narrow


def _term(draft: Draft, states: States, t: Tensor, step: int | None, state: bool = False) -> str | None:
    """An operand's name in a formula: a parameter (``W_hh^T``, ``b_hh``), step t's input term, or
    (``state``, in a step) the state the step starts from: ``h`` from the previous step, and also
    the initial state (zeros, ``h0``, or ``h.detach()`` where a truncated-BPTT chunk starts)."""
    if draft.is_param(t):  # W_hh^T: the parameter, through the views folded into it
        view, transposed = t, False
        while (made := draft.producer(view)) is not None and made[0] in _FOLDABLE and made[1]:
            transposed ^= made[0] == "transpose"
            view = made[1][0]
        if made is not None:  # a slice of it (GRU reset_before's W_hn block): no name of its own
            return None
        return _math_name(draft.nodes[draft.node_of[id(view)]].label) + ("^T" if transposed else "")
    in_step = step is not None
    if id(t) in draft.consts:
        return "h" if state and in_step else None  # h_{-1} = 0, drawn as zeros in step 0
    nid = draft.node_of.get(id(t))
    if nid is None:
        return None
    node = draft.nodes[nid]
    if node.step_input:
        return node.label if node.batched else "x_t"
    if state and in_step:
        tags = tags_of(t)
        named = states.name.get(nid) or (tags.get("name") if tags.get("role") == "state" else None)
        return named or ("h" if node.timestep != step else None)  # made before the step: its initial state
    return None


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
    matched across steps by :func:`.elide.step_keys`, and the most common match wins.

    Kept for loops written by hand in raw ops, which tests draw to check the renderer apart from
    ``nn`` (``tests/test_viz.py``'s ``handmade_rnn``); ``nn``'s layers and cells never get here."""
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
        keys = {s: step_keys(draft, ids) for s, ids in by_step.items()}
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
