"""nn.utils: clip_grad_norm_ and clip_grad_value_ checked against norms computed in numpy."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn.utils import clip_grad_norm_, clip_grad_value_

rng = np.random.default_rng(0)


def params_with_grads(scale=1.0, dtype=np.float64, shapes=((4, 3), (5,), (2, 2, 2))):
    params = []
    for shape in shapes:
        p = nn.Parameter(np.zeros(shape, dtype=dtype))
        p.grad = (scale * rng.standard_normal(shape)).astype(dtype)
        params.append(p)
    return params


def joint_norm(grads, p):
    flat = np.concatenate([g.ravel() for g in grads])
    return np.abs(flat).max() if math.isinf(p) else (np.abs(flat) ** p).sum() ** (1 / p)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, "inf"])
def test_clip_grad_norm_scales_to_max_norm(norm_type):
    p_ = float(norm_type)
    params = params_with_grads(scale=3.0)
    before = [p.grad.copy() for p in params]
    total = clip_grad_norm_(params, 1.5, norm_type=norm_type)
    assert isinstance(total, float)
    np.testing.assert_allclose(total, joint_norm(before, p_), rtol=1e-12)
    coef = 1.5 / (total + 1e-6)
    for p, g in zip(params, before):
        np.testing.assert_allclose(p.grad, g * coef, rtol=1e-12)
    np.testing.assert_allclose(joint_norm([p.grad for p in params], p_), 1.5, rtol=1e-6)


def test_clip_grad_norm_leaves_small_gradients_alone():
    params = params_with_grads(scale=0.01)
    before = [p.grad.copy() for p in params]
    total = clip_grad_norm_(params, 10.0)
    np.testing.assert_allclose(total, joint_norm(before, 2.0), rtol=1e-12)
    for p, g in zip(params, before):
        np.testing.assert_array_equal(p.grad, g)


def test_clip_grad_norm_accepts_tensor_generator_and_skips_missing_grads():
    single = params_with_grads(shapes=((6,),))[0]
    total = clip_grad_norm_(single, 0.1)
    assert total > 0.1
    np.testing.assert_allclose(np.linalg.norm(single.grad), 0.1, rtol=1e-5)

    model = nn.Linear(3, 2, dtype=np.float64)
    model.weight.grad = np.full((2, 3), 2.0)  # bias.grad stays None
    total = clip_grad_norm_(model.parameters(), 1.0)
    np.testing.assert_allclose(total, np.sqrt(6 * 4.0), rtol=1e-12)
    assert model.bias.grad is None
    np.testing.assert_allclose(np.linalg.norm(model.weight.grad), 1.0, rtol=1e-5)
    assert clip_grad_norm_([nn.Parameter(np.zeros(2))], 1.0) == 0.0


def test_clip_grad_norm_in_place_and_float32():
    params = params_with_grads(scale=5.0, dtype=np.float32)
    arrays = [p.grad for p in params]
    clip_grad_norm_(params, 1.0)
    for p, a in zip(params, arrays):
        assert p.grad is a and p.grad.dtype == np.float32
    np.testing.assert_allclose(joint_norm(arrays, 2.0), 1.0, rtol=1e-5)


def test_clip_grad_norm_after_backward():
    model = nn.Linear(4, 3, dtype=np.float64)
    x = mg.tensor(rng.standard_normal((8, 4)) * 10)
    (model(x) ** 2).sum().backward()
    expected = np.sqrt(sum((p.grad**2).sum() for p in model.parameters()))
    assert clip_grad_norm_(model.parameters(), 0.5) == pytest.approx(expected, rel=1e-12)
    assert np.sqrt(sum((p.grad**2).sum() for p in model.parameters())) == pytest.approx(0.5, rel=1e-5)


def test_clip_grad_norm_nonfinite():
    params = params_with_grads()
    params[0].grad[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="total norm"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert math.isnan(clip_grad_norm_(params, 1.0))
    assert np.isnan(params[1].grad).all()  # NaN spreads, as PyTorch


def test_clip_grad_norm_errors():
    params = params_with_grads()
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        clip_grad_norm_(params, -1.0)
    with pytest.raises(ValueError, match="norm_type must be > 0"):
        clip_grad_norm_(params, 1.0, norm_type=0)
    with pytest.raises(TypeError, match="parameters must be tensors"):
        clip_grad_norm_([np.ones(3)], 1.0)


def test_clip_grad_value():
    params = params_with_grads(scale=2.0)
    before = [p.grad.copy() for p in params]
    arrays = [p.grad for p in params]
    params.append(nn.Parameter(np.zeros(2)))  # grad None: skipped
    assert clip_grad_value_(params, 0.75) is None
    for p, g, a in zip(params, before, arrays):
        assert p.grad is a  # in place
        np.testing.assert_array_equal(p.grad, np.clip(g, -0.75, 0.75))
        assert np.abs(p.grad).max() == 0.75
    assert params[-1].grad is None
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        clip_grad_value_(params, -0.1)
