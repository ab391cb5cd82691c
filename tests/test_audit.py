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


def test_max_and_min_with_dim_return_values_and_indices_as_torch():
    # torch.max(x, dim) / x.max(dim=d): a (values, indices) pair; the gradient goes to the index only.
    x = mg.tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]]), requires_grad=True)
    values, indices = x.max(dim=1)
    np.testing.assert_array_equal(values.data, [3.0, 2.0])
    np.testing.assert_array_equal(indices.data, [1, 0])
    values.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [1, 0, 0]])
    low = x.min(dim=0, keepdim=True)
    assert low.values.shape == (1, 3) and low.indices.dtype == np.int64
    np.testing.assert_array_equal(low.indices.data, [[0, 1, 1]])
    assert x.max().item() == 3.0 and x.max(1).shape == (2,)  # the numpy spelling still gives values
    with pytest.raises(TypeError, match="max: dim must be one int"):
        x.max(dim=(0, 1))
    with pytest.raises(ValueError, match="min: axis 2 is out of range"):
        x.min(dim=2)
    with pytest.raises(ValueError, match="max: cannot reduce over the empty axis"):
        mg.tensor(np.zeros((2, 0))).max(dim=1)


@pytest.mark.parametrize("compare", [lambda a, b: a < b, lambda a, b: a == b, lambda a, b: a >= b])
def test_comparison_of_shapes_that_do_not_broadcast_names_the_op(compare):
    a, b = mg.tensor(np.zeros((3, 4))), mg.tensor(np.zeros(3))
    with pytest.raises(ValueError, match=r"shapes \(3, 4\) and \(3,\) cannot be compared"):
        compare(a, b)
