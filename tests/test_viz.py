"""minigrad.viz: the graph model and its DOT, on hand-written cells and on nn's layers.

The hand-written RNN opens the scopes nn's layers open (``rnn/l0/fwd/t3``), transposes W_hh
once before the loop and projects every timestep's input with one matmul, so the renderer's
structure (clusters, shared parameters, recurrent edges) is checked independently of nn.
"""

import gc
import re
from types import SimpleNamespace

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn import Parameter
from minigrad.viz import build_graph, draw_graph
from minigrad.viz.examples import bptt_example


def handmade_rnn(T=4, B=2, n_x=3, H=4, bidirectional=False, layers=1, seed=0, retain=False):
    """h_t = tanh(x_t W_ih^T + b + h_{t-1} W_hh^T) in nn's scopes; float64, PyTorch names."""
    rng = np.random.default_rng(seed)
    params, hs, pre = {}, {}, {}
    x = mg.tensor(rng.standard_normal((T, B, n_x)))
    dirs = ("fwd", "bwd") if bidirectional else ("fwd",)
    inp = x
    with mg.scope("rnn"):
        for layer in range(layers):
            with mg.scope(f"l{layer}"):
                outs = []
                for d in dirs:
                    suffix = f"_l{layer}" + ("_reverse" if d == "bwd" else "")
                    n_in = inp.shape[-1]
                    w_ih = Parameter(rng.standard_normal((H, n_in)) * 0.5)
                    w_hh = Parameter(rng.standard_normal((H, H)) * 0.5)
                    b = Parameter(rng.standard_normal(H) * 0.1)
                    params.update(
                        {f"rnn.weight_ih{suffix}": w_ih, f"rnn.weight_hh{suffix}": w_hh, f"rnn.bias{suffix}": b}
                    )
                    with mg.scope(d):
                        w_hh_t = w_hh.T  # once, before the loop
                        xp = (inp.reshape(T * B, n_in) @ w_ih.T + b).reshape(T, B, H)
                        h = mg.zeros(B, H, dtype=np.float64)
                        out = [None] * T
                        for t in range(T - 1, -1, -1) if d == "bwd" else range(T):
                            with mg.scope(f"t{t}"):
                                a = xp[t] + h @ w_hh_t
                                h = a.tanh()
                            if retain:
                                h.retain_grad()
                                a.retain_grad()
                            out[t] = hs[(layer, d, t)] = h
                            pre[(layer, d, t)] = a
                        outs.append(mg.stack(out, axis=0))
                inp = outs[0] if len(outs) == 1 else mg.concat(outs, axis=-1)
    y = mg.tensor(rng.standard_normal(inp.shape))
    loss = ((inp - y) ** 2).mean()
    return SimpleNamespace(loss=loss, params=params, hs=hs, pre=pre, x=x, y=y, out=inp)


def params_of(g, name):
    return [e for e in g.edges if e.kind == "parameter" and g.nodes[e.src].label == name]


def step_of(g, node_id):
    return g.nodes[node_id].timestep


# ---- clusters, parameters, recurrent edges ----------------------------------------------------


def test_one_cluster_per_timestep_nested_in_layer_and_direction():
    m = handmade_rnn(T=4, layers=2, bidirectional=True)
    g = build_graph(m.loss, params=m.params)
    steps = {c.path for c in g.timestep_clusters()}
    assert steps == {("rnn", f"l{k}", d, f"t{t}") for k in (0, 1) for d in ("fwd", "bwd") for t in range(4)}
    for c in g.timestep_clusters():
        assert c.direction == c.path[2] and c.label == f"t = {c.timestep}"
        assert ("rnn", c.path[1], c.path[2]) in g.clusters and ("rnn", c.path[1]) in g.clusters
    # every op of step t sits in that step's cluster: its input term x_t W_ih^T + b, matmul, add, tanh
    for c in g.timestep_clusters():
        ops = sorted(n.label for n in g.nodes.values() if n.cluster == c.path and n.kind == "op")
        assert ops == ["add", "matmul", "tanh", "x_t W_ih^T + b"]
    dot = draw_graph(m.loss, params=m.params).source
    assert dot.count("subgraph cluster_") == len(g.clusters)
    for t in range(4):
        assert dot.count(f"<B>t = {t}</B>") == 4  # 2 layers x 2 directions


def test_each_parameter_drawn_once_with_one_edge_per_timestep():
    m = handmade_rnn(T=5)
    g = build_graph(m.loss, params=m.params)
    labels = [n.label for n in g.nodes_of("param")]
    assert sorted(labels) == sorted(m.params)  # once each, named by params=
    w_hh = g.param("rnn.weight_hh_l0")
    assert w_hh.shape == (4, 4) and w_hh.folded == [".T"]  # W_hh.T folded in, not a node
    assert not [n for n in g.nodes.values() if n.label == "transpose"]
    uses = params_of(g, "rnn.weight_hh_l0")
    assert sorted(step_of(g, e.dst) for e in uses) == [0, 1, 2, 3, 4]
    assert all(g.nodes[e.dst].label == "matmul" and e.count == 1 for e in uses)
    assert not g.clusters.get(w_hh.cluster) or g.clusters[w_hh.cluster].kind == "scope"
    for name in ("rnn.weight_ih_l0", "rnn.bias_l0"):  # read by the one projection before the loop
        uses = params_of(g, name)
        assert sorted(step_of(g, e.dst) for e in uses) == [0, 1, 2, 3, 4] and all(e.count == 1 for e in uses)
        assert {g.nodes[e.dst].label for e in uses} == {"x_t W_ih^T + b"}
    dot = draw_graph(m.loss, params=m.params).source
    assert dot.count(">rnn.weight_hh_l0<") == 1
    edges_out = re.findall(rf"\t{w_hh.id} -> (n\d+)", dot)
    assert len(edges_out) == 5


def dot_parts(source):
    """The DOT text read back: each node's cluster path (outermost first), each cluster's path,
    the timestep of each ``t = k`` cluster, and the edges as (tail, head, attributes)."""
    stack, where, paths, steps, edges = [], {}, {}, {}, []
    for line in source.splitlines():
        text = line.strip()
        if m := re.fullmatch(r"subgraph (cluster_\w+) \{", text):
            stack.append(m.group(1))
            paths[m.group(1)] = tuple(stack)
        elif text == "}":
            if stack:
                stack.pop()
        elif text.startswith("graph ["):
            if stack and (m := re.search(r"label=<<B>t = (\d+)</B>", text)):
                steps[stack[-1]] = int(m.group(1))
        elif m := re.match(r"(\w+) -> (\w+)(?: \[(.*)\])?$", text):
            edges.append((m.group(1), m.group(2), m.group(3) or ""))
        elif m := re.match(r"(\w+) \[", text):
            where[m.group(1)] = tuple(stack)
    return where, paths, steps, edges


def dot_params(source):
    """node id -> dotted name of every parameter node (double border) in the DOT text."""
    return {
        m.group(1): m.group(2) for m in re.finditer(r"\t(n\d+) \[label=<<B>([^<]+)</B> \([^\n]*peripheries=2", source)
    }


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_dot_every_parameter_has_one_edge_into_every_timestep(cell):
    ex = bptt_example(cell, steps=3, layers=2, bidirectional=True)
    dot = ex.draw().source
    where, paths, steps, edges = dot_parts(dot)
    params = dot_params(dot)
    assert sorted(params.values()) == sorted(name for name, _ in ex.model.named_parameters())
    for pid, name in params.items():
        assert not [e for e in edges if e[1] == pid], name  # written parameter -> op, both directions
        out = [(head, attrs) for tail, head, attrs in edges if tail == pid]
        assert out and not [a for _, a in out if "dir=back" in a], name
        if name.startswith("head."):  # the head reads the stacked output once
            assert len(out) == 1 and not set(where[out[0][0]]) & set(steps), name
            continue
        home = where[pid]  # the direction the parameter belongs to
        expected = sorted(c for c, path in paths.items() if c in steps and path[:-1] == home)
        assert sorted(steps[c] for c in expected) == [0, 1, 2], name
        reached = sorted(where[head][-1] for head, _ in out)  # the innermost cluster of each head
        assert reached == expected, name  # exactly one edge into each timestep
    backward = ex.draw(backward=True).source  # the gradient graph: arrows drawn back
    where, paths, steps, edges = dot_parts(backward)
    for pid in dot_params(backward):
        assert not [e for e in edges if e[1] == pid]
        assert all("dir=back" in attrs for tail, _, attrs in edges if tail == pid)


def test_input_projection_drawn_inside_each_step_with_its_real_op_count():
    ex = bptt_example("lstm", steps=3)
    g = build_graph(ex.roots, params=ex.model, tape=ex.tape)
    direction = ("lstm", "l0", "fwd")
    outside = sorted((n.label, n.tracked) for n in g.nodes.values() if n.cluster == direction and n.kind != "param")
    assert outside == [("reshape", False), ("stack", True)]  # x.reshape (data, no grad) and the outputs' stack:
    # no projection matmul or add outside the steps
    terms = [n for n in g.nodes.values() if n.batched]
    assert sorted(n.timestep for n in terms) == [0, 1, 2]
    for n in terms:
        assert n.label == "x_t W_ih^T + b_ih + b_hh" and n.cluster == direction + (f"t{n.timestep}",)
        assert sorted(n.batched) == ["add", "addmm", "reshape"]  # run once, for all steps: b_ih + b_hh, x W_ih^T + b
        into = {(g.nodes[e.src].label, e.kind) for e in g.edges if e.dst == n.id}
        assert into == {
            ("reshape", "data"),
            ("lstm.weight_ih_l0", "parameter"),
            ("lstm.bias_ih_l0", "parameter"),
            ("lstm.bias_hh_l0", "parameter"),
        }
        assert n.shape == (2, 16)
    dot = ex.draw().source
    assert dot.count("1 addmm + 1 add: once for all 3 steps") == 3
    assert dot.count("computed for all steps at once by: ") == 3 and "ONE matmul" in dot
    two = build_graph(bptt_example("rnn", steps=2, layers=2).roots)  # layer 1 reads layer 0's output stack
    sources = {
        (two.nodes[e.src].label, two.nodes[e.src].cluster)
        for e in two.edges
        if two.nodes[e.dst].batched and two.nodes[e.dst].cluster[1] == "l1" and e.kind == "data"
    }
    assert sources == {("stack", ("rnn", "l0", "fwd"))}
    gru = build_graph(bptt_example("gru", steps=2).roots)  # GRU: b_hn stays inside r * (W_hn h + b_hn)
    (term, _) = [n for n in gru.nodes.values() if n.batched]
    assert term.label == "x_t W_ih^T + b_ih"
    assert sorted(gru.nodes[e.dst].label for e in params_of(gru, "gru.bias_hh_l0")) == ["addmm", "addmm"]


def test_addmm_nodes_show_the_sum_they_compute_the_same_in_every_step():
    """A step's pre-activation is one addmm (x_proj[t] + h W_hh^T): its box writes the sum out, on
    short lines below its shape, so the picture reads the maths the matmul and add boxes read."""
    expected = {
        "rnn": "x_t W_ih^T\n+ b_ih + b_hh\n+ h W_hh^T",
        "lstm": "x_t W_ih^T\n+ b_ih + b_hh\n+ h W_hh^T",
        "gru": "h W_hh^T + b_hh",  # b_hn stays inside r * (W_hn h + b_hn): only b_hh is added here
    }
    for cell, formula in expected.items():
        ex = bptt_example(cell, steps=3)
        g = build_graph(ex.roots, params=ex.model, tape=ex.tape)
        fused = [n for n in g.nodes.values() if n.op == "addmm"]
        steps = sorted(n.timestep for n in fused if n.timestep is not None)
        assert steps == [0, 1, 2], cell  # step 0 reads the zero state: still "h"
        assert {n.detail for n in fused if n.timestep is not None} == {"\n" + formula}, cell
        (head,) = [n for n in fused if n.timestep is None]  # nn.Linear: x W^T + b as one addmm
        assert head.detail == "\nx W^T + b"
        dot = ex.draw().source
        assert "x_t W_ih^T" in dot and "<B>addmm</B>: c + a @ b as ONE op" in dot
        folded = build_graph(ex.roots, params=ex.model, fold=True)
        (cell_addmm,) = [n for n in folded.nodes.values() if n.op == "addmm" and n.cluster[-1:] == ("cell",)]
        assert cell_addmm.count == 3 and cell_addmm.detail == "\n" + formula  # the steps fold into one box
    chunked = bptt_example("gru", steps=6, truncate=2)  # chunks 1, 2 start from h.detach(): still "h"
    folded = build_graph(chunked.roots, params=chunked.model, tape=chunked.tape, fold=True)
    cells = sorted(n.cluster[0] for n in folded.nodes.values() if n.op == "addmm" and n.cluster[-1:] == ("cell",))
    assert cells == ["chunk0", "chunk1", "chunk2"]  # one addmm box per folded chunk, as one matmul and add before
    mg.manual_seed(0)
    gru = mg.nn.GRU(3, 4, variant="reset_before")  # x_n + (r * h) W_hn^T: operands without a name
    out, _ = gru(mg.tensor(np.ones((2, 2, 3), np.float32)))
    (first, _) = [n for n in build_graph(out.sum()).nodes.values() if n.op == "addmm"]
    assert first.label == "addmm" and first.detail == ""  # the bare primitive, no guessed formula


def test_parameters_labelled_with_module_names_and_shapes_without_params_argument():
    class Tagger(mg.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = mg.nn.GRU(3, 4)
            self.head = mg.nn.Linear(4, 2)

    mg.manual_seed(0)
    model = Tagger()  # no name_parameters() call: Module names them
    out, _ = model.rnn(mg.tensor(np.ones((3, 2, 3), np.float32)))
    loss = (model.head(out) ** 2).mean()
    g = build_graph(loss)
    assert {n.label: n.shape for n in g.nodes_of("param")} == {name: p.shape for name, p in model.named_parameters()}
    dot = draw_graph(loss).source
    for name, p in model.named_parameters():
        assert dot.count(f"<B>{name}</B> ({', '.join(map(str, p.shape))})") == 1, name
    assert "<B>rnn.weight_hh_l0</B> (12, 4)" in dot and "<B>head.bias</B> (2)" in dot


def test_parameter_sliced_before_the_loop_still_feeds_every_step():
    mg.manual_seed(0)
    gru = mg.nn.GRU(3, 4, variant="reset_before")  # W_hh^T split into [W_hr W_hz] and W_hn once
    out, _ = gru(mg.tensor(np.ones((3, 2, 3), np.float32)))
    g = build_graph(out.sum())
    assert g.param("weight_hh_l0").folded == [".T", "[:, 0:8]", "[:, 8:12]"]
    uses = params_of(g, "weight_hh_l0")  # h W_rz^T, and (r * h) W_hn^T: two ops a step
    assert sorted((step_of(g, e.dst), e.shape) for e in uses) == [(t, s) for t in range(3) for s in ((4, 4), (4, 8))]
    assert {g.nodes[e.dst].label for e in uses} == {"matmul", "addmm"}  # h W_rz^T; x_n + (r * h) W_hn^T
    emb = Parameter(np.arange(12.0).reshape(6, 2))  # a lookup by data stays an op
    g = build_graph(emb[np.array([1, 4])].sum(), params={"E": emb})
    assert [n.label for n in g.nodes_of("op")] == ["getitem"] and g.param("E").folded == []


def test_parameter_names_from_module_name_parameters():
    mg.manual_seed(0)
    rnn = mg.nn.RNN(3, 4).name_parameters("enc")
    out, _ = rnn(mg.tensor(np.ones((3, 2, 3), np.float32)))
    g = build_graph(out.sum())
    assert {n.label for n in g.nodes_of("param")} == {
        "enc.weight_ih_l0",
        "enc.weight_hh_l0",
        "enc.bias_ih_l0",
        "enc.bias_hh_l0",
    }


def test_recurrent_edges_forward_and_backward_directions():
    m = handmade_rnn(T=4, bidirectional=True)
    g = build_graph(m.loss, params=m.params)
    rec = g.edges_of("recurrent")
    fwd = sorted((step_of(g, e.src), step_of(g, e.dst)) for e in rec if g.nodes[e.src].cluster[2] == "fwd")
    bwd = sorted((step_of(g, e.src), step_of(g, e.dst)) for e in rec if g.nodes[e.src].cluster[2] == "bwd")
    assert fwd == [(0, 1), (1, 2), (2, 3)]
    assert bwd == [(1, 0), (2, 1), (3, 2)]  # the backward direction runs t = 3 ... 0
    assert {e.label for e in rec} == {"h"}
    assert all(g.nodes[e.src].label == "tanh" and g.nodes[e.dst].label == "matmul" for e in rec)
    # The two directions meet at the concat.
    concat = [n for n in g.nodes.values() if n.label == "concat"]
    assert len(concat) == 1
    into = [g.nodes[e.src] for e in g.edges if e.dst == concat[0].id]
    assert sorted(n.cluster[-1] for n in into) == ["bwd", "fwd"] and {n.label for n in into} == {"stack"}
    # The backward direction is drawn mirrored: its edges are laid out reversed, arrow kept (dir=back).
    dot = draw_graph(m.loss, params=m.params).source
    for e in rec:
        pattern = (
            rf"\t{e.dst} -> {e.src} \[[^\]]*dir=back"
            if g.nodes[e.src].cluster[2] == "bwd"
            else rf"\t{e.src} -> {e.dst} \["
        )
        assert re.search(pattern, dot), (e.src, e.dst)


def test_real_lstm_layers_states_h_and_c():
    ex = bptt_example("lstm", steps=3, layers=2, bidirectional=True)
    g = build_graph(ex.roots, params=ex.model)
    assert len(g.timestep_clusters()) == 3 * 2 * 2
    for layer in (0, 1):
        for suffix in ("", "_reverse"):
            name = f"lstm.weight_hh_l{layer}{suffix}"
            assert [n.label for n in g.nodes_of("param")].count(name) == 1
            assert sorted(step_of(g, e.dst) for e in params_of(g, name)) == [0, 1, 2]
    rec = g.edges_of("recurrent")
    assert len(rec) == 2 * 2 * 2 * 2  # (h, c) x 2 transitions x 2 dirs x 2 layers
    assert sorted(e.label for e in rec).count("h") == 8 and sorted(e.label for e in rec).count("c") == 8
    h_sources = {g.nodes[e.src].label for e in rec if e.label == "h"}
    c_sources = {g.nodes[e.src].label for e in rec if e.label == "c"}
    assert h_sources == {"mul"} and c_sources == {"add"}  # h' = o * tanh(c'), c' = f * c + i * g
    assert [n.kind for n in g.nodes.values() if n.label == "loss"] == ["loss"]


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_real_rnn_and_gru_layers(cell):
    ex = bptt_example(cell, steps=4)
    g = build_graph(ex.roots, params=ex.model)
    assert sorted(c.timestep for c in g.timestep_clusters()) == [0, 1, 2, 3]
    assert sorted(step_of(g, e.dst) for e in params_of(g, f"{cell}.weight_hh_l0")) == [0, 1, 2, 3]
    assert {e.label for e in g.edges_of("recurrent")} == {"h"} and len(g.edges_of("recurrent")) >= 3


def test_inputs_targets_and_loss_are_marked():
    m = handmade_rnn(T=3)
    g = build_graph(m.loss, params=m.params)
    kinds = {n.kind for n in g.nodes.values()}
    assert {"loss", "target", "param", "op", "const"} <= kinds
    (loss,) = g.nodes_of("loss")
    assert loss.shape == () and loss.detail == f"mean = {m.loss.item():.4g}"
    (target,) = g.nodes_of("target")
    assert target.shape == m.y.shape
    zeros = g.nodes_of("const")
    assert {c.cluster[-1] for c in zeros} == {"t0"} and zeros[0].label == "zeros"  # h_{-1}, inside step 0
    named = build_graph(m.loss, params=m.params, targets={"y": m.y})
    assert [n.label for n in named.nodes_of("target")] == ["y"]
    ex = bptt_example("rnn", steps=3)
    traced = build_graph(ex.roots, params=ex.model, targets=ex.targets, tape=ex.tape)
    assert [n.label for n in traced.nodes_of("input")] == ["x"] and traced.nodes_of("input")[0].shape == (3, 2, 3)
    assert [n.label for n in traced.nodes_of("target")] == ["targets y"]
    no_grad = [(n.label, n.cluster) for n in traced.nodes.values() if not n.tracked]
    assert no_grad == [("reshape", ("rnn", "l0", "fwd"))]  # x.reshape: data, drawn
    step_inputs = sorted((n.timestep, n.detail) for n in traced.nodes.values() if n.step_input)
    assert step_inputs == [(t, f"[{t}]\n1 addmm + 1 add: once for all 3 steps") for t in range(3)]
    assert sum(n.step_input for n in g.nodes.values()) == 3  # hand-written: xp[t]
    chunked = bptt_example("rnn", steps=4, truncate=2)
    traced = build_graph(chunked.roots, params=chunked.model, tape=chunked.tape)
    h0 = [n for n in traced.nodes.values() if not n.tracked and n.label == "getitem"]
    assert [(n.detail, n.cluster) for n in h0] == [("[0]  no grad", ("chunk1", "rnn", "l0", "fwd"))]  # h0[0]


# ---- gradients ----------------------------------------------------------------------------------


def test_gradients_painted_match_backward_and_touch_nothing():
    m = handmade_rnn(T=5, bidirectional=True, retain=True)
    m.loss.backward()
    before = {name: p.grad.copy() for name, p in m.params.items()}
    g = build_graph(m.loss, params=m.params)  # show_grads=None: on, gradients exist
    assert g.grads and g.grad_range is not None
    for c in g.timestep_clusters():
        h = m.hs[(0, c.direction, c.timestep)]
        np.testing.assert_allclose(c.grad_norm, np.linalg.norm(h.grad), rtol=1e-10)
        assert g.nodes[c.state].label == "tanh"
    for name, p in m.params.items():
        np.testing.assert_allclose(g.param(name).grad_norm, np.linalg.norm(p.grad), rtol=1e-10)
        np.testing.assert_array_equal(p.grad, before[name])  # no .grad written
    for n in g.nodes.values():
        if n.kind == "op":
            assert n.grad_norm is not None and n.grad_norm >= 0
    lo, hi = g.grad_range
    assert 0 < lo <= hi


def test_show_grads_without_backward_needs_no_retain_grad():
    m = handmade_rnn(T=3)
    assert build_graph(m.loss, params=m.params).grads is False  # nothing painted before backward
    g = build_graph(m.loss, params=m.params, show_grads=True)
    assert all(c.grad_norm > 0 for c in g.timestep_clusters())
    assert all(p.grad is None for p in m.params.values()) and all(h.grad is None for h in m.hs.values())
    m.loss.backward()
    off = build_graph(m.loss, params=m.params, show_grads=False)
    assert not off.grads and all(n.grad_norm is None for n in off.nodes.values())
    assert "gradient norm" not in draw_graph(m.loss, params=m.params, show_grads=False).source
    assert "gradient norm" in draw_graph(m.loss, params=m.params).source


def projected(use, total):
    """<g_k, G> / ||G||: a use's share of the whole gradient G (the shares add up to ||G||)."""
    return np.vdot(use, total) / np.linalg.norm(total)


def test_grad_shares_are_each_steps_contribution_and_add_up_to_the_gradient():
    m = handmade_rnn(T=4, retain=True)
    m.loss.backward()
    g = build_graph(m.loss, params=m.params, grad_shares=True)
    edges = {step_of(g, e.dst): e for e in params_of(g, "rnn.weight_hh_l0")}
    whole = m.params["rnn.weight_hh_l0"].grad
    total = np.zeros((4, 4))
    for t in range(4):
        h_prev = m.hs[(0, "fwd", t - 1)].data if t else np.zeros((2, 4))
        contribution = (h_prev.T @ m.pre[(0, "fwd", t)].grad).T  # d a_t / d W_hh, written out
        total += contribution
        np.testing.assert_allclose(edges[t].grad_share, projected(contribution, whole), rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(edges[t].grad_share_norm, np.linalg.norm(contribution), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(total, whole, rtol=1e-10)
    assert edges[0].grad_share == 0.0  # h_{-1} = 0: step 0 adds nothing to W_hh
    # The shares add up to the norm painted on the parameter, and the percentages to 100.
    node = g.param("rnn.weight_hh_l0")
    np.testing.assert_allclose(sum(e.grad_share for e in edges.values()), node.grad_norm, rtol=1e-10)
    percents = [int(re.search(r"\((-?\d+)%\)", e.label).group(1)) for e in edges.values()]
    assert abs(sum(percents) - 100) <= len(percents)  # each rounded to a whole percent
    assert "share " in draw_graph(m.loss, params=m.params, grad_shares=True).source


def test_grad_shares_of_the_input_projection_are_each_steps_contribution():
    m = handmade_rnn(T=4, retain=True)
    m.loss.backward()
    g = build_graph(m.loss, params=m.params, grad_shares=True)
    w_ih = {step_of(g, e.dst): e.grad_share for e in params_of(g, "rnn.weight_ih_l0")}
    b = {step_of(g, e.dst): e.grad_share for e in params_of(g, "rnn.bias_l0")}
    whole_w, whole_b = m.params["rnn.weight_ih_l0"].grad, m.params["rnn.bias_l0"].grad
    total_w, total_b = np.zeros((4, 3)), np.zeros(4)
    for t in range(4):
        da = m.pre[(0, "fwd", t)].grad  # dL/da_t, a_t = x_t W_ih^T + b + h W_hh^T
        total_w += da.T @ m.x.data[t]
        total_b += da.sum(axis=0)
        np.testing.assert_allclose(w_ih[t], projected(da.T @ m.x.data[t], whole_w), rtol=1e-10)
        np.testing.assert_allclose(b[t], projected(da.sum(axis=0), whole_b), rtol=1e-10)
    np.testing.assert_allclose(total_w, whole_w, rtol=1e-10)
    np.testing.assert_allclose(total_b, whole_b, rtol=1e-10)
    np.testing.assert_allclose(sum(w_ih.values()), np.linalg.norm(whole_w), rtol=1e-10)
    elided = build_graph(m.loss, params=m.params, grad_shares=True, max_timesteps=2)  # t = 1, 2 hidden
    (hidden,) = [e for e in params_of(elided, "rnn.weight_ih_l0") if elided.nodes[e.dst].kind == "elided"]
    expected = sum(m.pre[(0, "fwd", t)].grad.T @ m.x.data[t] for t in (1, 2))
    np.testing.assert_allclose(hidden.grad_share, projected(expected, whole_w), rtol=1e-10)
    np.testing.assert_allclose(
        sum(e.grad_share for e in params_of(elided, "rnn.weight_ih_l0")), np.linalg.norm(whole_w), rtol=1e-10
    )


# ---- elision, fold, backward graph, cuts --------------------------------------------------------


def test_elision_keeps_first_and_last_steps():
    m = handmade_rnn(T=30)
    m.loss.backward()
    g = build_graph(m.loss, params=m.params, max_timesteps=6)
    assert sorted(c.timestep for c in g.timestep_clusters()) == [0, 1, 2, 27, 28, 29]
    (elided,) = [c for c in g.clusters.values() if c.kind == "elided"]
    assert elided.hidden == 24 and elided.label == "t = 3 ... 26"
    (node,) = g.nodes_of("elided")
    assert "24 timesteps hidden" in node.label and node.grad_range[0] <= node.grad_range[1]
    for name in ("rnn.weight_hh_l0", "rnn.weight_ih_l0", "rnn.bias_l0"):
        uses = params_of(g, name)
        assert len(uses) == 7 and [e.count for e in uses if e.dst == node.id] == [24]
        assert [e.label for e in uses if e.dst == node.id] == ["x24"]
    rec = sorted((g.nodes[e.src].timestep, g.nodes[e.dst].timestep) for e in g.edges_of("recurrent"))
    assert rec == [(0, 1), (1, 2), (2, 3), (3, 27), (27, 28), (28, 29)]  # the elided node stands at t = 3
    dot = draw_graph(m.loss, params=m.params, max_timesteps=6).source
    assert "24 timesteps hidden" in dot and "style=dotted" in dot
    full = build_graph(m.loss, params=m.params, max_timesteps=None)
    assert len(full.timestep_clusters()) == 30 and not full.nodes_of("elided")
    assert len(build_graph(m.loss).timestep_clusters()) == 12  # the default threshold


def test_elided_gradient_range_is_the_hidden_steps_norms():
    m = handmade_rnn(T=20, retain=True)
    m.loss.backward()
    g = build_graph(m.loss, params=m.params, max_timesteps=4)
    (node,) = g.nodes_of("elided")
    norms = [np.linalg.norm(m.hs[(0, "fwd", t)].grad) for t in range(2, 18)]
    np.testing.assert_allclose(node.grad_range, (min(norms), max(norms)), rtol=1e-10)


def test_fold_draws_one_cell_with_a_loop():
    m = handmade_rnn(T=5)
    m.loss.backward()
    g = build_graph(m.loss, params=m.params, fold=True)
    assert not g.timestep_clusters()
    (cell,) = [c for c in g.clusters.values() if c.kind == "folded"]
    assert cell.steps == 5 and "run 5 times" in cell.label
    ops = sorted(n.label for n in g.nodes.values() if n.cluster == cell.path and n.kind == "op")
    assert ops == ["add", "matmul", "tanh", "x_t W_ih^T + b"]  # one step's ops, once
    (loop,) = g.edges_of("recurrent")
    assert g.nodes[loop.src].cluster == g.nodes[loop.dst].cluster == cell.path
    assert loop.label == "h  loop: 5 steps" and loop.count == 4
    for name in ("rnn.weight_hh_l0", "rnn.weight_ih_l0", "rnn.bias_l0"):
        (use,) = params_of(g, name)
        assert use.count == 5 and use.label == "x5"
    (x_t,) = [n for n in g.nodes.values() if n.cluster == cell.path and n.step_input]
    assert x_t.detail == "[t]\n1 matmul + 1 add: once for all 5 steps"
    dot = draw_graph(m.loss, params=m.params, fold=True).source
    assert "loop: 5 steps" in dot and "run 5 times" in dot and "constraint=false" in dot


def test_fold_node_gradient_is_the_norm_over_all_steps():
    m = handmade_rnn(T=4, retain=True)
    m.loss.backward()
    g = build_graph(m.loss, params=m.params, fold=True)
    (tanh,) = [n for n in g.nodes.values() if n.label == "tanh"]
    expected = np.sqrt(sum(np.linalg.norm(m.hs[(0, "fwd", t)].grad) ** 2 for t in range(4)))
    np.testing.assert_allclose(tanh.grad_norm, expected, rtol=1e-10)


def test_backward_graph_reverses_edges_with_gradient_shapes():
    m = handmade_rnn(T=3)
    m.loss.backward()
    fwd = build_graph(m.loss, params=m.params)
    g = build_graph(m.loss, params=m.params, backward=True)
    assert g.backward
    forward_pairs = {(e.src, e.dst) for e in fwd.edges}
    assert {(e.dst, e.src) for e in g.edges} <= forward_pairs
    for e in g.edges:
        assert e.label.startswith(f"grad {e.shape}")
    uses = [e for e in g.edges if e.kind == "parameter" and g.nodes[e.dst].label == "rnn.weight_hh_l0"]
    assert len(uses) == 3 and all(e.label.startswith("grad (4, 4)") for e in uses)  # dL/dW_hh^T shares
    kinds_into = {g.nodes[e.dst].kind for e in g.edges}
    assert not kinds_into & {"target", "const", "input"}  # no gradient flows into data
    dot = draw_graph(m.loss, params=m.params, backward=True).source
    assert "(VJP)" in dot and "dir=back" in dot and "grad (2, 4)" in dot


def chunks_with_a_cut():
    """Truncated BPTT by hand: chunk 1's last h, detached, starts chunk 2."""
    rng = np.random.default_rng(3)
    w = Parameter(rng.standard_normal((3, 3)) * 0.5)
    x = rng.standard_normal((6, 1, 3))
    h = mg.zeros(1, 3, dtype=np.float64)
    losses, finals = [], []
    for k in range(2):
        with mg.scope(f"chunk{k}"):
            for t in range(3):
                with mg.scope(f"t{t}"):
                    h = (mg.tensor(x[3 * k + t]) + h @ w).tanh()
            losses.append((h * h).sum())
        finals.append(h)
        h = h.detach()
    return losses, finals, w


def test_detach_draws_a_dashed_cut_edge():
    (loss1, loss2), (h1, _), w = chunks_with_a_cut()
    both = build_graph([loss1, loss2], params={"W": w})
    (cut,) = both.edges_of("cut")
    assert both.nodes[cut.src].label == "tanh" and both.nodes[cut.src].cluster == ("chunk0", "t2")
    assert both.nodes[cut.dst].label == "detached" and cut.label == "cut: detach()"
    dot = draw_graph([loss1, loss2], params={"W": w}).source
    assert re.search(rf"\t{cut.src} -> {cut.dst} \[[^\]]*style=dashed", dot) and "cut: detach()" in dot
    alone = build_graph(loss2, params={"W": w})  # chunk 1 is not in loss2's graph
    (cut,) = alone.edges_of("cut")
    assert alone.nodes[cut.src].kind == "ghost" and alone.nodes[cut.src].cluster == ("chunk0", "t2")
    assert len(alone.timestep_clusters()) == 3
    del loss1, h1, both, alone, cut  # the original is gone: no cut drawn
    gc.collect()
    assert not build_graph(loss2).edges_of("cut")


def test_cut_behind_nn_layers_needs_the_tape():
    ex = bptt_example("lstm", steps=4, truncate=2)
    assert not build_graph(ex.roots, params=ex.model).edges_of("cut")  # h0[k]: a no-grad op, no link
    g = build_graph(ex.roots, params=ex.model, tape=ex.tape)
    cuts = g.edges_of("cut")
    assert len(cuts) == 2  # h and c, detached after chunk 0
    assert {g.nodes[e.src].label for e in cuts} == {"h_n", "c_n"}
    assert {g.nodes[e.src].cluster[0] for e in cuts} == {"chunk0"}
    assert {c.path[0] for c in g.timestep_clusters()} == {"chunk0", "chunk1"}


def caption(dot: str) -> str:
    """The picture's caption: the graph's label, its line breaks as newlines."""
    m = re.search(r"^\tgraph \[[^\n]*?\blabel=<(.*?)<BR ALIGN=\"LEFT\"/>>", dot, re.M)
    return re.sub(r"<BR[^>]*>", "\n", m.group(1))


@pytest.mark.parametrize(
    "steps, truncate, counted",
    [(6, 2, "in 3 chunks of 2"), (6, 3, "in 2 chunks of 3"), (7, 3, "in 3 chunks (3 + 3 + 1)")],
)
def test_truncated_caption_counts_every_drawn_timestep_and_chunk(steps, truncate, counted):
    dot = bptt_example("rnn", steps=steps, truncate=truncate).draw().source
    first = caption(dot).splitlines()[0]
    assert first.startswith(
        f"Truncated backpropagation through time: {steps} timesteps (t = 0 ... {steps - 1}) {counted}"
    )
    assert f"unrolled over {truncate} timesteps" not in dot  # not one chunk's length
    # Chunk k's local step s is drawn as global t = k * truncate + s: chunk k+1 continues chunk k.
    for t in range(steps):
        k, s = divmod(t, truncate)
        assert dot.count(f"<B>t = {t}</B> (chunk{k}, step {s})") == 1
    plain = caption(bptt_example("rnn", steps=steps).draw().source)
    assert plain.startswith(f"Backpropagation through time: the graph unrolled over {steps} timesteps")
    assert "chunk" not in plain


def test_truncated_chunks_run_left_to_right_with_parameters_between_them():
    ex = bptt_example("rnn", steps=6, truncate=3)
    g = build_graph(ex.roots, params=ex.model, targets=ex.targets, tape=ex.tape)
    dot = ex.draw().source
    (cut,) = g.edges_of("cut")
    params = {n.id for n in g.nodes_of("param")}
    # Each parameter is drawn once; none of its edges ranks it (it would stack the chunks).
    assert len(params) == len(list(ex.model.parameters())) and all(dot.count(f"\t{p} [") == 1 for p in params)
    uses = re.findall(r"\t(n\d+) -> n\d+ \[([^\]]*)\]", dot)
    assert {p for p, _ in uses if p in params} == params
    assert all("constraint=false" in attrs for p, attrs in uses if p in params)
    # They share the time column of the detached state, in the gap between the two chunks.
    (same,) = re.findall(r"\{rank=same; ([^}]*)\}", dot)
    assert set(same.split("; ")) == params | {cut.dst}
    # Chunk 1 starts after chunk 0's loss (an invisible ranking edge), the cut ranks left to right.
    (loss0,) = [n.id for n in g.nodes_of("loss") if n.label == "loss (chunk 0)"]
    assert re.search(rf"\t{loss0} -> {cut.dst} \[style=invis\]", dot)
    cut_attrs = re.search(rf"\t{cut.src} -> {cut.dst} \[([^\]]*)\]", dot).group(1)
    assert "constraint=false" not in cut_attrs and "dir=back" not in cut_attrs
    assert "rank=same" not in bptt_example("rnn", steps=6).draw().source  # untruncated: unchanged


# ---- escaping, errors, long graphs ---------------------------------------------------------------

NASTY = "w\"<b>&amp;\n\\x'y"


def test_labels_escape_quotes_brackets_ampersands_newlines():
    w = Parameter(np.ones((2, 2)))
    x = mg.tensor(np.ones((1, 2)))
    with mg.scope('s"<&>'):
        h = x @ w
    h.name = 'h<1> & "two"\nlines'
    loss = h.sum()
    dot = draw_graph(loss, params={NASTY: w}, title='a "title" <with> & more\nlines').source
    for raw in ('"<b>', "<b>&", '"two"', "<1>", 'a "title"', "lines\n"):
        assert raw not in dot
    assert 'w&quot;&lt;b&gt;&amp;amp;<BR ALIGN="CENTER"/>\\x\'y' in dot  # the newline: a line break
    assert 'h&lt;1&gt; &amp; &quot;two&quot;<BR ALIGN="CENTER"/>lines' in dot
    assert "a &quot;title&quot; &lt;with&gt; &amp; more" in dot
    assert "s&quot;&lt;&amp;&gt;" in dot
    # Every double-quoted attribute closes on its line: a stray quote would swallow the rest.
    for line in dot.splitlines():
        assert len(re.findall(r'(?<!\\)"', line)) % 2 == 0, line


def test_bad_arguments_say_what_was_expected():
    m = handmade_rnn(T=2)
    with pytest.raises(ValueError, match="group_by must be one of"):
        draw_graph(m.loss, group_by="layer")
    for bad in (1, 2.5, True, "12"):
        with pytest.raises(ValueError, match="max_timesteps must be an integer >= 2"):
            draw_graph(m.loss, max_timesteps=bad)
    with pytest.raises(ValueError, match="fold=True .* group_by='timestep'"):
        draw_graph(m.loss, fold=True, group_by=None)
    with pytest.raises(TypeError, match="params must be a Module or a dict"):
        draw_graph(m.loss, params=[1, 2])
    with pytest.raises(TypeError, match=r"params\['w'\] must be a Tensor"):
        draw_graph(m.loss, params={"w": np.ones(2)})
    with pytest.raises(TypeError, match="expected a Tensor or a list/tuple of Tensors, got ndarray"):
        draw_graph(np.ones(3))
    with pytest.raises(ValueError, match="empty list"):
        draw_graph([])
    with pytest.raises(TypeError, match="tape must be the Tape"):
        draw_graph(m.loss, tape=[1])
    with pytest.raises(ValueError, match="cell must be one of"):
        bptt_example("transformer")
    with pytest.raises(ValueError, match="truncate must be an integer in"):
        bptt_example("rnn", steps=3, truncate=3)


def test_group_by_scope_and_flat():
    m = handmade_rnn(T=3)
    flat = build_graph(m.loss, group_by=None)
    assert not flat.clusters and all(n.cluster == () for n in flat.nodes.values())
    assert "subgraph" not in draw_graph(m.loss, group_by=None).source
    scoped = build_graph(m.loss, group_by="scope")
    assert not scoped.timestep_clusters() and ("rnn", "l0", "fwd", "t1") in scoped.clusters
    assert not scoped.edges_of("recurrent")


def test_ten_thousand_steps_walk_without_recursion():
    rng = np.random.default_rng(0)
    w = Parameter(np.array([[0.5]]))
    xs = rng.standard_normal((10_000, 1, 1))
    h = mg.zeros(1, 1, dtype=np.float64)
    with mg.scope("rnn"):
        for t in range(10_000):
            with mg.scope(f"t{t}"):
                h = (mg.tensor(xs[t]) + h @ w).tanh()
    h.sum().backward()
    g = build_graph(h.sum(), params={"w": w})
    assert len(g.timestep_clusters()) == 12 and g.nodes_of("elided")[0].count == 9988
    assert len(params_of(g, "w")) == 13
    np.testing.assert_allclose(g.param("w").grad_norm, np.abs(w.grad).item(), rtol=1e-10)


def test_dot_for_200_step_bidirectional_lstm_is_elided():
    mg.manual_seed(0)
    lstm = mg.nn.LSTM(3, 4, bidirectional=True).name_parameters("lstm")
    out, _ = lstm(mg.tensor(np.random.default_rng(0).standard_normal((200, 2, 3)).astype(np.float32)))
    loss = (out * out).mean()
    loss.backward()
    dot = draw_graph(loss).source
    assert len(re.findall(r"label=<\.\.\. 188 timesteps hidden", dot)) == 2  # one elided block per direction
    assert dot.count("<B>t = 0</B>") == 2 and dot.count("<B>t = 199</B>") == 2
    assert dot.count(">lstm.weight_hh_l0<") == 1 and dot.count(">lstm.weight_hh_l0_reverse<") == 1
    where, paths, steps, edges = dot_parts(dot)
    params = dot_params(dot)
    assert len(params) == 8 and "lstm.weight_ih_l0_reverse" in params.values()
    for pid, name in params.items():  # 12 steps shown + 1 elided block each
        heads = [h for t, h, _ in edges if t == pid]
        assert len(heads) == 13 and len({where[h][-1] for h in heads}) == 13, name
        assert sum(where[h][-1] in steps for h in heads) == 12, name


def test_cluster_ids_name_their_scope():
    rnn = mg.nn.RNN(3, 4, bidirectional=True)
    out, _ = rnn(mg.tensor(np.random.default_rng(0).standard_normal((3, 2, 3)).astype(np.float32)))
    ids = re.findall(r"subgraph (\S+) \{", draw_graph(out.sum()).source)
    assert {f"cluster_rnn_l0_{d}_t{t}" for d in ("fwd", "bwd") for t in range(3)} <= set(ids)
    assert len(ids) == len(set(ids))
