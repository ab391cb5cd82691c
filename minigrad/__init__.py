"""minigrad: a tensor autograd engine on numpy, built to show backprop through time.

The public names are listed in ``shared/API.md``: tensors and the engine, tracing,
``nn``, ``optim``, checkpoints and the renderer (``minigrad.viz``).
"""

from __future__ import annotations

import numpy as np

from ._memory import keep_freed_memory
from .autograd import AnomalyError, GradientError, detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .gradcheck import GradcheckError, gradcheck
from .io import load, save
from .random import manual_seed
from .tensor import Tensor, concat, split, stack, tensor, where
from .tracing import Record, Tape, scope, trace

keep_freed_memory()

float32 = np.float32
float64 = np.float64


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
    "AnomalyError", "GradcheckError", "GradientError", "Record", "Tape", "Tensor", "concat",
    "detect_anomaly", "enable_grad", "exp", "float32", "float64", "gradcheck", "is_grad_enabled",
    "load", "log", "manual_seed", "no_grad", "ones", "relu", "save", "scope", "sigmoid", "split",
    "stack", "tanh", "tensor", "trace", "where", "zeros",
]
