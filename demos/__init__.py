"""Runnable demos: ``python -m demos.<name> --help``.

Every demo trains small models (batch <= 32, hidden <= 128), for which a second BLAS
thread only spins and contends for the cores. ``import minigrad`` already puts numpy's
BLAS on one thread (unless the user set ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` or
``MKL_NUM_THREADS``; see ``minigrad/threads.py``), so the demos need no setting of their own.
"""
