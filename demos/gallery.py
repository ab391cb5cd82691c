"""Write the BPTT picture gallery: RNN, GRU, LSTM, bidirectional, 2-layer, folded, truncated, ...

    python -m demos.gallery                       # demos/images/<name>.svg and .png
    python -m demos.gallery --out /tmp/gallery --formats svg --only lstm folded

Each picture is a small model run forward on a random sequence, an MSE loss, ``backward()``,
then ``mg.viz.draw_graph(loss, params=model)`` (gradients painted on) and ``mg.viz.save``.
Rendering uses Graphviz's ``dot`` if installed, else the pip-installed graphviz-pure. PNGs are
re-encoded with a 128-colour palette when Pillow is installed (matplotlib, the demos' extra,
brings it): the pictures are flat colours and text, and the files shrink about threefold.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import minigrad as mg
from demos import _cli
from minigrad.viz.examples import bptt_example

IMAGES = Path(__file__).parent / "images"

# name -> (what it shows, bptt_example arguments, draw_graph options)
GALLERY: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "readme": (
        "The README's first picture: an RNN over 3 steps, one step per row, readable 900 px wide",
        dict(cell="rnn", steps=3),
        dict(layout="rows", steps_per_row=1),
    ),
    "rnn": (
        "An Elman RNN unrolled over 4 steps: each parameter drawn once, an edge into every step",
        dict(cell="rnn", steps=4),
        {},
    ),
    "gru": ("A GRU over 3 steps (gates r, z, n sliced out of one matmul)", dict(cell="gru", steps=3), {}),
    "lstm": ("An LSTM over 3 steps: two recurrent states, h and c", dict(cell="lstm", steps=3), {}),
    "lstm_course": (
        "The same LSTM in the course's notation (notation='course'): Γ_f, Γ_u, Γ_o, c̃, c, a",
        dict(cell="lstm", steps=3),
        dict(notation="course"),
    ),
    "gru_course": (
        "A GRU in the course's notation: Γ_r, Γ_u, c̃ (PyTorch's z is 1 - Γ_u)",
        dict(cell="gru", steps=3),
        dict(notation="course"),
    ),
    "bidirectional": (
        "A bidirectional RNN: the backward direction runs right to left, meeting the forward one at the concat",
        dict(cell="rnn", steps=4, bidirectional=True),
        {},
    ),
    "two_layer": (
        "A 2-layer GRU: layer 1 reads layer 0's whole output sequence",
        dict(cell="gru", steps=3, layers=2),
        {},
    ),
    "folded": (
        "The rolled view of an LSTM: one cell, the recurrence drawn as loops",
        dict(cell="lstm", steps=4),
        dict(fold=True),
    ),
    "truncated": (
        "Truncated BPTT: two chunks of 3 steps, the state carried across by detach()",
        dict(cell="rnn", steps=6, truncate=3),
        {},
    ),
    "backward": (
        "The backward (gradient) graph of a 3-step RNN: edges reversed, gradient shapes",
        dict(cell="rnn", steps=3),
        dict(backward=True),
    ),
    "vanishing": (
        "Loss on the last of 40 steps only: ||dL/dh_t|| fades from right to left",
        dict(cell="rnn", steps=40, loss="last"),
        dict(max_timesteps=8),
    ),
    "rows": (
        "An 8-step LSTM wrapped into rows (layout='rows'): a page, not a strip",
        dict(cell="lstm", steps=8),
        dict(layout="rows", max_timesteps=None),
    ),
    "focus": (
        "One step of an 8-step LSTM in full (focus=4), the steps before and after folded",
        dict(cell="lstm", steps=8),
        dict(focus=4),
    ),
}
# The explorer page written next to the pictures (python -m demos.gallery --explorer)
EXPLORER = ("lstm", dict(cell="lstm", steps=4), {})


def shrink_png(path: Path, colors: int = 128) -> bool:
    """Re-encode the PNG at ``path`` with a ``colors``-colour palette, no dithering (sharp text).
    Returns False, leaving the file as it is, when Pillow is not installed."""
    try:
        from PIL import Image
    except ImportError:
        return False
    if not 2 <= colors <= 256:
        raise ValueError(f"shrink_png: colors must be in [2, 256], got {colors}")
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    small.save(path, optimize=True)
    return True


def main(argv: list[str] | None = None) -> int:
    p = _cli.parser(__doc__, "python -m demos.gallery")
    p.add_argument("--out", type=Path, default=IMAGES, help="folder to write into")
    p.add_argument("--formats", nargs="+", default=["svg", "png"], choices=["svg", "png", "dot"])
    p.add_argument("--only", nargs="+", choices=sorted(GALLERY), help="draw only these")
    p.add_argument("--dpi", type=float, default=72, help="PNG resolution (at most 3840 pixels a side)")
    p.add_argument(
        "--explorer",
        action="store_true",
        help="also write explorer.html: the backward pass of a 4-step LSTM, stepped through",
    )
    p.add_argument(
        "--colors",
        type=int,
        default=128,
        help="PNG palette size (needs Pillow; 0 keeps the renderer's full-colour PNG)",
    )
    args = p.parse_args(argv)
    if args.colors and not 2 <= args.colors <= 256:
        p.error(f"--colors must be 0 (full colour) or in [2, 256], got {args.colors}")
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"renderer: {mg.viz.find_renderer().name} ({mg.viz.find_renderer().path})")
    for name in args.only or GALLERY:
        caption, model_args, options = GALLERY[name]
        start = time.perf_counter()
        graph = bptt_example(**model_args).draw(**options)
        for fmt in args.formats:
            path = mg.viz.save(graph, args.out / f"{name}.{fmt}", dpi=args.dpi)
            if fmt == "png" and args.colors:
                shrink_png(path, args.colors)
            print(f"  {path}  ({path.stat().st_size / 1024:.0f} KiB)")
        print(f"{name}: {caption} [{time.perf_counter() - start:.1f}s]")
    if args.explorer:
        _, model_args, options = EXPLORER
        path = bptt_example(**model_args).explore(args.out / "explorer.html", **options)
        print(f"  {path}  ({path.stat().st_size / 1024:.0f} KiB): open it in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
