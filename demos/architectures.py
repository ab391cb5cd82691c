"""The lecture's RNN architectures, each trained and measured: bidirectional, deep, and the four RNN types.

    python -m demos.architectures                     # everything, GRU cells: ~20 s on a 2-core CPU
    python -m demos.architectures --only bidirectional depth --cell lstm
    python -m demos.architectures --only types --iterations-scale 0.5

bidirectional (v10): tag each token 1 if the same token appears LATER in the sequence; a
    unidirectional tagger cannot read ahead (the best it can do is shown), a bidirectional one can.
depth (v11): 1, 2 and 3 stacked layers of 16 units on (x_t + x_t-1 + x_t-2 + x_t-3) mod 5, and one
    layer widened to the same number of parameters as the 3-layer model.
types (v5): one example each: many-to-many, same length (tag tokens seen before); many-to-many,
    different lengths (an encoder-decoder reverses 3 to 6 tokens and decides when to stop);
    many-to-one (a first name, letter by letter -> female/male, 1990 US Census lists); one-to-many
    (female/male -> a new first name, judged by the many-to-one classifier).

Writes under --out: results.md (tables and samples), results.json and architectures.png (training curves).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from demos import _cli
from demos._interrupt import GracefulStop, TrainingInterruptedError
from demos._progress import Progress
from models.lab import architectures as arch
from models.lab.models import CELLS
from models.lab.report import fmt, markdown_table, pyplot, save_figure

PARTS = ("bidirectional", "depth", "types")
# Default iterations of each experiment (scaled by --iterations-scale).
ITERATIONS = {"bidirectional": 300, "depth": 300, "tagging": 200, "reverse": 1000, "names": 1000, "generate": 600}


def build_parser() -> argparse.ArgumentParser:
    parser = _cli.parser(__doc__, "python -m demos.architectures")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS), help="parts to run (default: all)")
    parser.add_argument(
        "--cell", choices=list(CELLS), default="gru", help="recurrent cell for every model (default gru)"
    )
    parser.add_argument(
        "--iterations-scale",
        type=float,
        default=1.0,
        help="multiply every experiment's number of Adam steps (default 1)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds weights and batches (default 0)")
    parser.add_argument(
        "--out", type=Path, default=Path("runs/architectures"), help="output folder (default runs/architectures)"
    )
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.iterations_scale > 0:
        parser.error(f"--iterations-scale must be > 0, got {args.iterations_scale}")
    args.iterations = {k: max(1, round(v * args.iterations_scale)) for k, v in ITERATIONS.items()}
    if args.seed < 0:
        parser.error(f"--seed must be a non-negative integer, got {args.seed}")
    _cli.check_output_folder(parser, args.out, ["results.md", "results.json", "architectures.png"])
    return args


def total_steps(args: argparse.Namespace) -> int:
    it = args.iterations
    steps = 0
    if "bidirectional" in args.only:
        steps += 2 * it["bidirectional"]
    if "depth" in args.only:
        steps += 4 * it["depth"]
    if "types" in args.only:
        steps += it["tagging"] + it["reverse"] + it["names"] + it["generate"]
    return steps


def run(args: argparse.Namespace, bar: Progress, found: dict[str, object], stop: GracefulStop) -> dict[str, object]:
    """Each experiment in turn, its outcomes added to ``found``; ``stop`` ends it between two steps."""

    def tick(i: int, loss: float, norm: float) -> None:
        bar.update(1, loss=loss)
        stop.check()

    common = {"cell": args.cell, "seed": args.seed, "on_step": tick}
    it = args.iterations
    if "bidirectional" in args.only:
        bar.desc = "bidirectional"
        found["bidirectional"] = outcomes = arch.bidirectional_vs_unidirectional(
            iterations=it["bidirectional"], **common
        )
        bar.write(
            "bidirectional: "
            + ", ".join(f"{k} accuracy {o.metrics['accuracy']:.3f}" for k, o in outcomes.items())
            + f" (best causal rule: {outcomes['unidirectional'].metrics['ceiling']:.3f})"
        )
    if "depth" in args.only:
        bar.desc = "depth"
        found["depth"] = outcomes = arch.depth_comparison(iterations=it["depth"], **common)
        bar.write(
            "depth (layers x units): "
            + ", ".join(f"{k} accuracy {o.metrics['accuracy']:.3f}" for k, o in outcomes.items())
        )
    if "types" in args.only:
        types = {}
        bar.desc = "many-to-many"
        types["tagging"] = arch.example_tagging(iterations=it["tagging"], **common)
        bar.desc = "encoder-decoder"
        types["reverse"] = arch.example_reverse(iterations=it["reverse"], **common)
        bar.desc = "many-to-one"
        types["names"] = arch.example_names(iterations=it["names"], **common)
        bar.desc = "one-to-many"
        types["generate"] = arch.example_generate(iterations=it["generate"], judge=types["names"].model, **common)
        for outcome in types.values():
            bar.write(f"{outcome.name}: " + ", ".join(f"{k} {fmt(v)}" for k, v in outcome.metrics.items()))
        found["types"] = types
    return found


def report(args: argparse.Namespace, found: dict) -> str:
    text = f"Cell: {args.cell}, seed {args.seed}; every number is measured on test data the model never trained on.\n"
    it = args.iterations
    if "bidirectional" in found:
        o = found["bidirectional"]
        text += (
            f"\n### Bidirectional vs unidirectional (v10): does this token appear later?\n\n"
            f"Sequences of 12 tokens from 8 symbols; {it['bidirectional']} Adam steps each, hidden 32 "
            "per direction; accuracy over 1,000 test sequences.\n\n"
        )
        text += markdown_table(
            ["model", "test accuracy"],
            [
                ["unidirectional", fmt(o["unidirectional"].metrics["accuracy"])],
                ["bidirectional", fmt(o["bidirectional"].metrics["accuracy"])],
                ["best causal rule (answers from t alone)", fmt(o["unidirectional"].metrics["ceiling"])],
            ],
        )
    if "depth" in found:
        o = found["depth"]
        text += (
            f"\n### Deep RNNs (v11): 1 vs 2 vs 3 stacked layers\n\nTag each position with "
            f"(x_t + x_t-1 + x_t-2 + x_t-3) mod 5, sequences of 20 tokens; {it['depth']} Adam steps; chance "
            "is 0.2. The last row is one layer widened to the 3-layer model's size.\n\n"
        )
        text += markdown_table(
            ["layers", "units per layer", "parameters", "test accuracy", "final training loss", "time"],
            [
                [
                    int(v.metrics["layers"]),
                    int(v.metrics["hidden"]),
                    int(v.metrics["parameters"]),
                    fmt(v.metrics["accuracy"]),
                    fmt(float(np.mean(v.losses[-20:]))),
                    f"{v.seconds:.0f} s",
                ]
                for v in o.values()
            ],
        )
    if "types" in found:
        t = found["types"]
        m = {key: outcome.metrics for key, outcome in t.items()}
        rows = [
            [
                "many-to-many, same length",
                "tag each token: seen before?",
                f"{it['tagging']}",
                f"accuracy {fmt(m['tagging']['accuracy'])} (majority tag {fmt(m['tagging']['majority'])})",
            ],
            [
                "many-to-many, different lengths",
                "encoder-decoder reverses 3-6 tokens, stops at EOS",
                f"{it['reverse']}",
                f"exact {fmt(m['reverse']['exact'])}, per token {fmt(m['reverse']['token_accuracy'])}",
            ],
            [
                "many-to-one",
                "first name -> f/m (census)",
                f"{it['names']}",
                f"accuracy {fmt(m['names']['accuracy'])} (always 'f': {fmt(m['names']['majority'])}), "
                f"balanced {fmt(m['names']['balanced_accuracy'])}",
            ],
            [
                "one-to-many",
                "f/m -> a first name",
                f"{it['generate']}",
                f"{fmt(m['generate']['test_loss'])} nats/letter (uniform {fmt(m['generate']['uniform'])}); "
                f"{fmt(m['generate']['novel'])} of samples new; classifier agrees on "
                f"{fmt(m['generate'].get('judge_agrees', float('nan')))}",
            ],
        ]
        text += "\n### The RNN types (v5)\n\n" + markdown_table(
            ["type", "task", "Adam steps", "test result"], rows, align="llrl"
        )
        text += (
            "\nSamples:\n\n```\n"
            + "\n".join(f"{o.name:32s} {s}" for o in t.values() for s in o.samples[:4])
            + "\n```\n"
        )
    return text


def plot(found: dict, path: Path) -> Path | None:
    plt = pyplot()
    if plt is None:
        return None
    curves = []
    for key in ("bidirectional", "depth"):
        if key in found:
            curves.append((key, {str(k): o.losses for k, o in found[key].items()}))
    if "types" in found:
        curves.append(("types", {o.name: o.losses for o in found["types"].values()}))
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.8), dpi=110, squeeze=False)
    titles = {
        "bidirectional": "appears later? (v10)",
        "depth": "window sum mod 5, layers x units (v11)",
        "types": "the four RNN types (v5)",
    }
    for ax, (key, series) in zip(axes[0], curves):
        for name, losses in series.items():
            smooth = np.convolve(losses, np.ones(10) / 10, mode="valid") if len(losses) >= 10 else losses
            ax.plot(np.arange(1, len(smooth) + 1), smooth, linewidth=1.5, label=name)
        ax.set_yscale("log")
        ax.set_title(titles[key], fontsize=10)
        ax.set_xlabel("Adam step")
        ax.grid(alpha=0.3, which="both")
        if key == "types":  # room under the curves for the legend
            ax.set_ylim(bottom=ax.get_ylim()[0] / 20)
        ax.legend(fontsize=8, loc="lower left" if key == "types" else "best")
    axes[0][0].set_ylabel("training cross-entropy (10-step mean)")
    return save_figure(fig, path)


def write_json(args: argparse.Namespace, found: dict) -> Path:
    """results.json: every finished experiment's metrics, samples and losses."""

    def flat(outcome: arch.Outcome) -> dict:
        return {
            "metrics": outcome.metrics,
            "samples": outcome.samples,
            "seconds": round(outcome.seconds, 1),
            "losses": outcome.losses,
        }

    summary = {key: {str(k): flat(o) for k, o in value.items()} for key, value in found.items()}
    path = args.out / "results.json"
    path.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    found: dict[str, object] = {}
    # Ctrl-C / SIGTERM stop between two steps; the experiments finished so far are written, then exit 130 / 143.
    with GracefulStop() as stop, Progress(total_steps(args), "train") as bar:
        try:
            run(args, bar, found, stop)
        except TrainingInterruptedError as interrupted:
            stopped = interrupted
        else:
            stopped = None
    if stopped is not None:
        path = write_json(args, found)
        print(stopped.message(f"wrote {path} with the {len(found)} finished experiment(s)"), file=sys.stderr)
        return stopped.exit_code
    text = report(args, found)
    (args.out / "results.md").write_text(text, encoding="utf-8")
    write_json(args, found)
    picture = plot(found, args.out / "architectures.png")
    print()
    print(text)
    written = [args.out / "results.md", args.out / "results.json"] + ([picture] if picture else [])
    print(f"total {time.perf_counter() - start:.0f} s; wrote " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
