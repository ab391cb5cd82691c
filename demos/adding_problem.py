"""The long-range memory benchmark: the adding problem for a vanilla RNN, a GRU and an LSTM.

    python -m demos.adding_problem                    # lengths 10, 50, 100: about 2 min on a 2-core CPU
    python -m demos.adding_problem --long             # also 200 and 400, 3000 iterations (much longer)
    python -m demos.adding_problem --lengths 10 50 --cells rnn lstm --iterations 300

Each sequence holds values u_t ~ U(0, 1) and a marker channel with two 1s (one in each half);
the target is the sum of the two marked values (Hochreiter & Schmidhuber 1997). Predicting
1.0 always scores MSE 1/6 ~ 0.167, so a model that cannot carry information across the
sequence stays there. Every cell gets the same budget (iterations, batch, hidden units, Adam
learning rate, clipping) and is scored on the same 1,000 test sequences per length.

A second experiment shows exploding gradients: a vanilla RNN whose recurrent matrix has every
singular value 1.5, trained by plain SGD, with and without clip_grad_norm_.

Writes under --out: results.md (the tables), results.json, adding_problem.png (test MSE during
training) and clipping.png (gradient norm and loss per step).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from demos import _cli
from demos._interrupt import GracefulStop, TrainingInterruptedError
from demos._progress import Progress
from models.lab import adding
from models.lab.models import CELLS
from models.lab.report import CELL_COLORS, fmt, markdown_table, pyplot, save_figure
from models.lab.tasks import ADDING_BASELINE_MSE


def build_parser() -> argparse.ArgumentParser:
    parser = _cli.parser(__doc__, "python -m demos.adding_problem")
    parser.add_argument("--lengths", type=int, nargs="+", default=None, help="sequence lengths (default 10 50 100)")
    parser.add_argument(
        "--cells",
        nargs="+",
        choices=list(CELLS),
        default=["rnn", "gru", "lstm"],
        help="cells to compare (default rnn gru lstm)",
    )
    parser.add_argument("--long", action="store_true", help="lengths 10 50 100 200 400 and 3000 iterations")
    parser.add_argument("--iterations", type=int, default=None, help="Adam steps per run (default 1000)")
    parser.add_argument("--batch", type=int, default=128, help="sequences per step (default 128)")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units (default 32)")
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (default 0.01)")
    parser.add_argument("--clip", type=float, default=1.0, help="clip_grad_norm_ max norm; 0 = off (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seeds weights and batches (default 0)")
    parser.add_argument("--no-clipping-demo", action="store_true", help="skip the exploding-gradient experiment")
    parser.add_argument(
        "--out", type=Path, default=Path("runs/adding_problem"), help="output folder (default runs/adding_problem)"
    )
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.lengths is None:
        args.lengths = [10, 50, 100, 200, 400] if args.long else [10, 50, 100]
    if args.iterations is None:
        args.iterations = 3000 if args.long else 1000
    for name in ("iterations", "batch", "hidden"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if min(args.lengths) < 2:
        parser.error(f"--lengths must all be >= 2 (two marked positions), got {args.lengths}")
    if args.clip < 0 or args.lr <= 0:
        parser.error("--clip must be >= 0 and --lr > 0")
    if args.seed < 0:
        parser.error(f"--seed must be a non-negative integer, got {args.seed}")
    _cli.check_output_folder(parser, args.out, ["results.md", "results.json", "adding_problem.png", "clipping.png"])
    return args


def benchmark(args: argparse.Namespace, runs: list[adding.AddingRun], stop: GracefulStop) -> list[adding.AddingRun]:
    """Train every cell at every length, appending each finished run to ``runs``; ``stop`` ends it between steps."""

    def step(i: int, loss: float, norm: float, length: int) -> None:
        bar.update(length, loss=loss)
        stop.check()

    # Progress counts sequence steps (iterations x length): a length-100 run is 10x a length-10 run.
    total = args.iterations * sum(args.lengths) * len(args.cells)
    with Progress(total, "adding") as bar:
        for length in args.lengths:
            for cell in args.cells:
                bar.desc = f"{cell} T={length}"
                run = adding.train_adding(
                    cell,
                    length,
                    args.iterations,
                    args.batch,
                    args.hidden,
                    args.lr,
                    args.clip or None,
                    args.seed,
                    eval_every=max(1, args.iterations // 20),
                    on_step=lambda i, loss, norm, length=length: step(i, loss, norm, length),
                )
                runs.append(run)
                bar.write(
                    f"{cell:>5} T={length:<4} test MSE {fmt(run.test_mse):>9}  "
                    f"({'solved' if run.solved else 'not solved'}; baseline {ADDING_BASELINE_MSE:.3f})  "
                    f"{run.seconds:.0f} s"
                )
    return runs


def clipping(
    args: argparse.Namespace, runs: list[adding.ExplodingRun], stop: GracefulStop
) -> list[adding.ExplodingRun]:
    settings = [None, 1.0]
    iterations = 300

    def step(i: int, loss: float, norm: float) -> None:
        bar.update(1)
        stop.check()

    with Progress(iterations * len(settings), "clipping") as bar:
        for clip in settings:
            run = adding.exploding_gradients(
                length=50, iterations=iterations, clip_norm=clip, gain=1.5, lr=0.1, seed=args.seed, on_step=step
            )
            runs.append(run)
            bar.write(
                f"clip {clip}: final test MSE {fmt(run.test_mse)}, largest gradient norm {fmt(max(run.grad_norms))}"
            )
    return runs


def tables(args: argparse.Namespace, runs: list[adding.AddingRun], clipped: list[adding.ExplodingRun]) -> str:
    text = (
        f"### Adding problem: test MSE after {args.iterations} iterations "
        f"(baseline {ADDING_BASELINE_MSE:.3f})\n\n"
        f"Batch {args.batch}, hidden {args.hidden}, Adam lr {args.lr}, "
        f"clip_grad_norm_ {args.clip or 'off'}, seed {args.seed}; 1,000 test sequences per length. "
        "Bold: solved (under a tenth of the baseline).\n\n"
    )
    by = {(r.cell, r.length): r for r in runs}
    rows = []
    for length in args.lengths:
        cells = []
        for cell in args.cells:
            r = by[(cell, length)]
            cells.append(f"**{fmt(r.test_mse)}**" if r.solved else fmt(r.test_mse))
        rows.append([length, *cells, f"{sum(by[(c, length)].seconds for c in args.cells):.0f} s"])
    text += markdown_table(["length", *args.cells, "time (all cells)"], rows)
    if clipped:
        text += (
            "\n### Exploding gradients: vanilla RNN, W_hh = 1.5 x orthogonal, SGD lr 0.1, length 50, "
            f"{len(clipped[0].losses)} steps\n\n"
        )
        rows = []
        for run in clipped:
            norms = [n for n in run.grad_norms if math.isfinite(n)]
            nonfinite = len(run.grad_norms) - len(norms)
            rows.append(
                [
                    "off" if run.clip_norm is None else f"clip_grad_norm_({run.clip_norm})",
                    fmt(float(sorted(norms)[len(norms) // 2])) if norms else "nan",
                    fmt(max(norms)) if norms else "nan",
                    nonfinite,
                    "diverged (NaN)" if not math.isfinite(run.test_mse) else fmt(run.test_mse),
                ]
            )
        text += markdown_table(
            ["clipping", "median grad norm", "largest finite grad norm", "non-finite steps", "final test MSE"], rows
        )
    return text


def plot_benchmark(args: argparse.Namespace, runs: list[adding.AddingRun], path: Path) -> Path | None:
    plt = pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(
        1, len(args.lengths), figsize=(4 * len(args.lengths), 3.6), dpi=110, sharey=True, squeeze=False
    )
    for ax, length in zip(axes[0], args.lengths):
        for run in runs:
            if run.length == length:
                steps, mse = zip(*run.curve)
                ax.plot(steps, mse, color=CELL_COLORS.get(run.cell), linewidth=1.8, label=run.cell)
        ax.axhline(ADDING_BASELINE_MSE, color="gray", linestyle="--", linewidth=1, label="predict 1.0 (0.167)")
        ax.set_yscale("log")
        ax.set_title(f"T = {length}")
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("test MSE")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(
        f"Adding problem: same budget per cell (batch {args.batch}, hidden {args.hidden}, "
        f"Adam {args.lr}, seed {args.seed})",
        fontsize=10,
    )
    return save_figure(fig, path)


def plot_clipping(clipped: list[adding.ExplodingRun], path: Path) -> Path | None:
    plt = pyplot()
    if plt is None:
        return None
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5.5), dpi=110, sharex=True)
    for run, color in zip(clipped, ("tab:red", "tab:blue")):
        label = "no clipping" if run.clip_norm is None else f"clip_grad_norm_({run.clip_norm})"
        steps = range(1, len(run.losses) + 1)
        top.plot(
            steps,
            [n if math.isfinite(n) else float("nan") for n in run.grad_norms],
            color=color,
            linewidth=1,
            label=label,
        )
        bottom.plot(
            steps, [v if math.isfinite(v) else float("nan") for v in run.losses], color=color, linewidth=1, label=label
        )
        if not math.isfinite(run.test_mse):
            first = next((i for i, v in enumerate(run.losses) if not math.isfinite(v)), None)
            if first is not None:
                for ax in (top, bottom):
                    ax.axvline(first + 1, color=color, linestyle=":", linewidth=1)
                bottom.annotate(" NaN from here", (first + 1, 1.0), color=color, fontsize=8)
    top.set_yscale("log")
    top.set_ylabel("gradient norm (before clipping)")
    top.legend(fontsize=8)
    bottom.axhline(ADDING_BASELINE_MSE, color="gray", linestyle="--", linewidth=1, label="baseline 0.167")
    bottom.set_yscale("log")
    bottom.set_ylim(0.03, 300)  # the unclipped run leaves the chart: its loss reaches 1e30 before NaN
    bottom.set_ylabel("training MSE")
    bottom.set_xlabel("SGD step")
    for ax in (top, bottom):
        ax.grid(alpha=0.3, which="both")
    fig.suptitle("Exploding gradients: tanh RNN with W_hh = 1.5 x orthogonal, SGD lr 0.1, T = 50", fontsize=10)
    return save_figure(fig, path)


def write_json(
    args: argparse.Namespace,
    runs: list[adding.AddingRun],
    clipped: list[adding.ExplodingRun],
    interrupted: str | None = None,
) -> Path:
    """results.json: the settings and every finished run (after Ctrl-C, the runs finished so far)."""
    summary = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "runs": [
            {
                "cell": r.cell,
                "length": r.length,
                "test_mse": r.test_mse,
                "curve": r.curve,
                "seconds": round(r.seconds, 1),
            }
            for r in runs
        ],
        "clipping": [
            {"clip_norm": c.clip_norm, "test_mse": c.test_mse, "grad_norms": c.grad_norms, "losses": c.losses}
            for c in clipped
        ],
    }
    if interrupted:
        summary["interrupted"] = interrupted
    path = args.out / "results.json"
    path.write_text(json.dumps(summary, indent=1, allow_nan=True), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    runs: list[adding.AddingRun] = []
    clipped: list[adding.ExplodingRun] = []
    # Ctrl-C / SIGTERM stop between two steps; the runs finished so far are written, then exit 130 / 143.
    with GracefulStop() as stop:
        try:
            benchmark(args, runs, stop)
            if not args.no_clipping_demo:
                clipping(args, clipped, stop)
        except TrainingInterruptedError as interrupted:
            path = write_json(args, runs, clipped, interrupted=interrupted.name)
            print(interrupted.message(f"wrote {path} with the {len(runs)} finished run(s)"), file=sys.stderr)
            return interrupted.exit_code
    report = tables(args, runs, clipped)
    written = [args.out / "results.md", write_json(args, runs, clipped)]
    written[0].write_text(report, encoding="utf-8")
    written.append(plot_benchmark(args, runs, args.out / "adding_problem.png"))
    if clipped:
        written.append(plot_clipping(clipped, args.out / "clipping.png"))
    print()
    print(report)
    print(f"total {time.perf_counter() - start:.0f} s; wrote " + ", ".join(str(p) for p in written if p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
