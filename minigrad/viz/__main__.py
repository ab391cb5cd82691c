"""Draw a small recurrent model's BPTT graph without writing code.

    python -m minigrad.viz --cell lstm --steps 4 --layers 2 --bidirectional -o bptt.svg

Builds ``nn.RNN``/``GRU``/``LSTM`` (+ a linear head), runs a random sequence forward, takes an MSE
loss, calls ``backward()`` and draws the unrolled graph with gradients painted on. The output's
suffix picks the format (``.svg``, ``.png``, ``.dot``; ``.pdf`` with Graphviz installed), and
``.html`` writes the explorer: one page that replays the backward pass node by node.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import find_renderer, save
from .examples import CELLS, LOSSES, bptt_example
from .render import RendererNotFoundError


def max_timesteps(text: str) -> int | None:
    """``--max-timesteps``: an integer >= 2 (first and last steps kept), or ``all`` for every step."""
    if text.strip().lower() in ("all", "none"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer >= 2 (timesteps drawn per layer and direction) or 'all', got {text!r}"
        ) from None
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"expected an integer >= 2 (the first and last steps stay drawn) or 'all' for every step, got {value}"
        )
    return value


# The command line draws small models; a bigger count would only allocate for minutes a picture
# no one can read (draw_graph from Python has no such limit).
MAX_COUNT = 1000


def positive_int(text: str) -> int:
    """A count given on the command line (``--steps``, ``--hidden``, ...): an integer in 1..MAX_COUNT."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    if value > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_COUNT} (a picture for reading), got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m minigrad.viz",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--cell", choices=sorted(CELLS), default="lstm", help="the recurrent layer")
    p.add_argument("--steps", type=positive_int, default=4, help="sequence length T")
    p.add_argument("--layers", type=positive_int, default=1, help="stacked layers")
    p.add_argument("--bidirectional", action="store_true", help="a forward and a backward direction")
    p.add_argument("--hidden", type=positive_int, default=4, help="hidden size H")
    p.add_argument("--input-size", type=positive_int, default=3, help="input features I")
    p.add_argument("--batch", type=positive_int, default=2, help="batch size B")
    p.add_argument(
        "--loss",
        choices=LOSSES,
        default="all",
        help="MSE at every step, or at the last step only (watch gradients vanish)",
    )
    p.add_argument(
        "--truncate", type=positive_int, metavar="K", help="truncated BPTT: chunks of K steps, detach() between"
    )
    p.add_argument("--fold", action="store_true", help="the rolled view: one cell, the recurrence as a loop")
    p.add_argument("--backward", action="store_true", help="draw the gradient graph (edges reversed)")
    p.add_argument("--no-grads", action="store_true", help="do not paint gradients")
    p.add_argument("--grad-shares", action="store_true", help="label parameter edges with each step's share")
    p.add_argument(
        "--max-timesteps",
        type=max_timesteps,
        default=12,
        metavar="N",
        help="show the first and last steps of longer sequences ('all': every step)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--title", help="caption (by default one that describes the picture)")
    p.add_argument(
        "-o",
        "--output",
        default="bptt.svg",
        help="file to write; its suffix picks the format (.html: the backward-pass explorer)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        example = bptt_example(
            args.cell,
            steps=args.steps,
            layers=args.layers,
            bidirectional=args.bidirectional,
            hidden=args.hidden,
            input_size=args.input_size,
            batch=args.batch,
            truncate=args.truncate,
            loss=args.loss,
            seed=args.seed,
        )
    except ValueError as err:
        parser().error(str(err))
    options = dict(
        show_grads=not args.no_grads,
        max_timesteps=args.max_timesteps,
        fold=args.fold,
        backward=args.backward,
        grad_shares=args.grad_shares,
        title=args.title,
    )
    start = time.perf_counter()
    try:
        if Path(args.output).suffix.lower() in (".html", ".htm"):  # the explorer page
            path = example.explore(args.output, **options)
            how = f"the backward-pass explorer, drawn by {find_renderer().name}; open it in a browser"
        else:
            path = save(example.draw(**options), args.output)
            how = "DOT source" if path.suffix.lower() in (".dot", ".gv") else f"rendered by {find_renderer().name}"
    except (RendererNotFoundError, ValueError, RuntimeError, OSError) as err:
        print(f"python -m minigrad.viz: {err}", file=sys.stderr)
        return 1
    built = time.perf_counter() - start
    print(f"wrote {path} ({how}; {built:.2f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
