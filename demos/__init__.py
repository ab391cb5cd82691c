"""Runnable demos: ``python -m demos.<name> --help``.

Every demo trains small models (batch <= 32, hidden <= 128). For matrices that small, a
second BLAS thread only spins and contends for the cores: measured here, an LSTM step at
T = 100 took 960 ms with numpy's default threads on a busy 2-core machine and 73 ms with one.
Python imports this package before any demo module, so the setting lands before numpy
loads; a value the user set wins.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
