"""Layouts that fit a page, measured on the rendered SVG: ``layout="rows"`` keeps an 8-step LSTM
within a 2:1 aspect ratio, ``focus=t`` draws one step in full and folds the rest, and the
README's first picture has labels at least 9 px high when shown 900 px wide."""

import re
from pathlib import Path

import pytest

from minigrad.viz import build_graph, render
from minigrad.viz.examples import bptt_example

README_PICTURE = Path(__file__).parent.parent / "demos" / "images" / "readme.svg"


def svg_size(svg: str) -> tuple[float, float]:
    m = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    return float(m.group(1)), float(m.group(2))


def smallest_text_px(svg: str, shown_width_px: float = 900) -> float:
    """The smallest label's height in pixels when the SVG is scaled to ``shown_width_px`` wide."""
    width, _ = svg_size(svg)
    sizes = [float(s) for s in re.findall(r'font-size="([\d.]+)"', svg)]
    return min(sizes) * shown_width_px / width


def test_rows_layout_keeps_an_8_step_lstm_within_2_to_1():
    ex = bptt_example("lstm", steps=8)
    columns_w, columns_h = svg_size(render.svg(ex.draw(max_timesteps=None)))
    rows_w, rows_h = svg_size(render.svg(ex.draw(max_timesteps=None, layout="rows")))
    print(f"8-step LSTM: columns {columns_w:.0f} x {columns_h:.0f} pt, rows {rows_w:.0f} x {rows_h:.0f} pt")
    assert columns_w / columns_h > 2  # the strip it replaces
    assert max(rows_w / rows_h, rows_h / rows_w) <= 2


def test_rows_put_steps_in_rows_and_the_state_wraps():
    ex = bptt_example("rnn", steps=6)
    source = ex.draw(layout="rows", steps_per_row=3).source
    wraps = [line for line in source.splitlines() if "constraint=false" in line and "penwidth=2.4" in line]
    assert len(wraps) == 1  # t = 2 -> t = 3 wraps to the second row
    assert source.count("rank=same") == 1  # the head and loss stacked in one column


def test_focus_draws_one_step_in_full_and_folds_the_others():
    ex = bptt_example("lstm", steps=8)
    g = build_graph(ex.roots, params=ex.model, targets=ex.targets, tape=ex.tape, focus=4)
    steps = sorted((c.kind, c.timestep, c.hidden) for c in g.clusters.values() if c.kind in ("timestep", "elided"))
    assert steps == [("elided", 0, 4), ("elided", 5, 3), ("timestep", 4, 0)]
    full = build_graph(ex.roots, params=ex.model, targets=ex.targets, tape=ex.tape, max_timesteps=None)
    in_step = sorted(n.op for n in g.nodes.values() if n.timestep == 4 and n.kind == "op")
    assert in_step == sorted(n.op for n in full.nodes.values() if n.timestep == 4 and n.kind == "op")
    for name in ("weight_hh_l0", "weight_ih_l0"):  # every parameter still feeds all three boxes
        reached = {
            g.nodes[e.dst].cluster for e in g.edges if e.kind == "parameter" and g.nodes[e.src].label.endswith(name)
        }
        assert len(reached) == 3, name
    first = build_graph(ex.roots, params=ex.model, targets=ex.targets, tape=ex.tape, focus=0)
    assert sorted((c.kind, c.timestep) for c in first.clusters.values() if c.kind in ("timestep", "elided")) == [
        ("elided", 1),
        ("timestep", 0),
    ]
    assert "t = 0 ... 7" in ex.draw(focus=4).source


@pytest.mark.parametrize(
    "options, says",
    [
        (dict(layout="grid"), "layout must be one of"),
        (dict(focus=-1), "focus must be a timestep"),
        (dict(focus=1.5), "focus must be a timestep"),
        (dict(focus=9), "focus=9, but the graph's timesteps are 0 ... 3"),
        (dict(focus=1, fold=True), "focus=t draws step t in full"),
        (dict(steps_per_row=0, layout="rows"), "steps_per_row must be a positive integer"),
        (dict(steps_per_row=2), "needs layout='rows'"),
        (dict(colour="red"), "colour"),
    ],
)
def test_layout_options_say_what_they_expect(options, says):
    ex = bptt_example("rnn", steps=4)
    with pytest.raises((ValueError, TypeError), match=re.escape(says)):
        ex.draw(**options)


def test_readme_picture_is_readable_at_900_px():
    """The committed picture, and the same one drawn now, both keep every label >= 9 px at 900 px."""
    committed = README_PICTURE.read_text()
    assert smallest_text_px(committed) >= 9, smallest_text_px(committed)
    from demos.gallery import GALLERY

    _, model_args, options = GALLERY["readme"]
    fresh = render.svg(bptt_example(**model_args).draw(**options))
    print(f"README picture: smallest label {smallest_text_px(fresh):.2f} px at 900 px wide")
    assert smallest_text_px(fresh) >= 9


def test_build_graph_names_unknown_options():
    ex = bptt_example("rnn", steps=2)
    with pytest.raises(TypeError, match=r"unknown option\(s\) colour; the options are group_by, .*focus"):
        build_graph(ex.roots, colour="red")


def _heights(ex, **options):
    """Each timestep's highest node in the laid-out picture (the renderer's plain output: y grows upward)."""
    graph = build_graph(ex.roots, params=ex.model, targets=ex.targets, tape=ex.tape, **options)
    plain = ex.draw(**options).pipe(format="plain").decode()
    y = {p[1]: float(p[3]) for p in (line.split() for line in plain.splitlines()) if p and p[0] == "node"}
    steps = sorted({n.timestep for n in graph.nodes.values() if n.timestep is not None})
    return [max(y[n.id] for n in graph.nodes.values() if n.timestep == t and n.id in y) for t in steps]


def test_rows_run_top_to_bottom_in_time_order():
    # one step per row (the README's picture): t = 0 on top, then t = 1, t = 2
    tops = _heights(bptt_example("rnn", steps=3), layout="rows", steps_per_row=1)
    assert tops[0] > tops[1] > tops[2]
    # two per row: each column reads top to bottom in time
    tops = _heights(bptt_example("lstm", steps=8), layout="rows", steps_per_row=2, max_timesteps=None)
    assert tops[0::2] == sorted(tops[0::2], reverse=True) and tops[1::2] == sorted(tops[1::2], reverse=True)
