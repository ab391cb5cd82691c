"""How many threads numpy's BLAS may use: ``set_num_threads`` / ``get_num_threads`` (PyTorch's names).

minigrad's matrices are small (a batch of 32 rows, a hidden size of 100-512). For those, a
second BLAS thread gains nothing and, on a machine whose cores are busy, costs a lot: the
README's 2,000-step char-LM took 9 s on one BLAS thread and 71-164 s with numpy's default
on a shared 2-core machine (issue 15). So ``import minigrad`` puts numpy's BLAS on one
thread, unless the user already chose, by setting ``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS`` or ``MKL_NUM_THREADS``: then minigrad leaves the BLAS as it is.

The limit is applied with threadpoolctl to every BLAS library loaded in the process at
the time of the call (numpy's, and PyTorch's if it was imported first). A BLAS that loads
later (a library imported afterwards) starts with its own default: call
``set_num_threads`` again after importing it.
"""

from __future__ import annotations

import os

import threadpoolctl

#: The environment variables by which a user chooses BLAS threads before Python starts.
USER_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_limiters: list = []  # keep the threadpoolctl limiter alive (it holds the library handles)


def set_num_threads(n: int) -> None:
    """Let numpy's BLAS (matmul, dot) use ``n`` threads, as ``torch.set_num_threads(n)``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int (threads for numpy's BLAS), got {n!r}")
    _limiters[:] = [threadpoolctl.ThreadpoolController().limit(limits=n, user_api="blas")]


def get_num_threads() -> int:
    """The threads numpy's BLAS may use now (the largest over the BLAS libraries loaded; 1 if none is)."""
    counts = [pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]
    return max(counts, default=1)


def user_chose_threads() -> bool:
    """Whether one of ``USER_THREAD_VARIABLES`` is set (non-empty) in the environment."""
    return any(os.environ.get(name) for name in USER_THREAD_VARIABLES)


def pin_blas_on_import() -> bool:
    """One BLAS thread, unless the user set a thread variable; returns whether it pinned."""
    if user_chose_threads():
        return False
    set_num_threads(1)
    return True


__all__ = ["USER_THREAD_VARIABLES", "get_num_threads", "set_num_threads"]
