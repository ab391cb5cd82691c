"""minigrad.viz: pictures of the unrolled BPTT graph, gradients painted on.

    import minigrad as mg
    loss.backward()
    mg.viz.save(mg.viz.draw_graph(loss, params=model), "bptt.svg")

``draw_graph`` reads the autograd graph (every op output keeps its primitive, inputs and scope
path), builds a plain model of it (:mod:`.graph`), turns that into a ``graphviz.Digraph``
(:mod:`.dot`), and ``save`` renders it with Graphviz's ``dot`` or, on a pip-only machine, with
graphviz-pure (:mod:`.render`). ``explore(loss, "bptt.html")`` writes one self-contained page
that replays the backward pass on the picture (:mod:`.explore`). The engine and ``nn`` know
nothing about this package.
"""

from __future__ import annotations

from typing import Any

from . import dot, graph, render
from . import explore as explorer
from .explore import explore
from .graph import Cluster, Edge, Graph, Node, build_graph
from .render import Digraph, Renderer, RendererNotFoundError, find_renderer, save


def draw_graph(
    root: Any,
    *,
    group_by: str | None = "timestep",
    show_grads: bool | None = None,
    params: Any = None,
    inputs: Any = None,
    targets: Any = None,
    max_timesteps: int | None = 12,
    fold: bool = False,
    backward: bool = False,
    grad_shares: bool = False,
    title: str | None = None,
    tape: Any = None,
    layout: str = "columns",
    focus: int | None = None,
    steps_per_row: int | None = None,
    notation: str = "pytorch",
) -> Digraph:
    """The graph that produced ``root`` as a ``graphviz.Digraph`` (``.source``, ``.render()``,
    inline SVG in Jupyter; it renders with graphviz-pure when Graphviz is not installed).

    Every parameter is drawn once, labelled with its dotted name and shape
    (``rnn.weight_hh_l0 (4, 4)``), with one edge ``parameter -> op`` into every timestep that
    reads it. That includes ``W_ih`` and the biases, which ``nn``'s layers apply to all timesteps
    in ONE matmul before the time loop: step t's input term ``x_t W_ih^T + b`` is drawn inside
    step t (the maths of the step), and its label and the legend say that one matmul computes it
    for all steps (the real op count).

    root: the loss, or any tensor(s) (a list, or a layer's ``out, (h, c)``).
    group_by: ``"timestep"`` (default) nests clusters by scope: layer, direction, then one cluster
        per timestep (scopes ending in ``t<k>``, as ``nn``'s recurrent layers open them), laid out
        left to right in time, UP TO ``max_timesteps`` (12) per layer and direction: a longer
        sequence shows its first and last steps and one box saying how many are hidden. Pass
        ``max_timesteps=None`` to draw one cluster for every timestep. ``"scope"``: a cluster per
        scope, no timestep handling. ``None``: flat.
    show_grads: paint ``||dL/d node||`` on every node (log-scale colours, legend) and ``||dL/dh_t||``
        on every timestep. Default: on when gradients exist (after ``backward()``). The gradients
        are recomputed by a second sweep with the engine's own VJP rows, seeded with ones at
        ``root``: no ``.grad`` is written and no hook runs, and no ``retain_grad()`` is needed.
    params: a Module or ``{name: tensor}``: parameters are labelled with these names. Not needed
        for ``nn`` models: a Module sets each parameter's ``.name`` to its dotted path
        (``rnn.weight_hh_l0``), and that is the label.
    inputs, targets: tensors (or ``{name: tensor}``) to mark as inputs and targets. Unmarked leaves
        are guessed: one read next to the model's prediction outside the recurrent steps is a target.
    max_timesteps: at most this many timestep clusters per layer and direction (default 12).
        Beyond it, the first ``ceil(max_timesteps / 2)`` and last ``floor(max_timesteps / 2)`` steps
        are drawn with one dashed cluster between them saying how many are hidden (its parameter
        and state edges stand for all of them). ``None`` draws every timestep.
    fold: the rolled view: one cell per layer and direction, the recurrent edge a loop labelled
        with the number of steps; node gradients are the norm over all steps.
    backward: draw the gradient graph: every edge reversed (carrying dL/d(tensor) back to the op
        that made it), labelled with the gradient's shape.
    grad_shares: label each parameter edge with that use's share of the parameter's gradient G:
        its gradient projected on G, ``<g_t, G>/||G||``, and that as a percentage. The shares of
        one parameter add up to the ``||G||`` painted on it (100%).
    layout: ``"columns"`` (default) runs time left to right in one strip; ``"rows"`` wraps the
        timesteps into rows (``steps_per_row`` of them, by default about ``sqrt(T/2)``), so a long
        sequence fits a page (an 8-step LSTM at an aspect ratio of at most 2:1).
    focus: a timestep t: step t drawn in full detail, the steps before and after it folded into
        one dashed box each (their edges and ||dL/dh_t|| range kept).
    steps_per_row: with ``layout="rows"``, timesteps per row.
    notation: how gates, candidates and states (tagged by ``nn``'s cells) are named, each with
        its equation: ``"pytorch"`` (i, f, g, o, c, h; r, z, n) or ``"course"`` (Γ_u, Γ_f, c̃,
        Γ_o, c, a; Γ_r, Γ_u, c̃, c), see :mod:`.gates`.
    title: the caption (default: a sentence describing the picture).
    tape: the ``Tape`` of a ``with mg.trace() as tape:`` block around the forward pass. Ops on
        tensors that need no gradient (``x.reshape`` of the data, an ``nn`` layer indexing a
        detached state ``h0[k]``) leave no link in the autograd graph; with the tape they are
        drawn too (grey), and so is a ``detach()`` cut hidden behind them.
    """
    model = build_graph(
        root,
        group_by=group_by,
        show_grads=show_grads,
        params=params,
        inputs=inputs,
        targets=targets,
        max_timesteps=max_timesteps,
        fold=fold,
        backward=backward,
        grad_shares=grad_shares,
        tape=tape,
        layout=layout,
        focus=focus,
        steps_per_row=steps_per_row,
        notation=notation,
    )
    return dot.to_dot(model, title=title)


__all__ = [
    "Cluster",
    "Digraph",
    "Edge",
    "Graph",
    "Node",
    "Renderer",
    "RendererNotFoundError",
    "build_graph",
    "dot",
    "draw_graph",
    "explore",
    "explorer",
    "find_renderer",
    "graph",
    "render",
    "save",
]
