"""Test-wide settings.

The suite's matrices are small: one BLAS thread is faster than two contending for the
same cores, and keeps float results identical from run to run. Set before numpy loads.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
