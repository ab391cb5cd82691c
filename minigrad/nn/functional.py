"""Losses and activations as functions of tensors (PyTorch names, arguments and maths).

Everything here is composed of the engine's primitives (``log_softmax`` is one fused
primitive; a loss picks its target log-probabilities with one ``getitem`` of integer
index arrays), so the gradients come from the derivative table like any other op's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..random import generator
from ..tensor import Tensor, apply, constant

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
            raise ValueError(
                f"{fn}: class-index targets must be integers, got non-integral values of "
                f"dtype {array.dtype} (e.g. {array[array != np.round(array)].ravel()[:3]})"
            )
        return array.astype(np.int64)
    raise TypeError(f"{fn}: targets must be class indices (an integer array, tensor or list), got dtype {array.dtype}")


def softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """``softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x)`` along ``axis`` (``dim`` as PyTorch)."""
    return _as_tensor(x, "softmax", "x").softmax(axis if dim is None else dim)


def log_softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """``log_softmax(x)_i = x_i - log sum_j exp(x_j)`` along ``axis`` (max-shifted, one fused primitive)."""
    return _as_tensor(x, "log_softmax", "x").log_softmax(axis if dim is None else dim)


def nll_loss(
    log_probs: Tensor, targets: Any, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """Negative log-likelihood of class indices: ``l_n = -log_probs[n, y_n]`` (PyTorch's ``nll_loss``).

    Layouts as PyTorch: ``log_probs`` (C,) with a scalar target, (N, C) with targets (N,),
    or (N, C, d1, ...) with targets (N, d1, ...). Entries whose target equals ``ignore_index``
    contribute 0 and are left out of the mean:
    ``mean = sum_n l_n / #{n : y_n != ignore_index}`` (NaN if every entry is ignored, as PyTorch);
    ``sum = sum_n l_n``; ``none`` gives ``l`` shaped like ``targets``.

    ``weight`` (one value per class) scales each entry, ``l_n = -w[y_n] log_probs[n, y_n]``, and the
    mean becomes ``sum_n l_n / sum_n w[y_n]`` (PyTorch's weighted mean).
    """
    if weight is not None:
        fn = "nll_loss"
        log_probs = _as_tensor(log_probs, fn, "input")
        _check_float(log_probs, fn, "input")
        _check_reduction(reduction, fn)
        if log_probs.ndim == 0:
            raise ValueError(f"{fn}: input must have a class axis, shape (C,), (N, C) or (N, C, d1, ...); got a scalar")
        return _weighted_nll_loss(log_probs, targets, weight, ignore_index, reduction, fn)
    return _nll_loss(log_probs, targets, ignore_index, reduction, "nll_loss")


def _nll_loss(log_probs: Tensor, targets: Any, ignore_index: int, reduction: str, fn: str) -> Tensor:
    log_probs = _as_tensor(log_probs, fn, "input")
    _check_float(log_probs, fn, "input")
    _check_reduction(reduction, fn)
    y = _class_indices(targets, fn)
    if log_probs.ndim == 0:
        raise ValueError(f"{fn}: input must have a class axis, shape (C,), (N, C) or (N, C, d1, ...); got a scalar")
    class_axis = 0 if log_probs.ndim == 1 else 1
    expected = log_probs.shape[:class_axis] + log_probs.shape[class_axis + 1 :]
    if y.shape != expected:
        raise ValueError(
            f"{fn}: input of shape {log_probs.shape} (class axis {class_axis}) needs targets of "
            f"shape {expected}, got {y.shape}"
        )
    n_classes = log_probs.shape[class_axis]
    ignored = y == ignore_index
    bad = ~ignored & ((y < 0) | (y >= n_classes))
    if bad.any():
        raise IndexError(
            f"{fn}: target {int(y[bad].ravel()[0])} is out of range for {n_classes} classes "
            f"(expected 0 <= target < {n_classes}, or ignore_index={ignore_index})"
        )
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
    if count == 0:  # 0/0: the loss is NaN, yet every gradient is 0, as PyTorch
        return total + constant(np.array(np.nan, dtype=total.dtype))
    return total / float(count) if any_ignored else losses.mean()


def cross_entropy(
    logits: Tensor,
    targets: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy from unnormalised scores: ``l_n = -log softmax(logits_n)[y_n]``
    ``= logsumexp(logits_n) - logits_n[y_n]`` (PyTorch's ``cross_entropy``).

    ``logits`` (C,), (N, C) or (N, C, d1, ...) with class-index ``targets`` of shape (), (N,)
    or (N, d1, ...): ``nll_loss(log_softmax(logits, class axis), targets)``, with the same
    ``ignore_index`` and ``reduction``. Targets of the logits' own shape and a float dtype
    are class probabilities ``p``, as PyTorch: ``l_n = -sum_c p_nc log softmax(logits_n)_c``,
    ``mean`` dividing by the number of entries ``l_n``.

    ``weight`` (one value per class) and ``label_smoothing`` (in [0, 1]) take a separate path,
    :func:`_smoothed_cross_entropy`, with PyTorch's formulas.
    """
    fn = "cross_entropy"
    if weight is None and not label_smoothing:  # the common case: one node of the table
        fast = _fused_cross_entropy(logits, targets, ignore_index, reduction)
        if fast is not None:
            return fast
    logits = _as_tensor(logits, fn, "input")
    _check_float(logits, fn, "input")
    _check_reduction(reduction, fn)
    if logits.ndim == 0:
        raise ValueError(f"{fn}: input must have a class axis, shape (C,), (N, C) or (N, C, d1, ...); got a scalar")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if weight is not None or label_smoothing:
        return _smoothed_cross_entropy(logits, targets, weight, ignore_index, reduction, label_smoothing)
    class_axis = 0 if logits.ndim == 1 else 1
    log_probs = logits.log_softmax(class_axis)
    if np.shape(targets) == logits.shape and _is_float(targets):
        probs = (
            targets.astype(logits.dtype)
            if isinstance(targets, Tensor)
            else constant(np.asarray(targets, dtype=logits.dtype))
        )
        losses = -(probs * log_probs).sum(axis=class_axis)
        if reduction == "none":
            return losses
        return losses.sum() if reduction == "sum" else losses.mean()
    return _nll_loss(log_probs, targets, ignore_index, reduction, fn)


def _fused_cross_entropy(logits: Any, targets: Any, ignore_index: int, reduction: str) -> Tensor | None:
    """The common case as one node of the table (``ops.cross_entropy``), or None to take the general path.

    Common: float logits (N, C), integer class indices (N,) (an array or a tensor) within [0, C)
    or equal to ``ignore_index``. Anything else (other layouts, probability or float targets,
    bad values, whose errors the general path words) goes the general way.
    """
    if type(logits) is not Tensor or logits.data.ndim != 2 or logits.data.dtype.kind != "f":
        return None
    y = targets.data if type(targets) is Tensor else targets
    if type(y) is not np.ndarray or y.dtype.kind not in "iu" or y.shape != logits.data.shape[:1] or not y.size:
        return None
    if reduction not in _REDUCTIONS:
        return None
    n_classes = logits.data.shape[1]
    keep = None
    # rare: ignored rows or bad targets (ufunc reductions: ndarray.min adds a Python wrapper per call)
    if np.minimum.reduce(y) < 0 or np.maximum.reduce(y) >= n_classes or 0 <= ignore_index < n_classes:
        keep = y != ignore_index
        kept = y[keep]
        if kept.size and (kept.min() < 0 or kept.max() >= n_classes):
            return None  # the general path names the bad target
        if keep.all():
            keep = None
        else:
            y = np.where(keep, y, 0)  # an ignored row picks class 0, then counts 0
    kwargs = {"targets": y, "keep": keep, "reduction": reduction, "saved": {}}
    return apply(ops.cross_entropy, (logits,), kwargs)


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


# --------------------------------------------------------------------------------------
# Issue 14: activations, one_hot, binary cross-entropy, class weights and label smoothing
# --------------------------------------------------------------------------------------


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``; ``x`` where ``beta x > threshold`` (PyTorch's ``softplus``)."""
    return _as_tensor(x, "softplus", "x").softplus(beta, threshold)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """``x Phi(x)``, or the ``approximate="tanh"`` form ``x/2 (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))``."""
    return _as_tensor(x, "gelu", "x").gelu(approximate)


def silu(x: Tensor) -> Tensor:
    """``x sigmoid(x)``."""
    return _as_tensor(x, "silu", "x").silu()


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """``x`` for ``x > 0``, else ``alpha (exp(x) - 1)``."""
    return _as_tensor(x, "elu", "x").elu(alpha)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x`` for ``x > 0``, else ``negative_slope x``."""
    return _as_tensor(x, "leaky_relu", "x").leaky_relu(negative_slope)


def relu(x: Tensor) -> Tensor:
    return _as_tensor(x, "relu", "x").relu()


def tanh(x: Tensor) -> Tensor:
    return _as_tensor(x, "tanh", "x").tanh()


def sigmoid(x: Tensor) -> Tensor:
    return _as_tensor(x, "sigmoid", "x").sigmoid()


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Class indices of any shape -> int64 tensor of shape ``(*shape, num_classes)`` with a 1 at each index.

    ``num_classes=-1`` takes ``max(index) + 1``, as PyTorch. Integral floats are accepted as indices
    (``mg.tensor([0, 2])`` is float32); anything else is an error naming the bad value.
    """
    fn = "one_hot"
    y = _class_indices(tensor, fn)
    if num_classes == -1:
        if y.size == 0:
            raise ValueError(f"{fn}: cannot infer num_classes from an empty tensor; pass num_classes")
        num_classes = int(y.max()) + 1
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"{fn}: num_classes must be a positive int or -1, got {num_classes!r}")
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        raise IndexError(
            f"{fn}: class index {int(y[bad].ravel()[0])} is out of range for {num_classes} classes "
            f"(expected 0 <= index < {num_classes})"
        )
    return constant((y[..., None] == np.arange(num_classes)).astype(np.int64))


def _float_operand(x: Any, like: Tensor, fn: str, name: str) -> Tensor:
    """A target/weight as a tensor of ``like``'s dtype (a tensor keeps its graph through the cast)."""
    if isinstance(x, Tensor):
        return x.astype(like.dtype)
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: {name} must be numeric, got dtype {array.dtype}")
    return constant(array.astype(like.dtype))


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def _broadcast_weight(weight: Any, shape: tuple[int, ...], like: Tensor, fn: str, name: str) -> Tensor:
    w = _float_operand(weight, like, fn, name)
    try:
        np.broadcast_shapes(w.shape, shape)
    except ValueError:
        raise ValueError(f"{fn}: {name} of shape {w.shape} does not broadcast to the input's shape {shape}") from None
    return w


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None, reduction: str = "mean") -> Tensor:  # noqa: A002
    """``l = -w (y log x + (1 - y) log(1 - x))`` for probabilities ``x`` in [0, 1] (PyTorch's
    ``binary_cross_entropy``; each log is clamped at -100, so x = 0 or 1 gives a finite loss).

    ``target`` has the input's shape; ``weight`` broadcasts to it. Gradients reach ``target`` too.
    """
    fn = "binary_cross_entropy"
    x = _as_tensor(input, fn, "input")
    _check_float(x, fn, "input")
    _check_reduction(reduction, fn)
    y = _float_operand(target, x, fn, "target")
    if y.shape != x.shape:
        raise ValueError(f"{fn}: target of shape {y.shape} must have the input's shape {x.shape}")
    if np.any((x.data < 0) | (x.data > 1)) or np.isnan(x.data).any():
        raise ValueError(
            f"{fn}: input must hold probabilities in [0, 1] (apply sigmoid first, or use "
            f"binary_cross_entropy_with_logits); got values in [{np.nanmin(x.data)}, {np.nanmax(x.data)}]"
        )
    losses = apply(ops.binary_cross_entropy, (x, y))
    if weight is not None:
        losses = losses * _broadcast_weight(weight, x.shape, x, fn, "weight")
    return _reduce(losses, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,  # noqa: A002 - PyTorch's keyword
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """``l = -w (p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))`` from logits ``x``, computed stably as
    ``(1 - y) x + (1 + (p - 1) y) softplus(-x)`` (PyTorch's ``binary_cross_entropy_with_logits``).

    ``pos_weight`` ``p`` (one per class, broadcasting along the last axis) weighs the positive term,
    ``weight`` ``w`` each element; both broadcast to the input's shape.
    """
    fn = "binary_cross_entropy_with_logits"
    x = _as_tensor(input, fn, "input")
    _check_float(x, fn, "input")
    _check_reduction(reduction, fn)
    y = _float_operand(target, x, fn, "target")
    if y.shape != x.shape:
        raise ValueError(f"{fn}: target of shape {y.shape} must have the input's shape {x.shape}")
    # softplus(-x) = -log sigmoid(x); threshold=inf keeps it exact for very negative logits.
    neg_log_sigmoid = (-x).softplus(threshold=np.inf)
    if pos_weight is None:
        losses = (1.0 - y) * x + neg_log_sigmoid
    else:
        p = _broadcast_weight(pos_weight, x.shape, x, fn, "pos_weight")
        losses = (1.0 - y) * x + (1.0 + (p - 1.0) * y) * neg_log_sigmoid
    if weight is not None:
        losses = losses * _broadcast_weight(weight, x.shape, x, fn, "weight")
    return _reduce(losses, reduction)


def _class_weight(weight: Any, n_classes: int, like: Tensor, fn: str) -> Tensor:
    w = _float_operand(weight, like, fn, "weight")
    if w.shape != (n_classes,):
        raise ValueError(f"{fn}: weight must hold one value per class, shape ({n_classes},), got {w.shape}")
    return w


def _weighted_nll_loss(
    log_probs: Tensor, targets: Any, weight: Any, ignore_index: int, reduction: str, fn: str
) -> Tensor:
    """``l_n = -w[y_n] log_probs[n, y_n]``; ``mean = sum_n l_n / sum_n w[y_n]`` over non-ignored ``n``."""
    class_axis = 0 if log_probs.ndim == 1 else 1
    w = _class_weight(weight, log_probs.shape[class_axis], log_probs, fn)
    y = _class_indices(targets, fn)
    losses = _nll_loss(log_probs, y, ignore_index, "none", fn)  # checks shapes and ranges
    ignored = y == ignore_index
    w_n = w[np.where(ignored, 0, y)] * constant((~ignored).astype(log_probs.dtype))  # w[y_n], 0 if ignored
    losses = losses * w_n
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / w_n.sum()  # all ignored: 0/0 = NaN, as PyTorch


def _smoothed_cross_entropy(
    logits: Tensor, targets: Any, weight: Any, ignore_index: int, reduction: str, label_smoothing: float
) -> Tensor:
    """Cross-entropy with class weights and/or label smoothing ``eps``, as PyTorch computes it.

    Class indices: ``(1 - eps) * nll_loss(log p, y, weight) + eps / C * smooth`` where
    ``smooth_n = -sum_c w_c log p_nc`` (0 where ``y_n`` is ignored), reduced like the nll term
    (``mean`` divides by ``sum_n w[y_n]``, or by the non-ignored count without weights).
    Probability targets: ``p <- (1 - eps) p + eps / C``, then ``l_n = -sum_c w_c p_nc log p_nc``,
    ``mean`` dividing by the number of entries.
    """
    fn = "cross_entropy"
    class_axis = 0 if logits.ndim == 1 else 1
    n_classes = logits.shape[class_axis]
    log_probs = logits.log_softmax(class_axis)
    # A (C,) weight lined up with the class axis: (C, 1, 1, ...) for (N, C, d1, ...) inputs.
    w = None if weight is None else _class_weight(weight, n_classes, logits, fn)
    w_along_classes = None if w is None else w.reshape((n_classes,) + (1,) * (logits.ndim - class_axis - 1))
    if np.shape(targets) == logits.shape and _is_float(targets):
        probs = _float_operand(targets, logits, fn, "target")
        if label_smoothing:
            probs = probs * (1.0 - label_smoothing) + label_smoothing / n_classes
        weighted = probs * log_probs if w is None else probs * log_probs * w_along_classes
        return _reduce(-weighted.sum(axis=class_axis), reduction)
    if w is None:
        nll = _nll_loss(log_probs, targets, ignore_index, reduction, fn)
        smooth = -log_probs.sum(axis=class_axis)
    else:
        nll = _weighted_nll_loss(log_probs, targets, w, ignore_index, reduction, fn)
        smooth = -(log_probs * w_along_classes).sum(axis=class_axis)
    if not label_smoothing:
        return nll
    y = _class_indices(targets, fn)
    ignored = y == ignore_index
    kept = constant((~ignored).astype(logits.dtype))
    smooth = smooth * kept
    if reduction == "none":
        pass
    elif reduction == "sum":
        smooth = smooth.sum()
    elif w is None:
        smooth = smooth.sum() / float((~ignored).sum())
    else:
        smooth = smooth.sum() / (w[np.where(ignored, 0, y)] * kept).sum()
    return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / n_classes)


def layer_norm(
    x: Tensor,
    normalized_shape: int | tuple[int, ...],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last ``len(normalized_shape)`` axes
    (biased variance, as PyTorch's ``layer_norm``)."""
    fn = "layer_norm"
    x = _as_tensor(x, fn, "input")
    _check_float(x, fn, "input")
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    if not shape or x.shape[x.ndim - len(shape) :] != shape or len(shape) > x.ndim:
        raise ValueError(f"{fn}: normalized_shape {shape} must match the last axes of the input's shape {x.shape}")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    centred = x - x.mean(axis=axes, keepdims=True)
    variance = (centred * centred).mean(axis=axes, keepdims=True)
    out = centred / (variance + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "elu",
    "gelu",
    "layer_norm",
    "leaky_relu",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "relu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
]
