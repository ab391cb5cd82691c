"""minigrad: a tensor autograd engine on numpy, built to show backprop through time.

The public names are listed in ``shared/API.md``: tensors and the engine, tracing,
``nn``, ``optim``, checkpoints and the renderer (``minigrad.viz``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._memory import keep_freed_memory
from .autograd import AnomalyError, GradientError, detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .checkpoint import checkpoint
from .compile import CompileError, compile  # noqa: A004 - torch's name
from .dtypes import promote_types, result_type
from .gradcheck import GradcheckError, gradcheck
from .io import load, save
from .random import manual_seed
from .tensor import SortResult, Tensor, addmm, concat, split, stack, tensor, where
from .threads import get_num_threads, pin_blas_on_import, set_num_threads
from .tracing import Record, Tape, scope, trace

keep_freed_memory()
pin_blas_on_import()  # one BLAS thread unless OMP/OPENBLAS/MKL_NUM_THREADS is set (threads.py)

float16 = np.float16
float32 = np.float32
float64 = np.float64
int8, int16, int32, int64, uint8 = np.int8, np.int16, np.int32, np.int64, np.uint8
bool_ = np.bool_


def exp(x: Tensor) -> Tensor:
    return x.exp()


def log(x: Tensor) -> Tensor:
    return x.log()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def relu(x: Tensor) -> Tensor:
    return x.relu()


# PyTorch's everyday ops as functions (issue 14); each is the Tensor method of the same name.
def maximum(a: Tensor, b: Tensor) -> Tensor:
    return a.maximum(b) if isinstance(a, Tensor) else tensor(a).maximum(b)


def minimum(a: Tensor, b: Tensor) -> Tensor:
    return a.minimum(b) if isinstance(a, Tensor) else tensor(a).minimum(b)


def logsumexp(x: Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False, **kw: Any) -> Tensor:
    return x.logsumexp(axis, keepdims, **kw)


def gather(x: Tensor, axis: int, index: Any) -> Tensor:
    return x.gather(axis, index)


def argmax(x: Tensor, axis: int | None = None, keepdims: bool = False, **kw: Any) -> Tensor:
    return x.argmax(axis, keepdims, **kw)


def argmin(x: Tensor, axis: int | None = None, keepdims: bool = False, **kw: Any) -> Tensor:
    return x.argmin(axis, keepdims, **kw)


def cumsum(x: Tensor, axis: int | None = None, **kw: Any) -> Tensor:
    return x.cumsum(axis, **kw)


def flip(x: Tensor, dims: Any) -> Tensor:
    return x.flip(dims)


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    return x.tril(diagonal)


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    return x.triu(diagonal)


def sort(x: Tensor, axis: int = -1, descending: bool = False, **kw: Any) -> SortResult:
    return x.sort(axis, descending, **kw)


def topk(x: Tensor, k: int, axis: int = -1, largest: bool = True, **kw: Any) -> SortResult:
    return x.topk(k, axis, largest, **kw)


def zeros(*shape: int, requires_grad: bool = False, dtype: type = np.float32) -> Tensor:
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(np.zeros(shape, dtype=dtype), requires_grad=requires_grad)


def ones(*shape: int, requires_grad: bool = False, dtype: type = np.float32) -> Tensor:
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(np.ones(shape, dtype=dtype), requires_grad=requires_grad)


def __getattr__(name: str):  # nn, optim, utils and viz load on first use: `import minigrad` stays light
    if name in ("nn", "optim", "utils", "viz"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'minigrad' has no attribute '{name}'")


__all__ = [
    "SortResult",
    "addmm",
    "argmax",
    "argmin",
    "bool_",
    "cumsum",
    "flip",
    "float16",
    "gather",
    "int8",
    "int16",
    "int32",
    "int64",
    "logsumexp",
    "maximum",
    "minimum",
    "promote_types",
    "result_type",
    "sort",
    "topk",
    "tril",
    "triu",
    "uint8",
    "AnomalyError",
    "CompileError",
    "GradcheckError",
    "GradientError",
    "Record",
    "Tape",
    "Tensor",
    "checkpoint",
    "compile",
    "concat",
    "detect_anomaly",
    "enable_grad",
    "exp",
    "float32",
    "float64",
    "get_num_threads",
    "gradcheck",
    "is_grad_enabled",
    "load",
    "log",
    "manual_seed",
    "no_grad",
    "ones",
    "relu",
    "save",
    "scope",
    "set_num_threads",
    "sigmoid",
    "split",
    "stack",
    "tanh",
    "tensor",
    "trace",
    "where",
    "zeros",
]
