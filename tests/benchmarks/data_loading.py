"""What a DataLoader epoch costs (on demand): ``python tests/benchmarks/data_loading.py``.

One epoch of 10,000 windows (20 steps x 8 features, float32) and int64 targets in batches of 64,
shuffled: hand-written numpy slicing, minigrad's DataLoader (the TensorDataset fast path, and a
plain list of tuples collated row by row), and torch.utils.data when torch is installed. For scale,
the last line times one forward and backward pass of a GRU(8, 64) on one such batch.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import minigrad as mg  # noqa: E402
from minigrad.utils.data import DataLoader, TensorDataset  # noqa: E402

N, T, F, BATCH = 10_000, 20, 8, 64


def best_of(fn: object, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    y = rng.integers(0, 10, size=N)

    def by_hand() -> None:
        order = rng.permutation(N)
        for start in range(0, N, BATCH):
            index = order[start : start + BATCH]
            mg.tensor(x[index]), mg.tensor(y[index])

    def loader(dataset: object) -> None:
        for _ in DataLoader(dataset, batch_size=BATCH, shuffle=True):
            pass

    rows = [(x[i], int(y[i])) for i in range(N)]
    results = {
        "numpy slicing by hand": best_of(by_hand),
        "DataLoader(TensorDataset)": best_of(lambda: loader(TensorDataset(x, y))),
        "DataLoader(list of tuples)": best_of(lambda: loader(rows), repeats=3),
    }
    try:
        import torch
        from torch.utils import data as td

        torch.set_num_threads(1)
        dataset = td.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
        results["torch DataLoader(TensorDataset)"] = best_of(
            lambda: [None for _ in td.DataLoader(dataset, batch_size=BATCH, shuffle=True)], repeats=3
        )
    except ImportError:
        print("(torch not installed: its column is skipped)")
    gru, xb = mg.nn.GRU(F, 64), mg.tensor(x[:BATCH].transpose(1, 0, 2))

    def train_step() -> None:
        out, _ = gru(xb)
        out.sum().backward()

    step = best_of(train_step)
    print(f"one shuffled epoch, {N:,} items of ({T}, {F}) float32, batch {BATCH} ({-(-N // BATCH)} batches):")
    for name, seconds in results.items():
        print(f"  {name:34s} {seconds * 1e3:8.1f} ms")
    print(
        f"  for scale: one GRU(8, 64) forward+backward on one batch: {step * 1e3:.1f} ms "
        f"(x{-(-N // BATCH)} batches = {step * -(-N // BATCH):.1f} s)"
    )


if __name__ == "__main__":
    main()
