"""The renderer's content for the gallery models stays the same while its code is restructured.

``tests/data/viz_gallery_snapshot.json`` records, for every picture ``demos/gallery.py`` draws
(and a few option combinations), the multiset of nodes (kind, primitive, shape, scope box),
edges (their two ends as such keys, kind, multiplicity) and clusters (scope path, kind).
Node ids, colours and wording may change; what is drawn may not. When a change to what is drawn
is intended, rewrite the snapshot on purpose and say so in the commit:

    python tests/test_viz_snapshot.py --write
"""

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

SNAPSHOT = Path(__file__).parent / "data" / "viz_gallery_snapshot.json"

# name -> (bptt_example arguments, draw_graph options): the gallery's pictures and some variants.
CASES = {
    "rnn": (dict(cell="rnn", steps=4), {}),
    "gru": (dict(cell="gru", steps=3), {}),
    "lstm": (dict(cell="lstm", steps=3), {}),
    "bidirectional": (dict(cell="rnn", steps=4, bidirectional=True), {}),
    "two_layer": (dict(cell="gru", steps=3, layers=2), {}),
    "folded": (dict(cell="lstm", steps=4), dict(fold=True)),
    "truncated": (dict(cell="rnn", steps=6, truncate=3), {}),
    "backward": (dict(cell="rnn", steps=3), dict(backward=True)),
    "vanishing": (dict(cell="rnn", steps=40, loss="last"), dict(max_timesteps=8)),
    "lstm_bi_2layer_shares": (dict(cell="lstm", steps=3, layers=2, bidirectional=True), dict(grad_shares=True)),
    "gru_truncated_folded": (dict(cell="gru", steps=6, truncate=2), dict(fold=True)),
}


def content(graph) -> dict:
    """What a picture draws, independent of node ids, colours and label wording."""

    def key(node) -> str:
        what = node.op or (node.label.rsplit(".", 1)[-1] if node.kind == "param" else node.kind)
        return "|".join([node.kind, what, str(tuple(node.shape)), "/".join(node.cluster)])

    nodes = Counter(key(n) for n in graph.nodes.values())
    edges = Counter(
        f"{key(graph.nodes[e.src])} -> {key(graph.nodes[e.dst])} [{e.kind} x{e.count}]" for e in graph.edges
    )
    clusters = Counter(f"{'/'.join(c.path)} [{c.kind}]" for c in graph.clusters.values())
    return {
        "nodes": dict(sorted(nodes.items())),
        "edges": dict(sorted(edges.items())),
        "clusters": dict(sorted(clusters.items())),
    }


def gallery_content() -> dict:
    from minigrad.viz import build_graph
    from minigrad.viz.examples import bptt_example

    out = {}
    for name, (model_args, options) in CASES.items():
        ex = bptt_example(**model_args)
        out[name] = content(build_graph(ex.roots, params=ex.model, targets=ex.targets, tape=ex.tape, **options))
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_gallery_content_unchanged(name):
    expected = json.loads(SNAPSHOT.read_text())[name]
    got = gallery_content_cached()[name]
    for part in ("clusters", "nodes", "edges"):
        missing = {k: v for k, v in expected[part].items() if got[part].get(k) != v}
        extra = {k: v for k, v in got[part].items() if expected[part].get(k) != v}
        assert not missing and not extra, (
            f"{name} {part}: expected but not drawn {missing}; drawn, not expected {extra}"
        )


_CACHE: dict = {}


def gallery_content_cached() -> dict:
    if not _CACHE:
        _CACHE.update(gallery_content())
    return _CACHE


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_viz_snapshot.py --write   (rewrites the snapshot on purpose)")
    sys.path.insert(0, str(Path(__file__).parent.parent))
    SNAPSHOT.write_text(json.dumps(gallery_content(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")
