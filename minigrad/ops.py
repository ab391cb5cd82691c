"""The derivative table: every primitive's forward next to its vector-Jacobian product.

Read it like a page of a maths book. Each row is::

    name        forward (numpy in, numpy out)       gradient of each input

A VJP receives the upstream gradient ``g`` (shaped like the output), the forward
output ``out`` and the forward inputs (numpy arrays), plus the row's keyword
arguments, and returns the gradient for its input.  A VJP may return a gradient
that still has the *output's* broadcast shape: the engine sums it back to the
input's shape with :func:`unbroadcast`, in one place, for every row.

Rows marked ``accumulate=True`` (``getitem``) write into a gradient buffer of the
input's full shape instead of returning a fresh array: slicing a (T, B, 4H) tensor
T times must not cost T full-size zero arrays in the backward pass.

Nothing here knows about Tensors, graphs or RNNs; ``tensor.apply`` runs the forwards and
``autograd.backward`` the VJPs. The row type (``Primitive``) and the helpers that do not fit
on a line live in ``ops_helpers.py``.
"""

from __future__ import annotations

import numpy as np

from .ops_helpers import (  # noqa: F401 - Primitive, defvjp, unbroadcast: the table's API
    PRIMITIVES,
    Primitive,
    addmm_forward,
    addmm_vjp_b,
    bce_vjp_input,
    bce_vjp_target,
    binary_cross_entropy_forward,
    broadcast_view,
    concat_vjp,
    cross_entropy_forward,
    cross_entropy_vjp,
    defvjp,
    defvjp_variadic,
    dot_or_matmul,
    expand_reduced,
    explain_addmm,
    explain_axis,
    explain_broadcast,
    explain_concat,
    explain_cross_entropy,
    explain_gather,
    explain_getitem,
    explain_matmul,
    explain_stack,
    g_times_one_minus_out_squared,
    g_times_out_times_one_minus_out,
    gather_rows,
    gather_vjp,
    gelu_forward,
    gelu_vjp,
    getitem_vjp,
    inverse_axes,
    logsumexp_forward,
    logsumexp_vjp,
    matmul_vjp_a,
    matmul_vjp_b,
    max_vjp,
    maximum_vjp,
    power_base_grad,
    reduced_size,
    repeat_vjp,
    sigmoid_via_tanh,
    softplus_forward,
    softplus_vjp,
    stable_log_softmax,
    stable_softmax,
    stack_vjp,
    unbroadcast,
    var_forward,
    var_vjp,
    xlogy,
)

# --------------------------------------------------------------------------------------
# The table.      name       forward                          d input (given g, out, inputs)
# --------------------------------------------------------------------------------------

# Elementwise arithmetic (numpy broadcasting; the engine unbroadcasts every gradient).
add = defvjp("add", np.add, lambda g, out, a, b: g, lambda g, out, a, b: g, explain=explain_broadcast("add"))
sub = defvjp("sub", np.subtract, lambda g, out, a, b: g, lambda g, out, a, b: -g, explain=explain_broadcast("sub"))
mul = defvjp(
    "mul", np.multiply, lambda g, out, a, b: g * b, lambda g, out, a, b: g * a, explain=explain_broadcast("mul")
)
div = defvjp(
    "div",
    np.true_divide,
    lambda g, out, a, b: g / b,
    lambda g, out, a, b: -g * out / b,
    explain=explain_broadcast("div"),
)
neg = defvjp("neg", np.negative, lambda g, out, x: -g)
pow_ = defvjp(
    "pow",
    lambda x, exponent: np.power(x, exponent),
    lambda g, out, x, exponent: g * exponent * np.power(x, exponent - 1) if exponent != 0 else np.zeros_like(g),
)  # d(x^0)/dx = 0, at x = 0 too (PyTorch)

power = defvjp(
    "power",
    np.power,  # a ** b with a tensor exponent
    lambda g, out, a, b: g * power_base_grad(a, b),
    lambda g, out, a, b: g * xlogy(out, a, b),
    explain=explain_broadcast("power"),
)

# Linear algebra: a @ b, batched and 1-d as numpy's matmul.
matmul = defvjp(
    "matmul",
    dot_or_matmul,  # a @ b
    matmul_vjp_a,  # g @ b.T   (1-d and batched cases inside)
    matmul_vjp_b,
    explain=explain_matmul,
)  # a.T @ g
# c + a @ b as one node (PyTorch's addmm(input=c, mat1=a, mat2=b)): a recurrent step's x_proj + h W_hh^T,
# a bias after a matmul. As two rows, the product AND the sum stay alive until backward; no VJP reads either.
addmm = defvjp(
    "addmm",
    addmm_forward,  # c + a @ b, summed into the product's buffer
    lambda g, out, c, a, b: g,  # the engine sums g back to c's shape
    lambda g, out, c, a, b: matmul_vjp_a(g, out, a, b),  # g @ b.T
    addmm_vjp_b,  # a.T @ g
    explain=explain_addmm,
)

# Elementwise functions.
exp = defvjp("exp", np.exp, lambda g, out, x: g * out)
log = defvjp("log", np.log, lambda g, out, x: g / x)
tanh = defvjp("tanh", np.tanh, g_times_one_minus_out_squared)  # g * (1 - out**2), in one new array
sigmoid = defvjp(
    "sigmoid",
    sigmoid_via_tanh,  # 1 / (1 + exp(-x)), as (1 + tanh(x/2)) / 2
    g_times_out_times_one_minus_out,
)  # g * out * (1 - out), in one new array
relu = defvjp("relu", lambda x: np.maximum(x, 0), lambda g, out, x: g * (x > 0))
sqrt = defvjp("sqrt", np.sqrt, lambda g, out, x: g / (2 * out))
abs_ = defvjp("abs", np.abs, lambda g, out, x: g * np.sign(x))
clip = defvjp(
    "clip", lambda x, low, high: np.clip(x, low, high), lambda g, out, x, low, high: g * ((x >= low) & (x <= high))
)
cast = defvjp("cast", lambda x, dtype: x.astype(dtype), lambda g, out, x, dtype: g.astype(x.dtype))
where = defvjp(
    "where",
    np.where,
    None,
    lambda g, out, cond, a, b: np.where(cond, g, 0),
    lambda g, out, cond, a, b: np.where(cond, 0, g),
    explain=explain_broadcast("where"),
)

# Reductions (axis: None, an int or a tuple, as numpy).
sum_ = defvjp(
    "sum",
    lambda x, axis=None, keepdims=False: x.sum(axis=axis, keepdims=keepdims),
    lambda g, out, x, axis=None, keepdims=False: broadcast_view(expand_reduced(g, x.shape, axis, keepdims), x.shape),
    explain=explain_axis("sum"),
)
mean = defvjp(
    "mean",
    lambda x, axis=None, keepdims=False: x.mean(axis=axis, keepdims=keepdims),
    lambda g, out, x, axis=None, keepdims=False: broadcast_view(
        expand_reduced(g, x.shape, axis, keepdims) / reduced_size(x.shape, axis), x.shape
    ),
    explain=explain_axis("mean"),
)
max_ = defvjp(
    "max",
    lambda x, axis=None, keepdims=False: np.max(x, axis=axis, keepdims=keepdims),
    max_vjp,
    explain=explain_axis("max"),
)  # g where x == max, shared equally among ties

# Normalisers, fused for stability (max-shifted) and speed; gradchecked like the rest.
log_softmax = defvjp(
    "log_softmax",
    stable_log_softmax,
    lambda g, out, x, axis=-1: g - np.exp(out) * g.sum(axis=axis, keepdims=True),
    explain=explain_axis("log_softmax"),
)
softmax = defvjp(
    "softmax",
    stable_softmax,
    lambda g, out, x, axis=-1: out * (g - (g * out).sum(axis=axis, keepdims=True)),
    explain=explain_axis("softmax"),
)
# The commonest loss as one node (log_softmax + pick + mean would be four); its VJP reuses the softmax.
cross_entropy = defvjp(
    "cross_entropy",
    cross_entropy_forward,
    cross_entropy_vjp,  # g * (softmax(x) - onehot(y)) / N
    explain=explain_cross_entropy,
)

# Shape and indexing: views forward, gradients routed back.
reshape = defvjp(
    "reshape",
    lambda x, shape: np.reshape(x, shape),
    lambda g, out, x, shape: g.reshape(x.shape),
    explain=lambda x, shape: f"reshape: cannot reshape a tensor of shape {x.shape} (size {x.size}) into shape {shape}",
)
transpose = defvjp(
    "transpose",
    lambda x, axes=None: np.transpose(x, axes),
    lambda g, out, x, axes=None: np.transpose(g, inverse_axes(axes, x.ndim)),
    explain=lambda x, axes=None: f"transpose: axes {axes} do not fit a tensor of shape {x.shape}",
)
getitem = defvjp(
    "getitem",
    lambda x, index: x[index],
    getitem_vjp,
    accumulate=True,  # dx[index] += g (np.add.at for repeated indices)
    explain=explain_getitem,
)
concat = defvjp_variadic(
    "concat", lambda *xs, axis=0: np.concatenate(xs, axis=axis), concat_vjp, explain=explain_concat
)  # dx_k = g split at the inputs' ends
stack = defvjp_variadic(
    "stack", lambda *xs, axis=0: np.stack(xs, axis=axis), stack_vjp, explain=explain_stack
)  # dx_k = g taken at index k of axis


# --------------------------------------------------------------------------------------
# PyTorch's everyday ops (issue 14). Same style: forward, then the gradient of each input.
# Comparisons, argmax/argmin, one_hot, sort/topk indices are not differentiable: they live
# in tensor.py as plain numpy and never build a graph.
# --------------------------------------------------------------------------------------

maximum = defvjp(
    "maximum",
    np.maximum,
    maximum_vjp,
    lambda g, out, a, b: maximum_vjp(g, out, b, a),
    explain=explain_broadcast("maximum"),
)
minimum = defvjp(
    "minimum",
    np.minimum,
    lambda g, out, a, b: maximum_vjp(g, out, b, a),
    maximum_vjp,
    explain=explain_broadcast("minimum"),
)

# Reductions.
min_ = defvjp(
    "min",
    lambda x, axis=None, keepdims=False: np.min(x, axis=axis, keepdims=keepdims),
    max_vjp,
    explain=explain_axis("min"),
)  # x == out marks the minima: ties share
logsumexp = defvjp("logsumexp", logsumexp_forward, logsumexp_vjp, explain=explain_axis("logsumexp"))
var = defvjp("var", var_forward, var_vjp, explain=explain_axis("var"))
cumsum = defvjp(
    "cumsum",
    lambda x, axis: np.cumsum(x, axis=axis),
    lambda g, out, x, axis: np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis),
    explain=explain_axis("cumsum"),
)

# Shape: copies and views whose gradient routes back.
expand = defvjp(
    "expand",
    lambda x, shape: np.broadcast_to(x, shape),
    lambda g, out, x, shape: g,  # the engine sums g back to x's shape
    explain=lambda x, shape: (
        f"expand: a tensor of shape {np.shape(x)} cannot expand to {shape} "
        "(only axes of size 1 grow; new axes go in front)"
    ),
)
repeat = defvjp("repeat", lambda x, repeats: np.tile(x, repeats), repeat_vjp)
flip = defvjp(
    "flip", lambda x, axis: np.flip(x, axis), lambda g, out, x, axis: np.flip(g, axis), explain=explain_axis("flip")
)
tril = defvjp("tril", lambda x, diagonal=0: np.tril(x, diagonal), lambda g, out, x, diagonal=0: np.tril(g, diagonal))
triu = defvjp("triu", lambda x, diagonal=0: np.triu(x, diagonal), lambda g, out, x, diagonal=0: np.triu(g, diagonal))
gather = defvjp("gather", gather_rows, gather_vjp, accumulate=True, explain=explain_gather)

# Activations.
softplus = defvjp("softplus", softplus_forward, softplus_vjp)  # g * sigmoid(beta x)
gelu = defvjp("gelu", gelu_forward, gelu_vjp)  # g * (Phi(x) + x phi(x))
silu = defvjp(
    "silu",
    lambda x: x * sigmoid_via_tanh(x),
    lambda g, out, x: g * sigmoid_via_tanh(x) * (1 + x * (1 - sigmoid_via_tanh(x))),
)
elu = defvjp(
    "elu",
    lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype),
    lambda g, out, x, alpha=1.0: g * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0))),
)
leaky_relu = defvjp(
    "leaky_relu",
    lambda x, negative_slope=0.01: np.where(x > 0, x, negative_slope * x).astype(x.dtype),
    lambda g, out, x, negative_slope=0.01: g * np.where(x > 0, 1.0, negative_slope),
)

# Losses that need their own derivative (clamped logs).
binary_cross_entropy = defvjp(
    "binary_cross_entropy",
    binary_cross_entropy_forward,
    bce_vjp_input,
    bce_vjp_target,
    explain=explain_broadcast("binary_cross_entropy"),
)
