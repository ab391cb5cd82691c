"""Memory-efficient BPTT, measured: peak memory and time of one training step against ``checkpoint_every``.

``measure`` runs one LSTM training step (forward over T steps, cross-entropy at every step,
backward) for each segment length k (0: no checkpointing) and records the peak memory that
step allocated (tracemalloc: numpy buffers and Python objects) and its CPU time. With
segments of k steps the step keeps T/k boundary states plus one segment's graph while it
is recomputed, so memory falls from O(T) towards its minimum near k = sqrt(T) (Chen et al.
2016) and the price is one extra forward pass of each segment.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

import minigrad as mg
from minigrad.nn.functional import cross_entropy

from .report import pyplot, save_figure


def measure(
    steps: int = 1000,
    hidden: int = 128,
    batch: int = 32,
    vocab: int = 64,
    everies: tuple[int, ...] = (0, 8, 16, 32, 64, 128),
    repeats: int = 3,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per k: ``{"every": k, "peak_mb": ..., "seconds": ...}`` (k = 0: the plain layer)."""
    rng = np.random.default_rng(seed)
    x = mg.tensor(np.eye(vocab, dtype=np.float32)[rng.integers(0, vocab, (steps, batch))])
    targets = rng.integers(0, vocab, steps * batch)
    rows = []
    for every in everies:
        mg.manual_seed(seed)
        lstm = mg.nn.LSTM(vocab, hidden, checkpoint_every=every or None)
        head = mg.nn.Linear(hidden, vocab)

        def step(lstm: Any = lstm, head: Any = head) -> None:
            out, _ = lstm(x)
            cross_entropy(head(out.reshape(steps * batch, hidden)), targets).backward()

        step()  # warm up (allocator, caches)
        gc.collect()
        tracemalloc.start()
        step()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        times = []
        for _ in range(repeats):
            start = time.process_time()
            step()
            times.append(time.process_time() - start)
        rows.append({"every": every, "peak_mb": peak / 2**20, "seconds": float(np.median(times))})
    return rows


def plot(rows: list[dict[str, Any]], path: Path, steps: int) -> Path | None:
    """Peak memory and time per step against k, the plain layer as dashed lines; None without matplotlib."""
    plt = pyplot()
    if plt is None:
        return None
    plain = next((r for r in rows if r["every"] == 0), None)
    segmented = [r for r in rows if r["every"]]
    ks = [r["every"] for r in segmented]
    fig, (memory, seconds) = plt.subplots(1, 2, figsize=(10, 4))
    memory.plot(ks, [r["peak_mb"] for r in segmented], "o-", color="tab:green", label="checkpoint_every=k")
    seconds.plot(ks, [r["seconds"] for r in segmented], "o-", color="tab:green", label="checkpoint_every=k")
    if plain is not None:
        memory.axhline(plain["peak_mb"], color="tab:red", ls="--", label="no checkpointing")
        seconds.axhline(plain["seconds"], color="tab:red", ls="--", label="no checkpointing")
    for ax, label in ((memory, "peak memory of one step (MB)"), (seconds, "CPU time of one step (s)")):
        ax.set_xscale("log", base=2)
        ax.axvline(np.sqrt(steps), color="grey", lw=0.8, ls=":")
        ax.set_xlabel(f"k, timesteps per recomputed segment (dotted: sqrt(T) = {np.sqrt(steps):.0f})")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.legend()
    fig.suptitle(f"Memory-efficient BPTT: LSTM over T = {steps:,} steps")
    return save_figure(fig, path)
