"""What atomic, checked checkpoints cost (issue 16), on demand: ``python tests/benchmarks/checkpoint_io.py``.

Times ``mg.save`` (temporary file, fsync, os.replace) against ``np.savez`` and ``mg.load`` (each
member's header checked before reading) against ``np.load``, on a state dict of 16 float32
matrices of 1024 x 1024 (64 MiB), best of 5, in a temporary folder under the current one (the
same disk a demo's ``--out`` would use).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import minigrad as mg  # noqa: E402


def best_of(fn: Callable[[], object], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    state = {f"layer{i}.weight": rng.standard_normal((1024, 1024)).astype(np.float32) for i in range(16)}
    with tempfile.TemporaryDirectory(dir=os.getcwd()) as folder:
        ours, theirs = os.path.join(folder, "mg.npz"), os.path.join(folder, "np.npz")
        save = best_of(lambda: mg.save(state, ours))
        savez = best_of(lambda: np.savez(theirs, **state))
        load = best_of(lambda: mg.load(ours))
        npload = best_of(lambda: dict(np.load(theirs)))
    print(
        f"save 64 MiB: mg.save {1000 * save:.0f} ms (atomic, fsync), np.savez {1000 * savez:.0f} ms "
        f"({save / savez:.2f}x)"
    )
    print(
        f"load 64 MiB: mg.load {1000 * load:.0f} ms (headers checked), np.load {1000 * npload:.0f} ms "
        f"({load / npload:.2f}x)"
    )


if __name__ == "__main__":
    main()
