"""The pictures are legible by a measure: every text colour has WCAG AA contrast (>= 4.5:1)
against the fill behind it, computed from the DOT attributes; the legend explains every mark
the picture contains; the command line says what it expected."""

import re

import pytest

from minigrad.viz import dot as viz_dot
from minigrad.viz.__main__ import main as cli
from minigrad.viz.dot import AA, contrast_ratio
from minigrad.viz.examples import bptt_example

# (bptt_example arguments, draw options): every kind of picture, so every fill and ink appears.
PICTURES = {
    "rnn": (dict(cell="rnn", steps=4), {}),
    "lstm_bi_2layer": (dict(cell="lstm", steps=3, layers=2, bidirectional=True), {}),
    "gru_shares": (dict(cell="gru", steps=3), dict(grad_shares=True)),
    "folded": (dict(cell="lstm", steps=4), dict(fold=True)),
    "truncated": (dict(cell="rnn", steps=6, truncate=3), {}),
    "fold_truncated": (dict(cell="gru", steps=4, truncate=2), dict(fold=True)),
    "backward": (dict(cell="rnn", steps=3), dict(backward=True)),
    "elided": (dict(cell="rnn", steps=20, loss="last"), dict(max_timesteps=6)),
    "no_grads": (dict(cell="lstm", steps=2), dict(show_grads=False)),
}

_VALUE = r'<(?:[^<>]|<[^<>]*(?:<[^<>]*>[^<>]*)*>)*>|"(?:[^"\\]|\\.)*"|[^\s\]]+'


def attributes(text: str) -> dict[str, str]:
    """``[k=v k="v" label=<...>]`` of one DOT statement, read back."""
    body = text[text.index("[") + 1 : text.rindex("]")]
    out = {}
    for m in re.finditer(rf"(\w+)=({_VALUE})", body):
        value = m.group(2)
        out[m.group(1)] = value[1:-1] if value[:1] == '"' else value
    return out


def label_pairs(label: str, fill: str, default_ink: str) -> list[tuple[str, str, str]]:
    """(text colour, fill, text) for every run of text in a label: FONT COLOR nests, a table cell's
    BGCOLOR (or the table's) becomes the fill behind its text."""
    pairs = []
    inks, fills = [default_ink], [fill]
    for m in re.finditer(r"<(/?)(\w+)([^>]*)>|([^<]+)", label[1:-1] if label.startswith("<") else label):
        closing, tag, attrs, run = m.groups()
        if run is not None:
            if run.strip():
                pairs.append((inks[-1], fills[-1], run.strip()))
            continue
        tag = tag.upper()
        if tag == "FONT":
            if closing:
                inks.pop()
            else:
                c = re.search(r'COLOR="([^"]+)"', attrs)
                inks.append(c.group(1) if c else inks[-1])
        elif tag in ("TD", "TABLE"):
            if closing:
                fills.pop()
            else:
                c = re.search(r'BGCOLOR="([^"]+)"', attrs)
                fills.append(c.group(1) if c else fills[-1])
    return pairs


def text_on_fill(source: str) -> list[tuple[str, str, str, str]]:
    """(what, text colour, fill, text) for every label in the DOT text: nodes on their fill (or
    their cluster's, when not filled), cluster labels on the cluster's fill, edge labels on every
    cluster fill and the background (an edge label may land in any box, never on a node)."""
    found, stack = [], ["white"]
    all_fills = {"white"}
    edge_labels = []
    for line in source.splitlines():
        s = line.strip()
        if re.fullmatch(r"subgraph \w+ \{", s):
            stack.append(stack[-1])
        elif s == "}":
            stack.pop()
        elif s.startswith("graph ["):
            a = attributes(s)
            fill = (
                a.get("fillcolor", a.get("bgcolor", stack[-1]))
                if "filled" in a.get("style", "") or "bgcolor" in a
                else stack[-1]
            )
            stack[-1] = fill
            all_fills.add(fill)
            if "label" in a:
                found += [("cluster", ink, fill, t) for ink, fill, t in label_pairs(a["label"], fill, "black")]
        elif " -> " in s and "[" in s:
            a = attributes(s)
            if "label" in a:
                edge_labels.append(a)
        elif re.match(r"\w+ \[", s) and not s.startswith(("node [", "edge [")):  # not the defaults
            a = attributes(s)
            fill = a["fillcolor"] if "filled" in a.get("style", "filled") else stack[-1]
            found += [
                (f"node {s.split()[0]}", ink, fill, t)
                for ink, fill, t in label_pairs(a.get("label", ""), fill, a.get("fontcolor", "black"))
            ]
    for a in edge_labels:
        for fill in all_fills:
            found += [
                ("edge", ink, fill, t) for ink, fill, t in label_pairs(a["label"], fill, a.get("fontcolor", "black"))
            ]
    return found


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_every_label_has_aa_contrast_against_its_fill(name):
    model_args, options = PICTURES[name]
    source = bptt_example(**model_args).draw(**options).source
    checked = text_on_fill(source)
    assert len(checked) > 20
    poor = [
        (what, ink, fill, round(contrast_ratio(ink, fill), 2), t)
        for what, ink, fill, t in checked
        if contrast_ratio(ink, fill) < AA
    ]
    assert not poor, poor[:10]


def test_every_shade_of_the_gradient_palette_gets_aa_text():
    """All 1001 shades the palette can paint, with the main and the soft text colour chosen for each."""
    for step in range(1001):
        fill = viz_dot._ramp(step)
        main, soft = viz_dot.ink(fill)
        assert contrast_ratio(main, fill) >= AA and contrast_ratio(soft, fill) >= AA, (step, fill, main, soft)
    for fill in [*viz_dot._KIND_FILL.values(), viz_dot._ZERO, viz_dot._UNTRACKED_FILL]:
        assert min(contrast_ratio(c, fill) for c in viz_dot.ink(fill)) >= AA, fill


def test_contrast_ratio_matches_wcag_reference_values():
    assert contrast_ratio("black", "white") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # WCAG's classic near miss
    assert contrast_ratio("#767676", "white") == pytest.approx(4.54, abs=0.01)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)


# ---- the legend -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_legend_explains_every_mark_in_the_picture(name):
    model_args, options = PICTURES[name]
    ex = bptt_example(**model_args)
    from minigrad.viz import build_graph

    g = build_graph(ex.roots, params=ex.model, targets=ex.targets, tape=ex.tape, **options)
    source = viz_dot.to_dot(g).source
    legend = source[source.index("\tlegend [") :].split("\n", 1)[0]
    marks = {mark for mark, _ in viz_dot.legend_keys(g)}
    for kind, mark in [
        ("op", "rounded box"),
        ("param", "double border"),
        ("input", "arrow box"),
        ("target", "folded corner"),
        ("const", "small grey text"),
        ("elided", "dashed box '... hidden ...'"),
    ]:
        if g.nodes_of(kind):
            assert mark in marks, kind
    for kind, mark in [
        ("recurrent", "thick blue/orange arrow"),
        ("parameter", "thin gold arrow"),
        ("cut", "dashed red arrow"),
        ("data", "grey arrow"),
    ]:
        if g.edges_of(kind):
            assert mark in marks, kind
    multiples = [e for e in g.edges if re.search(r"(^|\s)x\d+", e.label)]
    assert bool(multiples) == ("x4 on an arrow" in marks)
    if any(e.grad_share is not None for e in g.edges):
        assert "share s (p%)" in marks
    if g.grads:
        assert "grad g" in marks and "gradient norm" in legend
    for mark in marks:  # and the DOT legend says each
        assert viz_dot.text(mark) in legend, mark


def test_multiplicity_labels_appear_and_are_explained():
    g = bptt_example("rnn", steps=12).draw(max_timesteps=4).source
    assert re.search(r">x\d+<", g) or re.search(r"  x\d+", g)
    assert "arrows drawn as one" in g


# ---- command-line messages --------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, says", [("foo", "expected an integer >= 2"), ("0", "got 0"), ("1", "got 1"), ("-3", "got -3")]
)
def test_cli_max_timesteps_says_what_it_expected(value, says, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        cli(["--max-timesteps", value, "-o", str(tmp_path / "x.dot")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--max-timesteps" in err and says in err and "'all'" in err
    assert "_max_timesteps" not in err and not (tmp_path / "x.dot").exists()


@pytest.mark.parametrize("flag", ["--steps", "--hidden", "--layers", "--batch", "--input-size", "--truncate"])
def test_cli_counts_must_be_positive(flag, capsys, tmp_path):
    with pytest.raises(SystemExit):
        cli([flag, "0", "-o", str(tmp_path / "x.dot")])
    err = capsys.readouterr().err
    assert flag in err and "positive integer" in err


def test_cli_max_timesteps_all_draws_every_step(tmp_path):
    assert cli(["--cell", "rnn", "--steps", "14", "--max-timesteps", "all", "-o", str(tmp_path / "x.dot")]) == 0
    source = (tmp_path / "x.dot").read_text()
    assert all(f"<B>t = {t}</B>" in source for t in range(14)) and "timesteps hidden" not in source


def test_fold_truncate_labels_use_global_time(tmp_path):
    assert cli(["--cell", "rnn", "--steps", "4", "--truncate", "2", "--fold", "-o", str(tmp_path / "f.dot")]) == 0
    source = (tmp_path / "f.dot").read_text()
    assert "(t = 0 ... 1)</B> (chunk0" in source and "(t = 2 ... 3)</B> (chunk1" in source
