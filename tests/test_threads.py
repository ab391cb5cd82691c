"""numpy's BLAS threads: one after ``import minigrad`` unless the user chose, and mg.set_num_threads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import threadpoolctl

import minigrad as mg

REPO = Path(__file__).resolve().parents[1]

# Imports minigrad in a fresh process and prints the BLAS pools numpy loaded, as threadpoolctl sees them.
PROBE = """
import json, numpy, threadpoolctl
before = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
import minigrad as mg
after = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
print(json.dumps({"before": before, "after": after, "mg": mg.get_num_threads()}))
"""


def _fresh_process(**env_vars: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in mg.threads.USER_THREAD_VARIABLES}
    env.update(env_vars)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _blas_pools() -> list[dict]:
    return [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]


needs_blas = pytest.mark.skipif(not _blas_pools(), reason="numpy here is linked to no BLAS that threadpoolctl sees")


@needs_blas
def test_import_puts_blas_on_one_thread_in_a_fresh_process():
    probe = _fresh_process()
    assert probe["after"] and all(n == 1 for n in probe["after"])
    assert probe["mg"] == 1


@needs_blas
@pytest.mark.parametrize("variable", ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"])
def test_a_thread_variable_the_user_set_is_respected(variable):
    # The user's choice is what the BLAS started with; minigrad must not change it on import.
    cores = os.cpu_count() or 1
    probe = _fresh_process(**{variable: str(cores)})
    assert probe["after"] == probe["before"]
    openblas = all(p["internal_api"] == "openblas" for p in _blas_pools())
    if openblas and variable != "MKL_NUM_THREADS" and cores > 1:  # OpenBLAS reads OMP_ and OPENBLAS_
        assert probe["after"] == [cores]


@needs_blas
def test_set_num_threads_changes_the_blas_and_get_num_threads_reports_it():
    previous = mg.get_num_threads()
    try:
        mg.set_num_threads(2)
        assert mg.get_num_threads() == 2
        assert all(p["num_threads"] == 2 for p in _blas_pools())
        mg.set_num_threads(1)
        assert mg.get_num_threads() == 1
    finally:
        mg.set_num_threads(previous)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True, None])
def test_set_num_threads_rejects_what_is_not_a_positive_int(bad):
    with pytest.raises(ValueError, match="set_num_threads: n must be a positive int"):
        mg.set_num_threads(bad)
