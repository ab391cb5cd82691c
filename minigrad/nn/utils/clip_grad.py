"""Gradient clipping, as PyTorch's ``torch.nn.utils`` (the course's ``clip`` is ``clip_grad_value_``).

Both rewrite ``.grad`` arrays in place (gradients are plain ndarrays, not versioned tensors)
and skip parameters whose ``grad`` is None.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ...tensor import Tensor


def _grads(parameters: Tensor | Iterable[Tensor], fn: str) -> list[np.ndarray]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: parameters must be tensors (e.g. model.parameters()), got {type(p).__name__}")
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> float:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    ``total = || (||g_1||_p, ..., ||g_k||_p) ||_p`` (max |g| for ``p = inf``), then every
    ``g_i *= min(1, max_norm / (total + 1e-6))``. Returns ``total`` (before clipping), as PyTorch.
    A NaN/Inf total makes the gradients NaN (or raises with ``error_if_nonfinite``).
    """
    fn = "clip_grad_norm_"
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not max_norm >= 0:
        raise ValueError(f"{fn}: max_norm must be >= 0, got {max_norm}")
    if not norm_type > 0:
        raise ValueError(f"{fn}: norm_type must be > 0 (or inf), got {norm_type}")
    grads = _grads(parameters, fn)
    if not grads:
        return 0.0
    # As PyTorch: one norm per gradient (in its dtype), then the norm of those norms.
    norms = np.array([np.linalg.norm(g.ravel(), norm_type) for g in grads], dtype=np.float64)
    total = float(norms.max() if math.isinf(norm_type) else np.linalg.norm(norms, norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"{fn}: the total norm of order {norm_type} of the gradients is {total}; "
            "set error_if_nonfinite=False to clip anyway"
        )
    coef = max_norm / (total + 1e-6)
    if not coef >= 1.0:  # also true for NaN, which then spreads into the gradients as in PyTorch
        for g in grads:
            g *= coef
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient element into ``[-clip_value, clip_value]`` in place."""
    fn = "clip_grad_value_"
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"{fn}: clip_value must be >= 0, got {clip_value}")
    for g in _grads(parameters, fn):
        np.clip(g, -clip_value, clip_value, out=g)


__all__ = ["clip_grad_norm_", "clip_grad_value_"]
