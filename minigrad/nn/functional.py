"""Losses and activations as functions of tensors (PyTorch names, arguments and maths).

Everything here is composed of the engine's primitives (``log_softmax`` is one fused
primitive; a loss picks its target log-probabilities with one ``getitem`` of integer
index arrays), so the gradients come from the derivative table like any other op's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..random import generator
from ..tensor import Tensor, constant

_REDUCTIONS = ("mean", "sum", "none")


def _as_tensor(x: Any, fn: str, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    array = np.asarray(x)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{fn}: {name} must be a float tensor or array, got dtype {array.dtype}")
    return Tensor(array)


def _check_float(x: Tensor, fn: str, name: str) -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: {name} must hold floats, got dtype {x.dtype}")


def _check_reduction(reduction: str, fn: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _class_indices(targets: Any, fn: str) -> np.ndarray:
    """Targets as an int64 array; integral floats are accepted (``mg.tensor([1, 2])`` is float32)."""
    array = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ValueError(f"{fn}: class-index targets must be integers, got non-integral values of "
                             f"dtype {array.dtype} (e.g. {array[array != np.round(array)].ravel()[:3]})")
        return array.astype(np.int64)
    raise TypeError(f"{fn}: targets must be class indices (an integer array, tensor or list), got dtype {array.dtype}")


def softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """``softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x)`` along ``axis`` (``dim`` as PyTorch)."""
    return _as_tensor(x, "softmax", "x").softmax(axis if dim is None else dim)


def log_softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """``log_softmax(x)_i = x_i - log sum_j exp(x_j)`` along ``axis`` (max-shifted, one fused primitive)."""
    return _as_tensor(x, "log_softmax", "x").log_softmax(axis if dim is None else dim)


def nll_loss(log_probs: Tensor, targets: Any, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices: ``l_n = -log_probs[n, y_n]`` (PyTorch's ``nll_loss``).

    Layouts as PyTorch: ``log_probs`` (C,) with a scalar target, (N, C) with targets (N,),
    or (N, C, d1, ...) with targets (N, d1, ...). Entries whose target equals ``ignore_index``
    contribute 0 and are left out of the mean:
    ``mean = sum_n l_n / #{n : y_n != ignore_index}`` (NaN if every entry is ignored, as PyTorch);
    ``sum = sum_n l_n``; ``none`` gives ``l`` shaped like ``targets``.
    """
    return _nll_loss(log_probs, targets, ignore_index, reduction, "nll_loss")


def _nll_loss(log_probs: Tensor, targets: Any, ignore_index: int, reduction: str, fn: str) -> Tensor:
    log_probs = _as_tensor(log_probs, fn, "input")
    _check_float(log_probs, fn, "input")
    _check_reduction(reduction, fn)
    y = _class_indices(targets, fn)
    if log_probs.ndim == 0:
        raise ValueError(f"{fn}: input must have a class axis, shape (C,), (N, C) or (N, C, d1, ...); got a scalar")
    class_axis = 0 if log_probs.ndim == 1 else 1
    expected = log_probs.shape[:class_axis] + log_probs.shape[class_axis + 1:]
    if y.shape != expected:
        raise ValueError(f"{fn}: input of shape {log_probs.shape} (class axis {class_axis}) needs targets of "
                         f"shape {expected}, got {y.shape}")
    n_classes = log_probs.shape[class_axis]
    ignored = y == ignore_index
    bad = ~ignored & ((y < 0) | (y >= n_classes))
    if bad.any():
        raise IndexError(f"{fn}: target {int(y[bad].ravel()[0])} is out of range for {n_classes} classes "
                         f"(expected 0 <= target < {n_classes}, or ignore_index={ignore_index})")
    any_ignored = bool(ignored.any())
    safe = np.where(ignored, 0, y) if any_ignored else y
    # One advanced index picks log_probs[n, y[n, d...], d...] for every position at once.
    grids = np.ix_(*(np.arange(n) for n in y.shape)) if y.ndim else ()
    index = (safe,) if y.ndim == 0 else (grids[0], safe, *grids[1:])
    losses = -log_probs[index]
    if any_ignored:
        losses = losses * constant((~ignored).astype(log_probs.dtype))
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return total
    count = y.size - int(ignored.sum())
    if count == 0:   # 0/0: the loss is NaN, yet every gradient is 0, as PyTorch
        return total + constant(np.array(np.nan, dtype=total.dtype))
    return total / float(count) if any_ignored else losses.mean()


def cross_entropy(logits: Tensor, targets: Any, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Cross-entropy from unnormalised scores: ``l_n = -log softmax(logits_n)[y_n]``
    ``= logsumexp(logits_n) - logits_n[y_n]`` (PyTorch's ``cross_entropy``).

    ``logits`` (C,), (N, C) or (N, C, d1, ...) with class-index ``targets`` of shape (), (N,)
    or (N, d1, ...): ``nll_loss(log_softmax(logits, class axis), targets)``, with the same
    ``ignore_index`` and ``reduction``. Targets of the logits' own shape and a float dtype
    are class probabilities ``p``, as PyTorch: ``l_n = -sum_c p_nc log softmax(logits_n)_c``,
    ``mean`` dividing by the number of entries ``l_n``.
    """
    fn = "cross_entropy"
    logits = _as_tensor(logits, fn, "input")
    _check_float(logits, fn, "input")
    _check_reduction(reduction, fn)
    if logits.ndim == 0:
        raise ValueError(f"{fn}: input must have a class axis, shape (C,), (N, C) or (N, C, d1, ...); got a scalar")
    class_axis = 0 if logits.ndim == 1 else 1
    log_probs = logits.log_softmax(class_axis)
    if np.shape(targets) == logits.shape and _is_float(targets):
        probs = (targets.astype(logits.dtype) if isinstance(targets, Tensor)
                 else constant(np.asarray(targets, dtype=logits.dtype)))
        losses = -(probs * log_probs).sum(axis=class_axis)
        if reduction == "none":
            return losses
        return losses.sum() if reduction == "sum" else losses.mean()
    return _nll_loss(log_probs, targets, ignore_index, reduction, fn)


def _is_float(x: Any) -> bool:
    return np.asarray(x.data if isinstance(x, Tensor) else x).dtype.kind == "f"


def mse_loss(pred: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error ``l = (pred - target)^2`` elementwise, then ``mean``, ``sum`` or ``none``.

    ``target`` may be a tensor that requires grad (both sides then get gradients). Shapes must
    match: PyTorch broadcasts with a warning, which hides (N, 1) vs (N,) mistakes, so here it is an error.
    """
    fn = "mse_loss"
    pred = _as_tensor(pred, fn, "input")
    _check_float(pred, fn, "input")
    _check_reduction(reduction, fn)
    if isinstance(target, Tensor):
        target = target.astype(pred.dtype)
    else:
        target = constant(np.asarray(target, dtype=pred.dtype))
    if target.shape != pred.shape:
        raise ValueError(f"{fn}: input of shape {pred.shape} and target of shape {target.shape} must match")
    diff = pred - target
    losses = diff * diff
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: ``x * m / (1 - p)`` with ``m_i ~ Bernoulli(1 - p)`` while training, else ``x``.

    The mask comes from ``minigrad.random.generator()`` (seeded by ``mg.manual_seed``);
    ``p = 1`` zeroes everything, as PyTorch.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p}")
    x = _as_tensor(x, "dropout", "x")
    if not training or p == 0.0:
        return x
    _check_float(x, "dropout", "x")
    if p == 1.0:
        return x * constant(np.zeros(x.shape, dtype=x.dtype))
    keep = generator().random(x.shape) >= p
    return x * constant(np.multiply(keep, 1.0 / (1.0 - p), dtype=x.dtype))


__all__ = ["cross_entropy", "dropout", "log_softmax", "mse_loss", "nll_loss", "softmax"]
