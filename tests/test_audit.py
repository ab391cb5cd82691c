"""Regression tests for what the independent audit of the merged work found.

Each test pins one fix: the reproduction that was wrong, and PyTorch's answer (hard-coded from
its documented semantics, so the suite needs no torch).
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


@pytest.mark.parametrize("correction", [5, 7.5])
def test_var_with_correction_above_n_is_inf_not_negative(correction):
    # PyTorch divides by max(0, N - correction); dividing by N - correction < 0 gave a negative variance.
    x = mg.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    v = x.var(1, correction=correction)
    assert np.all(np.isposinf(v.data))
    assert np.all(np.isposinf(x.std(1, correction=correction).data))


@pytest.mark.parametrize("correction", [0, 1])
def test_var_and_std_of_an_empty_tensor_are_nan(correction):
    # PyTorch: nan (0 / 0); minigrad gave -0.0 for correction=1.
    assert np.isnan(mg.tensor(np.zeros(0)).var(correction=correction).item())
    assert np.all(np.isnan(mg.tensor(np.zeros((0, 3))).std(0, correction=correction).data))
