"""minigrad.viz rendering: SVG and PNG through graphviz-pure with no system Graphviz, bounded PNGs,
the graphviz.Digraph contract (pipe, render, Jupyter), the command line and the gallery script.

Each test that renders first hides every program on PATH, so `dot` cannot be found, and checks
that the renderer picked is graphviz-pure (found next to the running Python, where pip puts it)
and that its output says so.
"""

import struct
import sys
from pathlib import Path

import graphviz
import numpy as np
import pytest

import minigrad as mg
from minigrad.viz import render
from minigrad.viz.__main__ import main as cli
from minigrad.viz.examples import bptt_example


@pytest.fixture
def pure_only(monkeypatch, tmp_path):
    """No Graphviz: an empty PATH, no MINIGRAD_DOT; graphviz-pure must be found next to Python."""
    empty = tmp_path / "empty_path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("MINIGRAD_DOT", raising=False)
    found = render.find_renderer()
    assert found.name == "graphviz-pure", found
    assert Path(found.path).parent in {Path(p).parent for p in render._candidates_next_to_python()}
    return found


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def lstm_graph():
    return bptt_example("lstm", steps=3).draw()


def test_svg_and_png_render_with_graphviz_pure(pure_only, tmp_path, lstm_graph):
    svg = mg.viz.save(lstm_graph, tmp_path / "g.svg")
    text = svg.read_text()
    assert "<svg" in text and "(graphviz-pure)" in text  # the backend writes its name
    assert "lstm.weight_hh_l0" in text and "t = 2" in text
    png = mg.viz.save(lstm_graph, tmp_path / "g.png")
    width, height = png_size(png.read_bytes())
    assert 0 < width <= render.MAX_PIXELS and 0 < height <= render.MAX_PIXELS
    small = mg.viz.save(lstm_graph, tmp_path / "small.png", dpi=48)
    assert png_size(small.read_bytes())[0] < width  # dpi is honoured
    dot = mg.viz.save(lstm_graph, tmp_path / "g.dot")
    assert dot.read_text() == lstm_graph.source


def test_png_is_bounded_however_large_the_graph(pure_only, tmp_path):
    chain = "digraph { rankdir=LR; " + " ".join(f"n{i} -> n{i + 1};" for i in range(300)) + " }"
    width, height = png_size(mg.viz.save(chain, tmp_path / "chain.png").read_bytes())
    assert width == render.MAX_PIXELS and height >= 1  # unbounded, it would be 37,879 px wide
    assert render.bounds("png", 96) == ["-Gsize=40,40", "-Gdpi=96"] and render.bounds("svg") == []


def test_escaped_labels_render(pure_only, tmp_path):
    w = mg.nn.Parameter(np.array([[1.0, 2.0]]))
    h = mg.tensor(np.array([[0.5], [1.5]])) @ w
    h.name = 'h<1> & "two"\nlines'
    svg = mg.viz.save(mg.viz.draw_graph(h.sum(), params={'w"<b>&': w}), tmp_path / "esc.svg").read_text()
    assert ">w&quot;&lt;b&gt;&amp;</text>" in svg  # the text itself, not markup
    assert ">h&lt;1&gt; &amp; &quot;two&quot;</text>" in svg and ">lines" in svg


def test_returned_graph_is_a_graphviz_digraph_that_renders_without_dot(pure_only, tmp_path, lstm_graph):
    assert isinstance(lstm_graph, graphviz.Digraph) and lstm_graph.source.startswith("digraph")
    bundle = lstm_graph._repr_mimebundle_()  # what Jupyter displays inline
    assert list(bundle) == ["image/svg+xml"] and "(graphviz-pure)" in bundle["image/svg+xml"]
    assert png_size(lstm_graph.pipe(format="png"))[0] <= render.MAX_PIXELS
    out = lstm_graph.render(outfile=tmp_path / "r.svg")
    assert Path(out).read_text().count("(graphviz-pure)") == 1
    out = lstm_graph.render(filename=tmp_path / "plain", format="svg")
    assert out.endswith("plain.svg") and Path(out).exists()
    # The plain graphviz package, by contrast, needs `dot` and finds none here.
    with pytest.raises(graphviz.ExecutableNotFound):
        graphviz.Digraph(body=["a -> b"]).pipe(format="svg")


def test_missing_renderer_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("MINIGRAD_DOT", raising=False)
    monkeypatch.setattr(render, "_candidates_next_to_python", lambda: [])
    with pytest.raises(render.RendererNotFoundError, match="pip install graphviz-pure"):
        mg.viz.save("digraph { a -> b }", tmp_path / "x.svg")
    assert not (tmp_path / "x.svg").exists()
    assert mg.viz.save("digraph { a -> b }", tmp_path / "x.dot").read_text() == "digraph { a -> b }"
    monkeypatch.setenv("MINIGRAD_DOT", str(tmp_path / "nope"))
    with pytest.raises(render.RendererNotFoundError, match="MINIGRAD_DOT"):
        render.find_renderer()


def test_minigrad_dot_picks_the_program(monkeypatch, tmp_path, pure_only):
    monkeypatch.setenv("MINIGRAD_DOT", pure_only.path)
    assert render.find_renderer() == pure_only


def test_save_errors(pure_only, tmp_path, lstm_graph):
    with pytest.raises(ValueError, match="graphviz-pure .* cannot write 'pdf'.*install Graphviz"):
        mg.viz.save(lstm_graph, tmp_path / "g.pdf")
    with pytest.raises(ValueError, match="cannot tell the format from .*g.bmp"):
        mg.viz.save(lstm_graph, tmp_path / "g.bmp")
    with pytest.raises(TypeError, match="expected a graphviz graph .* got int"):
        mg.viz.save(3, tmp_path / "g.svg")
    with pytest.raises(ValueError, match=r"dpi must be a number in \[1, 600\]"):
        mg.viz.save(lstm_graph, tmp_path / "g.png", dpi=0)
    with pytest.raises(RuntimeError, match="graphviz-pure failed to write"):
        mg.viz.save("digraph { a -> }", tmp_path / "broken.svg")


def test_command_line(pure_only, tmp_path, capsys):
    out = tmp_path / "bptt.svg"
    assert cli(["--cell", "lstm", "--steps", "4", "--layers", "2", "--bidirectional", "-o", str(out)]) == 0
    assert "rendered by graphviz-pure" in capsys.readouterr().out
    text = out.read_text()
    for name in ("lstm.weight_hh_l0", "lstm.weight_hh_l1_reverse", "t = 3", "backward direction"):
        assert name in text
    dot = tmp_path / "fold.dot"
    assert cli(["--cell", "gru", "--steps", "3", "--fold", "-o", str(dot)]) == 0
    assert "loop: 3 steps" in dot.read_text()
    assert cli(["--cell", "rnn", "--steps", "6", "--truncate", "3", "-o", str(tmp_path / "t.dot")]) == 0
    assert "cut: detach()" in (tmp_path / "t.dot").read_text()
    assert cli(["--cell", "rnn", "--steps", "3", "-o", str(tmp_path / "x.pdf")]) == 1
    assert "cannot write 'pdf'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["--steps", "3", "--truncate", "3"])
    assert "truncate must be an integer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["--max-timesteps", "1"])


def test_gallery_script(pure_only, tmp_path):
    sys.path.insert(0, str(Path(__file__).parents[1]))
    try:
        from demos import gallery
    finally:
        sys.path.pop(0)
    assert gallery.main(["--out", str(tmp_path), "--only", "rnn", "folded", "--formats", "svg", "png"]) == 0
    for name in ("rnn", "folded"):
        assert "(graphviz-pure)" in (tmp_path / f"{name}.svg").read_text()
        assert png_size((tmp_path / f"{name}.png").read_bytes())[0] <= render.MAX_PIXELS
    palette = (tmp_path / "rnn.png").read_bytes()
    assert palette[25] == 3  # IHDR colour type 3: a palette PNG
    assert gallery.main(["--out", str(tmp_path / "full"), "--only", "rnn", "--formats", "png", "--colors", "0"]) == 0
    full = (tmp_path / "full" / "rnn.png").read_bytes()
    assert full[25] in (2, 6) and png_size(full) == png_size(palette) and len(palette) < len(full) / 2
    with pytest.raises(SystemExit):
        gallery.main(["--colors", "1"])
    committed = Path(gallery.IMAGES)
    for name in gallery.GALLERY:  # the README shows these
        for suffix in (".svg", ".png"):
            assert (committed / f"{name}{suffix}").stat().st_size > 1000, name
