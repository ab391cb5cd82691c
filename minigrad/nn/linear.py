"""Linear, Embedding and Dropout: PyTorch's layers, shapes, initialisation and reprs."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor, addmm, where
from . import init
from .functional import dropout
from .module import Module, Parameter, as_layer_input


def _float_dtype(dtype: Any, layer: str) -> np.dtype:
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    if dtype.kind != "f":
        raise TypeError(f"{layer}: dtype must be a floating-point type, got {dtype}")
    return dtype


def _check_size(value: Any, name: str, layer: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{layer}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class Linear(Module):
    """``y = x W^T + b`` over the last axis of ``x`` (any leading axes), one ``addmm`` node.

    ``weight`` (out_features, in_features) and ``bias`` (out_features,) start as PyTorch's:
    ``U(-1/sqrt(in_features), 1/sqrt(in_features))``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = _check_size(in_features, "in_features", "Linear")
        self.out_features = _check_size(out_features, "out_features", "Linear")
        dtype = _float_dtype(dtype, "Linear")
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.uniform_fan_in_(self.weight, self.in_features)
        if self.bias is not None:
            init.uniform_fan_in_(self.bias, self.in_features)

    def forward(self, x: Tensor) -> Tensor:
        x = as_layer_input(x, self.weight.dtype, "Linear")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear: expected input of shape (..., {self.in_features}), got {x.shape}")
        return x @ self.weight.T if self.bias is None else addmm(self.bias, x, self.weight.T)  # x W^T + b, one node

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table: ``y[...] = weight[idx[...]]``, shape ``idx.shape + (embedding_dim,)``.

    ``weight`` (num_embeddings, embedding_dim) starts as ``N(0, 1)``. With ``padding_idx``
    that row starts at zero and receives no gradient from this layer (as PyTorch).
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, dtype: Any = None
    ) -> None:
        super().__init__()
        self.num_embeddings = _check_size(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = _check_size(embedding_dim, "embedding_dim", "Embedding")
        if padding_idx is not None:
            if not isinstance(padding_idx, (int, np.integer)) or not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx must be an integer in [{-num_embeddings}, "
                    f"{num_embeddings}), got {padding_idx!r}"
                )
            padding_idx = int(padding_idx) % num_embeddings
        self.padding_idx = padding_idx
        dtype = _float_dtype(dtype, "Embedding")
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            values = self.weight.data.copy()
            values[self.padding_idx] = 0
            self.weight.copy_(values)

    def forward(self, indices: Any) -> Tensor:
        idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
        if idx.dtype.kind not in "iu":
            raise TypeError(
                f"Embedding: indices must be integers, got dtype {idx.dtype} "
                "(build them with dtype=np.int64, e.g. mg.tensor(ids, dtype=np.int64))"
            )
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            bad = idx[(idx < 0) | (idx >= self.num_embeddings)].ravel()[0]
            raise IndexError(
                f"Embedding: index {int(bad)} is out of range for {self.num_embeddings} "
                f"embeddings (expected 0 <= index < {self.num_embeddings})"
            )
        rows = self.weight[idx]
        if self.padding_idx is not None:
            padded = idx == self.padding_idx
            if padded.any():
                # Same values, but the padding rows reach the weight through a detached copy.
                rows = where(padded[..., None], rows.detach(), rows)
        return rows

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text if self.padding_idx is None else text + f", padding_idx={self.padding_idx}"


class Dropout(Module):
    """Inverted dropout while training (``x * m / (1 - p)``, ``m ~ Bernoulli(1 - p)``); identity in eval mode."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability p must be in [0, 1], got {p!r}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


__all__ = ["Dropout", "Embedding", "Linear"]
