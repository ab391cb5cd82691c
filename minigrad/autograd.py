"""The engine: ``apply`` runs a primitive and links its output into the graph;
``backward`` walks that graph in reverse topological order, iteratively.

A graph node is the output Tensor itself: it holds the primitive (``_op``), the input
tensors (``_inputs``) and the row's keyword arguments (``_kwargs``).  Leaves have
``_op is None``.  Every VJP it needs sits in ``ops.py``.

Semantics worth knowing (as PyTorch, except where said):

* Gradients accumulate into leaves' ``.grad``; ``zero_grad`` (or ``t.grad = None``) clears them.
* The graph is kept after ``backward()`` (the renderer paints gradients onto it), so a
  second ``backward()`` over the same graph runs again and *adds* the same gradients a
  second time, like PyTorch with ``retain_graph=True``.
* In-place updates (``Tensor.add_``/``copy_``/``zero_``) bump a version counter; a
  backward pass that reaches an op whose input was modified after the op ran raises
  instead of returning wrong gradients.
"""

from __future__ import annotations

import gc
import itertools
import operator
import os
import sys
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .ops import Primitive, unbroadcast

# Engine state, read on every op: plain module globals, the cheapest lookup Python has.
_grad_enabled = True
_tape: Any = None                 # the active tracing.Tape, or None
_anomaly = False
_scope_path = ""                  # "lstm/l0/fwd/t3": kept joined so an op pays one read
_inplace_clock = 0                # bumped by every in-place update
_creation = itertools.count(1)    # numbers every graph node, in the order ops ran
_SEQ = operator.attrgetter("_seq")

Tensor: Any = None                # the class, set by tensor.py (it calls apply; apply builds it)

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class GradientError(RuntimeError):
    """A backward pass that cannot give correct gradients."""


class AnomalyError(FloatingPointError):
    """Raised under ``detect_anomaly()`` at the first NaN/Inf value or gradient."""


def apply(op: Primitive, inputs: tuple, kwargs: dict | None = None) -> Any:
    """Run ``op`` forward on the inputs' arrays; record a graph node if any input needs a gradient."""
    args = [t.data for t in inputs]
    try:
        data = op.forward(*args, **kwargs) if kwargs else op.forward(*args)
    except (ValueError, TypeError, IndexError, np.exceptions.AxisError) as err:
        raise _op_error(op, args, kwargs, err) from err
    if type(data) is not np.ndarray:      # ufuncs and reductions hand back numpy scalars for 0-d results
        data = np.asarray(data)
    out = Tensor.__new__(Tensor)
    out.data = data
    out.grad = None
    out._version = 0
    out._scope = _scope_path
    needs_grad = False
    if _grad_enabled:
        for t in inputs:
            if t.requires_grad:
                needs_grad = True
                break
    if needs_grad:
        out.requires_grad = True
        out._op = op
        out._inputs = inputs
        out._kwargs = kwargs
        out._stamp = _inplace_clock
        out._seq = next(_creation)
    else:
        out.requires_grad = False
        out._op = None
        out._inputs = ()
        out._kwargs = None
        out._stamp = 0
        out._seq = 0
    if _tape is not None:
        _tape._record(op.name, inputs, out, kwargs, _scope_path)
    if _anomaly:
        out._origin = _user_source_line()
        if data.dtype.kind in "fc" and not np.isfinite(data).all():
            raise AnomalyError(f"{op.name} produced NaN/Inf in its output (shape {data.shape}) "
                               f"at scope '{_scope_path or '<top>'}', created at {out._origin}")
    return out


def _op_error(op: Primitive, args: list, kwargs: dict | None, err: Exception) -> Exception:
    message = None
    if op.explain is not None:
        try:
            message = op.explain(*args, **(kwargs or {}))
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


def _user_source_line() -> str:
    """The first stack frame outside minigrad: where the user's code created this tensor."""
    frame = sys._getframe(1)
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)).startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


def topological_order(root: Any) -> list:
    """Every tensor that ``root`` depends on and that requires grad, inputs before outputs.

    Collects the graph with a worklist (no recursion: a chain of 10,000 timesteps is fine),
    then sorts it by creation: an op's output is always made after its inputs, so creation
    order is a topological order (leaves count as made first).
    """
    nodes = [root]
    seen = {root}              # Tensors hash by identity
    for node in nodes:         # the list grows while we walk it
        for child in node._inputs:
            if child.requires_grad and child not in seen:
                seen.add(child)
                nodes.append(child)
    nodes.sort(key=_SEQ)
    return nodes


def backward(root: Any, grad: Any = None) -> None:
    """Reverse-mode sweep from ``root``: accumulate d(root)/d(leaf) into every leaf's ``.grad``.

    ``grads`` maps each tensor to the sum of the gradients that reached it so far. A buffer in
    ``owned`` was allocated by this sweep, so later contributions may be added into it in place;
    any other (a VJP may hand the same array to two inputs) is copied before it is written.
    """
    if not root.requires_grad:
        raise GradientError("backward: this tensor does not require grad and has no graph "
                            "(create inputs with requires_grad=True, outside no_grad())")
    if grad is None:
        if root.data.size != 1:
            raise GradientError(f"backward: grad can be implied only for a scalar output, got shape "
                                f"{root.shape}; pass grad= of that shape")
        grad = np.ones_like(root.data)
    else:
        grad = _numeric_gradient(grad, root.dtype, "backward: grad")
        if grad.shape != root.shape:
            raise GradientError(f"backward: grad has shape {grad.shape}, expected the output's shape {root.shape}")

    order = topological_order(root)
    grads = {root: grad}
    owned = set()
    gc_was_enabled = gc.isenabled()
    gc.disable()               # the graph holds no cycles; the collector would only rescan it
    try:
        for node in reversed(order):
            g = grads.pop(node, None)
            if g is None:
                continue
            if node._hooks:
                if node not in owned:     # a hook may write into its argument: never into a shared array
                    g = np.array(g)
                g = _run_hooks(node, g)
                owned.discard(node)       # and it may keep it: nothing may add into it later
            if _anomaly:
                _check_finite_gradient(node, g)
            op = node._op
            if op is None or node._retain:
                if node.grad is None:
                    node.grad = g if node in owned else np.array(g)
                else:
                    node.grad += g
                if op is None:
                    continue
            if node._stamp != _inplace_clock:
                _check_versions(node)
            inputs = node._inputs
            args = [t.data for t in inputs]
            kwargs = node._kwargs or _NO_KWARGS
            vjps = op.vjps
            out = node.data
            if op.variadic:
                all_grads = vjps(g, out, *args, **kwargs)
            i = -1
            for parent in inputs:
                i += 1
                if not parent.requires_grad:
                    continue
                if op.accumulate:                     # the row adds into a full-size buffer itself
                    buf = grads.get(parent)
                    if buf is None:
                        buf = grads[parent] = np.zeros(parent.data.shape, dtype=parent.data.dtype)
                        owned.add(parent)
                    elif parent not in owned:
                        buf = grads[parent] = buf.copy()
                        owned.add(parent)
                    vjps[i](buf, g, out, *args, **kwargs)
                    continue
                gi = all_grads[i] if op.variadic else vjps[i](g, out, *args, **kwargs)
                if _anomaly:
                    _check_finite_vjp(node, i, gi)
                data = parent.data
                if gi.shape != data.shape:
                    gi = unbroadcast(gi, data.shape)
                if gi.dtype != data.dtype:
                    gi = gi.astype(data.dtype)
                prev = grads.get(parent)
                if prev is None:
                    grads[parent] = gi
                    # A new array that no one else holds (not g passed through, not a view):
                    # later contributions may add into it, and a leaf may keep it without a copy.
                    if gi is not g and type(gi) is np.ndarray and gi.base is None:
                        owned.add(parent)
                elif parent in owned:
                    prev += gi
                else:
                    # ufuncs on 0-d arrays return numpy scalars; an owned buffer must be an array
                    grads[parent] = np.asarray(prev + gi)
                    owned.add(parent)
    finally:
        if gc_was_enabled:
            gc.enable()


_NO_KWARGS: dict = {}


def _numeric_gradient(value: Any, dtype: np.dtype, what: str) -> np.ndarray:
    """``value`` (a Tensor, array or number) as an array of ``dtype``; anything else is a TypeError naming ``what``."""
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    if array.dtype.kind not in "biufc":
        described = f"a {type(value).__name__}" + (f" of dtype {array.dtype}" if isinstance(value, np.ndarray) else "")
        raise TypeError(f"{what} must be numeric (a Tensor, an array or a number), got {described}")
    return array.astype(dtype, copy=False)


def _run_hooks(node: Any, g: np.ndarray) -> np.ndarray:
    for hook in node._hooks:
        replaced = hook(g)
        if replaced is not None:
            name = getattr(hook, "__name__", hook)
            replaced = _numeric_gradient(replaced, g.dtype, f"register_hook: the value hook {name!r} returned")
            if replaced.shape != g.shape:
                raise GradientError(f"register_hook: hook {getattr(hook, '__name__', hook)!r} returned a gradient "
                                    f"of shape {replaced.shape} for a tensor of shape {node.shape} "
                                    f"(op {node.op or 'leaf'}, scope '{node._scope or '<top>'}'); "
                                    "it must keep the shape")
            g = replaced
    return g


def _check_finite_gradient(node: Any, g: np.ndarray) -> None:
    if not np.isfinite(g).all():
        raise AnomalyError(f"backward: the gradient reaching the output of "
                           f"{node._op.name if node._op else 'a leaf'} (shape {node.shape}) holds "
                           f"NaN/Inf at scope '{node._scope or '<top>'}', created at {node._origin}")


def _check_finite_vjp(node: Any, i: int, gi: np.ndarray) -> None:
    if not np.isfinite(gi).all():
        raise AnomalyError(f"backward: {node._op.name} produced a NaN/Inf gradient for its input {i} "
                           f"(shape {node._inputs[i].shape}) at scope '{node._scope or '<top>'}', "
                           f"created at {node._origin}")


def _check_versions(node: Any) -> None:
    # The output too: many VJPs read it (exp, tanh, sigmoid, div, softmax, ...).
    for which, t in [*(("an input", t) for t in node._inputs), ("the output", node)]:
        if _version_of(t) > node._stamp:
            raise GradientError(
                f"backward: {which} of '{node._op.name}' (shape {t.shape}, scope "
                f"'{node._scope or '<top>'}') was modified in place after the op ran, so its "
                "gradient would be wrong. Run backward() before updating parameters, or recompute "
                "the forward pass.")


# Views share memory (getitem, reshape, transpose, detach), so a write through one is a write
# to all: versions are also kept per memory owner, {id(owner): (weakref to owner, clock)}.
_owner_versions: dict[int, tuple[Any, int]] = {}


def _owner(array: np.ndarray) -> np.ndarray:
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _version_of(t: Any) -> int:
    owner = _owner(t.data)
    entry = _owner_versions.get(id(owner))
    if entry is None or entry[0]() is not owner:
        return t._version
    return max(t._version, entry[1])


def _bump_version(t: Any) -> None:
    global _inplace_clock
    _inplace_clock += 1
    t._version = _inplace_clock
    owner = _owner(t.data)
    key = id(owner)
    entry = _owner_versions.get(key)
    if entry is None or entry[0]() is not owner:
        entry = (weakref.ref(owner, lambda _, key=key: _owner_versions.pop(key, None)), 0)
    _owner_versions[key] = (entry[0], _inplace_clock)


# --------------------------------------------------------------------------------------
# Modes
# --------------------------------------------------------------------------------------

@contextmanager
def no_grad() -> Iterator[None]:
    """Inside, ops build no graph and record no gradient links (inference, parameter updates)."""
    global _grad_enabled
    previous = _grad_enabled
    _grad_enabled = False
    try:
        yield
    finally:
        _grad_enabled = previous


@contextmanager
def enable_grad() -> Iterator[None]:
    """Turn graph building back on inside a ``no_grad`` block."""
    global _grad_enabled
    previous = _grad_enabled
    _grad_enabled = True
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    return _grad_enabled


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise at the first op whose output, or whose incoming gradient, holds NaN or Inf.

    The error names the op, its scope (so the layer and timestep) and the line of user
    code that created it. Costs one finiteness check per op and per gradient: debug only.
    """
    global _anomaly
    previous = _anomaly
    _anomaly = True
    try:
        # numpy's own RuntimeWarnings would only repeat, less precisely, what the error says.
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            yield
    finally:
        _anomaly = previous


def _set_tape(tape: Any) -> Any:
    global _tape
    previous, _tape = _tape, tape
    return previous


def _set_scope_path(path: str) -> str:
    global _scope_path
    previous, _scope_path = _scope_path, path
    return previous


def current_scope() -> str:
    return _scope_path


Hook = Callable[[np.ndarray], Any]
