"""What the derivative table (``ops.py``) is made of: the row type, and the helpers its rows call.

``Primitive`` is one row; ``defvjp`` registers one. The rest are the pieces of rows that do not
fit on a line: longer VJPs (matmul, max, getitem, concat, stack), faster forms of a formula
(``g_times_one_minus_out_squared`` computes ``g * (1 - out**2)`` in one new array instead of
three), and ``explain_*`` functions that turn numpy's error into one naming the op and shapes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

Array = np.ndarray


class Primitive:
    """One row of the table: a forward function and one VJP per input."""

    __slots__ = ("name", "forward", "vjps", "accumulate", "explain", "variadic")

    def __init__(
        self,
        name: str,
        forward: Callable[..., Array],
        vjps: Any,
        accumulate: bool = False,
        explain: Callable[..., str] | None = None,
    ) -> None:
        self.name = name
        self.forward = forward
        self.vjps = vjps
        self.accumulate = accumulate
        # Called only when the forward raised: turns numpy's message into one that
        # names the op, the shapes and what was expected (zero cost on the happy path).
        self.explain = explain
        # A variadic row has one VJP giving every input's gradient at once (O(N), not O(N^2)).
        self.variadic = not isinstance(vjps, tuple)

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


PRIMITIVES: dict[str, Primitive] = {}


def defvjp(
    name: str,
    forward: Callable[..., Array],
    *vjps: Callable[..., Array] | None,
    accumulate: bool = False,
    explain: Callable[..., str] | None = None,
) -> Primitive:
    """Register a primitive with one VJP per positional input (``None``: not differentiable)."""
    prim = Primitive(name, forward, vjps, accumulate, explain)
    PRIMITIVES[name] = prim
    return prim


def defvjp_variadic(
    name: str, forward: Callable[..., Array], vjp: Callable[..., list[Array]], explain: Callable[..., str] | None = None
) -> Primitive:
    """Register a primitive over a list of inputs; ``vjp(g, out, *xs)`` returns every input's gradient."""
    prim = Primitive(name, forward, vjp, False, explain)
    PRIMITIVES[name] = prim
    return prim


# --------------------------------------------------------------------------------------
# Helpers the rows call
# --------------------------------------------------------------------------------------


def unbroadcast(grad: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``grad`` back to ``shape``: the adjoint of numpy broadcasting."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0 or grad.shape[extra:] != shape and any(n != m and n != 1 for n, m in zip(shape, grad.shape[extra:])):
        raise ValueError(
            f"unbroadcast: a gradient of shape {grad.shape} cannot be summed back to an "
            f"input of shape {shape} (a VJP returned the wrong shape)"
        )
    if grad.size == math.prod(shape):  # only axes of length 1 were added: nothing to sum
        return grad.reshape(shape)
    if extra:
        grad = np.add.reduce(grad, axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = np.add.reduce(grad, axis=axes, keepdims=True)
    return grad.reshape(shape)


def expand_reduced(g: Array, shape: tuple[int, ...], axis: Any, keepdims: bool) -> Array:
    """Give a reduction's gradient back the reduced axes so it broadcasts against x."""
    if axis is None or keepdims:
        return g if g.ndim == len(shape) else g.reshape((1,) * len(shape))
    return np.expand_dims(g, axis)


def reduced_size(shape: tuple[int, ...], axis: Any) -> int:
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes]))


def shapes(*xs: Any) -> str:
    return " and ".join(str(np.shape(x)) for x in xs)


def explain_broadcast(name: str) -> Callable[..., str]:
    def explain(*xs: Any, **kw: Any) -> str:
        return (
            f"{name}: shapes {shapes(*xs)} cannot be broadcast together "
            "(numpy broadcasting: trailing axes must be equal or 1)"
        )

    return explain


def explain_matmul(a: Array, b: Array) -> str:
    if a.ndim == 0 or b.ndim == 0:
        return f"matmul: needs at least 1-d operands, got shapes {shapes(a, b)}"
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        return f"matmul: shapes {a.shape} and {b.shape} are not aligned: {k_a} != {k_b}"
    return f"matmul: batch axes of shapes {a.shape[:-2]} and {b.shape[:-2]} do not broadcast"


def explain_axis(name: str) -> Callable[..., str]:
    def explain(x: Array, axis: Any = None, **kw: Any) -> str:
        return f"{name}: axis {axis} is out of range for a tensor of shape {np.shape(x)} (ndim {np.ndim(x)})"

    return explain


def dot_or_matmul(a: Array, b: Array) -> Array:
    # np.dot beats np.matmul on 2-d operands, outer products above all (issue 7, fact 1).
    if a.ndim == 2 and b.ndim == 2:
        return np.dot(a, b)
    return np.matmul(a, b)


def matmul_vjp_a(g: Array, out: Array, a: Array, b: Array) -> Array:
    if b.ndim == 1:  # (..., k) @ (k,) -> (...)
        return np.multiply.outer(g, b) if a.ndim == 1 or g.ndim == 0 else g[..., None] * b
    if a.ndim == 1:  # (k,) @ (..., k, m) -> (..., m)
        return np.matmul(b, g[..., None])[..., 0]
    if g.ndim == 2 and b.ndim == 2:
        return np.dot(g, b.T)
    return np.matmul(g, np.swapaxes(b, -1, -2))


def matmul_vjp_b(g: Array, out: Array, a: Array, b: Array) -> Array:
    if a.ndim == 1:  # (k,) @ (..., k, m) -> (..., m)
        return np.multiply.outer(a, g) if b.ndim == 1 else a[:, None] * g[..., None, :]
    if b.ndim == 1:  # (..., k) @ (k,) -> (...)
        return np.matmul(np.swapaxes(a, -1, -2), g[..., None])[..., 0]
    if a.ndim == 2 and g.ndim == 2:
        return np.dot(a.T, g)
    return np.matmul(np.swapaxes(a, -1, -2), g)


def max_vjp(g: Array, out: Array, x: Array, axis: Any = None, keepdims: bool = False) -> Array:
    # Ties share the gradient equally (the subgradient PyTorch's amax uses).
    out = expand_reduced(out, x.shape, axis, keepdims)
    mask = x == out
    return expand_reduced(g, x.shape, axis, keepdims) * mask / mask.sum(axis=axis, keepdims=True)


def getitem_vjp(buf: Array, g: Array, out: Array, x: Array, index: Any) -> None:
    if is_basic_index(index):
        view = buf[index]  # a view: no index repeats
        if isinstance(view, np.ndarray):
            view += g  # (``buf[index] += g`` would also copy the view onto itself)
        else:
            buf[index] += g
    else:
        np.add.at(buf, index, g)  # repeated integer indices accumulate


def is_basic_index(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice)) for p in parts)


def explain_getitem(x: Array, index: Any) -> str:
    return f"getitem: index {index!r} is invalid for a tensor of shape {np.shape(x)}"


def concat_vjp(g: Array, out: Array, *xs: Array, axis: int = 0) -> list[Array]:
    ends = np.cumsum([x.shape[axis] for x in xs])[:-1]
    return np.split(g, ends, axis=axis)


def explain_concat(*xs: Array, axis: int = 0) -> str:
    return (
        f"concat: tensors of shapes {', '.join(str(x.shape) for x in xs)} cannot be joined "
        f"along axis {axis}: every other axis must match"
    )


def stack_vjp(g: Array, out: Array, *xs: Array, axis: int = 0) -> list[Array]:
    return list(np.moveaxis(g, axis, 0))


def explain_stack(*xs: Array, axis: int = 0) -> str:
    return (
        f"stack: tensors of shapes {', '.join(str(x.shape) for x in xs)} cannot be stacked "
        f"along axis {axis}: all shapes must be equal"
    )


def xlogy(out: Array, a: Array) -> Array:
    """``out * log(a)``, taken as 0 where ``a == 0`` (then ``out`` is 0 or 1: PyTorch's convention)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a == 0, 0.0, out * np.log(a)).astype(out.dtype, copy=False)


def power_base_grad(a: Array, b: Array) -> Array:
    """``b * a^(b-1)``, taken as 0 where ``b == 0`` (d(a^0)/da = 0 even at a = 0, as PyTorch)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0, b * np.power(a, b - 1))


def stable_log_softmax(x: Array, axis: int = -1) -> Array:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def stable_softmax(x: Array, axis: int = -1) -> Array:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid_via_tanh(x: Array) -> Array:
    """``1 / (1 + exp(-x))``, computed as ``(1 + tanh(x / 2)) / 2`` in one new array.

    The tanh form never overflows for large |x| and is one ufunc cheaper (issue 7).
    """
    y = np.asarray(np.multiply(x, 0.5))
    np.tanh(y, out=y)
    y *= 0.5
    y += 0.5
    return y


def g_times_out_times_one_minus_out(g: Array, out: Array, x: Array) -> Array:
    """sigmoid's VJP ``g * out * (1 - out)``, in one new array instead of three temporaries."""
    d = np.subtract(1, out, out=np.empty_like(out))
    d *= out
    d *= g
    return d


def g_times_one_minus_out_squared(g: Array, out: Array, x: Array) -> Array:
    """tanh's VJP ``g * (1 - out**2)``, in one new array instead of three temporaries."""
    d = np.multiply(out, out, out=np.empty_like(out))
    np.subtract(1, d, out=d)
    d *= g
    return d


def inverse_axes(axes: Any, ndim: int) -> Any:
    return None if axes is None else tuple(np.argsort([a % ndim for a in axes]))  # -1 means ndim - 1
