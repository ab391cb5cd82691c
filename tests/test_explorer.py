"""mg.viz.explore: the backward pass stepped through in one self-contained HTML page.

The page is checked twice: as data (the backward order is the engine's own, the page needs no
network) and in a real browser: headless Chromium loads ``file://.../bptt.html#step=K`` and
``#node=ID``, runs the page's script, and the live DOM it dumps must show exactly K nodes
painted and the selected node's shape in the panel. A screenshot is saved for a person to look
at. Without Chromium these browser tests skip, saying so; under CI=true they fail instead.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import topological_order
from minigrad.viz import explore
from minigrad.viz.examples import bptt_example
from minigrad.viz.explore import backward_order, page

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(os.environ.get("MINIGRAD_SCREENSHOTS", Path(__file__).parent / "screenshots"))


def chromium() -> str:
    """The headless browser, or skip (fail under CI=true, where .ci/run installs it)."""
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        message = "no headless Chromium (/usr/bin/chromium): install Debian's chromium package to run this test"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but " + message)
        pytest.skip(message)
    return path


def browse(page_path: Path, fragment: str, tmp_path: Path, *extra: str) -> str:
    """Load ``file://page#fragment`` in a fresh headless Chromium, let its script run, return the live DOM."""
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    url = page_path.resolve().as_uri() + fragment
    proc = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            *extra,
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'data-ready="1"' in proc.stdout, "the page's script did not finish: " + proc.stderr[-2000:]
    return proc.stdout


def painted(dom: str) -> tuple[int, int]:
    """(painted, pending) node groups in the dumped DOM."""
    classes = re.findall(r'<g [^>]*class="node([^"]*)"', dom)
    return sum("painted" in c.split() for c in classes), sum("pending" in c.split() for c in classes)


@pytest.fixture(scope="module")
def lstm_page(tmp_path_factory):
    ex = bptt_example("lstm", steps=4)
    path = ex.explore(tmp_path_factory.mktemp("explorer") / "bptt.html")
    return ex, path


# ---- the page as data ------------------------------------------------------------------------


def page_data(html: str) -> dict:
    import json

    return json.loads(
        re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', html, re.S)
        .group(1)
        .replace("<\\/", "</")
    )


def test_page_is_one_self_contained_file(lstm_page):
    _, path = lstm_page
    html = path.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "</html>" in html
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html)  # nothing loaded from elsewhere
    urls = set(re.findall(r'https?://[^\s"\'<>]+', html))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls  # SVG namespaces only
    assert "@import" not in html and "fetch(" not in html and "XMLHttpRequest" not in html


def test_backward_order_is_the_engines_own(lstm_page):
    ex, path = lstm_page
    data = page_data(path.read_text())
    g = mg.viz.build_graph(ex.roots, params=ex.model, targets=ex.targets, tape=ex.tape)
    order = backward_order(ex.roots, g)
    assert data["order"] == order and len(set(order)) == len(order)
    # Each drawn node at the position where the engine's loop first reaches one of its tensors.
    engine = [g.drawn_of[id(t)] for t in reversed(topological_order(ex.roots[0])) if id(t) in g.drawn_of]
    assert order == list(dict.fromkeys(engine))
    assert g.nodes[order[0]].kind == "loss"  # the seed comes first
    # Every drawn node that gets a gradient is in it; inputs and targets are not.
    assert set(order) == {nid for nid in g.nodes if nid in g.gradients and g.tensors[nid].requires_grad}
    assert not {nid for nid in order if g.nodes[nid].kind in ("input", "target", "const")}
    # h_t reached from t = T-1 down to 0: the timeline fills right to left.
    (line,) = data["timelines"]
    hs = sorted(line["steps"], key=lambda s: order.index(s["node"]))
    assert [s["t"] for s in hs] == [3, 2, 1, 0]


def test_node_data_match_the_tensors(lstm_page):
    ex, path = lstm_page
    data = page_data(path.read_text())
    g = mg.viz.build_graph(ex.roots, params=ex.model, targets=ex.targets, tape=ex.tape)
    for nid, node in g.nodes.items():
        entry = data["nodes"][nid]
        assert entry["shape"] == list(node.shape) and entry["dtype"] == node.dtype and entry["kind"] == node.kind
        t = g.tensors.get(nid)
        if t is not None and node.kind != "elided":
            assert entry["value"]["max"] == pytest.approx(float(t.data.max()), rel=1e-3, abs=1e-12)
            assert len(entry["heat"]) == min(t.data.size, 48)
        if nid in g.gradients:
            assert entry["grad"]["norm"] == pytest.approx(float(np.linalg.norm(g.gradients[nid])), rel=1e-3)
    step = next(n for n in g.nodes.values() if n.timestep == 2 and n.op == "tanh")
    assert data["nodes"][step.id]["layer"] == 0 and data["nodes"][step.id]["direction"] == "forward"
    assert data["nodes"][step.id]["timestep"] == 2


def test_gradients_match_backward_when_drawn_before_it():
    """explore() paints gradients without a backward() call, and they equal what backward() gives."""
    mg.manual_seed(0)
    rnn = mg.nn.RNN(3, 4, dtype=np.float64)
    x = mg.tensor(np.random.default_rng(0).standard_normal((5, 2, 3)))
    out, _ = rnn(x)
    loss = (out**2).sum()
    html = page(loss, params=rnn)
    data = page_data(html)
    loss.backward()
    g = mg.viz.build_graph(loss, params=rnn)
    w = g.param("weight_hh_l0")
    assert data["nodes"][w.id]["grad"]["norm"] == pytest.approx(np.linalg.norm(rnn.weight_hh_l0.grad), rel=1e-3)


def test_explore_errors(tmp_path):
    ex = bptt_example("rnn", steps=2)
    with pytest.raises(ValueError, match=r"explore: .*\.html.*bptt\.svg"):
        explore(ex.roots, tmp_path / "bptt.svg")
    with pytest.raises(TypeError, match="explore"):
        explore("not a tensor", tmp_path / "x.html")
    with pytest.raises(ValueError, match="max_timesteps"):
        explore(ex.roots, tmp_path / "x.html", max_timesteps=1)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_cli_writes_the_explorer(tmp_path, capsys):
    from minigrad.viz.__main__ import main as cli

    assert cli(["--cell", "gru", "--steps", "3", "-o", str(tmp_path / "bptt.html")]) == 0
    assert "explorer" in capsys.readouterr().out
    assert page_data((tmp_path / "bptt.html").read_text())["order"]


def test_200_step_lstm_page_stays_under_5_mb(tmp_path):
    ex = bptt_example("lstm", steps=200)
    path = ex.explore(tmp_path / "lstm200.html")
    size = path.stat().st_size
    print(f"200-step LSTM explorer page: {size / 1e6:.2f} MB")
    assert size < 5e6


# ---- in a real browser -------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 1, 9, "all"])
def test_step_k_paints_exactly_k_nodes(lstm_page, tmp_path, k):
    _, path = lstm_page
    n = len(page_data(path.read_text())["order"])
    k = n if k == "all" else k
    dom = browse(path, f"#step={k}", tmp_path)
    assert painted(dom) == (k, n - k)
    assert f"{k} / {n} nodes done" in dom
    filled = len(re.findall(r'class="bar filled"', dom))  # the timeline fills with the pass
    assert filled == (4 if k == n else filled) and (k > 0 or filled == 0)


def test_node_link_selects_the_node_and_shows_its_shape(lstm_page, tmp_path):
    ex, path = lstm_page
    data = page_data(path.read_text())
    nid, entry = next((nid, e) for nid, e in data["nodes"].items() if e["op"] == "sigmoid" and e.get("timestep") == 1)
    dom = browse(path, f"#step=5&node={nid}", tmp_path)
    shape = "(" + ", ".join(map(str, entry["shape"])) + ")"
    assert re.search(rf'id="node-shape">{re.escape(shape)}<', dom)
    assert re.search(rf'id="node-id">{nid}<', dom) and 'id="node-scope">lstm/l0/fwd/t1' in dom.replace("rnn/", "lstm/")
    assert re.search(rf'<g [^>]*class="node[^"]*selected[^"]*"[^>]*data-node="{nid}"', dom) or re.search(
        rf'data-node="{nid}"[^>]*class="node[^"]*selected', dom
    )
    assert painted(dom)[0] == 5


def test_screenshot_a_person_can_look_at(lstm_page, tmp_path):
    _, path = lstm_page
    data = page_data(path.read_text())
    nid = next(nid for nid, e in data["nodes"].items() if e["op"] == "tanh" and e.get("timestep") == 2)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "explorer_lstm_step20.png"
    profile = tmp_path / "shot_profile"
    url = path.resolve().as_uri() + f"#step=20&node={nid}"
    subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--window-size=1400,900",
            f"--screenshot={shot}",
            url,
        ],
        capture_output=True,
        timeout=180,
        check=True,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    import struct

    assert struct.unpack(">II", data[16:24]) == (1400, 900)
    print(f"screenshot: {shot}", file=sys.stderr)
