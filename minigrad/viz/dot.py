"""The graph model as DOT: a ``graphviz.Digraph`` laid out left to right in time.

Reading the picture:

* a rounded box is an op (primitive, output shape); a double-bordered box a parameter (its
  dotted name and shape, drawn once; ``.T`` when the layer transposes it once before the loop);
  an arrow-shaped box an input, a folded-corner box a target, the double octagon the loss;
* a cluster is a scope: layer (``layer 0``), direction (``forward ->``, ``<- backward``) and,
  inside, one box per timestep (``t = 3``). A backward-direction step is drawn right to left
  (its edges reversed in the layout, ``dir=back``), so that direction visibly runs the other way
  and the two meet at the concatenation;
* thick blue (forward) or orange (backward) arrows carry the recurrent state (``h``, ``c``) from
  one step to the next; gold arrows go from a parameter into every step that reads it (written
  ``parameter -> op`` in the DOT in both directions, never mirrored); a dashed red arrow is a
  ``detach()`` cut (truncated BPTT);
* a green-bordered box is step t's input: ``x_t W_ih^T + b`` when the layer computed it for all
  steps with one matmul before the loop (its label says so), else the slice ``x_t``;
* truncated BPTT (chunks ``chunk0``, ``chunk1``, ... joined by ``detach()`` cuts): the chunks run
  left to right, each step labelled with its global time (``t = 4 (chunk1, step 1)``), and the
  parameters stand once in the time column nearest the middle, their edges fanning out both ways;
* with gradients, fill colour is ``||dL/d node||`` on a log scale (see the legend box) and a
  timestep's border and label show ``||dL/dh_t||``.
"""

from __future__ import annotations

import functools
import gc
import html
import math
import re
import textwrap
from typing import Any

from .model import Cluster, Edge, Graph, Node
from .render import Digraph

# viridis, dark (small gradient) to bright (large): ordered in lightness, colour-blind safe.
_VIRIDIS = [
    "#440154",
    "#482475",
    "#414487",
    "#355f8d",
    "#2a788e",
    "#21918c",
    "#22a884",
    "#44bf70",
    "#7ad151",
    "#bddf26",
    "#fde725",
]
_KIND_FILL = {
    "op": "#ffffff",
    "param": "#fff2cc",
    "input": "#d9ead3",
    "target": "#e4dcf1",
    "loss": "#f4cccc",
    "output": "#f4cccc",
    "const": "#ffffff",
    "ghost": "#f3f3f3",
    "elided": "#eeeeee",
}
_KIND_SHAPE = {
    "op": "box",
    "param": "box",
    "input": "cds",
    "target": "note",
    "loss": "doubleoctagon",
    "output": "doubleoctagon",
    "const": "plain",
    "ghost": "box",
    "elided": "box",
}
_BACKWARD_NAMES = ("bwd", "reverse", "backward")
_DIRECTION_FILL = {"fwd": "#f3f7fc", "bwd": "#fdf5ec"}
_RECURRENT_COLOR = {"fwd": "#1f4e99", "bwd": "#b45f06"}
_PARAM_EDGE = "#bf9000"
_CUT_COLOR = "#cc0000"
_ZERO = "#d9d9d9"
_CONST_INK = "#595959"  # "zeros (2, 4)": soft, yet AA on every cluster fill
_NOTE_INK = "#333333"  # captions inside boxes (||dL/dh_t||), on white or near-white fills
_RECURRENT_INK = {"fwd": "#1f4e99", "bwd": "#8a4a05"}  # edge label text: AA on every cluster fill
_PARAM_INK = "#7f6000"


def text(value: Any) -> str:
    """Escape any text for an HTML-like DOT label: quotes, <, >, &, newlines, non-ASCII."""
    escaped = html.escape(str(value), quote=False).replace('"', "&quot;")
    escaped = escaped.encode("ascii", "xmlcharrefreplace").decode("ascii")
    return escaped.replace("\r\n", "\n").replace("\r", "\n").replace("\n", '<BR ALIGN="CENTER"/>')


_PLAIN_UNSAFE = re.compile(r"[^a-zA-Z0-9 ._,:;()\[\]/'=+\-*#]")


def _plain(value: str) -> str:
    """Text for a plain (non-HTML) attribute, where DOT reads escapes and entities: safe characters only."""
    return _PLAIN_UNSAFE.sub("?", value)


_DOT_ID = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*|-?(\.[0-9]+|[0-9]+(\.[0-9]*)?))$")
_DOT_KEYWORDS = frozenset(("node", "edge", "graph", "digraph", "subgraph", "strict"))


def _quote(value: str) -> str:
    """A DOT attribute value as graphviz's own quoting writes it: an HTML-like label ``<...>`` and
    a plain identifier as they are, anything else double-quoted. Our values hold no backslash
    (``_plain`` and ``text`` keep them out), so ``\\"`` is the only escape needed."""
    if value[:1] == "<" and value[-1:] == ">":
        return value
    return _quote_plain(value)


@functools.lru_cache(maxsize=4096)
def _quote_plain(value: str) -> str:
    if _DOT_ID.match(value) and value.lower() not in _DOT_KEYWORDS:
        return value
    return '"' + value.replace('"', '\\"') + '"'


@functools.lru_cache(maxsize=256)
def _key_order(keys: tuple[str, ...], label_first: bool) -> tuple[int, ...]:
    """Positions of ``keys`` in graphviz's order (label first for nodes and edges, then by name)."""
    return tuple(sorted(range(len(keys)), key=lambda k: (label_first and keys[k] != "label", keys[k])))


def _attr_list(attrs: dict[str, str], cache: dict[tuple, str], label_first: bool = True) -> str:
    """`` [label=... k=v ...]`` in graphviz's order (a node's or edge's label first, then by name;
    a ``graph [...]`` line all by name); each distinct attribute set is formatted once (most
    edges share theirs)."""
    if not attrs:
        return ""
    values = tuple(attrs.values())
    keys = tuple(attrs)
    key = (label_first, keys, values)
    line = cache.get(key)
    if line is None:
        line = cache[key] = (
            " [" + " ".join(f"{keys[k]}={_quote(values[k])}" for k in _key_order(keys, label_first)) + "]"
        )
    return line


def _shape(shape: tuple[int, ...]) -> str:
    return "()" if not shape else "(" + ", ".join(str(s) for s in shape) + ")"


def _sci(x: float) -> str:
    return "0" if x == 0 else f"{x:.1e}"


class Palette:
    """Gradient norm -> colour on a log scale between the smallest and largest norm in the graph."""

    def __init__(self, low: float, high: float) -> None:
        self.lo = math.log10(low)
        self.hi = math.log10(high)

    def fraction(self, value: float) -> float:
        if self.hi - self.lo < 1e-12:
            return 0.5
        return min(1.0, max(0.0, (math.log10(value) - self.lo) / (self.hi - self.lo)))

    def color(self, value: float | None) -> str | None:
        if value is None:
            return None
        if value <= 0:
            return _ZERO
        return _ramp(round(self.fraction(value) * 1000))


@functools.lru_cache(maxsize=1001)
def _ramp(step: int) -> str:
    """Viridis at ``step / 1000`` of the way from dark to bright, interpolated (1001 shades, each computed once)."""
    f = step / 1000 * (len(_VIRIDIS) - 1)
    i = min(int(f), len(_VIRIDIS) - 2)
    a, b, w = _VIRIDIS[i], _VIRIDIS[i + 1], f - i
    rgb = [round(int(a[k : k + 2], 16) * (1 - w) + int(b[k : k + 2], 16) * w) for k in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in rgb)


_NAMED = {"white": "#ffffff", "black": "#000000"}


def relative_luminance(color: str) -> float:
    """WCAG 2 relative luminance of ``#rrggbb`` (or ``white``/``black``): 0 for black, 1 for white."""
    hex_ = _NAMED.get(color, color).lstrip("#")[:6]
    channels = [int(hex_[k : k + 2], 16) / 255 for k in (0, 2, 4)]
    r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(text_color: str, fill: str) -> float:
    """WCAG 2 contrast ratio (L_light + 0.05) / (L_dark + 0.05), from 1 to 21; AA asks >= 4.5 for text."""
    a, b = relative_luminance(text_color), relative_luminance(fill)
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


SMALL_FONT = 10  # points: the second lines of labels (shape, gradient), edge labels, the legend's keys
AA = 4.5  # WCAG AA contrast for normal-size text: every label in the picture meets it
# A label's main text and its second, softer lines (shape, gradient): black and a dark grey on
# light fills, white and a light grey on dark ones. The greys are the softest that keep AA on
# every fill they are used on (checked by ``ink``, which falls back to black or white).
_INKS = {False: ("black", "#444444"), True: ("white", "#e8e8e8")}


@functools.lru_cache(maxsize=4096)
def ink(fill: str) -> tuple[str, str]:
    """(main, soft) text colours for a label on ``fill``: whichever of black and white contrasts
    more, and a grey of the same side if it still has AA contrast (else the main colour)."""
    on_dark = contrast_ratio("white", fill) > contrast_ratio("black", fill)
    main, soft = _INKS[on_dark]
    return main, soft if contrast_ratio(soft, fill) >= AA else main


def _font(size: int, color: str, body: str) -> str:
    return f'<FONT POINT-SIZE="{size}" COLOR="{color}">{body}</FONT>'


def to_dot(graph: Graph, title: str | None = None) -> Digraph:
    """Turn the model into a ``graphviz.Digraph`` (the :class:`render.Digraph` subclass)."""
    collecting = gc.isenabled()
    gc.disable()  # many strings and lists, no cycles: the collector only slows it down
    try:
        return _to_dot(graph, title)
    finally:
        if collecting:
            gc.enable()


def _to_dot(graph: Graph, title: str | None) -> Digraph:
    palette = Palette(*graph.grad_range) if graph.grads and graph.grad_range else None
    dot = Digraph(
        "bptt",
        graph_attr={
            "rankdir": "LR",
            "newrank": "true",
            "compound": "true",
            "fontname": "Helvetica",
            "fontsize": "12",
            "nodesep": "0.18",
            "ranksep": "0.3",
            "labelloc": "t",
            "labeljust": "l",
            "bgcolor": "white",
            "label": "<"
            + text(title if title is not None else _title(graph)).replace('<BR ALIGN="CENTER"/>', '<BR ALIGN="LEFT"/>')
            + '<BR ALIGN="LEFT"/>>',
        },
        node_attr={
            "fontname": "Helvetica",
            "fontsize": "10",
            "shape": "box",
            "style": "rounded,filled",
            "fillcolor": "white",
            "color": "#555555",
            "margin": "0.07,0.03",
            "height": "0.3",
            "penwidth": "1",
        },
        edge_attr={"fontname": "Helvetica", "fontsize": "10", "color": "#666666", "arrowsize": "0.6"},
    )
    if graph.nodes and graph.layout == "rows":
        # Rows fit a page: the legend goes under the caption instead of taking a column of its own,
        # and ranks sit a little closer (the README's picture keeps 9 px labels at 900 px wide).
        dot.graph_attr["ranksep"] = "0.25"
        # Left to itself, graphviz orders the boxes of a column to cross the fewest edges, and the
        # rows came out t = 1, t = 2, t = 0; few crossing passes keep them in the order written.
        dot.graph_attr["mclimit"] = "0.1"
        caption = dot.graph_attr["label"][1:-1]
        dot.graph_attr["label"] = (
            f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="0"><TR><TD ALIGN="LEFT">'
            f'{caption}</TD></TR><TR><TD ALIGN="LEFT">{_legend(graph, palette)}</TD></TR>'
            f"</TABLE>>"
        )
    elif graph.nodes:
        dot.node("legend", label=f"<{_legend(graph, palette)}>", shape="plaintext", style="", margin="0")
    children: dict[tuple[str, ...], list[Cluster]] = {}
    for path, cluster in graph.clusters.items():
        children.setdefault(path[:-1], []).append(cluster)
    members: dict[tuple[str, ...], list[Node]] = {}
    for node in graph.nodes.values():
        members.setdefault(node.cluster, []).append(node)
    # Node and edge statements go straight into ``body`` (graphviz's public list of DOT lines),
    # formatted by _attr_list: graphviz's per-call quoting was most of the time for 20,000 steps.
    cache: dict[tuple, str] = {}
    for node in members.get((), []):
        dot.body.append(f"\t{node.id}{_attr_list(_node_attrs(node, palette, graph), cache)}\n")
    # Clusters as DOT lines, deepest first, so each is complete when its parent takes it (no
    # recursion); a child's lines are indented once more inside its parent's braces.
    lines_of: dict[tuple[str, ...], list[str]] = {}
    # layout="rows": graphviz stacks the boxes of one column bottom-up in the order it reads them
    # when it is not left to reorder them (mclimit, below): last step first puts t = 0 on top
    rows_up = graph.layout == "rows"
    chunks = _chunks(graph)  # truncated BPTT: laid out chunk after chunk
    offsets = _chunk_offsets(chunks)
    used: set[str] = set()
    for k, path in enumerate(sorted(graph.clusters, key=len, reverse=True)):
        attrs = _cluster_attrs(graph.clusters[path], palette, offsets.get(path[0]))
        lines = [
            f"subgraph {_cluster_id(path, k, used)} {{\n",
            f"\tgraph{_attr_list(attrs, cache, label_first=False)}\n",
        ]
        lines += [
            f"\t{node.id}{_attr_list(_node_attrs(node, palette, graph), cache)}\n" for node in members.get(path, [])
        ]
        for child in sorted(children.get(path, []), key=_order, reverse=rows_up):
            lines += ["\t" + line for line in lines_of.pop(child.path)]
        lines.append("}\n")
        lines_of[path] = lines
    for top in sorted(children.get((), []), key=_order):
        dot.body += ["\t" + line for line in lines_of.pop(top.path)]
    bounds = _step_bounds(graph)
    rows = _rows(graph) if graph.layout == "rows" else None
    for edge in graph.edges:
        tail, head, attrs = _edge_attrs(
            edge, graph, palette, bounds, chunked=bool(chunks) and not graph.folded, rows=rows
        )
        dot.body.append(f"\t{tail} -> {head}{_attr_list(attrs, cache)}\n")
    if rows is not None:
        _stack_the_tail(dot, graph)
    if chunks and not graph.folded:  # a folded cell has no time columns to line up
        _lay_out_chunks(dot, graph, chunks)
    return dot


def _stack_the_tail(dot: Digraph, graph: Graph) -> None:
    """``layout="rows"``: the ops after the time loop (a head, the loss) in one column, top to
    bottom, instead of a row of their own that would make the picture wider than the steps."""
    in_steps = {n.id for n in graph.nodes.values() if n.cluster}
    after = {e.dst for e in graph.edges if e.src in in_steps and not graph.nodes[e.dst].cluster}
    grow = list(after)
    while grow:
        nid = grow.pop()
        for e in graph.edges:
            if e.src == nid and e.dst not in after and not graph.nodes[e.dst].cluster:
                after.add(e.dst)
                grow.append(e.dst)
    tail = [nid for nid in graph.nodes if nid in after and graph.nodes[nid].kind in ("op", "loss", "output")]
    if len(tail) > 1:
        dot.body.append("\t{rank=same; " + "; ".join(tail) + "}\n")


def _natural(name: str) -> tuple[int, str]:
    """``chunk10`` after ``chunk9``: the trailing number first, then the name."""
    digits = name[len(name.rstrip("0123456789")) :]
    return (int(digits) if digits else -1, name)


def _chunks(graph: Graph) -> list[tuple[str, list[int]]]:
    """Truncated BPTT: the top-level scopes that hold timesteps, in time order, each with the
    number of timesteps of each of its chains. Only when ``detach()`` cuts link two or more such
    scopes (``chunk0``, ``chunk1``, ...); else ``[]``."""
    if not any(e.kind == "cut" for e in graph.edges):
        return []
    steps = [c for c in graph.clusters.values() if c.kind in ("timestep", "elided", "folded")]
    if not steps or any(len(c.path) < 2 for c in steps):
        return []
    length: dict[str, dict[tuple[str, ...], int]] = {}
    for c in steps:
        if c.kind == "folded":
            last = c.span[1]
        else:
            last = c.timestep + (c.hidden - 1 if c.kind == "elided" else 0)
        chains = length.setdefault(c.path[0], {})
        chains[c.path[:-1]] = max(chains.get(c.path[:-1], 0), last + 1)
    if len(length) < 2:
        return []
    return [(top, list(length[top].values())) for top in sorted(length, key=_natural)]


def _chunk_offsets(chunks: list[tuple[str, list[int]]]) -> dict[str, int]:
    """Chunk name -> the global timestep its local ``t = 0`` is (chunk k continues chunk k-1)."""
    offsets, start = {}, 0
    for top, lengths in chunks:
        offsets[top] = start
        start += max(lengths)
    return offsets


def _lay_out_chunks(dot: Digraph, graph: Graph, chunks: list[tuple[str, list[int]]]) -> None:
    """Chunk k+1 right of chunk k's loss, and the parameters in the time column nearest the middle
    of time (the gap at a cut between two chunks, or a middle timestep), above or below the
    chunks, so their edges fan out left and right to every step instead of all crossing the
    picture from its left edge. Their own edges do not rank (``_edge_attrs``): this places them."""
    params = [n.id for n in graph.nodes.values() if n.kind == "param" and not n.cluster]
    offsets = _chunk_offsets(chunks)
    middle = (sum(max(lengths) for _, lengths in chunks) - 1) / 2
    candidates: list[tuple[float, int, str]] = []  # (distance to the middle, gap first, node)
    names = [top for top, _ in chunks]
    for e in graph.edges:  # a cut: the detached state starts the next chunk
        src = graph.nodes[e.src].cluster[:1]
        if e.kind == "cut" and src and src[0] in names[:-1]:
            gap = offsets[names[names.index(src[0]) + 1]] - 0.5
            candidates.append((abs(gap - middle), 0, e.dst))
    for c in graph.clusters.values():
        if c.kind == "timestep" and c.path[0] in offsets:
            inside = c.state or next((n.id for n in graph.nodes.values() if n.cluster == c.path), None)
            if inside is not None:
                candidates.append((abs(offsets[c.path[0]] + c.timestep - middle), 1, inside))
    # Chunk k+1 starts right of chunk k's loss, not just of its last state: the chunks share no
    # time column, so they can stand in one row (chunk k's head and loss are in its scope too).
    chunk_of = {n.id: n.cluster[0] for n in graph.nodes.values() if n.cluster and n.cluster[0] in offsets}
    ends: dict[str, list[str]] = {}
    for e in graph.edges:
        if graph.nodes[e.dst].kind in ("loss", "output") and e.src in chunk_of:
            ends.setdefault(chunk_of[e.src], []).append(e.dst)
    for e in graph.edges:
        if e.kind == "cut" and e.src in chunk_of:
            for end in dict.fromkeys(ends.get(chunk_of[e.src], [])):
                dot.edge(end, e.dst, style="invis")
    if params and candidates:
        dot.body.append("\t{rank=same; " + "; ".join([min(candidates)[2], *params]) + "}\n")


def _order(cluster: Cluster) -> tuple:
    """Siblings in time order; direction clusters forward first; other scopes by name."""
    if cluster.timestep is not None:
        return (1, cluster.timestep, "")
    return (0, 0 if cluster.path[-1] in ("fwd", "forward") else 1, cluster.path[-1])


def _title(graph: Graph) -> str:
    steps = {c.timestep for c in graph.clusters.values() if c.kind == "timestep"}
    steps |= {t for c in graph.clusters.values() if c.kind == "elided" for t in (c.timestep, c.timestep + c.hidden - 1)}
    ops = sum(1 for n in graph.nodes.values() if n.kind == "op")
    parts = []
    chunks = _chunks(graph)
    if chunks and not graph.folded:
        sizes = [max(lengths) for _, lengths in chunks]
        split = f"of {sizes[0]}" if len(set(sizes)) == 1 else "(" + " + ".join(map(str, sizes)) + ")"
        parts.append(
            f"Truncated backpropagation through time: {sum(sizes)} timesteps (t = 0 ... {sum(sizes) - 1}) "
            f"in {len(sizes)} chunks {split}, {ops} ops drawn"
        )
        parts.append(
            "each chunk starts from the previous one's last state, cut by detach(): no gradient flows back across a cut"
        )
    elif graph.folded and chunks:
        sizes = [max(lengths) for _, lengths in chunks]
        parts.append(
            f"Folded (rolled) view of truncated BPTT: {sum(sizes)} timesteps (t = 0 ... {sum(sizes) - 1}) "
            f"in {len(sizes)} chunks, one cell per layer, direction and chunk"
        )
        parts.append(
            "each chunk starts from the previous one's last state, cut by detach(): no gradient flows back across a cut"
        )
    elif graph.folded:
        parts.append("Folded (rolled) view: one cell per layer and direction, the loop runs once per step")
    elif steps:
        parts.append(
            f"Backpropagation through time: the graph unrolled over {max(steps) + 1} timesteps "
            f"(t = {min(steps)} ... {max(steps)}), {ops} ops drawn"
        )
    else:
        parts.append(f"Computation graph, {ops} ops")
    if graph.backward:
        parts.append("backward (gradient) graph: arrows carry dL/d(tensor) back to what made it")
    elif graph.grads:
        parts.append("forward graph, gradients painted on")
    parts.append("parameters drawn once, with an edge into every step that reads them")
    return "\n".join(parts)


def legend_keys(graph: Graph) -> list[tuple[str, str]]:
    """(mark, meaning) for every kind of mark this picture contains, in reading order: what the
    legend explains. Marks absent from the picture are left out, so the legend stays short."""
    nodes, edges = list(graph.nodes.values()), graph.edges
    kinds = {n.kind for n in nodes}
    keys: list[tuple[str, str]] = []
    if "op" in kinds:
        keys.append(
            ("rounded box", "an op: its primitive, output shape" + (" and ||dL/d output||" if graph.grads else ""))
        )
    if "param" in kinds:
        keys.append(
            ("double border", "a parameter, drawn once (its name and shape); .T once: transposed once before the loop")
        )
    if "input" in kinds:
        keys.append(("arrow box", "an input (data, or a state cut by detach())"))
    if "target" in kinds:
        keys.append(("folded corner", "a target the loss compares with"))
    if kinds & {"loss", "output"}:
        keys.append(("double octagon", "the loss (or the output drawn from)"))
    if "const" in kinds:
        keys.append(("small grey text", "a zero initial state, drawn in each box that reads it"))
    if any(n.kind == "op" and n.op == "addmm" for n in nodes):
        keys.append(
            (
                "addmm",
                "c + a @ b as ONE op (PyTorch's addmm): the matmul and the add after it, so the graph "
                "keeps one array, not two; the sum it computes is written below its shape",
            )
        )
    if any(n.kind == "op" and not n.tracked for n in nodes):
        keys.append(("grey dashed box", "an op on tensors needing no gradient (seen by mg.trace): no gradient"))
    if "ghost" in kinds:
        keys.append(("dashed box", "a tensor outside this graph, where a detach() cut started"))
    if "elided" in kinds:
        keys.append(
            (
                "dashed box '... hidden ...'",
                "timesteps not drawn (max_timesteps); its arrows stand for all of them, dotted",
            )
        )
    named = {(n.gate, n.meaning) for n in nodes if n.gate}
    if named:
        keys.append(
            (
                "gate names",
                ", ".join(f"{g} {m}" for g, m in sorted(named)) + "; each with its equation, its primitive below",
            )
        )
    if any(n.batched for n in nodes):
        keys.append(
            (
                "green border",
                "x_t W_ih^T + b, step t's input term: ONE matmul computes it for all steps "
                "before the loop; each step reads its rows, so W_ih and the biases feed "
                "every step",
            )
        )
    elif any(n.step_input for n in nodes):
        keys.append(("green border", "x_t, the input entering step t"))
    if any(e.kind == "recurrent" for e in edges):
        keys.append(
            (
                "thick blue/orange arrow",
                "the state (h, c) carried to the next step"
                + ("; loop: N steps, the cell runs N times" if graph.folded else ""),
            )
        )
    if any(e.kind == "parameter" for e in edges):
        keys.append(("thin gold arrow", "a parameter read by an op"))
    if any(e.kind == "data" for e in edges):
        keys.append(("grey arrow", "a tensor passed to the next op"))
    if any(e.kind == "cut" for e in edges):
        keys.append(("dashed red arrow", "cut by detach(): no gradient passes"))
    if any(e.count > 1 and re.search(r"(^|\s)x\d+", e.label) for e in edges):
        keys.append(
            ("x4 on an arrow", "4 arrows drawn as one (the same tensor read 4 times, or by 4 hidden or folded steps)")
        )
    if any(e.grad_share is not None for e in edges):
        keys.append(
            (
                "share s (p%)",
                "this use's part of the parameter's gradient G: its gradient g projected on"
                " G, <g, G>/||G||; a parameter's shares add up to its ||G|| (100%)",
            )
        )
    if graph.backward:
        keys.append(
            ("(VJP)", "the op's vector-Jacobian product; arrows carry dL/d(tensor), labelled grad with its shape")
        )
    if graph.grads:
        keys.append(("grad g", "||dL/d node||, the Frobenius norm of the gradient reaching the node"))
        if any(c.kind in ("timestep", "folded") for c in graph.clusters.values()):
            keys.append(("step border and label", "||dL/dh_t||, the gradient reaching step t's hidden state"))
        keys.append(("light grey fill", "zero gradient"))
    return keys


def _legend(graph: Graph, palette: Palette | None) -> str:
    rows = []
    count = 1
    if palette is not None:
        lo, hi = graph.grad_range
        count = 6 if hi > lo else 1
        cells = []
        for k in range(count):
            value = lo * (hi / lo) ** (k / (count - 1)) if count > 1 else lo
            fill = palette.color(value)
            cells.append(f'<TD BGCOLOR="{fill}">{_font(SMALL_FONT, ink(fill)[0], _sci(value))}</TD>')
        title = "<B>fill: gradient norm ||dL/d node||, log scale</B>"
        note = "dark: smallest (vanishing) ... bright: largest"
        rows.append(f'<TR><TD COLSPAN="{count}" BORDER="0">{_font(SMALL_FONT, "black", title)}</TD></TR>')
        rows.append("<TR>" + "".join(cells) + "</TR>")
        rows.append(f'<TR><TD COLSPAN="{count}" BORDER="0">{_font(SMALL_FONT, _NOTE_INK, note)}</TD></TR>')
    lines = []
    for mark, meaning in legend_keys(graph):  # wrapped, so the legend stays narrower than the picture
        wrapped = textwrap.wrap(f"{mark}: {meaning}", 78, subsequent_indent="    ")
        first = wrapped[0][len(mark) + 1 :]
        lines.append(f"<B>{text(mark)}</B>:{text(first)}")
        lines += [text(rest).replace(" ", "&#160;", 4) for rest in wrapped[1:]]
    if lines:
        rows.append(
            f'<TR><TD COLSPAN="{count}" BORDER="0" ALIGN="LEFT">'
            + _font(SMALL_FONT, _NOTE_INK, '<BR ALIGN="LEFT"/>'.join(lines) + '<BR ALIGN="LEFT"/>')
            + "</TD></TR>"
        )
    return (
        '<TABLE BORDER="1" COLOR="#999999" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2" BGCOLOR="white">'
        + "".join(rows)
        + "</TABLE>"
    )


_UNTRACKED_FILL = "#f3f3f3"  # an op on tensors needing no gradient (seen by a trace): no colour


def _node_attrs(node: Node, palette: Palette | None, graph: Graph) -> dict[str, str]:
    shape = _KIND_SHAPE.get(node.kind, "box")
    grad = node.grad_norm
    if node.kind == "elided" and node.grad_range:
        grad = node.grad_range[1]
    untracked = node.kind == "op" and not node.tracked
    fill = (palette.color(grad) if palette is not None and grad is not None else None) or _KIND_FILL.get(
        node.kind, "#ffffff"
    )
    if untracked:
        fill = _UNTRACKED_FILL
    main, soft = ink(fill)  # text colours with AA contrast on this fill
    name = text(node.label)
    if graph.backward and node.kind in ("op", "param", "loss", "output"):
        name += " (VJP)"
    if node.kind == "const":  # drawn on its cluster's fill, which is near white
        label = _font(SMALL_FONT, _CONST_INK, f"{name} {_shape(node.shape)}")
        return {"label": f"<{label}>", "shape": "plain", "style": ""}
    lines = [f"<B>{name}</B>" if node.kind in ("param", "loss", "output", "input", "target") or node.batched else name]
    second = _shape(node.shape)
    if node.gate:  # nn tagged it: its name and equation first, the primitive kept below
        lines = [f"<B>{text(node.gate)}</B>  {text(node.meaning)}", _font(SMALL_FONT, main, text(node.equation))]
        second = f"{name} {second}"
    if node.kind == "param":  # "rnn.weight_hh_l0 (4, 4)": name and shape on one line
        lines[0] += " " + second
        second = text(", ".join(node.folded)) + " once" if node.folded else ""
    elif node.folded:
        second += "  " + text(", ".join(node.folded)) + " once"
    if node.detail:  # on the shape's line, or from the next line on (an addmm's formula)
        second += ("" if node.detail.startswith("\n") else "  ") + text(node.detail)
    if node.kind == "elided":
        second = (
            f"||dL/dh_t|| from {_sci(node.grad_range[0])} to {_sci(node.grad_range[1])}"
            if node.grad_range
            else "max_timesteps=None shows them"
        )
    if second:
        lines.append(_font(SMALL_FONT, soft, second))
    if grad is not None and node.kind != "elided":
        lines.append(_font(SMALL_FONT, soft, f"grad {_sci(grad)}"))
    if node.step_input and not node.batched:  # x_t entering its step: an input's green border
        lines[0] = f"<B>x_t</B>  {lines[0]}"
    attrs = {"label": "<" + "<BR/>".join(lines) + ">", "shape": shape, "fillcolor": fill, "fontcolor": main}
    if node.step_input:
        attrs.update(color="#38761d", penwidth="2.5")
    if untracked:  # no gradient flows here (seen via a trace)
        attrs["style"] = "rounded,filled,dashed"
    elif node.kind == "op":
        attrs["style"] = "rounded,filled"
    elif node.kind in ("ghost", "elided"):
        attrs["style"] = "rounded,filled,dashed"
    else:
        attrs["style"] = "filled"
    if node.kind == "param":
        attrs["peripheries"] = "2"
        attrs["color"] = "#7f6000"
    if node.kind == "loss":
        attrs["color"] = "#990000"
    tip = f"{node.label} {_shape(node.shape)} {node.dtype} scope '{node.scope}'"
    if node.batched:  # the real ops, run once before the time loop
        tip += f"; computed for all steps at once by: {', '.join(node.batched)}; this step reads its rows"
    attrs["tooltip"] = _plain(tip)
    return attrs


def _cluster_id(path: tuple[str, ...], k: int, used: set[str]) -> str:
    """``cluster_rnn_l0_fwd_t3``: the scope path, so the DOT text says which box is which."""
    ident = "cluster_" + re.sub(r"\W", "_", "_".join(path))
    if ident in used:
        ident = f"{ident}_{k}"
    used.add(ident)
    return ident


def _cluster_attrs(cluster: Cluster, palette: Palette | None, offset: int | None = None) -> dict[str, str]:
    """``offset``: in truncated BPTT, the global timestep of the chunk's own ``t = 0``."""
    attrs = {
        "style": "rounded,filled",
        "color": "#aaaaaa",
        "fontname": "Helvetica",
        "fontsize": "10",
        "labeljust": "c",
        "penwidth": "1",
    }
    name = cluster.path[-1]
    if offset is not None and len(cluster.path) == 1:
        attrs.update(fillcolor="#fdfdfd", label=f"<<B>{text(name)}</B>: from t = {offset}>")
    elif cluster.kind == "timestep":
        label = f"<B>t = {cluster.timestep}</B>"
        if offset is not None:
            label = f"<B>t = {offset + cluster.timestep}</B> ({text(cluster.path[0])}, step {cluster.timestep})"
        attrs["fillcolor"] = "white"
        if cluster.grad_norm is not None:
            label += "<BR/>" + _font(SMALL_FONT, _NOTE_INK, f"||dL/dh_t|| {_sci(cluster.grad_norm)}")
            if palette is not None:
                attrs["color"], attrs["penwidth"] = palette.color(cluster.grad_norm), "3"
        attrs["label"] = f"<{label}>"
    elif cluster.kind == "elided":
        span = (
            cluster.label
            if offset is None
            else f"t = {offset + cluster.timestep} ... {offset + cluster.timestep + cluster.hidden - 1}"
        )
        attrs.update(style="rounded,dashed,filled", fillcolor="white", color="#777777", label=f"<<B>{text(span)}</B>>")
    elif cluster.kind == "folded":
        label = f"<B>{text(cluster.label)}</B>"
        if offset is not None:  # truncated BPTT: the steps' global time, as the unfolded picture has it
            first, last = offset + cluster.span[0], offset + cluster.span[1]
            label = (
                f"<B>one cell, run {cluster.steps} times (t = {first} ... {last})</B>"
                f" ({text(cluster.path[0])}, steps {cluster.span[0]} ... {cluster.span[1]})"
            )
        if cluster.grad_norm is not None:
            label += "<BR/>" + _font(SMALL_FONT, _NOTE_INK, f"||dL/dh|| over all steps {_sci(cluster.grad_norm)}")
        attrs.update(fillcolor="white", penwidth="2", label=f"<{label}>")
    elif name in ("fwd", "forward"):
        attrs.update(fillcolor=_DIRECTION_FILL["fwd"], label=f"<<B>forward direction</B> ({text(name)}) --&gt;>")
    elif name in _BACKWARD_NAMES:
        attrs.update(
            fillcolor=_DIRECTION_FILL["bwd"],
            label=f"<&lt;-- <B>backward direction</B> ({text(name)}): runs t = T-1 ... 0>",
        )
    elif len(name) > 1 and name[0] == "l" and name[1:].isdigit():
        attrs.update(fillcolor="#fbfbfb", label=f"<<B>layer {name[1:]}</B> ({text(name)})>")
    else:
        attrs.update(fillcolor="#fdfdfd", label=f"<<B>{text(name)}</B>>")
    return attrs


def _steps_cluster(node: Node, graph: Graph) -> Cluster | None:
    cluster = graph.clusters.get(node.cluster)
    return cluster if cluster is not None and cluster.kind in ("timestep", "elided", "folded") else None


def _in_backward_steps(node: Node, graph: Graph) -> bool:
    cluster = graph.clusters.get(node.cluster)
    return cluster is not None and cluster.kind in ("timestep", "elided", "folded") and cluster.direction == "bwd"


def _step_bounds(graph: Graph) -> dict[tuple[str, ...], tuple[int, int]]:
    """Each chain's first and last drawn timestep, computed once (per edge it made drawing quadratic)."""
    bounds: dict[tuple[str, ...], tuple[int, int]] = {}
    for c in graph.clusters.values():
        if c.kind == "timestep":
            lo, hi = bounds.get(c.path[:-1], (c.timestep, c.timestep))
            bounds[c.path[:-1]] = (min(lo, c.timestep), max(hi, c.timestep))
    return bounds


def steps_per_row(graph: Graph) -> int:
    """``layout="rows"``: timestep boxes per row, ``graph.steps_per_row`` or about ``sqrt(T / 2)``
    for T boxes in the longest chain: an LSTM step is about twice as wide as it is tall, so
    that many per row gives a picture about as wide as it is tall."""
    if graph.steps_per_row:
        return graph.steps_per_row
    longest = max((len(v) for v in _step_columns(graph).values()), default=1)
    return max(1, math.ceil(math.sqrt(longest / 2)))


def _step_columns(graph: Graph) -> dict[tuple[str, ...], list[tuple[str, ...]]]:
    """Each chain's timestep (and elided) boxes, in time order."""
    chains: dict[tuple[str, ...], list[Cluster]] = {}
    for c in graph.clusters.values():
        if c.kind in ("timestep", "elided"):
            chains.setdefault(c.path[:-1], []).append(c)
    return {chain: [c.path for c in sorted(cs, key=lambda c: c.timestep)] for chain, cs in chains.items()}


def _rows(graph: Graph) -> dict[tuple[str, ...], tuple[int, bool]]:
    """Timestep box -> (its row, whether it starts the row), for ``layout="rows"``."""
    per_row = steps_per_row(graph)
    return {
        path: (k // per_row, k % per_row == 0)
        for paths in _step_columns(graph).values()
        for k, path in enumerate(paths)
    }


def _first_step(
    node: Node, graph: Graph, bounds: dict[tuple[str, ...], tuple[int, int]], leftmost: bool = False
) -> bool:
    """Whether ``node`` is in the step its chain runs first (t = 0, or T-1 going backward), or
    with ``leftmost``, in its chain's step t = 0 (drawn leftmost in both directions)."""
    cluster = graph.clusters.get(node.cluster)
    if cluster is None or cluster.kind != "timestep":
        return False
    lo, hi = bounds[node.cluster[:-1]]
    return cluster.timestep == (hi if cluster.direction == "bwd" and not leftmost else lo)


def _layer(node: Node) -> tuple[str, ...] | None:
    """The layer scope a node is drawn in (``lstm/l1``), if any."""
    return _layer_of(node.cluster)


@functools.lru_cache(maxsize=4096)
def _layer_of(cluster: tuple[str, ...]) -> tuple[str, ...] | None:
    for k in range(len(cluster), 0, -1):
        part = cluster[k - 1]
        if len(part) > 1 and part[0] == "l" and part[1:].isdigit():
            return cluster[:k]
    return None


def _backward_region(node: Node) -> tuple[str, ...] | None:
    """The backward-direction scope a node is drawn in (``lstm/l0/bwd``), if any."""
    return _backward_region_of(node.cluster)


@functools.lru_cache(maxsize=4096)
def _backward_region_of(cluster: tuple[str, ...]) -> tuple[str, ...] | None:
    for k in range(len(cluster), 0, -1):
        if cluster[k - 1] in _BACKWARD_NAMES:
            return cluster[:k]
    return None


def _edge_attrs(
    edge: Edge,
    graph: Graph,
    palette: Palette | None,
    bounds: dict[tuple[str, ...], tuple[int, int]],
    chunked: bool = False,
    rows: dict[tuple[str, ...], tuple[int, bool]] | None = None,
) -> tuple[str, str, dict[str, str]]:
    """DOT tail, head and attributes of ``edge``. ``chunked``: truncated BPTT (``_chunks``), whose
    parameters are placed by ``_lay_out_chunks`` and whose chunks follow each other along the cuts."""
    attrs: dict[str, str] = {}
    # Layout works in forward terms: producer -> consumer (a gradient graph's edges point back).
    producer, consumer = (edge.dst, edge.src) if graph.backward else (edge.src, edge.dst)
    a, b = graph.nodes[producer], graph.nodes[consumer]
    a_in_steps, b_in_steps = _steps_cluster(a, graph) is not None, _steps_cluster(b, graph) is not None
    feed = b_in_steps and not a_in_steps
    leaving = a_in_steps and not b_in_steps
    region, b_region = _backward_region(a), _backward_region(b)
    a_layer, b_layer = _layer(a), _layer(b)
    parameter = edge.kind == "parameter"
    # The backward direction is drawn mirrored (its edges laid out consumer -> producer, the
    # arrowhead kept right with dir=back): it visibly runs right to left under the forward one.
    # A parameter edge is always written parameter -> op, so following edges from a parameter
    # finds every step that reads it, in either direction.
    mirrored = not parameter and region is not None and region == b_region and not leaving
    tail, head = (consumer, producer) if mirrored else (producer, consumer)
    if tail != edge.src:
        attrs["dir"] = "back"
    if (a_layer is not None and b_layer is not None and a_layer != b_layer) or (
        b_region is not None and region != b_region
    ):
        # Layer k+1 reads layer k's whole output sequence, and the mirrored backward direction
        # reads x: such entries are drawn but do not rank, so layers and directions keep the
        # same time columns.
        attrs["constraint"] = "false"
    elif parameter and chunked:
        # Pulled by every chunk's first step, a parameter would stack the chunks in one column.
        attrs["constraint"] = "false"
    elif edge.kind == "cut" and chunked:
        attrs["weight"] = "4"  # the next chunk starts right after the cut: chunks run left to right
    elif parameter and region is not None:
        # A backward-direction parameter sits left of its steps, as a forward one does: it pulls
        # the leftmost step (t = 0, the one that runs last), not the first one, drawn rightmost.
        if not _first_step(b, graph, bounds, leftmost=True):
            attrs["constraint"] = "false"
    elif feed and (_first_step(b, graph, bounds) or (rows is not None and rows.get(b.cluster, (0, False))[1])):
        pass  # the feed into the step that runs first (or starts a row) keeps its pull: it anchors x, W_ih, W_hh
    elif feed or (leaving and region is not None) or (a.kind == "param" and a.cluster != b.cluster):
        # Other feeds into a step must not pull it to the feed's rank: the steps line up in time
        # along the recurrent edges. x, and the weights of a step's input term x_t W_ih^T + b,
        # do not rank at all (they already sit left of the first step); W_hh into a later step's
        # matmul keeps its weight (the recurrent edge fixes that matmul's rank), which keeps the
        # edge straight: graphviz-pure coils weightless edges that pass many steps.
        if feed and (edge.kind == "data" or b.batched):
            attrs["constraint"] = "false"
        elif not (feed and edge.kind == "parameter"):
            attrs["weight"] = "0"
    if edge.kind == "recurrent":
        direction = "bwd" if _in_backward_steps(a, graph) else "fwd"
        attrs.update(color=_RECURRENT_COLOR[direction], penwidth="2.4", fontcolor=_RECURRENT_INK[direction])
        if graph.folded:
            attrs["constraint"] = "false"
    elif edge.kind == "parameter":
        # Half transparent: many of them cross the steps, which stay the figure.
        attrs.update(color=_PARAM_EDGE + "88", penwidth="0.8", arrowsize="0.5", fontcolor=_PARAM_INK)
    elif edge.kind == "cut":
        attrs.update(style="dashed", color=_CUT_COLOR, penwidth="1.6", fontcolor=_CUT_COLOR)
    if rows is not None and a.cluster in rows and b.cluster in rows and rows[a.cluster][0] != rows[b.cluster][0]:
        attrs["constraint"] = "false"  # layout="rows": the state wraps from a row's end to the next row's start
    if edge.label:
        size = "10" if edge.kind == "recurrent" else str(SMALL_FONT)
        label = f"<B>{text(edge.label)}</B>" if edge.kind in ("recurrent", "cut") else text(edge.label)
        attrs["label"] = f'<<FONT POINT-SIZE="{size}">{label}</FONT>>'
    if a.kind == "elided" or b.kind == "elided":
        attrs["style"] = "dotted"  # stands for many edges into or out of hidden steps
    return tail, head, attrs
