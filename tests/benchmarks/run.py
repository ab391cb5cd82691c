"""minigrad's speed benchmarks (issue 7), on demand: ``python tests/benchmarks/run.py``.

    python tests/benchmarks/run.py                 # every workload, the ratio table
    python tests/benchmarks/run.py --quick         # fewer repeats, W3 up to 1,600 steps
    python tests/benchmarks/run.py --only W1,W4    # a subset (W1, W2, W3, W4)
    python tests/benchmarks/run.py --check         # same maths? losses/params on identical weights
    python tests/benchmarks/run.py --profile W2    # cProfile of minigrad's step (W1b1, W1b32, W2, W3, W4)
    python tests/benchmarks/run.py --compare /tmp/mg-exp   # time another copy of minigrad beside this one

numpy and minigrad are timed first, before PyTorch is imported (the targets are judged on
those ratios); then PyTorch's variants, beside minigrad again (see ``suite.py``). A copy given
to ``--compare`` shares this process, so a change with process-wide effects (malloc tuning)
must be timed in its own run instead.

Every library runs on one thread. Some machines set ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE``,
which pick a slower OpenBLAS kernel: this launcher restarts itself once without them (in its
own process only; ``--keep-env`` keeps them) and the header names the kernel that ran.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _restart_without_blas_overrides() -> None:
    present = [k for k in _OVERRIDES if k in os.environ]
    if not present or "--keep-env" in sys.argv:
        return
    env = dict(os.environ)
    env["MINIGRAD_BENCH_UNSET"] = " ".join(f"{k}={env.pop(k)}" for k in present)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main() -> None:
    _restart_without_blas_overrides()  # before numpy loads OpenBLAS
    here = Path(__file__).resolve().parent
    sys.path[:0] = [str(here), str(here.parents[1])]  # numpy_ref & co, and the repo's minigrad
    import suite

    suite.main(sys.argv[1:])


if __name__ == "__main__":
    main()
