"""Initialisers, as PyTorch's ``torch.nn.init``: each fills a tensor in place and returns it.

Every draw comes from ``minigrad.random.generator()`` (seeded by ``mg.manual_seed``), in
float64, and is written through ``Tensor.copy_`` (versioned; cast to the tensor's dtype),
so a float32 and a float64 model built after the same seed hold the same numbers.
"""

from __future__ import annotations

import math

import numpy as np

from ..random import generator
from ..tensor import Tensor


def _check(tensor: Tensor, fn: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: expected a minigrad Tensor, got {type(tensor).__name__}")
    if tensor.dtype.kind != "f":
        raise TypeError(f"{fn}: can only fill floating-point tensors, got dtype {tensor.dtype}")


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with draws from ``U(a, b)``."""
    _check(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: expects a <= b, got a={a}, b={b}")
    return tensor.copy_(generator().uniform(a, b, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with draws from ``N(mean, std^2)``."""
    _check(tensor, "normal_")
    if not std >= 0:
        raise ValueError(f"normal_: expects std >= 0, got std={std}")
    return tensor.copy_(generator().normal(mean, std, size=tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    _check(tensor, "constant_")
    return tensor.copy_(np.full(tensor.shape, val, dtype=tensor.dtype))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return constant_(tensor, 1.0)


def fan_in(tensor: Tensor) -> int:
    """PyTorch's fan-in: ``shape[1] * prod(shape[2:])`` for a weight of shape (out, in, ...)."""
    if tensor.ndim < 2:
        raise ValueError(
            f"fan_in: needs a tensor with at least 2 dimensions, got shape {tensor.shape}; "
            "pass fan= explicitly for a bias"
        )
    return int(np.prod(tensor.shape[1:]))


def uniform_fan_in_(tensor: Tensor, fan: int | None = None) -> Tensor:
    """Fill with ``U(-1/sqrt(fan), 1/sqrt(fan))``: PyTorch's default for Linear (weight and bias,
    fan = in_features; its ``kaiming_uniform_(a=sqrt(5))`` reduces to this) and for the recurrent
    layers (fan = hidden_size). ``fan`` defaults to the tensor's fan-in; ``fan = 0`` gives zeros.
    """
    _check(tensor, "uniform_fan_in_")
    fan = fan_in(tensor) if fan is None else int(fan)
    if fan < 0:
        raise ValueError(f"uniform_fan_in_: fan must be >= 0, got {fan}")
    bound = 1.0 / math.sqrt(fan) if fan > 0 else 0.0
    return uniform_(tensor, -bound, bound)


__all__ = ["constant_", "fan_in", "normal_", "ones_", "uniform_", "uniform_fan_in_", "zeros_"]
