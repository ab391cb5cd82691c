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
from typing import Any, NamedTuple

import numpy as np

from . import autograd, dtypes, ops
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
    if type(data) is not np.ndarray:  # ufuncs and reductions hand back numpy scalars for 0-d results
        data = np.asarray(data)
    state = engine_state()  # this thread's grad mode, scope, trace, anomaly mode
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


def _init_tensor(
    t: Tensor,
    data: np.ndarray,
    requires_grad: bool,
    scope: str,
    op: Primitive | None = None,
    inputs: tuple = (),
    attrs: dict | None = None,
    stamp: int = 0,
) -> Tensor:
    """The one constructor: every tensor (leaf, constant or op output) gets its fields here."""
    t.data = data
    t._grad = None
    t.requires_grad = requires_grad
    t._op = op  # the primitive (a row of ops.py); None for a leaf
    t._inputs = inputs  # the tensors it was computed from
    t._kwargs = attrs  # the row's keyword arguments (axis=..., index=...)
    t._stamp = stamp  # the in-place clock when the op ran (version checks)
    t._seq = next_node_id()  # creation order: sorting by it is a topological order
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
            raise ValueError(
                f"tensor: data must be a number, a nested list of equal-length rows or an array ({err})"
            ) from None
        if dtype is None and array.dtype.kind in "iuf":
            array = array.astype(np.float32)
    if array.dtype.kind not in "biufc":
        raise TypeError(f"tensor: data must be numeric or boolean, got dtype {array.dtype} from {type(data).__name__}")
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
        raise AnomalyError(
            f"{op.name} produced NaN/Inf in its output (shape {data.shape}) "
            f"at scope '{scope or '<top>'}', created at {out._origin}"
        )


class GradAssignmentError(TypeError, ValueError, RuntimeError):
    """``t.grad = g`` with a ``g`` of another shape or dtype, or not an array.

    PyTorch raises ``RuntimeError`` here; it is also a ``TypeError``/``ValueError`` as
    minigrad's other argument errors are, so either ``except`` clause catches it.
    """


class Tensor:
    """An ``np.ndarray`` with reverse-mode autodiff.

    ``requires_grad=True`` leaves receive ``.grad`` (an ndarray of their own shape and
    dtype) from ``backward()``; intermediate tensors keep theirs only after ``retain_grad()``.
    """

    __slots__ = (
        "data",
        "_grad",
        "requires_grad",
        "_op",
        "_inputs",
        "_kwargs",
        "_stamp",
        "_seq",
        "_scope",
        "_version",
        "__dict__",
        "__weakref__",
    )

    # Rarely set, so they live in the instance __dict__ only when used.
    _hooks: list | None = None
    _retain = False
    _origin: str | None = None  # user source line, recorded under detect_anomaly()
    _cut_from: Any = None  # weakref to the tensor this one was detached from
    _tags: tuple | None = None  # mappings of structural tags (autograd.tag), merged on read
    name: str | None = None  # e.g. a parameter's dotted name, for the renderer

    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected ops

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

    # ---- the gradient -----------------------------------------------------------------
    @property
    def grad(self) -> np.ndarray | None:
        """d(output)/d(self) after ``backward()``: an ndarray of this tensor's shape and dtype, or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        # As PyTorch: an assigned gradient must match the tensor's shape and dtype, else an
        # optimiser would silently broadcast a (3,) gradient over a (2, 3) parameter.
        if value is None:
            self._grad = None
            return
        if isinstance(value, Tensor):
            value = value.data
        if not isinstance(value, (np.ndarray, np.generic)):
            raise GradAssignmentError(f"grad: expected an np.ndarray (or a Tensor) or None, got {type(value).__name__}")
        value = np.asarray(value)
        if value.shape != self.data.shape:
            raise GradAssignmentError(
                f"grad: assigned a gradient of shape {value.shape} to a tensor of shape "
                f"{self.data.shape}; the shapes must be equal"
            )
        if value.dtype != self.data.dtype:
            raise GradAssignmentError(
                f"grad: assigned a gradient of dtype {value.dtype} to a tensor of dtype "
                f"{self.data.dtype}; convert it first (g.astype({self.data.dtype}))"
            )
        self._grad = value

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
        if requires_grad and self.data.dtype.kind == "c":
            raise TypeError(
                f"requires_grad: complex tensors (dtype {self.data.dtype}) cannot require gradients: "
                "minigrad has no complex autograd (PyTorch's conjugate convention is not implemented); "
                "keep the real and imaginary parts as two float tensors"
            )
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad: only floating-point tensors can require gradients, got dtype {self.data.dtype}"
            )
        if not requires_grad and self._op is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf: use detach() instead")
        self.requires_grad = requires_grad
        return self

    def backward(self, grad: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``; see ``autograd`` for semantics."""
        autograd.backward(self, grad)

    @property
    def retains_grad(self) -> bool:
        """True after ``retain_grad()`` on a non-leaf: backward keeps its ``.grad`` (PyTorch's name)."""
        return bool(self._retain) and self._op is not None

    @property
    def hooks(self) -> tuple[Callable[[np.ndarray], Any], ...]:
        """The hooks ``register_hook`` added and not yet removed, in the order they run (read-only)."""
        return tuple(self._hooks) if self._hooks else ()

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

    # ---- arithmetic (PyTorch's type promotion: see dtypes.py) ---------------------------
    def _lift(self, other: Any) -> Tensor:
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (int, float)) and self.data.dtype.kind == "f":
            return constant(np.array(other, dtype=self.data.dtype))
        return constant(np.asarray(other))

    def _pair(self, other: Any, op: str) -> tuple[Tensor, Tensor]:
        """``(self, other)`` as two tensors of PyTorch's promoted dtype (``dtypes.result_type``).

        ``op`` names the operation in the error for an operand that is not numbers (``t + "x"``).
        """
        if isinstance(other, Tensor):
            if other.data.dtype == self.data.dtype:
                return self, other
        elif type(other) in (float, int) and self.data.dtype.kind == "f":  # the hot path: x * 2.0
            return self, constant(np.array(other, dtype=self.data.dtype))
        dtype = _promoted(op, self, other)
        return self.astype(dtype), _operand(other, dtype)

    def _float_pair(self, other: Any, op: str) -> tuple[Tensor, Tensor]:
        """As ``_pair``, then integers and booleans become float32 (``/`` of them, as PyTorch)."""
        a, b = self._pair(other, op)
        if a.data.dtype.kind in "biu":
            a, b = a.astype(dtypes.DEFAULT_FLOAT), b.astype(dtypes.DEFAULT_FLOAT)
        return a, b

    def __add__(self, other: Any) -> Tensor:
        return apply(ops.add, self._pair(other, "add"))

    def __radd__(self, other: Any) -> Tensor:
        return apply(ops.add, self._pair(other, "add")[::-1])

    def __sub__(self, other: Any) -> Tensor:
        if self.data.dtype.kind == "b" or _is_bool(other):
            _no_bool("sub", self, other)
        return apply(ops.sub, self._pair(other, "sub"))

    def __rsub__(self, other: Any) -> Tensor:
        if self.data.dtype.kind == "b" or _is_bool(other):
            _no_bool("sub", self, other)
        return apply(ops.sub, self._pair(other, "sub")[::-1])

    def __mul__(self, other: Any) -> Tensor:
        return apply(ops.mul, self._pair(other, "mul"))

    def __rmul__(self, other: Any) -> Tensor:
        return apply(ops.mul, self._pair(other, "mul")[::-1])

    def __truediv__(self, other: Any) -> Tensor:
        return apply(ops.div, self._float_pair(other, "div"))

    def __rtruediv__(self, other: Any) -> Tensor:
        return apply(ops.div, self._float_pair(other, "div")[::-1])

    def __matmul__(self, other: Any) -> Tensor:
        return apply(ops.matmul, self._pair(other, "matmul"))

    def __rmatmul__(self, other: Any) -> Tensor:
        return apply(ops.matmul, self._pair(other, "matmul")[::-1])

    def addmm(self, mat1: Any, mat2: Any) -> Tensor:
        """``self + mat1 @ mat2`` as one op: PyTorch's ``input.addmm(mat1, mat2)`` (see ``mg.addmm``)."""
        return addmm(self, mat1, mat2)

    def __neg__(self) -> Tensor:
        return apply(ops.neg, (self,))

    def __pos__(self) -> Tensor:
        return self

    def __pow__(self, exponent: Any) -> Tensor:
        if not isinstance(exponent, Tensor) and np.ndim(exponent) == 0:
            dtype = _promoted("pow", self, exponent)
            out = apply(ops.pow_, (self.astype(dtype),), {"exponent": exponent})
            return out.astype(dtype)  # bool ** True stays bool (numpy would give int8)
        base, exponent = self._pair(exponent, "pow")
        _no_bool("pow", base)  # bool ** bool tensors: refused, as PyTorch
        return apply(ops.power, (base, exponent))

    def __rpow__(self, base: Any) -> Tensor:
        exponent, base = self._pair(base, "pow")
        _no_bool("pow", base)
        return apply(ops.power, (base, exponent))

    # ---- elementwise functions ---------------------------------------------------------
    def exp(self) -> Tensor:
        return apply(ops.exp, (self._floating(),))

    def log(self) -> Tensor:
        return apply(ops.log, (self._floating(),))

    def tanh(self) -> Tensor:
        return apply(ops.tanh, (self._floating(),))

    def sigmoid(self) -> Tensor:
        return apply(ops.sigmoid, (self._floating(),))

    def relu(self) -> Tensor:
        _no_bool("relu", self)
        return apply(ops.relu, (self,))

    def sqrt(self) -> Tensor:
        return apply(ops.sqrt, (self._floating(),))

    def abs(self) -> Tensor:
        _no_bool("abs", self)
        return apply(ops.abs_, (self,))

    def clip(self, low: float | None = None, high: float | None = None) -> Tensor:
        """Limit values to ``[low, high]`` (either may be None, not both); PyTorch's ``clamp``."""
        if low is None and high is None:
            raise ValueError("clip: at least one of low and high must be given (both are None)")
        x = self.astype(dtypes.result_type(self, *(b for b in (low, high) if b is not None)))
        low = -np.inf if low is None else low
        high = np.inf if high is None else high
        return apply(ops.clip, (x,), {"low": low, "high": high})

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        """PyTorch's name for ``clip``."""
        return self.clip(min, max)

    def astype(self, dtype: DTypeLike) -> Tensor:
        """A differentiable cast; the gradient comes back in this tensor's dtype."""
        dtype = np.dtype(dtype)
        if dtype == self.data.dtype:
            return self
        if self.requires_grad and dtype.kind != "f":
            if dtype.kind == "c":
                raise TypeError(
                    f"astype: a tensor that requires grad cannot become {dtype}: minigrad has no "
                    "complex autograd (keep real and imaginary parts as two float tensors)"
                )
            with autograd.no_grad():  # rounding has no useful gradient: the result is a constant
                return apply(ops.cast, (self,), {"dtype": dtype})
        return apply(ops.cast, (self,), {"dtype": dtype})

    to = astype

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def float(self) -> Tensor:
        return self.astype(np.float32)

    # ---- reductions and normalisers ----------------------------------------------------
    def sum(
        self,
        axis: int | tuple[int, ...] | None = None,
        keepdims: bool = False,
        *,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        axis, keepdims = _alias(axis, dim, keepdims, keepdim)  # PyTorch's spelling too
        x = self.astype(np.int64) if self.data.dtype.kind in "biu" else self  # PyTorch sums integers as int64
        return apply(ops.sum_, (x,), {"axis": self._axis(axis, "sum"), "keepdims": keepdims})

    def mean(
        self,
        axis: int | tuple[int, ...] | None = None,
        keepdims: bool = False,
        *,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        axis, keepdims = _alias(axis, dim, keepdims, keepdim)
        self._require_floating("mean")
        return apply(ops.mean, (self,), {"axis": self._axis(axis, "mean"), "keepdims": keepdims})

    def max(
        self,
        axis: int | tuple[int, ...] | None = None,
        keepdims: bool = False,
        *,
        dim: int | None = None,
        keepdim: bool = False,
    ) -> Tensor | SortResult:
        """Maximum values (not indices); tied maxima share the gradient equally.

        With PyTorch's keyword ``dim=``, ``x.max(dim=d)`` is ``torch.max(x, d)``: ``(values, indices)``,
        the gradient going to the index only (``values = x.gather(d, indices)``).
        """
        if dim is not None:
            return self._extreme_along("max", dim, keepdim)
        return apply(ops.max_, (self,), {"axis": self._axis(axis, "max"), "keepdims": keepdims})

    def softmax(self, axis: int = -1) -> Tensor:
        return apply(ops.softmax, (self._floating(),), {"axis": axis})

    def log_softmax(self, axis: int = -1) -> Tensor:
        return apply(ops.log_softmax, (self._floating(),), {"axis": axis})

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
                raise ValueError(
                    f"transpose: axes {axes} are out of range for a tensor of shape {self.shape}"
                ) from None
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
        """Axes reversed. A parameter's ``W.T`` is made once and reused while ``W`` is unchanged:
        a time loop that writes ``h @ W_hh.T`` at every step then builds one transpose node, not T."""
        if self._op is None and self.requires_grad:
            return _cached_transpose(self)
        return apply(ops.transpose, (self,), {"axes": None})

    def __getitem__(self, index: Any) -> Tensor:
        return apply(ops.getitem, (self,), {"index": _normalise_index(index)})

    # ---- PyTorch's everyday ops (issue 14): comparisons, indices, shapes, statistics ------
    # Comparisons give boolean tensors that never require grad (masks for where/masked_fill).
    # ``==`` compares values, as PyTorch; a Tensor still hashes by identity (dict keys, sets),
    # and ``a is b`` asks whether two names are the same tensor.
    __hash__ = object.__hash__

    def _compare(self, other: Any, compare: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Tensor:
        if other is None or isinstance(other, (str, bytes)):
            return NotImplemented
        a, b = self._pair(other, compare.__name__)
        if a.shape != b.shape:
            try:
                np.broadcast_shapes(a.shape, b.shape)
            except ValueError:
                raise ValueError(
                    f"{compare.__name__}: shapes {a.shape} and {b.shape} cannot be compared elementwise "
                    "(numpy broadcasting: trailing axes must be equal or 1)"
                ) from None
        return constant(np.asarray(compare(a.data, b.data)))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal)

    # PyTorch's method names for the same comparisons.
    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    # Logical/bitwise operators on boolean and integer tensors (combining masks).
    def _logical(self, other: Any, fn: str, ufunc: Callable[..., np.ndarray]) -> Tensor:
        a, b = self._pair(other, fn)
        if a.data.dtype.kind not in "biu":
            raise TypeError(f"{fn}: needs boolean or integer tensors, got dtype {a.data.dtype}")
        return constant(np.asarray(ufunc(a.data, b.data)))

    def __and__(self, other: Any) -> Tensor:
        return self._logical(other, "&", np.bitwise_and)

    __rand__ = __and__

    def __or__(self, other: Any) -> Tensor:
        return self._logical(other, "|", np.bitwise_or)

    __ror__ = __or__

    def __xor__(self, other: Any) -> Tensor:
        return self._logical(other, "^", np.bitwise_xor)

    __rxor__ = __xor__

    def __invert__(self) -> Tensor:
        if self.data.dtype.kind not in "biu":
            raise TypeError(f"~: needs a boolean or integer tensor, got dtype {self.data.dtype}")
        return constant(np.invert(self.data))

    def long(self) -> Tensor:
        """An int64 copy, outside the graph (no gradient flows through rounding)."""
        return self.astype(np.int64)

    # Indices of extrema: integer tensors (int64), never part of the graph.
    def argmax(
        self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None, keepdim: bool | None = None
    ) -> Tensor:
        """Index of the largest value along ``axis`` (the first one on ties; NaN counts as largest);
        over the flattened tensor when ``axis`` is None."""
        axis, keepdims = _alias(axis, dim, keepdims, keepdim)
        _no_bool("argmax", self)
        return constant(
            np.asarray(np.argmax(self.data, axis=self._axis(axis, "argmax"), keepdims=keepdims), dtype=np.int64)
        )

    def argmin(
        self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None, keepdim: bool | None = None
    ) -> Tensor:
        """Index of the smallest value along ``axis`` (the first one on ties)."""
        axis, keepdims = _alias(axis, dim, keepdims, keepdim)
        _no_bool("argmin", self)
        return constant(
            np.asarray(np.argmin(self.data, axis=self._axis(axis, "argmin"), keepdims=keepdims), dtype=np.int64)
        )

    def _axis(self, axis: Any, fn: str) -> Any:
        """Check ``axis`` against this shape; a 0-d tensor takes axis 0 or -1 as the whole (PyTorch)."""
        if axis is None:
            return None
        axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
        for a in axes:
            if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
                raise TypeError(f"{fn}: axis must be an int or a tuple of ints, got {a!r}")
            if not -max(self.ndim, 1) <= a < max(self.ndim, 1):
                raise ValueError(
                    f"{fn}: axis {a} is out of range for a tensor of shape {self.shape} (ndim {self.ndim})"
                )
        if self.ndim == 0:
            return None
        return tuple(a % self.ndim for a in axes) if isinstance(axis, (tuple, list)) else axis % self.ndim

    def min(
        self,
        axis: int | tuple[int, ...] | None = None,
        keepdims: bool = False,
        *,
        dim: int | None = None,
        keepdim: bool = False,
    ) -> Tensor | SortResult:
        """Minimum values (not indices); tied minima share the gradient equally (as ``max``).

        ``x.min(dim=d)`` is ``torch.min(x, d)``: ``(values, indices)``, as ``max``.
        """
        if dim is not None:
            return self._extreme_along("min", dim, keepdim)
        return apply(ops.min_, (self,), {"axis": self._axis(axis, "min"), "keepdims": keepdims})

    def _extreme_along(self, fn: str, dim: Any, keepdim: bool) -> SortResult:
        """``(values, indices)`` of the max or min along one axis, PyTorch's ``torch.max(x, dim)``."""
        if isinstance(dim, (tuple, list)):
            raise TypeError(f"{fn}: dim must be one int (values and indices along one axis), got {dim!r}")
        axis = self._axis(dim, fn)
        if self.ndim == 0:
            return SortResult(apply(ops.reshape, (self,), {"shape": ()}), constant(np.zeros((), np.int64)))
        if self.shape[axis] == 0:
            raise ValueError(f"{fn}: cannot reduce over the empty axis {dim} of a tensor of shape {self.shape}")
        pick = np.argmax if fn == "max" else np.argmin
        indices = np.asarray(pick(self.data, axis=axis, keepdims=True), dtype=np.int64)
        values = apply(ops.gather, (self,), {"axis": axis, "index": indices})
        if not keepdim:
            values, indices = values.squeeze(axis), np.squeeze(indices, axis)
        return SortResult(values, constant(indices))

    def maximum(self, other: Any) -> Tensor:
        """Elementwise ``max(a, b)``; on ties each side gets half the gradient (PyTorch)."""
        return apply(ops.maximum, self._pair(other, "maximum"))

    def minimum(self, other: Any) -> Tensor:
        """Elementwise ``min(a, b)``; on ties each side gets half the gradient (PyTorch)."""
        return apply(ops.minimum, self._pair(other, "minimum"))

    def logsumexp(
        self,
        axis: int | tuple[int, ...] | None = None,
        keepdims: bool = False,
        *,
        dim: int | None = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """``log sum_i exp(x_i)`` along ``axis``, shifted by the max (no overflow); gradient ``softmax(x)``."""
        axis, keepdims = _alias(axis, dim, keepdims, keepdim)
        return apply(ops.logsumexp, (self._floating(),), {"axis": self._axis(axis, "logsumexp"), "keepdims": keepdims})

    def gather(self, axis: int | None = None, index: Any = None, *, dim: int | None = None) -> Tensor:
        """PyTorch's ``gather``: ``out[i][j] = x[i][index[i][j]]`` for ``axis=1`` (any rank).

        ``index`` has this tensor's rank, holds integers in ``[0, shape[axis])``, and is no larger
        than this tensor on the other axes. The gradient scatter-adds back (repeats add up).
        """
        axis, _ = _alias(axis, dim, False, None)
        if axis is None or index is None:
            raise TypeError("gather: needs an axis (PyTorch's dim) and an index, e.g. x.gather(1, index)")
        axis = self._axis(axis, "gather")
        index = _index_array(index, "gather")
        if index.ndim != self.ndim:
            raise ValueError(f"gather: index must have the tensor's rank {self.ndim}, got shape {index.shape}")
        if self.ndim == 0:
            return apply(ops.reshape, (self,), {"shape": ()})
        too_big = [d for d in range(self.ndim) if d != axis and index.shape[d] > self.shape[d]]
        if too_big:
            raise ValueError(
                f"gather: index of shape {index.shape} is larger than the tensor of shape "
                f"{self.shape} on axis {too_big[0]} (only axis {axis} may differ)"
            )
        _check_range(index, self.shape[axis], "gather", f"axis {axis}")
        return apply(ops.gather, (self,), {"axis": axis, "index": index})

    def squeeze(self, axis: int | tuple[int, ...] | None = None, *, dim: Any = None) -> Tensor:
        """Drop axes of size 1 (all of them, or those in ``axis``; a listed axis of another size stays)."""
        axis, _ = _alias(axis, dim, False, None)
        if axis is None:
            shape = tuple(n for n in self.shape if n != 1)
        else:
            axes = self._axis(axis, "squeeze")
            axes = () if axes is None else (axes if isinstance(axes, tuple) else (axes,))
            shape = tuple(n for d, n in enumerate(self.shape) if not (d in axes and n == 1))
        return apply(ops.reshape, (self,), {"shape": shape})

    def unsqueeze(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        """Insert an axis of size 1 at position ``axis`` (``-1``: last)."""
        axis, _ = _alias(axis, dim, False, None)
        if not isinstance(axis, (int, np.integer)) or not -self.ndim - 1 <= axis <= self.ndim:
            raise ValueError(
                f"unsqueeze: axis {axis!r} is out of range for a tensor of shape {self.shape} "
                f"(expected -{self.ndim + 1} <= axis <= {self.ndim})"
            )
        shape = list(self.shape)
        shape.insert(axis % (self.ndim + 1), 1)
        return apply(ops.reshape, (self,), {"shape": tuple(shape)})

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge axes ``start_dim..end_dim`` (inclusive) into one; a 0-d tensor becomes shape (1,)."""
        if self.ndim == 0:
            return apply(ops.reshape, (self,), {"shape": (1,)})
        start, end = self._axis(start_dim, "flatten"), self._axis(end_dim, "flatten")
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {self.shape}")
        shape = self.shape[:start] + (int(np.prod(self.shape[start : end + 1])),) + self.shape[end + 1 :]
        return apply(ops.reshape, (self,), {"shape": shape})

    def expand(self, *sizes: Any) -> Tensor:
        """A broadcast view of ``sizes`` (``-1`` keeps an axis; new axes go in front); gradients add up."""
        sizes = _sizes(sizes)
        if len(sizes) < self.ndim:
            raise ValueError(
                f"expand: needs at least {self.ndim} sizes for a tensor of shape {self.shape}, got {sizes}"
            )
        lead = len(sizes) - self.ndim
        if any(s == -1 for s in sizes[:lead]):
            raise ValueError(f"expand: -1 is not allowed for the new leading axes, got sizes {sizes}")
        shape = tuple(self.shape[d - lead] if s == -1 and d >= lead else s for d, s in enumerate(sizes))
        return apply(ops.expand, (self,), {"shape": shape})

    def repeat(self, *repeats: Any) -> Tensor:
        """Tile the tensor ``repeats[d]`` times along each axis (PyTorch's ``repeat``, numpy's ``tile``)."""
        repeats = _sizes(repeats)
        if len(repeats) < self.ndim or any(r < 0 for r in repeats):
            raise ValueError(
                f"repeat: needs at least {self.ndim} non-negative counts for shape {self.shape}, got {repeats}"
            )
        return apply(ops.repeat, (self,), {"repeats": repeats})

    def flip(self, *dims: Any, **dims_keyword: Any) -> Tensor:
        """Reverse the order of elements along ``dims`` (``x.flip(0)``, ``x.flip((0, 1))``, ``x.flip(dims=[0])``)."""
        if set(dims_keyword) - {"dims"} or (dims and dims_keyword):
            raise TypeError(f"flip: takes the axes positionally or as dims=, got {dims} and {dims_keyword}")
        dims = (dims_keyword["dims"],) if dims_keyword else dims
        if not dims:
            raise TypeError("flip: needs the axes to reverse, e.g. x.flip(0)")
        axes = self._axis(_sizes(dims), "flip")
        return apply(ops.flip, (self,), {"axis": axes})

    def var(
        self,
        axis: int | tuple[int, ...] | None = None,
        correction: float = 1,
        keepdims: bool = False,
        *,
        unbiased: bool | None = None,
        dim: int | None = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """``sum_i (x_i - mean)^2 / (N - correction)``: ``correction=1`` (default) is Bessel's unbiased
        estimate, ``0`` the population variance (``unbiased=False`` as older PyTorch)."""
        axis, keepdims = _alias(axis, dim, keepdims, keepdim)
        if unbiased is not None:
            correction = 1 if unbiased else 0
        self._require_floating("var")
        return apply(
            ops.var, (self,), {"axis": self._axis(axis, "var"), "correction": correction, "keepdims": keepdims}
        )

    def std(
        self,
        axis: int | tuple[int, ...] | None = None,
        correction: float = 1,
        keepdims: bool = False,
        *,
        unbiased: bool | None = None,
        dim: int | None = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """``sqrt(var(x))`` with the same arguments."""
        return self.var(axis, correction, keepdims, unbiased=unbiased, dim=dim, keepdim=keepdim).sqrt()

    def cumsum(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        """Running sums along ``axis``: ``out_i = x_0 + ... + x_i``; integers and booleans sum as int64."""
        axis, _ = _alias(axis, dim, False, None)
        if axis is None:
            raise TypeError("cumsum: needs an axis (PyTorch's dim), e.g. x.cumsum(0)")
        x = self.astype(np.int64) if self.data.dtype.kind in "biu" else self
        if self.ndim == 0:
            self._axis(axis, "cumsum")
            return apply(ops.reshape, (x,), {"shape": ()})
        return apply(ops.cumsum, (x,), {"axis": self._axis(axis, "cumsum")})

    def tril(self, diagonal: int = 0) -> Tensor:
        """Zero the elements above the ``diagonal``-th diagonal of the last two axes."""
        if self.ndim < 2:
            raise ValueError(f"tril: needs a tensor with at least 2 axes, got shape {self.shape}")
        return apply(ops.tril, (self,), {"diagonal": int(diagonal)})

    def triu(self, diagonal: int = 0) -> Tensor:
        """Zero the elements below the ``diagonal``-th diagonal of the last two axes."""
        if self.ndim < 2:
            raise ValueError(f"triu: needs a tensor with at least 2 axes, got shape {self.shape}")
        return apply(ops.triu, (self,), {"diagonal": int(diagonal)})

    def sort(
        self, axis: int = -1, descending: bool = False, stable: bool = False, *, dim: int | None = None
    ) -> SortResult:
        """``(values, indices)`` sorted along ``axis`` (ties keep their order; NaN sorts as largest).

        ``values`` is ``gather(axis, indices)``, so gradients flow back to the sorted positions.
        """
        axis, _ = _alias(axis, dim, False, None)
        if self.ndim == 0:
            self._axis(axis, "sort")
            return SortResult(apply(ops.reshape, (self,), {"shape": ()}), constant(np.zeros((), np.int64)))
        axis = self._axis(axis, "sort")
        indices = _argsort(self.data, axis, descending)
        return SortResult(apply(ops.gather, (self,), {"axis": axis, "index": indices}), constant(indices))

    def topk(
        self,
        k: int,
        axis: int = -1,
        largest: bool = True,
        sorted: bool = True,  # noqa: A002 - PyTorch's keyword
        *,
        dim: int | None = None,
    ) -> SortResult:
        """The ``k`` largest (or smallest) values along ``axis`` and their indices, largest first."""
        axis, _ = _alias(axis, dim, False, None)
        n = 1 if self.ndim == 0 else self.shape[self._axis(axis, "topk")]
        if not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
            raise ValueError(f"topk: k must be an int in [0, {n}] for axis {axis} of shape {self.shape}, got {k!r}")
        values, indices = self.sort(axis, descending=largest)
        if self.ndim == 0:
            return SortResult(values, indices)
        window = (slice(None),) * self._axis(axis, "topk") + (slice(0, k),)
        return SortResult(values[window], constant(np.ascontiguousarray(indices.data[window])))

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """``value`` where ``mask`` is True, this tensor elsewhere (``mask`` broadcasts to its shape)."""
        cond = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if cond.dtype != np.bool_:
            raise TypeError(f"masked_fill: mask must be boolean, got dtype {cond.dtype}")
        if np.ndim(value) != 0:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape {np.shape(value)}")
        try:
            shape = np.broadcast_shapes(cond.shape, self.shape)
        except ValueError:
            shape = None
        if shape != self.shape:
            raise ValueError(
                f"masked_fill: mask of shape {cond.shape} does not broadcast to the tensor's shape {self.shape}"
            )
        fill = value.astype(self.dtype) if isinstance(value, Tensor) else constant(np.asarray(value, dtype=self.dtype))
        return apply(ops.where, (constant(cond), fill, self))

    # ---- activations (functional and nn modules call these) ------------------------------
    def softplus(self, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
        """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``."""
        self._require_floating("softplus")
        return apply(ops.softplus, (self,), {"beta": beta, "threshold": threshold})

    def gelu(self, approximate: str = "none") -> Tensor:
        """``x Phi(x)`` (Phi: the standard normal CDF), or with ``approximate="tanh"``
        ``x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        self._require_floating("gelu")
        return apply(ops.gelu, (self,), {"approximate": approximate})

    def silu(self) -> Tensor:
        """``x sigmoid(x)`` (swish)."""
        self._require_floating("silu")
        return apply(ops.silu, (self,))

    def elu(self, alpha: float = 1.0) -> Tensor:
        """``x`` for ``x > 0``, else ``alpha (exp(x) - 1)``."""
        self._require_floating("elu")
        return apply(ops.elu, (self,), {"alpha": alpha})

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        """``x`` for ``x > 0``, else ``negative_slope * x``."""
        self._require_floating("leaky_relu")
        return apply(ops.leaky_relu, (self,), {"negative_slope": negative_slope})

    def _floating(self) -> Tensor:
        """Integer and boolean tensors enter floating functions as float32 (PyTorch's default dtype)."""
        return self if self.data.dtype.kind in "fc" else self.astype(dtypes.DEFAULT_FLOAT)

    def _require_floating(self, fn: str) -> None:
        if self.data.dtype.kind not in "fc":
            raise TypeError(
                f"{fn}: needs a floating-point tensor, got dtype {self.data.dtype} "
                "(convert with .float() or .double() first, as in PyTorch)"
            )


class _HookHandle:
    def __init__(self, tensor: Tensor, hook: Callable) -> None:
        self._tensor = weakref.ref(tensor)
        self._hook = hook

    def remove(self) -> None:
        tensor = self._tensor()
        if tensor is not None and tensor._hooks and self._hook in tensor._hooks:
            tensor._hooks.remove(self._hook)


def _cached_transpose(leaf: Tensor) -> Tensor:
    """``leaf.T``, reused while the leaf's array, version and the grad mode are those it was made with.

    Not while tracing (the tape must list every op that ran) or under detect_anomaly (each op
    records the line that made it). The cache holds the transpose weakly: it lives as long as a
    graph that uses it, and no cycle ties it to the leaf.
    """
    state = engine_state()
    data, grad_enabled = leaf.data, state.grad_enabled
    cached = leaf.__dict__.get("_transpose_cache")
    if (
        cached is not None
        and cached[0] is data
        and cached[3] == grad_enabled
        and state.tape is None
        and not state.anomaly
        # no in-place write anywhere since it was made (one read), or none to this leaf's memory
        and (cached[1] == inplace_clock.now or cached[2] == autograd.version_of(leaf))
    ):
        out = cached[4]()
        if out is not None:
            return out
    out = apply(ops.transpose, (leaf,), {"axes": None})
    cache = (data, inplace_clock.now, autograd.version_of(leaf), grad_enabled, weakref.ref(out))
    leaf.__dict__["_transpose_cache"] = cache
    return out


def constant(array: np.ndarray) -> Tensor:
    """A leaf that never requires grad, wrapping ``array`` as is (no copy, no dtype change).

    For values an op needs but nothing differentiates: masks, targets, scalars lifted to tensors.
    """
    return _init_tensor(_NEW(Tensor), array, False, engine_state().scope)


# ---- helpers of the issue-14 methods ----------------------------------------------------


class SortResult(NamedTuple):
    """What ``sort`` and ``topk`` return (PyTorch's ``(values, indices)``, unpackable)."""

    values: Tensor
    indices: Tensor


def _promoted(op: str, *operands: Any) -> np.dtype:
    """``dtypes.result_type`` of the operands; a str, None or object among them is a TypeError naming ``op``."""
    try:
        return dtypes.result_type(*operands)
    except TypeError:
        for operand in operands:
            if not isinstance(operand, Tensor) and np.asarray(operand).dtype.kind not in "biufc":
                raise TypeError(
                    f"{op}: unsupported operand of type {type(operand).__name__} ({operand!r:.40}); "
                    "expected a Tensor, a number or a numeric array"
                ) from None
        raise


def _operand(other: Any, dtype: np.dtype) -> Tensor:
    """``other`` (a tensor, array or number) as a tensor of ``dtype``."""
    if isinstance(other, Tensor):
        return other.astype(dtype)
    return constant(np.asarray(other, dtype=dtype))


def _is_bool(x: Any) -> bool:
    return x.data.dtype.kind == "b" if isinstance(x, Tensor) else isinstance(x, (bool, np.bool_))


def _no_bool(fn: str, *operands: Any) -> None:
    """PyTorch refuses ``-``, ``bool ** bool``, abs, relu and argmax on booleans."""
    for x in operands:  # a plain loop: this runs on every subtraction
        if isinstance(x, Tensor) and x.data.dtype.kind == "b" or isinstance(x, (bool, np.bool_)):
            break
    else:
        return
    raise TypeError(
        f"{fn}: not supported on boolean tensors, as in PyTorch (for masks use ~ or ^; "
        "for counts convert with .long() or .float() first)"
    )


def _alias(axis: Any, dim: Any, keepdims: bool, keepdim: bool | None) -> tuple[Any, bool]:
    """Accept PyTorch's ``dim=``/``keepdim=`` spellings next to numpy's ``axis``/``keepdims``."""
    if dim is not None:
        axis = dim
    return axis, keepdims if keepdim is None else keepdim


def _sizes(sizes: tuple) -> tuple[int, ...]:
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all mean the sizes ``(2, 3)``."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sizes):
        raise TypeError(f"sizes must be ints, got {sizes!r}")
    return tuple(int(s) for s in sizes)


def _index_array(index: Any, fn: str) -> np.ndarray:
    array = np.asarray(index.data if isinstance(index, Tensor) else index)
    if array.dtype.kind not in "iu":
        raise TypeError(
            f"{fn}: index must hold integers, got dtype {array.dtype} "
            "(make it with dtype=np.int64, or from argmax/argsort)"
        )
    return array.astype(np.int64, copy=False)


def _check_range(index: np.ndarray, size: int, fn: str, where_: str) -> None:
    bad = (index < 0) | (index >= size)
    if bad.any():
        raise IndexError(
            f"{fn}: index {int(index[bad].ravel()[0])} is out of range for {where_} of size {size} "
            f"(expected 0 <= index < {size})"
        )


def _argsort(data: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable sorting indices; descending sorts the reversed array ascending and reverses back,
    so ties keep their original order and NaN comes first (largest), as PyTorch."""
    if not descending:
        return np.argsort(data, axis=axis, kind="stable")
    n = data.shape[axis]
    ascending_of_reversed = np.argsort(np.flip(data, axis), axis=axis, kind="stable")
    return np.ascontiguousarray(np.flip(n - 1 - ascending_of_reversed, axis))


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
            raise ValueError(
                f"split: sections {sizes} must be non-negative and add up to {length}, "
                f"the size of axis {axis} of shape {t.shape}"
            )
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
        a = constant(np.asarray(a)) if not isinstance(b, Tensor) else a
    dtype = dtypes.result_type(a, b)  # PyTorch's promotion of the two branches
    return apply(ops.where, (constant(cond), _operand(a, dtype), _operand(b, dtype)))


def addmm(input: Any, mat1: Any, mat2: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """``input + mat1 @ mat2`` as ONE node, PyTorch's ``torch.addmm`` (without ``beta``/``alpha``).

    The same values and gradients as ``input + mat1 @ mat2``, but the graph keeps one array
    instead of two (the product and the sum): in a recurrent step ``x_proj + h @ W_hh^T`` that
    is a (B, G*H) array less per timestep until ``backward()``. ``input`` broadcasts against
    the product as in ``+`` (a bias (N,) over (B, N)); ``mat1`` may be batched, (..., n, k),
    against a 2-d ``mat2``, as numpy's matmul. Operands are promoted as ``+`` and ``@`` promote.
    """
    operands = (input, mat1, mat2)
    if (
        isinstance(input, Tensor)
        and isinstance(mat1, Tensor)
        and isinstance(mat2, Tensor)
        and input.data.dtype == mat1.data.dtype == mat2.data.dtype
    ):  # the hot path: a recurrent step
        return apply(ops.addmm, operands)
    dtype = _promoted("addmm", *operands)
    return apply(ops.addmm, tuple(_operand(x, dtype) for x in operands))
