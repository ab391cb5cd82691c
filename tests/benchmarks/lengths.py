"""What ``lengths=`` costs: a GRU over batches of first names, padded vs variable-length (on demand).

    python tests/benchmarks/lengths.py [--repeats 9]

Both runs do forward + backward over the same 40 batches of 64 names (2 to 11 letters, padded
to each batch's longest). "padded" runs the pads through the recurrence and reads each name's
output at its own last step, ``out[len - 1, b]``, as the lab's classifier did; "lengths=" masks
the steps past each end (``where`` per state per step where some name has ended) and reads
``h_n``. For a unidirectional many-to-one model the two give the same numbers (checked here);
the table shows the time each takes (min over repeats, interleaved).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import minigrad as mg  # noqa: E402
from models.lab import architectures as arch  # noqa: E402
from models.lab.tasks import load_names_gender  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    names, _ = load_names_gender()
    rng = np.random.default_rng(0)
    mg.manual_seed(0)
    gru, embed = mg.nn.GRU(16, 32), mg.nn.Embedding(27, 16)
    batches = [arch.encode([names[j] for j in rng.integers(0, len(names), 64)]) for _ in range(40)]

    def run(use_lengths: bool) -> tuple[float, float]:
        start, total = time.perf_counter(), 0.0
        for ids, lengths in batches:
            out, h_n = gru(embed(ids), lengths=lengths if use_lengths else None)
            last = h_n[-1] if use_lengths else out[np.asarray(lengths) - 1, np.arange(len(lengths))]
            loss = (last * last).sum()
            loss.backward()
            total += loss.item()
        return time.perf_counter() - start, total

    times: dict[bool, list[float]] = {False: [], True: []}
    losses: dict[bool, float] = {}
    for _ in range(args.repeats):
        for use in (False, True):
            seconds, losses[use] = run(use)
            times[use].append(seconds)
    assert np.isclose(losses[False], losses[True], rtol=1e-6), losses
    padded, masked = min(times[False]), min(times[True])
    steps = np.mean([lengths.max() for _, lengths in batches])
    real = np.mean([lengths.mean() for _, lengths in batches])
    print(f"40 batches x 64 names, {steps:.1f} padded steps, {real:.1f} real steps per name on average")
    print(f"{'padded':>10}: {padded:.3f} s   {'lengths=':>10}: {masked:.3f} s   ratio {masked / padded:.2f}")
    print(f"same loss: {losses[False]:.6f} vs {losses[True]:.6f}")


if __name__ == "__main__":
    main()
