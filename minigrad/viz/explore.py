"""The backward pass, stepped through: one self-contained HTML page that replays BPTT on the picture.

    loss.backward()
    mg.viz.explore(loss, "bptt.html", params=model)       # any draw_graph option works here

The page is ONE file that opens from disk with no network: the graph drawn as inline SVG (the
same picture ``draw_graph`` + ``save`` make), the numbers as inline JSON, and a small vanilla
script. In it:

* **click a node**: its op, scope (layer, direction, timestep), shape, dtype, value and gradient
  statistics and a heat strip of its values (and of its gradient);
* **the slider and the step buttons** replay the backward pass node by node in the engine's
  own order (``reversed(autograd.topological_order(root))``, the loop ``backward()`` runs): at
  step K the first K nodes to receive their full gradient are painted, the rest are greyed;
* **the timeline** below shows ``|dL/dh_t|`` for every timestep of every layer and direction,
  each bar filling in when step t's hidden state is painted: from t = T-1 down to 0;
* **deep links**: ``bptt.html#step=K`` opens with K nodes done, ``#node=ID`` selects the node
  whose DOT id is ID (``n12``; the panel shows each node's id); ``#step=K&node=ID`` does both.
  The address follows what you do, so a link shares the exact view.

Drawn nodes stand for one or more tensors (a parameter and its ``.T`` view, a folded cell's
op at every step, the steps hidden in an elided box): a node is painted when the first of its
tensors is processed. Inputs, targets and constants get no gradient and are never painted.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..autograd import topological_order
from . import dot as dot_module
from .graph import Graph, build_graph
from .render import svg as render_svg
from .walk import flatten

HEAT_CELLS = 48  # values shown in a node's heat strip (block means when it has more)
_DIRECTIONS = {"fwd": "forward", "forward": "forward", "bwd": "backward", "reverse": "backward", "backward": "backward"}


def explore(root: Any, path: str | os.PathLike, *, title: str | None = None, **options: Any) -> Path:
    """Write the explorer page of the graph that produced ``root`` to ``path`` (``.html``).

    ``options`` are ``draw_graph``'s (``params``, ``max_timesteps``, ``fold``, ``backward``,
    ``tape``, ...); gradients are computed for the page even before ``backward()`` (as
    ``draw_graph`` paints them: a side-effect-free sweep). Returns the path written.
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"explore: the explorer is an HTML page; give a path ending in .html, got {str(path)!r}")
    text = page(root, title=title, **options)
    path.write_text(text, encoding="utf-8")
    return path


def page(root: Any, *, title: str | None = None, **options: Any) -> str:
    """The explorer page as HTML text (what :func:`explore` writes)."""
    if "show_grads" not in options:
        options["show_grads"] = True
    roots = flatten(root, "explore")
    graph = build_graph(root, **options)
    picture = dot_module.to_dot(graph, title=title)
    data = explorer_data(graph, backward_order(roots, graph))
    heading = title if title is not None else dot_module._title(graph).split("\n")[0]
    return (
        _TEMPLATE.replace("__TITLE__", _html(heading))
        .replace("__SVG__", _compact_svg(render_svg(picture)))
        .replace("__DATA__", json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/"))
        .replace("__SCRIPT__", _SCRIPT)
    )


def backward_order(roots: list[Any], graph: Graph) -> list[str]:
    """Drawn node ids in the order the engine's backward pass completes their gradients.

    ``backward()`` walks ``reversed(topological_order(root))``; each drawn node is listed when
    the first tensor it stands for comes up. With several roots (truncated BPTT's chunk losses)
    their passes follow each other, in the order given.
    """
    order: list[str] = []
    seen: set[str] = set()
    for root in roots:
        if not root.requires_grad:
            continue
        for tensor in reversed(topological_order(root)):
            nid = graph.drawn_of.get(id(tensor))
            if nid is not None and nid not in seen:
                seen.add(nid)
                order.append(nid)
    return order


def _finite(x: float) -> float | None:
    return float(f"{x:.4g}") if math.isfinite(x) else None


def _strip(values: np.ndarray) -> list[float | None]:
    """At most ``HEAT_CELLS`` numbers standing for ``values`` in order (block means beyond that)."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    if flat.size > HEAT_CELLS:
        flat = np.array([block.mean() for block in np.array_split(flat, HEAT_CELLS)])
    return [_finite(v) for v in flat]


def _stats(values: np.ndarray) -> dict[str, float | None]:
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        return {}
    return {
        "min": _finite(a.min()),
        "max": _finite(a.max()),
        "mean": _finite(a.mean()),
        "std": _finite(a.std()),
        "norm": _finite(float(np.sqrt(np.vdot(a, a)))),
    }


def _scope_parts(scope: str) -> dict[str, Any]:
    """``lstm/l1/bwd/t3/...`` -> layer 1, direction backward, timestep 3 (what nn's layers open)."""
    parts: dict[str, Any] = {}
    for part in scope.split("/") if scope else ():
        if re.fullmatch(r"l\d+", part):
            parts["layer"] = int(part[1:])
        elif part in _DIRECTIONS:
            parts["direction"] = _DIRECTIONS[part]
        elif re.fullmatch(r"t\d+", part):
            parts["timestep"] = int(part[1:])
    return parts


def explorer_data(graph: Graph, order: list[str]) -> dict[str, Any]:
    """The JSON the page's script reads: every node's facts and numbers, the backward order,
    and the timeline of ``|dL/dh_t|`` per layer and direction."""
    nodes = {}
    for nid, node in graph.nodes.items():
        entry: dict[str, Any] = {
            "kind": node.kind,
            "label": node.label,
            "op": node.op,
            "scope": node.scope,
            "shape": list(node.shape),
            "dtype": node.dtype,
            **_scope_parts(node.scope),
        }
        if node.count > 1:
            entry["count"] = node.count
        tensor = graph.tensors.get(nid)
        if tensor is not None and node.kind != "elided":
            entry["value"] = _stats(tensor.data)
            entry["heat"] = _strip(tensor.data)
        gradient = graph.gradients.get(nid)
        if gradient is not None and node.kind != "elided":
            entry["grad"] = _stats(gradient)
            entry["gheat"] = _strip(gradient)
        if node.grad_norm is not None:
            entry["grad_norm"] = _finite(node.grad_norm)
        nodes[nid] = entry
    timelines: dict[str, list[dict[str, Any]]] = {}
    for cluster in graph.clusters.values():
        if cluster.kind == "timestep" and cluster.state is not None:
            timelines.setdefault("/".join(cluster.path[:-1]), []).append(
                {
                    "t": cluster.timestep,
                    "node": cluster.state,
                    "norm": _finite(cluster.grad_norm) if cluster.grad_norm is not None else None,
                }
            )
        elif cluster.kind == "elided":
            timelines.setdefault("/".join(cluster.path[:-1]), []).append(
                {"t": cluster.timestep, "hidden": cluster.hidden}
            )
    for steps in timelines.values():
        steps.sort(key=lambda s: s["t"])
    return {
        "order": order,
        "nodes": nodes,
        "timelines": [{"chain": chain, "steps": steps} for chain, steps in sorted(timelines.items())],
    }


def _html(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _compact_svg(svg: str) -> str:
    """The SVG for inlining: no XML prolog, DOCTYPE or comments (HTML5 reads it as it is)."""
    svg = re.sub(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--.*?-->", "", svg, flags=re.S)
    return svg.replace(' xml:space="preserve"', "").strip()


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>__TITLE__ - minigrad BPTT explorer</title>
<style>
body { margin: 0; font: 14px/1.4 Helvetica, Arial, sans-serif; color: #111; background: #fff; }
header { padding: 8px 12px; border-bottom: 1px solid #ccc; display: flex; flex-wrap: wrap; gap: 8px;
         align-items: center; }
header h1 { font-size: 15px; margin: 0 12px 0 0; }
header button { font: inherit; padding: 2px 8px; }
#slider { width: 280px; }
#status { font-variant-numeric: tabular-nums; }
main { display: grid; grid-template-columns: minmax(0, 1fr) 340px; height: calc(100vh - 200px); }
#graph { overflow: auto; border-right: 1px solid #ccc; }
#graph svg { display: block; }
#panel { overflow: auto; padding: 8px 12px; }
#panel table { border-collapse: collapse; }
#panel td, #panel th { padding: 1px 6px; text-align: left; font-variant-numeric: tabular-nums; }
.strip { display: flex; height: 18px; border: 1px solid #999; margin: 2px 0 8px; }
.strip span { flex: 1; }
#timeline { height: 130px; overflow: auto; border-top: 1px solid #ccc; padding: 4px 12px; }
.chain { display: flex; align-items: flex-end; gap: 1px; height: 70px; margin-bottom: 4px; }
.chain .bar { flex: 1; min-width: 3px; max-width: 24px; background: #e6e6e6; }
.chain .bar.filled { background: #1f4e99; }
.chain .gap { flex: 2; align-self: center; text-align: center; color: #555; font-size: 11px; }
g.node { cursor: pointer; }
g.node.pending polygon, g.node.pending path, g.node.pending ellipse { fill: #f4f4f4 !important;
  stroke: #bbbbbb !important; }
g.node.pending text { fill: #666666 !important; }
g.node.current polygon, g.node.current path { stroke: #d62728 !important; stroke-width: 4px; }
g.node.selected polygon, g.node.selected path { stroke: #000 !important; stroke-width: 3px;
  stroke-dasharray: 4 2; }
.muted { color: #555; }
</style>
</head>
<body>
<header>
<h1>__TITLE__</h1>
<button id="first" title="before the backward pass (Home)">|&#x25C0;</button>
<button id="prev" title="one node back (Left)">&#x25C0;</button>
<button id="play" title="play / pause (Space)">play</button>
<button id="next" title="one node on (Right)">&#x25B6;</button>
<button id="last" title="the whole backward pass (End)">&#x25B6;|</button>
<input id="slider" type="range" min="0" value="0" aria-label="backward step">
<span id="status"></span>
<button id="fit" title="fit the picture to the window or back to full size">fit</button>
</header>
<main>
<div id="graph">__SVG__</div>
<div id="panel"><p class="muted">Click a node to see its op, scope, shape, values and gradient.
Step through the backward pass with the slider: nodes are painted as their gradient arrives,
in the order the engine computes them.</p></div>
</main>
<div id="timeline"></div>
<script type="application/json" id="explorer-data">__DATA__</script>
<script>__SCRIPT__</script>
</body>
</html>
"""

_SCRIPT = r"""
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("explorer-data").textContent);
  const order = data.order, N = order.length;
  const groups = {}, position = {};
  document.querySelectorAll("#graph g.node").forEach(function (g) {
    const id = g.querySelector("title").textContent.trim();
    groups[id] = g;
    g.setAttribute("data-node", id);
    if (data.nodes[id]) g.addEventListener("click", function () { select(id); });
  });
  order.forEach(function (id, k) { position[id] = k; });
  const slider = document.getElementById("slider");
  slider.max = N;
  let step = 0, selected = null, timer = null;

  function fmt(x) {
    if (x === null || x === undefined) return "-";
    if (x === 0) return "0";
    const a = Math.abs(x);
    return (a >= 1e4 || a < 1e-3) ? x.toExponential(3) : x.toPrecision(4);
  }
  function shape(s) { return "(" + s.join(", ") + (s.length === 1 ? ",)" : ")"); }
  function heatColor(v, scale) {
    if (v === null) return "#000";
    const f = scale > 0 ? Math.max(-1, Math.min(1, v / scale)) : 0;   // blue < 0 < red, white at 0
    const r = f < 0 ? Math.round(255 * (1 + f)) : 255, b = f > 0 ? Math.round(255 * (1 - f)) : 255;
    const g = Math.round(255 * (1 - Math.abs(f)));
    return "rgb(" + r + "," + g + "," + b + ")";
  }
  function strip(values, what) {
    let scale = 0;
    values.forEach(function (v) { if (v !== null) scale = Math.max(scale, Math.abs(v)); });
    return '<div class="strip" title="' + what + ': ' + values.length + ' cells, blue < 0 < red, |max| ' +
      fmt(scale) + '">' + values.map(function (v) {
        return '<span style="background:' + heatColor(v, scale) + '" title="' + fmt(v) + '"></span>';
      }).join("") + "</div>";
  }
  function statsRows(s) {
    return ["norm", "min", "max", "mean", "std"].filter(function (k) { return k in s; }).map(function (k) {
      return "<tr><th>" + k + "</th><td>" + fmt(s[k]) + "</td></tr>";
    }).join("");
  }
  function escapeHtml(t) {
    return String(t).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function setStep(k, keepHash) {
    step = Math.max(0, Math.min(N, k | 0));
    order.forEach(function (id, i) {
      const g = groups[id];
      if (!g) return;
      g.classList.toggle("painted", i < step);
      g.classList.toggle("pending", i >= step);
      g.classList.toggle("current", i === step - 1);
    });
    slider.value = step;
    const current = step > 0 ? data.nodes[order[step - 1]] : null;
    document.getElementById("status").textContent = step + " / " + N + " nodes done" +
      (current ? ": " + current.label + " (" + order[step - 1] + ")" : "");
    document.querySelectorAll("#timeline .bar").forEach(function (bar) {
      const k = position[bar.getAttribute("data-node")];
      bar.classList.toggle("filled", k !== undefined && k < step);
    });
    if (selected) select(selected, true);
    if (!keepHash) {
      updateHash();
      const g = step > 0 ? groups[order[step - 1]] : null;      // keep the node being painted in view
      if (g) g.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
  }

  function select(id, quiet) {
    const node = data.nodes[id];
    if (!node) return;
    if (selected && groups[selected]) groups[selected].classList.remove("selected");
    selected = id;
    if (groups[id]) groups[id].classList.add("selected");
    const where = [];
    if (node.layer !== undefined) where.push("layer " + node.layer);
    if (node.direction !== undefined) where.push(node.direction + " direction");
    if (node.timestep !== undefined) where.push("timestep t = " + node.timestep);
    const k = position[id];
    let html = '<h2 id="node-title">' + escapeHtml(node.label) + "</h2><table>" +
      '<tr><th>id</th><td id="node-id">' + id + "</td></tr>" +
      "<tr><th>kind</th><td>" + node.kind + "</td></tr>" +
      "<tr><th>op</th><td>" + escapeHtml(node.op || "(leaf)") + "</td></tr>" +
      '<tr><th>scope</th><td id="node-scope">' + escapeHtml(node.scope || "(top level)") + "</td></tr>" +
      "<tr><th>where</th><td>" + (where.join(", ") || "-") + "</td></tr>" +
      '<tr><th>shape</th><td id="node-shape">' + shape(node.shape) + "</td></tr>" +
      '<tr><th>dtype</th><td id="node-dtype">' + node.dtype + "</td></tr>" +
      (node.count ? "<tr><th>stands for</th><td>" + node.count + " tensors</td></tr>" : "") +
      "</table>";
    if (k !== undefined) {
      html += "<p>Its gradient is complete at backward step <b>" + (k + 1) + "</b> of " + N +
        (k < step ? " (done)." : " (not yet).") + ' <button id="goto">go there</button></p>';
    } else {
      html += '<p class="muted">No gradient flows into it (not in the backward pass).</p>';
    }
    if (node.value) html += "<h3>value</h3><table>" + statsRows(node.value) + "</table>" + strip(node.heat, "values");
    if (node.grad) html += "<h3>gradient dL/d node</h3><table>" + statsRows(node.grad) + "</table>" +
      strip(node.gheat, "gradient");
    const panel = document.getElementById("panel");
    panel.innerHTML = html;
    const go = document.getElementById("goto");
    if (go) go.addEventListener("click", function () { setStep(k + 1); });
    if (!quiet) updateHash();
  }

  function updateHash() {
    const hash = "#step=" + step + (selected ? "&node=" + selected : "");
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }
  function readHash() {
    const params = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      const i = kv.indexOf("=");
      if (i > 0) params[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
    });
    if (params.node && data.nodes[params.node]) select(params.node, true);
    setStep(params.step !== undefined && /^\d+$/.test(params.step) ? parseInt(params.step, 10) : 0, true);
  }

  function buildTimeline() {
    const box = document.getElementById("timeline");
    if (!data.timelines.length) {
      box.innerHTML = '<p class="muted">No timesteps in this graph: no |dL/dh_t| timeline.</p>';
      return;
    }
    let html = '<div class="muted">|dL/dh_t| per timestep (log height), filled as the backward pass reaches ' +
      "h_t: from t = T-1 down to 0</div>";
    data.timelines.forEach(function (line) {
      const norms = line.steps.filter(function (s) { return s.norm; }).map(function (s) { return s.norm; });
      const lo = norms.length ? Math.log10(Math.min.apply(null, norms)) : 0;
      const hi = norms.length ? Math.log10(Math.max.apply(null, norms)) : 0;
      html += '<div class="muted">' + escapeHtml(line.chain) + '</div><div class="chain">';
      line.steps.forEach(function (s) {
        if (s.hidden) { html += '<span class="gap">... ' + s.hidden + " hidden ...</span>"; return; }
        const f = s.norm && hi > lo ? (Math.log10(s.norm) - lo) / (hi - lo) : 1;
        html += '<span class="bar" data-node="' + s.node + '" data-t="' + s.t + '" title="t = ' + s.t +
          ": |dL/dh_t| " + fmt(s.norm) + '" style="height:' + Math.round(8 + 60 * f) + 'px"></span>';
      });
      html += "</div>";
    });
    box.innerHTML = html;
    box.querySelectorAll(".bar").forEach(function (bar) {
      bar.addEventListener("click", function () { select(bar.getAttribute("data-node")); });
    });
  }

  document.getElementById("first").onclick = function () { setStep(0); };
  document.getElementById("prev").onclick = function () { setStep(step - 1); };
  document.getElementById("next").onclick = function () { setStep(step + 1); };
  document.getElementById("last").onclick = function () { setStep(N); };
  document.getElementById("play").onclick = function () {
    if (timer) { clearInterval(timer); timer = null; this.textContent = "play"; return; }
    if (step >= N) setStep(0);
    this.textContent = "pause";
    const button = this;
    timer = setInterval(function () {
      if (step >= N) { clearInterval(timer); timer = null; button.textContent = "play"; return; }
      setStep(step + 1);
    }, Math.max(20, 4000 / Math.max(N, 1)));
  };
  slider.addEventListener("input", function () { setStep(parseInt(slider.value, 10)); });
  document.getElementById("fit").onclick = function () {
    const svg = document.querySelector("#graph svg");
    if (svg.getAttribute("data-fit")) {
      svg.setAttribute("width", svg.getAttribute("data-width"));
      svg.setAttribute("height", svg.getAttribute("data-height"));
      svg.removeAttribute("data-fit");
    } else {
      svg.setAttribute("data-width", svg.getAttribute("width"));
      svg.setAttribute("data-height", svg.getAttribute("height"));
      svg.setAttribute("width", "100%");
      svg.removeAttribute("height");
      svg.setAttribute("data-fit", "1");
    }
  };
  document.addEventListener("keydown", function (e) {
    if (e.target.tagName === "INPUT" && e.key !== " ") return;
    if (e.key === "ArrowRight") setStep(step + 1);
    else if (e.key === "ArrowLeft") setStep(step - 1);
    else if (e.key === "Home") setStep(0);
    else if (e.key === "End") setStep(N);
    else return;
    e.preventDefault();
  });
  window.addEventListener("hashchange", readHash);
  buildTimeline();
  readHash();
  const focus = groups[selected] || (step > 0 ? groups[order[step - 1]] : null);
  if (focus) focus.scrollIntoView({ block: "center", inline: "center" });
  document.body.setAttribute("data-ready", "1");
})();
"""
