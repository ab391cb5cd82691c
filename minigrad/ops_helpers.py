"""What the derivative table (``ops.py``) is made of: the row type, and the helpers its rows call.

``Primitive`` is one row; ``defvjp`` registers one. The rest are the pieces of rows that do not
fit on a line: longer VJPs (matmul, addmm, max, getitem, concat, stack, gather, ...), faster forms of a
formula (``g_times_one_minus_out_squared`` computes ``g * (1 - out**2)`` in one new array instead
of three), and ``explain_*`` functions that turn numpy's error into one naming the op and shapes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

Array = np.ndarray


class Primitive:
    """One row of the table: a forward function and one VJP per input."""

    __slots__ = ("name", "forward", "vjps", "accumulate", "explain", "variadic", "whole_row")

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
        self.whole_row = self.variadic or accumulate  # backward hands the row all its inputs at once

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


def broadcast_view(g: Array, shape: tuple[int, ...]) -> Array:
    """``np.broadcast_to(g, shape)``: a read-only view whose broadcast axes have stride 0.

    Built directly when ``g`` is contiguous (0.9 us), because ``np.broadcast_to``
    spends ~7 us setting up an iterator: a small loss's ``sum``/``mean`` VJP paid it every step.
    """
    if g.shape == shape:
        return g
    lead = len(shape) - g.ndim
    if lead < 0 or not g.flags.c_contiguous:
        return np.broadcast_to(g, shape)
    strides = [0] * lead
    for n, m, stride in zip(g.shape, shape[lead:], g.strides):
        if n != m and n != 1:
            return np.broadcast_to(g, shape)  # not broadcastable: numpy's error
        strides.append(0 if n != m else stride)
    view = np.ndarray(shape, g.dtype, g, 0, tuple(strides))
    view.flags.writeable = False
    return view


def reduced_size(shape: tuple[int, ...], axis: Any) -> int:
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes]))


def shapes(*xs: Any) -> str:
    return " and ".join(str(np.shape(x)) for x in xs)


def non_numeric(xs: tuple) -> str | None:
    """Describe the first operand that is not numbers (a str, None, an object), if any."""
    for position, x in enumerate(xs, 1):
        kind = np.asarray(x).dtype.kind
        if kind not in "biufc":
            if np.ndim(x) == 0 and kind == "O":
                value = np.asarray(x).item()
                what = "None" if value is None else f"a {type(value).__name__}"
            else:
                what = "a str" if kind in "US" else f"an array of dtype {np.asarray(x).dtype}"
            return f"operand {position} is {what}, expected a Tensor, a number or a numeric array"
    return None


def explain_broadcast(name: str) -> Callable[..., str]:
    def explain(*xs: Any, **kw: Any) -> str:
        wrong_type = non_numeric(xs)
        if wrong_type:
            return f"{name}: {wrong_type}"
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
        shape, ndim = np.shape(x), np.ndim(x)
        axes = range(ndim) if axis is None else (axis,) if np.ndim(axis) == 0 else tuple(axis)
        if any(not -max(ndim, 1) <= int(a) < max(ndim, 1) for a in axes):
            return f"{name}: axis {axis} is out of range for a tensor of shape {shape} (ndim {ndim})"
        normalized = [int(a) % max(ndim, 1) for a in axes]
        if len(set(normalized)) != len(normalized):
            return f"{name}: duplicate axis in {axis} (each axis may be reduced once)"
        if any(shape[a] == 0 for a in normalized) if ndim else False:
            return (
                f"{name}: cannot reduce over an empty axis of a tensor of shape {shape} "
                f"(axis={axis}): {name} of no elements is undefined"
            )
        return f"{name}: invalid axis {axis} for a tensor of shape {shape} (ndim {ndim})"

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


def addmm_forward(c: Array, a: Array, b: Array) -> Array:
    """``c + a @ b`` with no temporary: the product's buffer takes the sum.

    In place when ``c`` broadcasts to the product's shape and has its dtype (a bias (N,) over
    (B, N), or a full (B, N) term); otherwise numpy's ``c + a @ b`` (which may grow the shape).
    Either way each element is the float sum ``c + (a @ b)``, as ``add(c, matmul(a, b))`` gives.
    """
    out = dot_or_matmul(a, b)
    if (
        type(out) is np.ndarray
        and out.dtype == c.dtype
        and c.ndim <= out.ndim
        and c.shape == out.shape[out.ndim - c.ndim :]
    ):
        out += c
        return out
    return np.add(c, out)


def addmm_vjp_b(g: Array, out: Array, c: Array, a: Array, b: Array) -> Array:
    """``a^T @ g``. A batched ``a`` (..., n, k) against a 2-d ``b`` folds its batch axes into rows
    first: the sum over the batch happens inside one matmul, not in a (..., k, m) temporary.
    Where ``c`` grew the output beyond ``a @ b``'s shape, ``g`` is first summed back to it."""
    product = matmul_shape(a.shape, b.shape)
    if g.shape != product:
        g = unbroadcast(g, product)
    if a.ndim > 2 and b.ndim == 2 and g.shape[:-1] == a.shape[:-1]:
        return np.dot(a.reshape(-1, a.shape[-1]).T, g.reshape(-1, g.shape[-1]))
    return matmul_vjp_b(g, out, a, b)


def matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of ``a @ b`` for operands of these (aligned) shapes, numpy's matmul rules."""
    if len(b) == 1:
        return a[:-1]
    if len(a) == 1:
        return b[:-2] + b[-1:]
    return np.broadcast_shapes(a[:-2], b[:-2]) + (a[-2], b[-1])


def explain_addmm(c: Array, a: Array, b: Array) -> str:
    wrong_type = non_numeric((c, a, b))
    if wrong_type:
        return f"addmm: {wrong_type}"
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return f"addmm: mat1 and mat2 must be at least 1-d, got shapes {shapes(a, b)}"
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        return f"addmm: mat1 of shape {a.shape} and mat2 of shape {b.shape} are not aligned: {k_a} != {k_b}"
    try:
        product = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + a.shape[-2:-1] + b.shape[-1:][: b.ndim - 1]
    except ValueError:
        return f"addmm: batch axes of mat1 {a.shape[:-2]} and mat2 {b.shape[:-2]} do not broadcast"
    return (
        f"addmm: input of shape {np.shape(c)} cannot be broadcast to {product}, the shape of mat1 @ mat2 "
        f"(mat1 {a.shape}, mat2 {b.shape}; numpy broadcasting: trailing axes must be equal or 1)"
    )


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


def xlogy(out: Array, a: Array, b: Array) -> Array:
    """``out * log(a)`` for ``out = a ** b``, taken as 0 where ``a == 0`` and ``b >= 0`` (then ``out`` is
    0 or 1: PyTorch's convention); at ``a == 0, b < 0`` it is ``inf * -inf = -inf``, as PyTorch."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((a == 0) & (b >= 0), 0.0, out * np.log(a)).astype(out.dtype, copy=False)


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
    # tanh form: stable for large |x| and one ufunc cheaper than 1 / (1 + exp(-x)); one buffer.
    y = np.asarray(np.multiply(x, 0.5))
    np.tanh(y, out=y)
    y *= 0.5
    y += 0.5
    return y


def g_times_out_times_one_minus_out(g: Array, out: Array, x: Array) -> Array:
    d = np.subtract(1, out, out=np.empty_like(out))  # g * out * (1 - out), one buffer
    d *= out
    d *= g
    return d


def g_times_one_minus_out_squared(g: Array, out: Array, x: Array) -> Array:
    d = np.multiply(out, out, out=np.empty_like(out))  # g * (1 - out^2), one buffer
    np.subtract(1, d, out=d)
    d *= g
    return d


def cross_entropy_forward(
    logits: Array, targets: Array, keep: Array | None = None, reduction: str = "mean", saved: dict | None = None
) -> Array:
    """``l_n = log sum_c exp(x_nc) - x_n,y_n`` for logits (N, C), class indices (N,); then mean, sum or none.

    ``keep`` (bool (N,), or None for all): rows whose target is ``ignore_index`` count 0 and
    leave the mean. The softmax is left in ``saved["softmax"]``: the VJP is ``softmax - onehot``.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    normaliser = probs.sum(axis=1, keepdims=True)
    losses = np.log(normaliser[:, 0]) - shifted[np.arange(len(targets)), targets]
    probs /= normaliser
    if saved is not None:
        saved["softmax"] = probs
    if keep is not None:
        losses *= keep
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return total
    count = len(targets) if keep is None else int(np.count_nonzero(keep))
    return total / count if count else np.array(np.nan, dtype=total.dtype)  # all ignored: NaN, as PyTorch


def cross_entropy_vjp(
    g: Array,
    out: Array,
    logits: Array,
    targets: Array,
    keep: Array | None = None,
    reduction: str = "mean",
    saved: dict | None = None,
) -> Array:
    """``dx_nc = g_n (softmax(x)_nc - [c = y_n])``, ``g_n = g / count`` for the mean (0 on ignored rows)."""
    probs = saved["softmax"] if saved else stable_softmax(logits, axis=1)
    rows = np.arange(len(targets))
    per_row = g  # "sum": g; "none": (N,), each row its own
    if reduction == "mean":
        count = len(targets) if keep is None else int(np.count_nonzero(keep))
        per_row = g / count if count else np.zeros_like(g)  # every row ignored: gradient 0, as PyTorch
    dx = probs * (per_row[:, None] if reduction == "none" else per_row)  # new: the saved softmax is kept
    dx[rows, targets] -= per_row
    if keep is not None:
        dx *= keep[:, None]
    return dx


def explain_cross_entropy(logits: Array, targets: Array, **kw: Any) -> str:
    return (
        f"cross_entropy: logits of shape {np.shape(logits)} (N, C) need class indices of shape (N,) "
        f"in [0, C), got targets of shape {np.shape(targets)}"
    )


def inverse_axes(axes: Any, ndim: int) -> Any:
    return None if axes is None else tuple(np.argsort([a % ndim for a in axes]))  # -1 means ndim - 1


SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_TANH_CUBIC = 0.044715  # the tanh approximation's constant (Hendrycks & Gimpel, PyTorch)


def erf(z: Array) -> Array:
    """The error function, elementwise, to float64 precision (numpy has none; scipy is no dependency).

    ``erf z = 2/sqrt(pi) * exp(-z^2) * sum_n (2 z^2)^n z / (1*3*5*...*(2n+1))`` (Abramowitz & Stegun
    7.1.6): every term is positive, so nothing cancels. ``|z| >= 6`` rounds to +-1 in float64.
    The loop runs over series terms (at most ~110), never over elements.
    """
    a = np.minimum(np.abs(np.asarray(z, dtype=np.float64)), 6.0)
    two_a2 = 2.0 * a * a
    term = a.copy()
    total = a.copy()
    n = 0
    while True:
        n += 1
        term *= two_a2 / (2 * n + 1)
        total += term
        if not (term > 1e-17 * total).any():
            break
    series = (2.0 / math.sqrt(math.pi)) * np.exp(-a * a) * total
    return np.sign(z) * np.where(a >= 6.0, 1.0, series)


def normal_cdf(x: Array) -> Array:
    """``Phi(x) = (1 + erf(x / sqrt 2)) / 2``, the standard normal's CDF."""
    return 0.5 * (1.0 + erf(x / math.sqrt(2.0)))


def gelu_forward(x: Array, approximate: str = "none") -> Array:
    if approximate == "tanh":
        inner = SQRT_2_OVER_PI * (x + GELU_TANH_CUBIC * x**3)
        return (0.5 * x * (1.0 + np.tanh(inner))).astype(x.dtype, copy=False)
    return (x * normal_cdf(x)).astype(x.dtype, copy=False)


def gelu_vjp(g: Array, out: Array, x: Array, approximate: str = "none") -> Array:
    if approximate == "tanh":
        t = np.tanh(SQRT_2_OVER_PI * (x + GELU_TANH_CUBIC * x**3))
        d_inner = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_CUBIC * x * x)
        return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner)
    density = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)  # phi(x)
    return g * (normal_cdf(x) + x * density)


def softplus_forward(x: Array, beta: float = 1.0, threshold: float = 20.0) -> Array:
    # log(1 + exp(beta x)) / beta through logaddexp (no overflow); linear above the threshold, as PyTorch.
    smooth = np.logaddexp(0, beta * x) / beta
    return np.where(beta * x > threshold, x, smooth).astype(x.dtype, copy=False)


def softplus_vjp(g: Array, out: Array, x: Array, beta: float = 1.0, threshold: float = 20.0) -> Array:
    return g * np.where(beta * x > threshold, 1.0, sigmoid_via_tanh(beta * x))


def logsumexp_forward(x: Array, axis: Any = None, keepdims: bool = False) -> Array:
    # Shift by the max (an infinite max shifts by 0, so -inf rows give -inf and inf rows inf, as PyTorch).
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def logsumexp_vjp(g: Array, out: Array, x: Array, axis: Any = None, keepdims: bool = False) -> Array:
    # d logsumexp / dx = softmax(x) = exp(x - out); an all -inf row gives NaN, as PyTorch
    with np.errstate(invalid="ignore"):
        return expand_reduced(g, x.shape, axis, keepdims) * np.exp(x - expand_reduced(out, x.shape, axis, keepdims))


def maximum_vjp(g: Array, out: Array, a: Array, b: Array) -> Array:
    # g where a wins, g/2 on ties (PyTorch's maximum), 0 where b wins; minimum swaps the roles.
    return g * ((a > b) + 0.5 * (a == b))


def gather_rows(x: Array, axis: int, index: Array) -> Array:
    # torch.gather: index may be smaller than x on the other axes; only its own extent is read.
    window = tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(index.shape))
    return np.take_along_axis(x[window], index, axis=axis)


def gather_vjp(buf: Array, g: Array, out: Array, x: Array, axis: int, index: Array) -> None:
    # Scatter-add: out[i, j] = x[i, index[i, j]] sends g[i, j] back to x[i, index[i, j]] (repeats add up).
    where_ = list(np.ix_(*(np.arange(n) for n in index.shape)))
    where_[axis] = index
    np.add.at(buf, tuple(where_), g)


def explain_gather(x: Array, axis: int, index: Array) -> str:
    return f"gather: index of shape {np.shape(index)} does not fit a tensor of shape {np.shape(x)} along axis {axis}"


def repeat_vjp(g: Array, out: Array, x: Array, repeats: tuple[int, ...]) -> Array:
    # out = tile(x, repeats): view g as (r0, n0, r1, n1, ...) and sum over every copy r_k.
    shape = (1,) * (len(repeats) - x.ndim) + x.shape
    interleaved = [size for pair in zip(repeats, shape) for size in pair]
    return g.reshape(interleaved).sum(axis=tuple(range(0, 2 * len(repeats), 2))).reshape(x.shape)


def var_forward(x: Array, axis: Any = None, correction: float = 1, keepdims: bool = False) -> Array:
    # N <= correction gives inf/NaN, as PyTorch, without numpy's "degrees of freedom" warning: the
    # divisor is max(0, N - correction) (PyTorch's clamp), so a correction above N never gives a negative variance.
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = _mean_or_nan(x, axis)
        squares = np.sum((x - mean) ** 2, axis=axis, keepdims=keepdims)
        return np.asarray(squares / _var_divisor(x.shape, axis, correction)).astype(x.dtype, copy=False)


def _mean_or_nan(x: Array, axis: Any) -> Array:
    """The mean over ``axis`` (kept), NaN for an empty axis without numpy's "Mean of empty slice" warning."""
    return np.sum(x, axis=axis, keepdims=True) / x.dtype.type(reduced_size(x.shape, axis))


def _var_divisor(shape: tuple[int, ...], axis: Any, correction: float) -> np.float64:
    """``max(0, N - correction)``: the variance's divisor, clamped at 0 as PyTorch does."""
    return np.float64(max(0.0, reduced_size(shape, axis) - correction))


def var_vjp(g: Array, out: Array, x: Array, axis: Any = None, correction: float = 1, keepdims: bool = False) -> Array:
    # d var / dx_i = 2 (x_i - mean) / (N - correction)
    with np.errstate(divide="ignore", invalid="ignore"):
        centred = x - _mean_or_nan(x, axis)
        scale = np.divide(2.0, _var_divisor(x.shape, axis, correction))  # N <= correction: inf, as PyTorch
        return expand_reduced(g, x.shape, axis, keepdims) * scale * centred


def binary_cross_entropy_forward(x: Array, y: Array) -> Array:
    # -(y log x + (1 - y) log(1 - x)), each log clamped at -100 so that x = 0 or 1 stays finite (PyTorch).
    with np.errstate(divide="ignore"):
        return -(y * np.maximum(np.log(x), -100) + (1 - y) * np.maximum(np.log1p(-x), -100))


BCE_EPSILON = float(np.float32(1e-12))  # PyTorch's EPSILON is a C float: 9.9999999600419720e-13


def bce_vjp_input(g: Array, out: Array, x: Array, y: Array) -> Array:
    # d/dx = (x - y) / (x (1 - x)), the denominator kept >= 1e-12 (PyTorch's EPSILON)
    return g * (x - y) / np.maximum(x * (1 - x), BCE_EPSILON)


def bce_vjp_target(g: Array, out: Array, x: Array, y: Array) -> Array:
    # d/dy = log(1 - x) - log(x), unclamped as PyTorch's (+-inf at x = 0 or 1)
    with np.errstate(divide="ignore"):
        return g * (np.log1p(-x) - np.log(x))


# Elementwise maxima and minima of two tensors (broadcasting).
