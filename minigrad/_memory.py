"""Keep freed memory for the next training step (glibc only).

glibc gives blocks above 128 KB back to the operating system as soon as they are freed,
and trims the heap top above 128 KB. A training step frees and re-allocates the same
large arrays (the input projection of every timestep, its gradient, the stacked
outputs, the logits) on every step, so each step page-faults them back in. Measured on
W1 at batch 32 (tests/benchmarks), that is 400 page faults and 15% of the step.
``keep_freed_memory`` serves blocks up to 32 MB from the heap and trims the heap only
above 512 MB. Set ``MINIGRAD_KEEP_MEMORY=0`` to leave malloc as it is.
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 512 << 20) -> bool:
    """Tune glibc's malloc for repeated steps; returns whether it applied (glibc Linux only)."""
    if os.environ.get("MINIGRAD_KEEP_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold))
