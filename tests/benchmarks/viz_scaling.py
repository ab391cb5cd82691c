"""How the renderer's cost grows with the sequence length (on demand, not part of the suite).

    python tests/benchmarks/viz_scaling.py                 # T = 1000, 2000, 5000, 10000, 20000
    python tests/benchmarks/viz_scaling.py --steps 1000 4000

For each T: an ``nn.RNN(3, 4)`` runs T steps forward and backward, then
``draw_graph(loss, params=rnn, max_timesteps=None)`` builds the graph model and its DOT text
(``.source``; no layout program runs). Prints seconds and milliseconds per timestep, and the
slope of a least-squares line through (T, CPU seconds): with linear-time building the per-step cost
is flat and the total is that slope times T. The issue's bar: 20,000 steps under 15 s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import minigrad as mg  # noqa: E402


def draw_seconds(steps: int) -> tuple[float, float]:
    """Wall-clock and CPU seconds to build the DOT text of a ``steps``-step RNN's BPTT graph, every
    step drawn. CPU time is the steadier number on a shared machine."""
    mg.manual_seed(0)
    rnn = mg.nn.RNN(3, 4)
    x = mg.tensor(np.random.default_rng(0).standard_normal((steps, 1, 3)).astype(np.float32))
    out, _ = rnn(x)
    loss = (out**2).mean()
    loss.backward()
    start, cpu = time.perf_counter(), time.process_time()
    source = mg.viz.draw_graph(loss, params=rnn, max_timesteps=None).source
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert f"t = {steps - 1}" in source
    return seconds, cpu


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, nargs="+", default=[1000, 2000, 5000, 10000, 20000])
    args = p.parse_args(argv)
    rows = []
    for steps in args.steps:
        seconds, cpu = draw_seconds(steps)
        rows.append((steps, cpu))
        print(
            f"T = {steps:6d}: {seconds:7.2f} s wall, {cpu:7.2f} s CPU, {1000 * cpu / steps:6.3f} ms CPU per timestep",
            flush=True,
        )
    if len(rows) >= 2:
        ts, secs = np.array(rows, dtype=float).T  # CPU seconds
        slope, intercept = np.polyfit(ts, secs, 1)
        per_step = 1000 * secs / ts
        print(
            f"least-squares slope: {1000 * slope:.3f} ms per timestep (intercept {intercept:.2f} s); "
            f"per-step cost from {per_step.min():.3f} to {per_step.max():.3f} ms "
            f"(largest / smallest {per_step.max() / per_step.min():.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
