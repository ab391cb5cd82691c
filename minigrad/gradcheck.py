"""Finite-difference checks of the engine's gradients (float64 only)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import autograd
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Tensor] | Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Compare ``backward()`` with central differences for every input that requires grad.

    The outputs are reduced to the scalar ``L = sum(out * v)`` with a fixed random ``v``,
    so every output element is weighted (a zero-gradient bug cannot hide behind a sum).
    dL/dx from the engine must match ``(L(x + eps) - L(x - eps)) / (2 eps)`` elementwise
    within ``atol + rtol * |numerical|``. Returns True or raises ``GradcheckError`` naming
    the input, the worst element and both values.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad; pass tensors with requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} has dtype {inputs[i].dtype}; finite differences "
                "need float64 inputs (tensor(..., dtype=np.float64))"
            )

    rng = np.random.default_rng(seed)
    weights: list[np.ndarray] = []

    def scalar() -> Tensor:
        outputs = fn(*inputs)
        outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
        total = None
        for k, out in enumerate(o for o in outputs if isinstance(o, Tensor)):
            if len(weights) <= k:
                weights.append(rng.standard_normal(out.shape))
            term = (out * weights[k]).sum()
            total = term if total is None else total + term
        if total is None:
            raise ValueError("gradcheck: fn returned no tensor")
        return total

    saved = [inputs[i].grad for i in checked]
    try:
        for i in checked:
            inputs[i].grad = None
        loss = scalar()
        if not loss.requires_grad:
            raise GradcheckError("gradcheck: the output does not depend on any input that requires grad")
        loss.backward()
        analytic = [np.zeros(inputs[i].shape) if inputs[i].grad is None else inputs[i].grad.copy() for i in checked]
    finally:
        for i, g in zip(checked, saved):
            inputs[i].grad = g

    with autograd.no_grad():
        for i, grad in zip(checked, analytic):
            data = inputs[i].data
            numerical = np.zeros(data.shape)
            for j in np.ndindex(data.shape):
                original = data[j]
                try:
                    data[j] = original + eps
                    plus = scalar().item()
                    data[j] = original - eps
                    minus = scalar().item()
                finally:  # fn may raise: never leave the input perturbed
                    data[j] = original
                numerical[j] = (plus - minus) / (2 * eps)
            error = np.abs(grad - numerical) - (atol + rtol * np.abs(numerical))
            if error.size and error.max() > 0:
                worst = np.unravel_index(int(np.argmax(error)), error.shape)
                raise GradcheckError(
                    f"gradcheck: input {i} (shape {data.shape}) element {tuple(int(k) for k in worst)}: "
                    f"analytic {float(grad[worst])!r} vs numerical {float(numerical[worst])!r} "
                    f"(|diff| {abs(grad[worst] - numerical[worst]):.3g} > atol {atol} + rtol {rtol} * |numerical|)"
                )
    return True
