"""The plain graph model the renderer draws: nodes, edges and clusters read off the autograd graph.

``build_graph(root)`` walks the graph that produced ``root`` (iteratively: a 10,000-step RNN is
a 10,000-deep chain) and returns a :class:`Graph`:

* **nodes** with a ``kind`` (``op``, ``param``, ``input``, ``target``, ``const``, ``loss``,
  ``output``, ``ghost`` for the far side of a ``detach()``, ``elided`` for hidden timesteps),
  a label, the output shape, the scope path and, when gradients are painted, ``grad_norm`` =
  ``||dL/d node||`` (Frobenius norm);
* **edges** with a ``kind``: ``data``, ``recurrent`` (from one timestep into another of the same
  layer and direction), ``parameter`` (from a parameter into the op that reads it) and ``cut``
  (dashed: a tensor made by ``detach()``, drawn from the tensor it was cut from);
* **clusters** keyed by scope path (``("lstm", "l0", "fwd", "t3")``), one per timestep, nested
  in layer and direction.

Parameter-only preprocessing (``W.T``, ``reshape``, ``astype``, a fixed slice taken before the
loop) is folded into the parameter's node, so a weight the layer transposes once before its time
loop is still drawn once, with an edge into every timestep that reads it. Likewise the input
projection that a layer runs ONCE for all timesteps before its loop (``x W_ih^T + b_ih + b_hh``,
then step t reads row ``[t]``) is drawn as each step's input term ``x_t W_ih^T + b`` inside that
step, with an edge from ``W_ih``, from each bias and from ``x``: every parameter of a recurrent
layer then has one edge into every timestep, as in the equations, and the node keeps the real
ops (``batched``) for its label. Scalar and boolean constants (the ``1`` in ``1 - z``,
``where``'s condition) are not drawn; other constants (a zero initial state) are drawn
small, once per cluster that reads them, so they add no long edges.

Gradients (``show_grads``) are computed by a second reverse sweep over the same graph, with the
same VJP rows as ``backward()`` (``minigrad.ops``), seeded with ones at the root: it writes no
``.grad`` and runs no hooks, so drawing never changes what training sees. A parameter node's
norm is its whole gradient G, the sum over every timestep that used it; ``grad_shares=True``
labels each parameter edge with that use's share: its gradient g_k projected on G,
``<g_k, G> / ||G||``, so the shares of a parameter's edges add up to the ``||G||`` it shows.
"""

from __future__ import annotations

import functools
import gc
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd import topological_order
from ..autograd import vjps as autograd_vjps
from ..tensor import Tensor
from .gates import NOTATIONS, describe, tags_of

NODE_KINDS = ("op", "param", "input", "target", "const", "loss", "output", "ghost", "elided")
EDGE_KINDS = ("data", "recurrent", "parameter", "cut")
GROUP_BY = ("timestep", "scope", None)

_TIMESTEP = re.compile(r"t(\d+)$")
_BACKWARD_DIRECTIONS = ("bwd", "reverse", "backward")
# Ops that only re-view a parameter: folded into the parameter's node (drawn once, edges to every use).
_FOLDABLE = ("transpose", "reshape", "cast")
_PRODUCTS = ("matmul", "addmm", "mul")  # counted first in a summary, as the formula reads: x_t W_ih^T + b


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
# Reading the engine's graph
# --------------------------------------------------------------------------------------


def _flatten(obj: Any, what: str) -> list[Tensor]:
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


_DTYPE_NAMES: dict[np.dtype, str] = {}


def _dtype_name(dtype: np.dtype) -> str:
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype)
    return name


def _norm(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.vdot(a, a).real))


def _has_grads(order: list[Tensor]) -> bool:
    return any(t.grad is not None for t in order)


# --------------------------------------------------------------------------------------
# Scopes -> clusters
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def _split_scope(scope: str) -> tuple[tuple[str, ...], tuple[str, ...] | None, int | None]:
    """``"lstm/l0/fwd/t3/gates"`` -> cluster path ``(lstm, l0, fwd, t3)``, chain ``(lstm, l0, fwd)``, 3."""
    if not scope:
        return (), None, None
    parts = tuple(scope.split("/"))
    for k in range(len(parts) - 1, -1, -1):
        m = _TIMESTEP.fullmatch(parts[k])
        if m:
            return parts[: k + 1], parts[:k], int(m.group(1))
    return parts, None, None


def _direction(chain: tuple[str, ...]) -> str:
    return "bwd" if chain and chain[-1] in _BACKWARD_DIRECTIONS else "fwd"


def _format_index(index: Any) -> str:
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, slice):
            text = ("" if p.start is None else str(p.start)) + ":" + ("" if p.stop is None else str(p.stop))
            out.append(text + ("" if p.step is None else f":{p.step}"))
        elif p is Ellipsis:
            out.append("...")
        elif p is None:
            out.append("None")
        elif isinstance(p, np.ndarray):
            out.append(f"<{p.dtype} array {p.shape}>")
        else:
            out.append(str(p))
    return "[" + ", ".join(out) + "]"


_MATH_NAME = re.compile(r"(weight|bias)(?:_([a-z]+?))?(?:_l\d+)?(?:_reverse)?")


def _math_name(name: str) -> str:
    """``rnn.weight_ih_l0_reverse`` -> ``W_ih``, ``rnn.bias_hh_l1`` -> ``b_hh``, ``w`` -> ``w``."""
    last = name.rsplit(".", 1)[-1]
    m = _MATH_NAME.fullmatch(last)
    if m is None:
        return last
    return ("W" if m.group(1) == "weight" else "b") + (f"_{m.group(2)}" if m.group(2) else "")


def _leading_index(index: Any) -> int | None:
    """The first position of a ``getitem`` index (``3`` for ``x[3]`` or ``x[3, :]``), if it is an int."""
    first = index[0] if isinstance(index, tuple) and index else index
    return int(first) if isinstance(first, (int, np.integer)) and not isinstance(first, bool) else None


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


def _paren(term: str) -> str:
    return f"({term})" if " + " in term or " - " in term else term


def _scalar(t: Tensor) -> str:
    return f"{t.data.item():g}" if t.data.size == 1 else "c"


def _clip(formula: str, limit: int = 48) -> str:
    return formula if len(formula) <= limit else "x_t's input term"


def _share(use: np.ndarray, total: np.ndarray) -> tuple[float, float, float]:
    """One use's share of a parameter's gradient ``G = sum of its uses' gradients g_k``.

    Norms do not add up (``||g_1|| + ||g_2|| >= ||G||``), so the share is ``g_k`` projected on
    ``G``: ``<g_k, G> / ||G||``. These add up to exactly ``||G||``, the norm shown on the
    parameter (a use pulling against the others gets a negative share). Returns the share,
    ``||g_k||`` and the share as a fraction of ``||G||`` (fractions add up to 1)."""
    use64, total64 = np.asarray(use, dtype=np.float64), np.asarray(total, dtype=np.float64)
    norm = float(np.sqrt(np.vdot(total64, total64)))
    projection = float(np.vdot(use64, total64)) / norm if norm else 0.0
    return projection, float(np.sqrt(np.vdot(use64, use64))), (projection / norm if norm else 0.0)


def _fmt(x: float) -> str:
    return f"{x:.1e}" if x else "0"


def _param_names(params: Any) -> dict[int, str]:
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        items: Iterable = params.named_parameters()
    elif isinstance(params, Mapping):
        items = params.items()
    else:
        raise TypeError(f"draw_graph: params must be a Module or a dict of name -> Tensor, got {type(params).__name__}")
    names = {}
    for name, p in items:
        if not isinstance(p, Tensor):
            raise TypeError(f"draw_graph: params[{name!r}] must be a Tensor, got {type(p).__name__}")
        names[id(p)] = str(name)
    return names


def _named_tensors(obj: Any, default: str, what: str) -> dict[int, str]:
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return {id(t): str(name) for name, t in obj.items()}
    return {id(t): t.name or default for t in _flatten(obj, what)}


# --------------------------------------------------------------------------------------
# The builder
# --------------------------------------------------------------------------------------

LAYOUTS = ("columns", "rows")


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


def build_graph(root: Any, **options: Any) -> Graph:
    """The graph model of everything ``root`` depends on; ``draw_graph`` documents the options
    (the fields of :class:`DrawOptions`)."""
    roots = _flatten(root, "draw_graph")
    if not roots:
        raise ValueError("draw_graph: expected a Tensor (e.g. the loss), got an empty list")
    known = DrawOptions.__dataclass_fields__
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"draw_graph: unknown option(s) {', '.join(unknown)}; the options are {', '.join(known)}")
    options_ = DrawOptions(**options)
    # The builder makes a few objects per tensor and frees none until it is done: the cyclic
    # collector would rescan every live tensor again and again (per-step cost growing with T).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _Builder(roots, options_).build()
    finally:
        if collecting:
            gc.enable()


@dataclass(eq=False)
class _RawEdge:
    src: str | None  # node id (None: a constant, drawn per consumer cluster)
    dst: str
    shape: tuple[int, ...]
    const: Tensor | None = None
    key: tuple[int, int] | None = None  # (id(consumer), input index), for gradient shares
    cut: bool = False


@dataclass(eq=False)
class _Projection:
    """Ops run once for all steps (an input projection), drawn inside each step that reads them."""

    members: list[Tensor]  # inputs before outputs
    steps: list[str]  # the step nodes x_t W_ih^T + b standing for them
    params: set[str]  # the parameter nodes they read


class _Builder:
    def __init__(self, roots: list[Tensor], options: DrawOptions) -> None:
        self.roots = roots
        self.options = options
        self.group_by = options.group_by
        self.max_timesteps = options.max_timesteps
        self.focus = options.focus
        self.fold = options.fold
        self.backward = options.backward
        self.grad_shares = options.grad_shares
        self.param_names = _param_names(options.params)
        self.input_names = _named_tensors(options.inputs, "input", "draw_graph(inputs=...)")
        self.target_names = _named_tensors(options.targets, "target", "draw_graph(targets=...)")
        tape, show_grads = options.tape, options.show_grads
        # Ops on tensors that need no gradient leave no graph link; a trace recorded them.
        self.traced = {} if tape is None else {id(r.output): r for r in tape.records if r.output.op is None}
        self.order = walk(roots, self.traced)
        self.paint = _has_grads(self.order) if show_grads is None else bool(show_grads)
        self.nodes: dict[str, Node] = {}
        self.rep: dict[int, str] = {}  # id(tensor) -> the node drawing it
        self.tensor_of: dict[str, Tensor] = {}  # node id -> its tensor (params: the leaf)
        self.chain_of: dict[str, tuple[str, ...]] = {}  # node id -> chain, for timestep nodes
        self.raw: list[_RawEdge] = []
        self.chains: dict[tuple[str, ...], dict[int, list[str]]] = {}
        self.state_name: dict[str, str] = {}  # recurrent source -> "h", "c", "state"
        self.h_of: dict[tuple[tuple[str, ...], int], str] = {}
        self.hidden: dict[str, str] = {}  # hidden node -> its elided node
        self.elided: dict[tuple[str, ...], list[tuple[str, list[int]]]] = {}  # chain -> (box, steps) runs
        self.merge: dict[str, str] = {}  # folded node -> the cell's node
        self.folds: dict[tuple[str, ...], tuple[int, list[int]]] = {}
        self.consts: dict[int, Tensor] = {}  # constants drawn once per cluster reading them
        self.maybe_targets: list[tuple[Node, Tensor]] = []
        self.consumers: dict[int, list[Tensor]] = {}  # id(tensor) -> the tensors made from it
        self.absorbed: set[str] = set()  # op nodes drawn inside each step's input term
        self.projections: list[_Projection] = []

    def build(self) -> Graph:
        self._classify()
        self._find_chains()
        self._find_step_inputs()
        self._absorb_projections()
        self._place_params()
        self._find_states()
        self._describe_fused()
        if self.fold:
            self._fold()
        elif self.max_timesteps is not None or self.focus is not None:
            self._elide()
        grads, shares = self._gradients()
        edges = self._edges(shares, grads)
        if self.backward:  # no gradient flows into inputs, targets or constants
            edges = [e for e in edges if e.kind == "cut" or self._differentiable(e.src)]
            linked = {e.src for e in edges} | {e.dst for e in edges}
            for nid in [nid for nid in self.nodes if nid not in linked and not self._differentiable(nid)]:
                del self.nodes[nid]
        norms = self._node_norms(grads)
        clusters = self._clusters(norms)
        for nid in [nid for nid in self.nodes if nid in self.hidden or nid in self.merge or nid in self.absorbed]:
            del self.nodes[nid]
        graph = Graph(
            self.nodes,
            edges,
            clusters,
            backward=self.backward,
            folded=self.fold,
            grads=self.paint,
            layout=self.options.layout,
            steps_per_row=self.options.steps_per_row,
            focus=self.focus,
        )
        graph.tensors = {nid: self.tensor_of[nid] for nid in self.nodes if nid in self.tensor_of}
        graph.gradients = {nid: grads[id(t)] for nid, t in graph.tensors.items() if id(t) in grads}
        for tid, nid in self.rep.items():
            if nid not in self.absorbed:
                drawn = self._drawn(nid)
                if drawn in self.nodes:
                    graph.drawn_of[tid] = drawn
        # The colour scale spans the model's gradients; the root's seed (dL/dL = 1) would only squash it.
        seeds = {self.rep.get(id(r)) for r in self.roots}
        values = [n.grad_norm for n in self.nodes.values() if n.grad_norm and n.id not in seeds]
        values += [v for n in self.nodes.values() if n.grad_range for v in n.grad_range if v]
        values += [c.grad_norm for c in clusters.values() if c.grad_norm]
        if values:
            graph.grad_range = (min(values), max(values))
        if self.backward:
            for e in graph.edges:
                e.src, e.dst = e.dst, e.src
                e.label = f"grad {e.shape}" + (f"  {e.label}" if e.label else "")
        return graph

    def _differentiable(self, nid: str) -> bool:
        t = self.tensor_of.get(nid)
        return (t is not None and t.requires_grad) or self.nodes[nid].kind == "elided"

    # ---- pass 1: a node per tensor, or folded into a parameter, or not drawn --------------
    def _place(self, t: Tensor) -> tuple[tuple[str, ...], tuple[str, ...] | None, int | None]:
        if self.group_by is None or not t.scope:
            return (), None, None
        if self.group_by == "scope":
            return tuple(t.scope.split("/")), None, None
        return _split_scope(t.scope)

    def _new(self, kind: str, label: str, t: Tensor | None = None, **kw: Any) -> Node:
        node = Node(
            id=f"n{len(self.nodes)}",
            kind=kind,
            label=label,
            shape=() if t is None else t.data.shape,
            dtype="" if t is None else _dtype_name(t.data.dtype),
            scope="" if t is None else t.scope,
            **kw,
        )
        self.nodes[node.id] = node
        if t is not None:
            self.rep[id(t)] = node.id
            self.tensor_of[node.id] = t
        return node

    def _producer(self, t: Tensor) -> tuple[str, tuple, dict | None, bool] | None:
        """(op name, inputs, kwargs, differentiated) of the op that made ``t``; None for a leaf."""
        if t.op is not None:
            return t.op, t.parents, dict(t.attrs), True
        record = self.traced.get(id(t))
        if record is not None:
            return record.op, record.inputs, record.kwargs, False
        return None

    def _classify(self) -> None:
        consumers = self.consumers
        producers = {id(t): self._producer(t) for t in self.order}
        for t in self.order:
            for u in (producers[id(t)] or ("", ()))[1]:
                consumers.setdefault(id(u), []).append(t)
        roots = {id(r) for r in self.roots}
        cut_pairs = []
        for t in self.order:
            made = producers[id(t)]
            if made is None:
                self._leaf(t, consumers, roots)
                origin = t.detached_from
                if origin is not None:
                    cut_pairs.append((origin, t))
                continue
            name, inputs, kwargs, tracked = made
            if (
                tracked
                and id(t) not in roots
                and inputs
                and self._param_node(inputs[0])
                and (name in _FOLDABLE or self._param_slice(t, name, kwargs))
            ):
                pid = self.rep[id(inputs[0])]
                self.rep[id(t)] = pid
                tag = {"transpose": ".T", "getitem": _format_index((kwargs or {}).get("index"))}.get(name, f".{name}()")
                if tag not in self.nodes[pid].folded:
                    self.nodes[pid].folded.append(tag)
                continue
            self._op_node(t, roots, name, kwargs, tracked)
            dst = self.rep[id(t)]
            for i, u in enumerate(inputs):
                if id(u) in self.consts:
                    self.raw.append(_RawEdge(None, dst, tuple(u.shape), const=u, key=(id(t), i)))
                elif id(u) in self.rep:
                    self.raw.append(_RawEdge(self.rep[id(u)], dst, tuple(u.shape), key=(id(t), i)))
        for node, t in self.maybe_targets:  # now that every parameter view is known
            if self._looks_like_target(t, consumers):
                node.kind = "target"
                node.label = t.name or "target"
        for origin, t in cut_pairs:
            if id(t) not in self.rep and id(t) not in self.consts:
                continue
            src = self.rep.get(id(origin))
            if src is None:  # cut from a tensor this graph does not reach: drawn faint, in its scope
                name = origin.name or origin.op or "tensor"
                ghost = self._new("ghost", name, origin, detail="not in this graph", cluster=self._place(origin)[0])
                src = ghost.id
                for u in origin.parents:  # linked to what made it, where that is drawn
                    if id(u) in self.rep and self.nodes[self.rep[id(u)]].kind != "param":
                        self.raw.append(_RawEdge(self.rep[id(u)], src, tuple(u.shape)))
            if id(t) in self.consts:  # a detached zero state: draw it once, as a leaf
                del self.consts[id(t)]
                self._new("input", t.name or "detached", t)
                for e in self.raw:
                    if e.const is t:
                        e.src, e.const = self.rep[id(t)], None
            self.raw.append(_RawEdge(src, self.rep[id(t)], tuple(t.shape), cut=True))

    def _place_params(self) -> None:
        """A parameter sits in the innermost scope shared by all its readers, above their timesteps
        (``lstm/l0/fwd`` for ``weight_hh_l0``): drawn once, beside the steps it feeds."""
        if self.group_by is None:
            return
        common: dict[str, tuple[str, ...] | None] = {}
        for e in self.raw:
            if e.src is None or self.nodes[e.src].kind != "param":
                continue
            dst = self.nodes[e.dst]
            path = dst.cluster[:-1] if dst.timestep is not None and self.group_by == "timestep" else dst.cluster
            if e.src not in common:
                common[e.src] = path
            else:
                prefix = common[e.src]
                k = 0
                while k < min(len(prefix), len(path)) and prefix[k] == path[k]:
                    k += 1
                common[e.src] = prefix[:k]
        for nid, path in common.items():
            self.nodes[nid].cluster = path

    def _param_slice(self, t: Tensor, name: str, kwargs: dict | None) -> bool:
        """A fixed slice of a parameter taken before the time loop (GRU ``reset_before`` splits
        ``W_hh^T`` into its r, z and n blocks once): folded into the parameter like ``.T``. A lookup
        by data (an embedding ``E[ids]``) or a slice taken inside a step stays an op."""
        if name != "getitem" or self._place(t)[2] is not None:
            return False
        index = (kwargs or {}).get("index")
        parts = index if isinstance(index, tuple) else (index,)
        return all(isinstance(part, (slice, int)) or part is Ellipsis for part in parts)

    @staticmethod
    def _is_detached(t: Tensor) -> bool:
        """``t`` is ``h.detach()`` of a tensor in the graph (a truncated-BPTT cut): ``t.detached_from``.
        A detach whose origin is gone (freed with an earlier chunk's graph) reads as plain data."""
        return t.detached_from is not None

    def _param_node(self, t: Tensor) -> bool:
        nid = self.rep.get(id(t))
        return nid is not None and self.nodes[nid].kind == "param"

    def _leaf(self, t: Tensor, consumers: dict[int, list[Tensor]], roots: set[int]) -> None:
        cluster, chain, step = self._place(t)
        if t.requires_grad:
            self._new("param", self.param_names.get(id(t)) or t.name or "param", t)
        elif id(t) in self.input_names:
            self._new("input", self.input_names[id(t)], t, cluster=cluster, timestep=step)
        elif id(t) in self.target_names:
            self._new("target", self.target_names[id(t)], t)
        elif id(t) in roots:
            self._new("output", t.name or "output", t)
        elif t.data.ndim == 0 or t.data.dtype == np.bool_:
            return  # 1 - z's "1", where()'s mask: not drawn
        elif (
            t.name is None
            and not self._is_detached(t)
            and t.data.size
            and t.data.dtype.kind in "fiu"
            and not t.data.any()
        ):
            self.consts[id(t)] = t  # a zero state: drawn in each cluster reading it
        else:
            label = t.name or ("detached" if self._is_detached(t) else "input")
            node = self._new("input", label, t, cluster=cluster, timestep=step)
            if step is not None:  # x[t] read inside a step: part of that step
                self.chain_of[node.id] = chain
            elif not t.scope:
                self.maybe_targets.append((node, t))

    def _looks_like_target(self, t: Tensor, consumers: dict[int, list[Tensor]]) -> bool:
        """A target meets the prediction at the loss: a consumer outside the recurrent steps also
        reads an op's output that is not a parameter view (``pred - y``; ``x @ W`` is an input).
        Only leaves made outside every scope qualify (a layer's own leaves are its inputs)."""
        if self._is_detached(t) or id(t) in self.input_names:
            return False
        for c in consumers.get(id(t), ()):
            if self._place(c)[2] is not None:
                continue
            for u in c.parents:
                if u is not t and u.requires_grad and u.op is not None and not self._param_node(u):
                    return True
        return False

    def _op_node(self, t: Tensor, roots: set[int], name: str, kwargs: dict | None, tracked: bool) -> None:
        if id(t) in roots:
            if t.data.size == 1:
                self._new("loss", t.name or "loss", t, op=name, detail=f"{name} = {float(t.data.reshape(-1)[0]):.4g}")
            else:
                self._new("output", t.name or "output", t, op=name, detail=name)
            return
        cluster, chain, step = self._place(t)
        detail = _format_index((kwargs or {}).get("index")) if name == "getitem" else ""
        if not tracked:
            detail = (detail + "  no grad").strip()
        node = self._new(
            "op", t.name or name, t, op=name, cluster=cluster, timestep=step, detail=detail, tracked=tracked
        )
        named = describe(tags_of(t), self.options.notation)  # a gate, candidate or state nn tagged
        if named is not None:
            node.gate, node.meaning, node.equation = named
        if step is not None:
            self.chain_of[node.id] = chain

    # ---- pass 2: chains of timesteps and the state they carry -----------------------------
    def _find_chains(self) -> None:
        for nid, node in self.nodes.items():
            if node.timestep is not None and nid in self.chain_of:
                self.chains.setdefault(self.chain_of[nid], {}).setdefault(node.timestep, []).append(nid)

    def _find_step_inputs(self) -> None:
        """Mark ``x_proj[t]`` (or ``x[t]``) read in step t from a sequence made before the loop.

        ``nn``'s layers say so: step t's ``getitem`` reads the tensor tagged
        ``role="input_projection"``. A hand-written loop has no tags; there it is a ``getitem``
        in step t whose index starts with t, reading a tensor made outside the steps."""
        for e in self.raw:
            node = self.nodes[e.dst]
            if e.src is None or node.timestep is None or e.dst not in self.chain_of:
                continue
            made = self._producer(self.tensor_of[e.dst])
            if made is None or made[0] != "getitem" or not made[1]:
                continue
            source, index = made[1][0], (made[2] or {}).get("index")
            if tags_of(source).get("role") == "input_projection":
                node.step_input = True
            elif self.chain_of.get(e.src) != self.chain_of[e.dst] and _leading_index(index) == node.timestep:
                node.step_input = True

    def _absorb_projections(self) -> None:
        """Draw each step's input term ``x_t W_ih^T + b`` inside that step.

        ``nn``'s layers (and the hand-written test RNN) compute the input projection of EVERY
        timestep with one matmul before the time loop, then step t reads row ``[t]`` of it. Drawn
        as computed, ``W_ih`` and the folded biases would feed one node outside the steps. The
        maths a student learns says step t computes ``x_t W_ih^T + b``: so the ops made once for
        all steps (in the direction's scope, reading parameters) are not drawn as nodes; each
        step's slice node stands for its share of them, labelled with the formula, and gets an
        edge from every parameter and data input they read. The node keeps the real op count
        (``batched``: the ops run once for all steps). Done only when nothing else reads those ops.
        """
        groups: dict[int, list[str]] = {}
        sources: dict[int, Tensor] = {}
        for nid, node in self.nodes.items():
            made = self._producer(self.tensor_of[nid]) if node.step_input else None
            if made is not None and made[0] == "getitem" and made[1]:
                groups.setdefault(id(made[1][0]), []).append(nid)
                sources[id(made[1][0])] = made[1][0]
        touched = {n for e in self.raw if e.cut for n in (e.src, e.dst)}
        for key, steps in groups.items():
            source = sources[key]
            chain = self.chain_of[steps[0]]
            if any(self.chain_of.get(g) != chain for g in steps):
                continue
            members, params, data = self._projection_members(source, chain)
            readers = set(steps) | {self.rep.get(id(u)) for u in members}
            if (
                not params
                or not members
                or any(self.rep.get(id(c)) not in readers for u in members for c in self.consumers.get(id(u), ()))
            ):
                continue  # something else reads them: drawn as they are
            ids = {self.rep[id(u)] for u in members}
            if ids & touched:
                continue
            order = [t for t in self.order if id(t) in {id(u) for u in members}]
            formula = _clip(self._formula(source, {id(u) for u in members}))
            names = tuple(self._producer(u)[0] for u in order)
            edge_shape = {}
            for e in self.raw:
                if e.dst in ids and e.src is not None and e.src not in ids:
                    edge_shape.setdefault(e.src, e.shape)
            self.raw = [e for e in self.raw if e.src not in ids and e.dst not in ids]
            self.absorbed |= ids
            self.projections.append(_Projection(order, steps, set(params)))
            once = f"{_op_summary(names)}: once for all {len(steps)} steps"
            for g in steps:
                node = self.nodes[g]
                node.label, node.batched = formula, names
                node.detail = f"{node.detail}\n{once}"
                for src in [*params, *data]:
                    self.raw.append(_RawEdge(src, g, edge_shape[src]))

    def _projection_members(self, source: Tensor, chain: tuple[str, ...]) -> tuple[list[Tensor], list[str], list[str]]:
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
            nid = self.rep.get(id(u))
            made = self._producer(u)
            if nid is not None and self.nodes[nid].kind == "param":
                if nid not in params:
                    params.append(nid)
            elif (
                made is None
                or not made[3]
                or nid is None
                or self.nodes[nid].kind != "op"
                or self._place(u)[:2] != (chain, None)
            ):
                if nid is not None and nid not in data:
                    data.append(nid)
            else:
                members.append(u)
                stack.extend(made[1])
        return members, params, data

    def _formula(self, t: Tensor, members: set[int]) -> str:
        """``x_t W_ih^T + b_ih + b_hh``: the maths of a step's input term, from the ops that made it."""
        nid = self.rep.get(id(t))
        if nid is not None and self.nodes[nid].kind == "param":
            name = _math_name(self.nodes[nid].label)
            return name + ("^T" if t.op == "transpose" else "")
        if id(t) not in members:
            return "x_t" if nid is not None else _scalar(t)
        name, inputs, _, _ = self._producer(t)
        args = [self._formula(u, members) for u in inputs]
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

    def _describe_fused(self) -> None:
        """Give each drawn ``addmm`` (``c + a @ b``, a matmul and the add after it as one op) the maths
        it computes beside its shape: ``x_t W_ih^T + b_ih + b_hh + h W_hh^T`` in a recurrent step,
        ``h W_hh^T + b_hh`` (GRU), ``x W^T + b`` (a Linear layer). Left as the bare primitive when an
        operand has no name (an intermediate result). The same text in every step, so folding
        matches the steps' nodes as before."""
        for nid, node in self.nodes.items():
            made = self._producer(self.tensor_of[nid]) if node.kind == "op" and nid not in self.absorbed else None
            if made is None or made[0] != "addmm" or len(made[1]) != 3:
                continue
            c, a, b = made[1]
            step = node.timestep
            added, left, right = self._term(c, step), self._term(a, step, state=True), self._term(b, step)
            if left is None and added is not None and self._param_node(c) and right is not None:
                left = "x"  # a layer's input: x W^T + b
            if None in (added, left, right):
                continue
            product = f"{_paren(left)} {_paren(right)}"
            formula = f"{product} + {added}" if self._param_node(c) else f"{added} + {product}"
            node.detail = f"{node.detail}\n{_wrap_sum(formula)}"  # below the shape: the node stays narrow

    def _term(self, t: Tensor, step: int | None, state: bool = False) -> str | None:
        """An operand's name in a formula: a parameter (``W_hh^T``, ``b_hh``), step t's input term, or
        (``state``, in a step) the state the step starts from: ``h`` from the previous step, and also
        the initial state (zeros, ``h0``, or ``h.detach()`` where a truncated-BPTT chunk starts)."""
        if self._param_node(t):  # W_hh^T: the parameter, through the views folded into it
            view, transposed = t, False
            while (made := self._producer(view)) is not None and made[0] in _FOLDABLE and made[1]:
                transposed ^= made[0] == "transpose"
                view = made[1][0]
            if made is not None:  # a slice of it (GRU reset_before's W_hn block): no name of its own
                return None
            return _math_name(self.nodes[self.rep[id(view)]].label) + ("^T" if transposed else "")
        in_step = step is not None
        if id(t) in self.consts:
            return "h" if state and in_step else None  # h_{-1} = 0, drawn as zeros in step 0
        nid = self.rep.get(id(t))
        if nid is None:
            return None
        node = self.nodes[nid]
        if node.step_input:
            return node.label if node.batched else "x_t"
        if state and in_step:
            tags = tags_of(t)
            named = self.state_name.get(nid) or (tags.get("name") if tags.get("role") == "state" else None)
            return named or ("h" if node.timestep != step else None)  # made before the step: its initial state
        return None

    def _find_states(self) -> None:
        """Name the recurrent state: ``h`` also leaves the chain (the output), ``c`` does not."""
        recurrent: set[str] = set()
        leaving: set[str] = set()
        for e in self.raw:
            if e.src is None or e.cut or e.src not in self.chain_of:
                continue
            chain, dst_chain = self.chain_of[e.src], self.chain_of.get(e.dst)
            if dst_chain == chain and self.nodes[e.dst].timestep != self.nodes[e.src].timestep:
                recurrent.add(e.src)
            elif dst_chain != chain:
                leaving.add(e.src)
        for chain, steps in self.chains.items():
            keys = {s: self._step_keys(ids) for s, ids in steps.items()}
            votes_h: dict[tuple, int] = {}
            votes_state: dict[tuple, int] = {}
            for s, ids in steps.items():
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
            for s, ids in steps.items():
                for nid, key in zip(ids, keys[s]):
                    if key == h_key:
                        self.state_name[nid] = "h"
                        self.h_of[(chain, s)] = nid
                    elif key in others:
                        self.state_name[nid] = "c" if len(others) == 1 else "state"
                if h_key is None:
                    out = [nid for nid in ids if nid in leaving]
                    if out:
                        self.h_of[(chain, s)] = out[-1]

    def _step_keys(self, ids: list[str]) -> list[tuple[str, int]]:
        """Position-free names for a step's nodes, equal across steps: (op and index, occurrence)."""
        seen: dict[str, int] = {}
        keys = []
        for nid in ids:
            node = self.nodes[nid]
            name = node.kind + ":" + node.label + re.sub(r"\b\d+\b", "#", node.detail)
            seen[name] = seen.get(name, -1) + 1
            keys.append((name, seen[name]))
        return keys

    # ---- pass 3: long chains elided, or every chain folded to one cell ----------------------
    def _elide(self) -> None:
        """Hide runs of timesteps behind one dashed box each: the middle of a long chain
        (``max_timesteps``), or every step but the one in ``focus``, on either side of it."""
        if self.focus is not None and self.chains and not any(self.focus in steps for steps in self.chains.values()):
            drawn = sorted({t for steps in self.chains.values() for t in steps})
            raise ValueError(
                f"draw_graph: focus={self.focus}, but the graph's timesteps are {drawn[0]} ... {drawn[-1]}"
            )
        for chain, steps in self.chains.items():
            ts = sorted(steps)
            if self.focus is not None:
                runs = [[s for s in ts if s < self.focus], [s for s in ts if s > self.focus]]
            elif len(ts) > self.max_timesteps:
                runs = [ts[(self.max_timesteps + 1) // 2 : len(ts) - self.max_timesteps // 2]]
            else:
                continue
            for gone in runs:
                if gone:
                    self._hide(chain, steps, gone)

    def _hide(self, chain: tuple[str, ...], steps: dict[int, list[str]], gone: list[int]) -> None:
        node = self._new(
            "elided",
            f"... {len(gone)} timesteps hidden ...",
            timestep=gone[0],
            count=len(gone),
            cluster=chain + (f"t{gone[0]}..t{gone[-1]}",),
            detail=f"t = {gone[0]} ... {gone[-1]}",
        )
        self.elided.setdefault(chain, []).append((node.id, gone))
        for s in gone:
            for nid in steps[s]:
                self.hidden[nid] = node.id

    def _fold(self) -> None:
        for chain, steps in self.chains.items():
            ts = sorted(steps)
            rep_step = max(ts, key=lambda s: (len(steps[s]), -s))
            self.folds[chain] = (rep_step, ts)
            cell = chain + ("cell",)
            rep_keys = dict(zip(self._step_keys(steps[rep_step]), steps[rep_step]))
            for nid in steps[rep_step]:
                node = self.nodes[nid]
                node.cluster, node.count = cell, len(ts)
                node.detail = re.sub(rf"^\[{rep_step}(?=[,\]])", "[t", node.detail)  # x_proj[t]
            for s in ts:
                if s == rep_step:
                    continue
                for nid, key in zip(steps[s], self._step_keys(steps[s])):
                    if key in rep_keys:
                        self.merge[nid] = rep_keys[key]
                    else:  # an op only some steps run stays as it is
                        self.nodes[nid].cluster = cell

    def _drawn(self, nid: str) -> str:
        return self.merge.get(nid) or self.hidden.get(nid) or nid

    # ---- pass 4: gradients --------------------------------------------------------------
    def _gradients(self) -> tuple[dict[int, np.ndarray], dict[Any, np.ndarray]]:
        if not self.paint:
            return {}, {}
        keys = None
        if self.grad_shares:
            keys = {
                e.key: (e.src, self._drawn(e.dst))
                for e in self.raw
                if e.key is not None and e.src is not None and self.nodes[e.src].kind == "param"
            }
        grads, shares = gradient_sweep(self.order, self.roots, keys)
        if self.grad_shares:
            for proj in self.projections:
                self._projection_shares(proj, grads, shares)
        return grads, shares

    def _projection_shares(
        self, proj: _Projection, grads: dict[int, np.ndarray], shares: dict[Any, np.ndarray]
    ) -> None:
        """Each step's share of a parameter read by the one pass for all steps: that pass's VJPs
        run on the gradient of step t's slice alone (the VJPs are linear, so the shares add up)."""
        for step in proj.steps:
            t = self.tensor_of[step]
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
                    pid = self.rep.get(id(parent))
                    if pid in proj.params:
                        key = (pid, self._drawn(step))
                        gi = back_to_leaf(parent, gi)
                        shares[key] = gi if key not in shares else shares[key] + gi
                    else:
                        local[id(parent)] = gi if id(parent) not in local else local[id(parent)] + gi

    def _node_norms(self, grads: dict[int, np.ndarray]) -> dict[str, float]:
        """||dL/d node|| for every raw node; drawn nodes get theirs (a folded cell: over all steps)."""
        if not grads:
            return {}
        norms = {nid: _norm(grads[id(t)]) for nid, t in self.tensor_of.items() if id(t) in grads}
        squares: dict[str, float] = {}
        for nid, value in norms.items():
            if nid in self.hidden or nid in self.absorbed:
                continue
            target = self._drawn(nid)
            squares[target] = squares.get(target, 0.0) + value * value
        for nid, s in squares.items():
            self.nodes[nid].grad_norm = float(np.sqrt(s))
        for chain, runs in self.elided.items():
            for eid, gone in runs:
                hs = [norms[self.h_of[(chain, s)]] for s in gone if self.h_of.get((chain, s)) in norms]
                if hs:
                    self.nodes[eid].grad_range = (min(hs), max(hs))
        return norms

    # ---- pass 5: edges and clusters -----------------------------------------------------------
    def _edges(self, shares: dict[Any, np.ndarray], grads: dict[int, np.ndarray]) -> list[Edge]:
        merged: dict[tuple[str, str, str], Edge] = {}
        names: dict[tuple[str, str, str], str] = {}
        const_nodes: dict[tuple[int, tuple[str, ...]], str] = {}
        for e in self.raw:
            dst = self._drawn(e.dst)
            if e.const is not None:
                if e.dst in self.hidden:
                    continue
                cluster = self.nodes[dst].cluster
                ckey = (id(e.const), cluster)
                if ckey not in const_nodes:
                    node = self._new("const", "zeros", cluster=cluster)
                    node.shape, node.dtype, node.scope = tuple(e.const.shape), str(e.const.dtype), e.const.scope
                    const_nodes[ckey] = node.id
                src = const_nodes[ckey]
                kind = "data"
            else:
                src = self._drawn(e.src)
                if e.cut:
                    kind = "cut"
                elif self.nodes[e.src].kind == "param":
                    kind = "parameter"
                elif (
                    e.src in self.chain_of
                    and self.chain_of[e.src] == self.chain_of.get(e.dst)
                    and self.nodes[e.src].timestep != self.nodes[e.dst].timestep
                ):
                    kind = "recurrent"
                else:
                    kind = "data"
                if src == dst and (e.src in self.hidden or (kind != "recurrent" and e.src in self.merge)):
                    continue  # inside one elided block or one folded cell
            key = (src, dst, kind)
            if key in merged:
                merged[key].count += 1
            else:
                merged[key] = Edge(src, dst, kind, e.shape)
                if kind == "recurrent":
                    names[key] = self.state_name.get(e.src, "state")
        for key, edge in merged.items():
            parts = []
            if edge.kind == "recurrent":
                parts.append(names[key])
                chain = self.chain_of.get(key[1])
                if self.fold and chain in self.folds:
                    parts.append(f"loop: {len(self.folds[chain][1])} steps")
            elif edge.kind == "cut":
                parts.append("cut: detach()")
            inside_cell = self.fold and self.nodes[edge.src].cluster == self.nodes[edge.dst].cluster
            if edge.count > 1 and not inside_cell and edge.kind != "recurrent":
                parts.append(f"x{edge.count}")
            if edge.kind == "parameter" and (edge.src, edge.dst) in shares:
                edge.grad_share, edge.grad_share_norm, fraction = _share(
                    shares[(edge.src, edge.dst)], grads[id(self.tensor_of[edge.src])]
                )
                parts.append(f"share {_fmt(edge.grad_share)} ({100 * fraction:.0f}%)")
            edge.label = "  ".join(parts)
        return list(merged.values())

    def _clusters(self, norms: dict[str, float]) -> dict[tuple[str, ...], Cluster]:
        clusters: dict[tuple[str, ...], Cluster] = {}
        for nid, node in self.nodes.items():
            if nid in self.hidden or nid in self.merge or nid in self.absorbed or not node.cluster:
                continue
            for k in range(1, len(node.cluster) + 1):
                path = node.cluster[:k]
                if path not in clusters:
                    clusters[path] = Cluster(path, label=path[-1])
        for path, cl in clusters.items():
            chain, last = path[:-1], path[-1]
            m = _TIMESTEP.fullmatch(last) if self.group_by == "timestep" else None
            if m and chain in self.chains:
                cl.kind, cl.timestep, cl.direction = "timestep", int(m.group(1)), _direction(chain)
                cl.label = f"t = {cl.timestep}"
                cl.state = self.h_of.get((chain, cl.timestep))
                cl.grad_norm = norms.get(cl.state) if cl.state else None
            elif any(eid in self.nodes and self.nodes[eid].cluster == path for eid, _ in self.elided.get(chain, ())):
                gone = next(g for eid, g in self.elided[chain] if self.nodes[eid].cluster == path)
                cl.kind, cl.hidden, cl.timestep, cl.direction = "elided", len(gone), gone[0], _direction(chain)
                cl.label = f"t = {gone[0]} ... {gone[-1]}"
            elif chain in self.folds and last == "cell":
                rep_step, ts = self.folds[chain]
                cl.kind, cl.steps, cl.direction, cl.timestep = "folded", len(ts), _direction(chain), rep_step
                cl.span = (ts[0], ts[-1])
                cl.label = f"one cell, run {len(ts)} times (t = {ts[0]} ... {ts[-1]})"
                cl.state = self.h_of.get((chain, rep_step))
                cl.grad_norm = self.nodes[cl.state].grad_norm if cl.state else None
        return clusters
