"""The model ``draw_graph`` draws: nodes, edges and clusters (plain dataclasses).

:func:`graph.build_graph` returns a :class:`Graph`; ``dot.to_dot`` draws it, ``explore`` adds
the page around it, and tests read it without parsing DOT.

* **nodes** with a ``kind`` (``op``, ``param``, ``input``, ``target``, ``const``, ``loss``,
  ``output``, ``ghost`` for the far side of a ``detach()``, ``elided`` for hidden timesteps),
  a label, the output shape, the scope path and, when gradients are painted, ``grad_norm`` =
  ``||dL/d node||`` (Frobenius norm);
* **edges** with a ``kind``: ``data``, ``recurrent`` (from one timestep into another of the same
  layer and direction), ``parameter`` (from a parameter into the op that reads it) and ``cut``
  (dashed: a tensor made by ``detach()``, drawn from the tensor it was cut from);
* **clusters** keyed by scope path (``("lstm", "l0", "fwd", "t3")``), one per timestep, nested
  in layer and direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

NODE_KINDS = ("op", "param", "input", "target", "const", "loss", "output", "ghost", "elided")
EDGE_KINDS = ("data", "recurrent", "parameter", "cut")


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
