"""Memory-efficient BPTT: peak memory and time of one LSTM training step against checkpoint_every=k.

    python -m demos.checkpoint_memory                         # T = 1,000, k in 8..128: ~1 minute
    python -m demos.checkpoint_memory --length 200 --every 0 5 10 20 50

k = 0 is the plain layer. Writes under --out: memory_time.png (the figure) and results.md (the table).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from demos import _cli
from models.lab.checkpointing import measure, plot
from models.lab.report import fmt, markdown_table


def build_parser() -> argparse.ArgumentParser:
    parser = _cli.parser(__doc__, "python -m demos.checkpoint_memory")
    parser.add_argument("--length", type=int, default=1000, help="sequence length T (default 1000)")
    parser.add_argument("--hidden", type=int, default=128, help="hidden units (default 128)")
    parser.add_argument("--batch", type=int, default=32, help="sequences per step (default 32)")
    parser.add_argument(
        "--every",
        type=int,
        nargs="+",
        default=[0, 8, 16, 32, 64, 128],
        help="segment lengths k to measure, 0 = no checkpointing (default 0 8 16 32 64 128)",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/checkpoint_memory"), help="output folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("length", "hidden", "batch"):
        if getattr(args, name) < 1:
            raise SystemExit(f"checkpoint_memory: --{name} must be at least 1, got {getattr(args, name)}")
    if any(k < 0 for k in args.every):
        raise SystemExit(f"checkpoint_memory: --every takes k >= 0 (0: no checkpointing), got {args.every}")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = measure(args.length, args.hidden, args.batch, everies=tuple(args.every))
    table = markdown_table(
        ["checkpoint_every", "peak MB", "seconds per step"],
        [[r["every"] or "none", fmt(r["peak_mb"]), fmt(r["seconds"])] for r in rows],
    )
    (args.out / "results.md").write_text(table)
    print(table)
    figure = plot(rows, args.out / "memory_time.png", args.length)
    if figure is not None:
        print(f"wrote {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
