"""Vanishing gradients, measured: ||dL/dh_t|| for every timestep, every cell, before and after training.

    python -m demos.vanishing_gradients                       # 6 cells, T = 50, 600 iterations each: ~80 s
    python -m demos.vanishing_gradients --cells rnn lstm --iterations 200 --length 30

Task: the adding problem (see demos.adding_problem); the loss reads only the last step, so
dL/dh_t is what reaches step t after travelling back T-1-t steps. For each cell (vanilla RNN,
the three GRU variants, LSTM with and without peepholes) the demo measures
||dL/dh_t|| (and ||dL/dc_t|| for the LSTMs' cell state) on one fixed batch, at initialisation
and after training with the same budget, with models.lab.gradient_through_time (hooks on the
hidden states, nothing derived by hand). It plots the curves relative to the last step, on a
log scale, and draws the unrolled BPTT graph of a short sequence with the gradient heatmap
(minigrad.viz) for each cell, at initialisation and after training.

Writes under --out: gradient_norms.png, results.md (the table), results.json and
graphs/<cell>_{init,trained}.{svg,png}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import minigrad as mg
from demos import _cli
from demos._interrupt import GracefulStop, TrainingInterruptedError
from demos._progress import Progress
from minigrad.nn.functional import mse_loss
from models.lab import adding, tasks
from models.lab.gradients import TimeGradients
from models.lab.models import CELLS, Regressor
from models.lab.report import CELL_COLORS, fmt, markdown_table, pyplot, save_figure


def build_parser() -> argparse.ArgumentParser:
    parser = _cli.parser(__doc__, "python -m demos.vanishing_gradients")
    parser.add_argument("--cells", nargs="+", choices=list(CELLS), default=list(CELLS), help="cells (default: all six)")
    parser.add_argument("--length", type=int, default=50, help="sequence length T (default 50)")
    parser.add_argument("--iterations", type=int, default=600, help="Adam steps per cell (default 600)")
    parser.add_argument("--batch", type=int, default=128, help="sequences per step (default 128)")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units (default 32)")
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (default 0.01)")
    parser.add_argument("--graph-length", type=int, default=4, help="timesteps in the BPTT graph pictures (default 4)")
    parser.add_argument("--no-graphs", action="store_true", help="skip the BPTT graph pictures")
    parser.add_argument("--seed", type=int, default=0, help="seeds weights and batches (default 0)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/vanishing_gradients"),
        help="output folder (default runs/vanishing_gradients)",
    )
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("iterations", "batch", "hidden"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    for name in ("length", "graph_length"):
        if getattr(args, name) < 2:
            parser.error(f"--{name.replace('_', '-')} must be >= 2 (the adding problem marks two positions)")
    if args.seed < 0:
        parser.error(f"--seed must be a non-negative integer, got {args.seed}")
    _cli.check_output_folder(parser, args.out, ["results.md", "results.json", "gradient_norms.png"])
    return args


def draw_graphs(model: Regressor, cell: str, when: str, args: argparse.Namespace) -> list[Path]:
    """The unrolled graph of one short sequence, gradient norms painted on (minigrad.viz)."""
    x, y = (mg.tensor(a) for a in tasks.adding_problem(args.graph_length, 1, np.random.default_rng(args.seed)))
    loss = mse_loss(model(x), y)
    graph = mg.viz.draw_graph(
        loss,
        params=model,
        inputs={"x": x},
        targets={"y": y},
        show_grads=True,
        title=f"{cell} {when}: BPTT over {args.graph_length} steps of the adding problem, "
        f"||dL/d node|| painted (loss {loss.item():.3g})",
    )
    folder = args.out / "graphs"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{cell}_{when}.svg", folder / f"{cell}_{when}.png"]
    for path in paths:
        mg.viz.save(graph, path)
    return paths


def relative(profile: TimeGradients, key: str) -> np.ndarray:
    """||dL/ds_t|| / ||dL/ds_{T-1}||: the share of the last step's gradient that survives to step t."""
    values = profile[key]
    return values / values[-1] if values[-1] > 0 else values


def plot(args: argparse.Namespace, results: dict[str, dict], path: Path) -> Path | None:
    plt = pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), dpi=110, sharey=True)
    for ax, when in zip(axes, ("init", "trained")):
        for cell, result in results.items():
            profile = result[when]
            for key in profile:
                dashed = key.endswith("/c")
                label = f"{cell} {'c' if dashed else 'h'}" if "lstm" in cell else cell
                if when == "trained" and not dashed:
                    label += f" (test MSE {fmt(result['test_mse'])})"
                ax.plot(
                    np.arange(profile.steps),
                    relative(profile, key),
                    color=CELL_COLORS.get(cell),
                    linestyle="--" if dashed else "-",
                    linewidth=1.6,
                    label=label,
                )
        ax.set_yscale("log")
        ax.set_xlabel(f"timestep t (the loss reads step {args.length - 1})")
        ax.set_title("at initialisation" if when == "init" else f"after {args.iterations} Adam steps")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("||dL/dh_t|| / ||dL/dh_T-1||   (dashed: ||dL/dc_t||)")
    fig.suptitle(
        f"Gradient through time on the adding problem, T = {args.length}, hidden {args.hidden}, "
        f"batch {args.batch}, seed {args.seed}",
        fontsize=10,
    )
    return save_figure(fig, path)


def table(args: argparse.Namespace, results: dict[str, dict]) -> str:
    T = args.length
    text = (
        f"### Gradient through time, adding problem T = {T}: ||dL/dh_0|| / ||dL/dh_{T - 1}||\n\n"
        f"How much of the gradient at the last step reaches the first one (1 = none lost). "
        f"Same fixed batch of 100 sequences for every cell; {args.iterations} Adam steps "
        f"(batch {args.batch}, hidden {args.hidden}, lr {args.lr}, seed {args.seed}).\n\n"
    )
    rows = []
    for cell, result in results.items():
        for key in sorted(result["init"], key=lambda k: k.endswith("/c")):  # h first, then c
            state = key.rsplit("/", 1)[1]
            rows.append(
                [
                    cell if state == "h" else f"{cell} (cell state c)",
                    fmt(relative(result["init"], key)[0]),
                    fmt(relative(result["trained"], key)[0]),
                    fmt(result["init_mse"]),
                    fmt(result["test_mse"]),
                ]
            )
    return text + markdown_table(["cell", "at init", "after training", "test MSE at init", "test MSE trained"], rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    results: dict[str, dict] = {}
    written: list[Path | None] = []
    in_progress: dict[str, Any] = {}

    def step(i: int, loss: float, norm: float) -> None:
        bar.update(1, loss=loss)
        stop.check()  # Ctrl-C / SIGTERM: stop between two steps

    with GracefulStop() as stop, Progress(args.iterations * len(args.cells), "train") as bar:
        try:
            train_cells(args, results, written, bar, step, in_progress)
        except TrainingInterruptedError as interrupted:
            stopped = interrupted
        else:
            stopped = None
    if stopped is not None:  # keep the model in progress and the cells finished so far
        weights = args.out / f"{in_progress['cell']}_interrupted.npz"
        mg.save(in_progress["model"].state_dict(), weights)
        path = write_json(args, results)
        print(stopped.message(f"saved {weights} and {path} ({len(results)} cell(s) finished)"), file=sys.stderr)
        return stopped.exit_code
    finish(args, results, written, start)
    return 0


def write_json(args: argparse.Namespace, results: dict[str, dict]) -> Path:
    path = args.out / "results.json"
    path.write_text(
        json.dumps(
            {
                cell: {
                    "init_mse": r["init_mse"],
                    "test_mse": r["test_mse"],
                    "init": {k: r["init"][k].tolist() for k in r["init"]},
                    "trained": {k: r["trained"][k].tolist() for k in r["trained"]},
                }
                for cell, r in results.items()
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    return path


def train_cells(
    args: argparse.Namespace,
    results: dict[str, dict],
    written: list[Path | None],
    bar: Progress,
    step: Callable[[int, float, float], None],
    in_progress: dict[str, Any],
) -> None:
    """Train each cell in turn, adding its gradient profiles to ``results`` when it finishes.

    ``in_progress`` holds the cell being trained and its model: what an interrupted run saves.
    """
    for cell in args.cells:
        bar.desc = cell
        mg.manual_seed(args.seed)
        model = Regressor(cell, 2, args.hidden)
        in_progress.update(cell=cell, model=model)
        init = adding.gradient_profile(model, args.length)
        init_mse = adding.test_mse(model, *adding.adding_test_set(args.length))
        if not args.no_graphs:
            written += draw_graphs(model, cell, "init", args)
        run = adding.train_adding(
            cell,
            args.length,
            args.iterations,
            args.batch,
            args.hidden,
            args.lr,
            seed=args.seed,
            eval_every=args.iterations,
            on_step=step,
            model=model,
        )
        trained = adding.gradient_profile(run.model, args.length)
        if not args.no_graphs:
            written += draw_graphs(run.model, cell, "trained", args)
        results[cell] = {"init": init, "trained": trained, "init_mse": init_mse, "test_mse": run.test_mse}
        h = next(key for key in init if key.endswith("/h"))
        bar.write(
            f"{cell:>16}: test MSE {fmt(init_mse)} -> {fmt(run.test_mse)}; ||dL/dh_0|| / ||dL/dh_T-1|| "
            f"{fmt(relative(init, h)[0])} at init, {fmt(relative(trained, h)[0])} trained "
            f"({run.seconds:.0f} s)"
        )


def finish(args: argparse.Namespace, results: dict[str, dict], written: list[Path | None], start: float) -> None:
    report = table(args, results)
    (args.out / "results.md").write_text(report, encoding="utf-8")
    write_json(args, results)
    written = [
        args.out / "results.md",
        args.out / "results.json",
        plot(args, results, args.out / "gradient_norms.png"),
        *written,
    ]
    print()
    print(report)
    shown = [p for p in written if p]
    print(
        f"total {time.perf_counter() - start:.0f} s; wrote {len(shown)} files: "
        + ", ".join(str(p) for p in shown[:3])
        + (f" and {len(shown) - 3} graph pictures in {args.out / 'graphs'}" if len(shown) > 3 else "")
    )


if __name__ == "__main__":
    sys.exit(main())
