"""PyTorch's type promotion: which dtype a binary op on two operands returns.

The rules (``torch.result_type``):

1. Dtypes fall into categories ``bool < integer < floating < complex``.
2. Operands rank by kind: tensors with at least one axis, then 0-d tensors, then Python
   (and numpy) scalars. The result starts from the highest-ranked operands' dtype, and a
   lower-ranked operand changes it only if it belongs to a *higher category*:
   ``float32 tensor * 2.5`` stays float32, ``float32 (3,) + float64 0-d`` stays float32,
   but ``int32 tensor * 2.5`` becomes floating.
3. A Python float (or a lower-ranked operand that lifts the category to floating) brings the
   default float dtype, float32; a Python int is int64, a Python bool is bool.
4. Within one category the wider dtype wins (``uint8 + int8 -> int16``, ``float16 + float32 ->
   float32``); across categories the higher category's dtype wins (``int64 + float16 -> float16``).

Division (``/``) and the floating functions (``exp log sqrt tanh sigmoid softmax ...``) of an
integer or boolean tensor return the default float dtype, float32, as PyTorch does.

``mg.result_type(a, b)`` and ``mg.promote_types(d1, d2)`` expose the rules.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_FLOAT = np.dtype(np.float32)
DEFAULT_COMPLEX = np.dtype(np.complex64)

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}

# The dtypes minigrad supports, in the order the promotion table lists them.
SUPPORTED = tuple(
    np.dtype(d) for d in (np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64)
)


def category(dtype: Any) -> int:
    """0 bool, 1 integer, 2 floating, 3 complex."""
    return _CATEGORY[np.dtype(dtype).kind]


def promote_types(a: Any, b: Any) -> np.dtype:
    """The smallest dtype both ``a`` and ``b`` convert to without leaving the higher category
    (``torch.promote_types``): a float dtype beats any integer one, any dtype beats bool."""
    a, b = np.dtype(a), np.dtype(b)
    if a == b:
        return a
    ca, cb = category(a), category(b)
    if ca != cb:
        high, low = (a, b) if ca > cb else (b, a)
        if high.kind == "c" and low.kind == "f":  # complex64 + float64 -> complex128
            return np.promote_types(high, low)
        return high
    return np.promote_types(a, b)


def _scalar_dtype(x: Any) -> np.dtype:
    """The dtype a Python or numpy scalar contributes: the default dtype of its category."""
    kind = np.asarray(x).dtype.kind
    if kind == "b":
        return np.dtype(np.bool_)
    if kind in "iu":
        return np.dtype(np.int64)
    if kind == "f":
        return DEFAULT_FLOAT
    if kind == "c":
        return DEFAULT_COMPLEX
    raise TypeError(f"result_type: {type(x).__name__} {x!r} is not a number")


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """Let a lower-ranked operand's dtype change the result only if its category is higher."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.kind == "c":
        return higher
    if lower.kind == "c":
        return np.promote_types(DEFAULT_COMPLEX, higher) if higher.kind == "f" else lower
    if higher.kind == "f":
        return higher
    if higher.kind == "b" or lower.kind == "f":
        return promote_types(higher, lower)
    return higher


def result_type(*operands: Any) -> np.dtype:
    """The dtype PyTorch gives ``op(*operands)`` for tensors, arrays and Python/numpy scalars."""
    ranked: list[np.dtype | None] = [None, None, None]  # tensors with axes, 0-d tensors, scalars
    for x in operands:
        data = x if isinstance(x, np.generic) else getattr(x, "data", x)  # a numpy scalar's .data is a buffer
        if isinstance(data, np.ndarray):
            rank, dtype = (0 if data.ndim else 1), data.dtype
        elif isinstance(data, (bool, int, float, complex, np.generic)):
            rank, dtype = 2, _scalar_dtype(data)
        else:
            rank, dtype = 0, np.asarray(data).dtype  # a list: as torch.tensor(list) would hold it
        if dtype.kind not in _CATEGORY:
            raise TypeError(f"result_type: dtype {dtype} is not numeric")
        ranked[rank] = dtype if ranked[rank] is None else promote_types(ranked[rank], dtype)
    result = _combine(ranked[0], _combine(ranked[1], ranked[2]))
    if result is None:
        raise TypeError("result_type: needs at least one operand")
    return result


def floating(dtype: Any) -> np.dtype:
    """The dtype a floating function (exp, /, ...) returns for an input of ``dtype``."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind in "fc" else DEFAULT_FLOAT


__all__ = ["DEFAULT_FLOAT", "SUPPORTED", "category", "floating", "promote_types", "result_type"]
