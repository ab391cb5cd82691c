"""Tensor: a numpy array, its gradient, and the link to the op that made it.

``apply(primitive, inputs, attrs)`` is the forward pass's one function: it runs a row of the
derivative table (``ops.py``) on the inputs' arrays and links the output into the graph.
Every operator and method below is sugar over it. The backward pass is ``autograd.py``.

A tensor is also its graph node; read it through the public, read-only graph API:
``t.op``, ``t.parents``, ``t.attrs``, ``t.scope``, ``t.tags``, ``t.id``, ``t.primitive``,
``t.detached_from`` (see ``docs/engine.md``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from . import autograd, ops
from .autograd import AnomalyError, engine_state, inplace_clock, next_node_id, user_source_line
from .ops import Primitive

DTypeLike = Any
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def apply(op: Primitive, inputs: tuple[Tensor, ...], attrs: dict | None = None) -> Tensor:
    """Run ``op`` forward on the inputs' arrays; link the output into the graph if any input needs a gradient."""
    args = [t.data for t in inputs]
    try:
        data = op.forward(*args, **attrs) if attrs else op.forward(*args)
    except (ValueError, TypeError, IndexError, np.exceptions.AxisError) as err:
        raise _op_error(op, args, attrs, err) from err
    if type(data) is not np.ndarray:      # ufuncs and reductions hand back numpy scalars for 0-d results
        data = np.asarray(data)
    state = engine_state()                # this thread's grad mode, scope, trace, anomaly mode
    needs_grad = False
    if state.grad_enabled:
        for t in inputs:
            if t.requires_grad:
                needs_grad = True
                break
    if needs_grad:
        out = _init_tensor(_NEW(Tensor), data, True, state.scope, op, inputs, attrs, inplace_clock.now)
    else:
        out = _init_tensor(_NEW(Tensor), data, False, state.scope)
    if state.tape is not None:
        state.tape.record(op.name, inputs, out, attrs, state.scope)
    if state.anomaly:
        _check_finite_output(op, out, state.scope)
    return out


def _init_tensor(t: Tensor, data: np.ndarray, requires_grad: bool, scope: str, op: Primitive | None = None,
                 inputs: tuple = (), attrs: dict | None = None, stamp: int = 0) -> Tensor:
    """The one constructor: every tensor (leaf, constant or op output) gets its fields here."""
    t.data = data
    t.grad = None
    t.requires_grad = requires_grad
    t._op = op                # the primitive (a row of ops.py); None for a leaf
    t._inputs = inputs        # the tensors it was computed from
    t._kwargs = attrs         # the row's keyword arguments (axis=..., index=...)
    t._stamp = stamp          # the in-place clock when the op ran (version checks)
    t._seq = next_node_id()   # creation order: sorting by it is a topological order
    t._scope = scope
    t._version = 0
    return t


_NEW = object.__new__


def as_array(data: Any, dtype: DTypeLike = None, copy: bool = False) -> np.ndarray:
    """What a tensor holds for ``data``: Python floats, ints and lists become float32; numpy
    arrays keep their dtype (``dtype`` converts); a Tensor gives its array."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data, copy=copy) if copy else np.asarray(data)
    else:
        try:
            array = np.asarray(data)
        except ValueError as err:
            raise ValueError(f"tensor: data must be a number, a nested list of equal-length rows or an "
                             f"array ({err})") from None
        if dtype is None and array.dtype.kind in "iuf":
            array = array.astype(np.float32)
    if array.dtype.kind not in "biufc":
        raise TypeError(f"tensor: data must be numeric or boolean, got dtype {array.dtype} "
                        f"from {type(data).__name__}")
    if dtype is not None and array.dtype != np.dtype(dtype):
        array = array.astype(dtype)
    return array


def _op_error(op: Primitive, args: list, attrs: dict | None, err: Exception) -> Exception:
    """numpy's error, reworded by the row's ``explain`` to name the op, the shapes and what was expected."""
    message = None
    if op.explain is not None:
        try:
            message = op.explain(*args, **(attrs or {}))
        except Exception:  # an explainer must never hide the real error
            message = None
    if message is None:
        shapes = ", ".join(f"{np.shape(a)} {getattr(a, 'dtype', type(a).__name__)}" for a in args)
        message = f"{op.name}: invalid inputs of shapes/dtypes {shapes}"
    if isinstance(err, IndexError) and not isinstance(err, ValueError):
        return IndexError(f"{message} ({err})")
    if isinstance(err, TypeError):
        return TypeError(f"{message} ({err})")
    return ValueError(f"{message} ({err})")


def _check_finite_output(op: Primitive, out: Tensor, scope: str) -> None:
    """Anomaly mode: remember where the user made this tensor; refuse a NaN/Inf output."""
    out._origin = user_source_line()
    data = out.data
    if data.dtype.kind in "fc" and not np.isfinite(data).all():
        raise AnomalyError(f"{op.name} produced NaN/Inf in its output (shape {data.shape}) "
                           f"at scope '{scope or '<top>'}', created at {out._origin}")


class Tensor:
    """An ``np.ndarray`` with reverse-mode autodiff.

    ``requires_grad=True`` leaves receive ``.grad`` (an ndarray of their own shape and
    dtype) from ``backward()``; intermediate tensors keep theirs only after ``retain_grad()``.
    """

    __slots__ = ("data", "grad", "requires_grad", "_op", "_inputs", "_kwargs", "_stamp", "_seq",
                 "_scope", "_version", "__dict__", "__weakref__")

    # Rarely set, so they live in the instance __dict__ only when used.
    _hooks: list | None = None
    _retain = False
    _origin: str | None = None          # user source line, recorded under detect_anomaly()
    _cut_from: Any = None               # weakref to the tensor this one was detached from
    _tags: tuple | None = None          # mappings of structural tags (autograd.tag), merged on read
    name: str | None = None             # e.g. a parameter's dotted name, for the renderer

    __array_priority__ = 1000           # ndarray <op> Tensor defers to Tensor's reflected ops
    # Tensors hash by identity: the engine keys dicts and sets by node. Keep this line when
    # == becomes elementwise (a class that defines __eq__ otherwise loses its __hash__).
    __hash__ = object.__hash__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: DTypeLike = None) -> None:
        _init_tensor(self, as_array(data, dtype), False, engine_state().scope)
        if requires_grad:
            self.requires_grad_(True)

    # ---- graph API (read-only) -----------------------------------------------------------
    @property
    def op(self) -> str | None:
        """Name of the primitive that produced this tensor (None for a leaf)."""
        return None if self._op is None else self._op.name

    @property
    def primitive(self) -> Primitive | None:
        """The row of the derivative table (``ops.PRIMITIVES[t.op]``) that produced it; None for a leaf."""
        return self._op

    @property
    def parents(self) -> tuple[Tensor, ...]:
        """The op's input tensors, in argument order (empty for a leaf)."""
        return self._inputs

    @property
    def attrs(self) -> Mapping[str, Any]:
        """The op's keyword attributes (``axis``, ``index``, ``shape`` ...), read-only; empty for a leaf."""
        return _EMPTY if not self._kwargs else MappingProxyType(self._kwargs)

    @property
    def scope(self) -> str:
        """The ``"/"``-separated scope path the tensor was made in (``"lstm/l0/fwd/t3"``; "" at top level)."""
        return self._scope

    @property
    def tags(self) -> Mapping[str, Any]:
        """Structural tags set by ``nn`` through ``autograd.tag`` (``role``, ``name``, ...), read-only."""
        if self._tags is None:
            return _EMPTY
        merged: dict[str, Any] = {}
        for mapping in self._tags:
            merged.update(mapping)
        return MappingProxyType(merged)

    @property
    def id(self) -> int:
        """A unique, stable number: tensors are numbered in the order they were made, so an op's
        output always has a larger id than its parents (sorting by id is a topological order)."""
        return self._seq

    @property
    def detached_from(self) -> Tensor | None:
        """For ``t.detach()`` of a tensor that required grad: that tensor, while it is alive (the cut)."""
        return None if self._cut_from is None else self._cut_from()

    @property
    def is_leaf(self) -> bool:
        return self._op is None

    @property
    def version(self) -> int:
        return self._version

    # ---- metadata ---------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != np.float32:
            extra += f", dtype={self.data.dtype}"
        if self._op is not None:
            extra += f", op={self._op.name}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- numpy interop ----------------------------------------------------------------
    def __array__(self, dtype: DTypeLike = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> Any:
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a Python scalar, got shape {self.shape}")
        return self.data.item()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    # ---- autograd ---------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(f"requires_grad: only floating-point tensors can require gradients, "
                            f"got dtype {self.data.dtype}")
        if not requires_grad and self._op is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf: use detach() instead")
        self.requires_grad = requires_grad
        return self

    def backward(self, grad: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``; see ``autograd`` for semantics."""
        autograd.backward(self, grad)

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this non-leaf after backward (e.g. every hidden state h_t)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        self._retain = True
        return self

    def register_hook(self, hook: Callable[[np.ndarray], Any]) -> _HookHandle:
        """``hook(grad)`` sees the gradient flowing into this tensor; a non-None return replaces it."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: this tensor does not require grad")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return _HookHandle(self, hook)

    def detach(self) -> Tensor:
        """Same data, no history: gradients stop here (truncated BPTT cuts with this)."""
        out = Tensor(self.data)
        if self.requires_grad:
            out._cut_from = weakref.ref(self)
        return out

    # ---- in-place updates: the only writes into data, each bumps the version -------------
    def add_(self, other: Any, alpha: float = 1.0) -> Tensor:
        """``data += alpha * other`` in place (optimizer steps)."""
        other = other.data if isinstance(other, Tensor) else other
        if alpha == 1.0:
            self.data += other
        else:
            self.data += alpha * other
        autograd.mark_modified(self)
        return self

    def mul_(self, other: Any) -> Tensor:
        self.data *= other.data if isinstance(other, Tensor) else other
        autograd.mark_modified(self)
        return self

    def copy_(self, values: Any) -> Tensor:
        """Write ``values`` into this tensor's array, keeping its dtype and shape."""
        values = np.asarray(values.data if isinstance(values, Tensor) else values)
        if values.shape != self.shape:
            raise ValueError(f"copy_: values of shape {values.shape} do not fit a tensor of shape {self.shape}")
        self.data[...] = values
        autograd.mark_modified(self)
        return self

    def zero_(self) -> Tensor:
        self.data[...] = 0
        autograd.mark_modified(self)
        return self

    # ---- arithmetic -------------------------------------------------------------------
    def _lift(self, other: Any) -> Tensor:
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (int, float)) and self.data.dtype.kind == "f":
            return constant(np.array(other, dtype=self.data.dtype))
        return constant(np.asarray(other))

    def __add__(self, other: Any) -> Tensor:
        return apply(ops.add, (self, self._lift(other)))

    def __radd__(self, other: Any) -> Tensor:
        return apply(ops.add, (self._lift(other), self))

    def __sub__(self, other: Any) -> Tensor:
        return apply(ops.sub, (self, self._lift(other)))

    def __rsub__(self, other: Any) -> Tensor:
        return apply(ops.sub, (self._lift(other), self))

    def __mul__(self, other: Any) -> Tensor:
        return apply(ops.mul, (self, self._lift(other)))

    def __rmul__(self, other: Any) -> Tensor:
        return apply(ops.mul, (self._lift(other), self))

    def __truediv__(self, other: Any) -> Tensor:
        return apply(ops.div, (self, self._lift(other)))

    def __rtruediv__(self, other: Any) -> Tensor:
        return apply(ops.div, (self._lift(other), self))

    def __matmul__(self, other: Any) -> Tensor:
        return apply(ops.matmul, (self, self._lift(other)))

    def __rmatmul__(self, other: Any) -> Tensor:
        return apply(ops.matmul, (self._lift(other), self))

    def __neg__(self) -> Tensor:
        return apply(ops.neg, (self,))

    def __pos__(self) -> Tensor:
        return self

    def __pow__(self, exponent: Any) -> Tensor:
        if not isinstance(exponent, Tensor) and np.ndim(exponent) == 0:
            return apply(ops.pow_, (self,), {"exponent": exponent})
        return apply(ops.power, (self, self._lift(exponent)))

    def __rpow__(self, base: Any) -> Tensor:
        return apply(ops.power, (self._lift(base), self))

    # Comparisons give boolean tensors with no graph (masks for where()).
    def __lt__(self, other: Any) -> Tensor:
        return Tensor(self.data < _data(other))

    def __le__(self, other: Any) -> Tensor:
        return Tensor(self.data <= _data(other))

    def __gt__(self, other: Any) -> Tensor:
        return Tensor(self.data > _data(other))

    def __ge__(self, other: Any) -> Tensor:
        return Tensor(self.data >= _data(other))

    # ---- elementwise functions ---------------------------------------------------------
    def exp(self) -> Tensor:
        return apply(ops.exp, (self,))

    def log(self) -> Tensor:
        return apply(ops.log, (self,))

    def tanh(self) -> Tensor:
        return apply(ops.tanh, (self,))

    def sigmoid(self) -> Tensor:
        return apply(ops.sigmoid, (self,))

    def relu(self) -> Tensor:
        return apply(ops.relu, (self,))

    def sqrt(self) -> Tensor:
        return apply(ops.sqrt, (self,))

    def abs(self) -> Tensor:
        return apply(ops.abs_, (self,))

    def clip(self, low: float | None = None, high: float | None = None) -> Tensor:
        low = -np.inf if low is None else low
        high = np.inf if high is None else high
        return apply(ops.clip, (self,), {"low": low, "high": high})

    def astype(self, dtype: DTypeLike) -> Tensor:
        """A differentiable cast; the gradient comes back in this tensor's dtype."""
        if np.dtype(dtype) == self.data.dtype:
            return self
        return apply(ops.cast, (self,), {"dtype": np.dtype(dtype)})

    to = astype

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def float(self) -> Tensor:
        return self.astype(np.float32)

    # ---- reductions and normalisers ----------------------------------------------------
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return apply(ops.sum_, (self,), {"axis": axis, "keepdims": keepdims})

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return apply(ops.mean, (self,), {"axis": axis, "keepdims": keepdims})

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Maximum values (not indices); tied maxima share the gradient equally."""
        return apply(ops.max_, (self,), {"axis": axis, "keepdims": keepdims})

    def softmax(self, axis: int = -1) -> Tensor:
        return apply(ops.softmax, (self,), {"axis": axis})

    def log_softmax(self, axis: int = -1) -> Tensor:
        return apply(ops.log_softmax, (self,), {"axis": axis})

    # ---- shape ------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return apply(ops.reshape, (self,), {"shape": shape})

    view = reshape

    def transpose(self, *axes: Any) -> Tensor:
        """No axes: reverse them (``.T``). Two axes: swap them (PyTorch's ``transpose(0, 1)``).
        One tuple/list, or all axes: a permutation (numpy's ``transpose``)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            permutation: Any = tuple(axes[0])
        elif len(axes) == 2:
            permutation = list(range(self.ndim))
            try:
                a, b = axes
                permutation[a], permutation[b] = permutation[b], permutation[a]
            except IndexError:
                raise ValueError(f"transpose: axes {axes} are out of range for a tensor of shape "
                                 f"{self.shape}") from None
            permutation = tuple(permutation)
        else:
            permutation = tuple(axes) or None
        return apply(ops.transpose, (self,), {"axes": permutation})

    def permute(self, *axes: Any) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return apply(ops.transpose, (self,), {"axes": tuple(axes)})

    @property
    def T(self) -> Tensor:  # noqa: N802 - numpy's name
        return apply(ops.transpose, (self,), {"axes": None})

    def __getitem__(self, index: Any) -> Tensor:
        return apply(ops.getitem, (self,), {"index": _normalise_index(index)})


class _HookHandle:
    def __init__(self, tensor: Tensor, hook: Callable) -> None:
        self._tensor = weakref.ref(tensor)
        self._hook = hook

    def remove(self) -> None:
        tensor = self._tensor()
        if tensor is not None and tensor._hooks and self._hook in tensor._hooks:
            tensor._hooks.remove(self._hook)


def constant(array: np.ndarray) -> Tensor:
    """A leaf that never requires grad, wrapping ``array`` as is (no copy, no dtype change).

    For values an op needs but nothing differentiates: masks, targets, scalars lifted to tensors.
    """
    return _init_tensor(_NEW(Tensor), array, False, engine_state().scope)


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _normalise_index(index: Any) -> Any:
    if isinstance(index, (int, slice)) or index is None or index is Ellipsis:
        return index
    if isinstance(index, tuple):
        return tuple(_normalise_index_part(p) for p in index)
    return _normalise_index_part(index)


def _normalise_index_part(part: Any) -> Any:
    if isinstance(part, Tensor):
        part = part.data
    if isinstance(part, list):
        part = np.asarray(part)
    if isinstance(part, np.ndarray) and part.dtype.kind not in "iub":
        raise TypeError(f"getitem: index arrays must hold integers or booleans, got dtype {part.dtype}")
    return part


def tensor(data: Any, requires_grad: bool = False, dtype: DTypeLike = None) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (float32 for Python numbers and lists)."""
    return Tensor(as_array(data, dtype, copy=True), requires_grad=requires_grad)


def _tensors(ts: Sequence[Any], op: str) -> tuple[Tensor, ...]:
    if isinstance(ts, Tensor) or not len(ts):
        raise ValueError(f"{op}: expects a non-empty list of tensors, got {type(ts).__name__}")
    return tuple(t if isinstance(t, Tensor) else Tensor(t) for t in ts)


def concat(ts: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (``np.concatenate``)."""
    return apply(ops.concat, _tensors(ts, "concat"), {"axis": axis})


def stack(ts: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join equal-shaped tensors along a new axis (``np.stack``)."""
    return apply(ops.stack, _tensors(ts, "stack"), {"axis": axis})


def split(t: Tensor, split_size_or_sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
    """PyTorch's ``split``: chunks of ``split_size`` along ``axis``, or of the listed sizes.

    Each chunk is a ``getitem`` slice, whose gradients land in one shared buffer.
    """
    if not isinstance(t, Tensor):
        t = Tensor(t)
    if not -t.ndim <= axis < t.ndim:
        raise ValueError(f"split: axis {axis} is out of range for a tensor of shape {t.shape}")
    length = t.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        if split_size_or_sections <= 0:
            raise ValueError(f"split: split_size must be positive, got {split_size_or_sections}")
        sizes = [min(split_size_or_sections, length - s) for s in range(0, length, split_size_or_sections)]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or np.sum(sizes) != length:
            raise ValueError(f"split: sections {sizes} must be non-negative and add up to {length}, "
                             f"the size of axis {axis} of shape {t.shape}")
    lead = (slice(None),) * (axis % t.ndim)
    chunks, start = [], 0
    for size in sizes:
        chunks.append(apply(ops.getitem, (t,), {"index": lead + (slice(start, start + size),)}))
        start += size
    return chunks


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``condition`` holds, else ``b`` (condition: a boolean array or tensor)."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype}")
    if not isinstance(a, Tensor):
        a = b._lift(a) if isinstance(b, Tensor) else Tensor(a)
    if not isinstance(b, Tensor):
        b = a._lift(b)
    return apply(ops.where, (constant(cond), a, b))
