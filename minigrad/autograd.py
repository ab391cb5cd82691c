"""The backward pass: reverse-mode differentiation over the graph the forward pass recorded.

Read ``backward`` first: it is the whole algorithm (order the nodes, seed the root's gradient,
then for each node from the root down: take its summed gradient, run its VJPs, add what they
return into its inputs' sums). Everything it calls is below it, named for what it does.

A graph node is the output Tensor itself (``tensor.apply`` links it): ``t.op`` names its
primitive, ``t.parents`` are its input tensors, ``t.attrs`` the row's keyword arguments, and
``t.primitive`` is the row of ``ops.py`` that holds the maths. Leaves have ``t.op is None``.
Every module outside the engine (``nn``, ``viz``, ``compile``, ...) reads nodes through that
public API only; this module and ``tensor.py`` are the engine and read the fields behind it
(``_op``, ``_inputs``, ...) on the hot path. See ``docs/engine.md``.

Semantics worth knowing (as PyTorch, except where said):

* Gradients accumulate into leaves' ``.grad``; ``zero_grad`` (or ``t.grad = None``) clears them.
* The graph is kept after ``backward()`` (the renderer paints gradients onto it), so a
  second ``backward()`` over the same graph runs again and *adds* the same gradients a
  second time, like PyTorch with ``retain_graph=True``.
* In-place updates (``Tensor.add_``/``copy_``/``zero_``) bump a version counter; a
  backward pass that reaches an op whose input was modified after the op ran raises
  instead of returning wrong gradients.
* Grad mode, anomaly mode, the scope path and the active trace are per thread (see
  ``EngineState``): ``no_grad()`` in one thread leaves every other thread's graph alone.
"""

from __future__ import annotations

import gc
import itertools
import operator
import os
import sys
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ContextDecorator, contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from . import ops
from .ops import unbroadcast

if TYPE_CHECKING:  # tensor.py imports this module; the arrow points one way
    from .tensor import Tensor
    from .tracing import Tape

__all__ = [
    "AnomalyError",
    "THIN_PRODUCTS",
    "THIN_ROWS",
    "accumulate_grad",
    "is_thin_product",
    "EngineState",
    "GradientError",
    "backward",
    "current_scope",
    "detect_anomaly",
    "enable_grad",
    "engine_state",
    "inplace_clock",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "mark_modified",
    "next_node_id",
    "EMPTY_TAGS",
    "StateChange",
    "no_grad",
    "state_changed",
    "tag",
    "topological_order",
    "version_of",
    "vjps",
]


class GradientError(RuntimeError):
    """A backward pass that cannot give correct gradients."""


class AnomalyError(FloatingPointError):
    """Raised under ``detect_anomaly()`` at the first NaN/Inf value or gradient."""


# --------------------------------------------------------------------------------------
# The algorithm
# --------------------------------------------------------------------------------------


def backward(root: Tensor, grad: Any = None) -> None:
    """Reverse-mode sweep from ``root``: accumulate d(root)/d(leaf) into every leaf's ``.grad``.

    For a node ``y = f(x_1, ..., x_n)`` the chain rule gives each input's share of the
    gradient, ``dL/dx_i += vjp_i(dL/dy)``; ``dL/dx_i`` is complete once every node that reads
    ``x_i`` has run, which the reverse topological order guarantees.
    """
    seed = _seed_gradient(root, grad)  # dL/dL: 1 for a scalar loss, else the grad given
    order = topological_order(root)  # every node after all of its inputs
    grads = {root: seed}  # dL/d(node), summed over the paths seen so far
    owned: set[Tensor] = set()  # the sums this sweep allocated (may add in place)
    deferred: dict[Tensor, list] = {}  # W -> the (a_t, g_t) whose products a_t^T g_t wait for W's turn
    anomaly = engine_state().anomaly
    with _CollectorPaused():  # the graph holds no cycles: nothing to collect
        for node in reversed(order):  # outputs first: a node runs after all of its consumers
            if deferred and node in deferred:  # W's waiting products a_t^T g_t, as one matmul
                _add_deferred_products(node, deferred.pop(node), grads, owned)
            g = grads.pop(node, None)  # dL/d(node), complete: every consumer has added its share
            if g is None:
                continue  # no path from the root reaches this node
            if node._hooks or anomaly:
                g = _on_arrival(node, g, owned, anomaly)  # hooks may replace it; anomaly mode checks it
            op = node._op
            if op is None or node._retain:
                accumulate_grad(node, g, node in owned)  # leaves (and retain_grad()) keep it in .grad
                if op is None:
                    continue  # a leaf has no inputs to pass it on to
            if node._stamp != inplace_clock.now:
                _check_versions(node)  # refuse if an input was overwritten in place
            if op.whole_row or anomaly or op in THIN_PRODUCTS:
                _backprop_special(node, g, grads, owned, deferred, anomaly)  # stack, getitem, a_t^T g_t
                continue
            args = [t.data for t in node._inputs]  # a VJP reads the op's inputs and its output
            for vjp, parent in zip(op.vjps, node._inputs):
                if parent.requires_grad:  # the chain rule, then the sum over paths
                    g_parent = vjp(g, node.data, *args, **node._kwargs) if node._kwargs else vjp(g, node.data, *args)
                    _accumulate(grads, owned, parent, g_parent, g)


def topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor that ``root`` depends on and that requires grad, inputs before outputs.

    Collects the graph with a worklist (no recursion: a chain of 10,000 timesteps is fine),
    then sorts it by ``t.id``: an op's output is always made after its inputs, so creation
    order is a topological order (leaves count as made first).
    """
    nodes = [root]
    seen = {root}  # Tensors hash by identity
    for node in nodes:  # the list grows while we walk it
        for parent in node._inputs:
            if parent.requires_grad and parent not in seen:
                seen.add(parent)
                nodes.append(parent)
    nodes.sort(key=_CREATION_ORDER)
    return nodes


def vjps(
    node: Tensor, grad: np.ndarray, buffer_for: Callable[[Tensor], np.ndarray] | None = None
) -> Sequence[np.ndarray | None]:
    """The gradient of each of ``node``'s inputs given ``grad = dL/d(node)``: its row's VJPs.

    Each gradient is summed back to its input's shape (``ops.unbroadcast``) and cast to its
    dtype; an input that does not require grad gets None. Rows marked ``accumulate``
    (``getitem``) add into a buffer of the input's full shape: a fresh zero buffer, returned,
    or, when ``backward`` passes ``buffer_for(parent)``, the running sum itself, in place
    (the gradient is then already where it belongs, and its slot in the result is None).
    """
    op = node._op
    if op is None:
        raise ValueError("vjps: this tensor is a leaf (t.op is None): it has no op whose VJPs could run")
    inputs = node._inputs
    args = [t.data for t in inputs]
    attrs = node._kwargs or _NO_ATTRS
    out = node.data
    if op.accumulate:
        return _accumulating_vjps(op, grad, out, inputs, args, attrs, buffer_for)
    if op.variadic:  # one function gives every input's gradient
        raw = op.vjps(grad, out, *args, **attrs)
        return tuple(_fit(gi, t.data) if t.requires_grad else None for gi, t in zip(raw, inputs))
    result = []
    for vjp, t in zip(op.vjps, inputs):
        if t.requires_grad:
            gi = vjp(grad, out, *args, **attrs)
            data = t.data
            result.append(gi if gi.shape == data.shape and gi.dtype == data.dtype else _fit(gi, data))
        else:
            result.append(None)
    return result


# --------------------------------------------------------------------------------------
# The steps backward() calls
# --------------------------------------------------------------------------------------


def _seed_gradient(root: Tensor, grad: Any) -> np.ndarray:
    if not root.requires_grad:
        raise GradientError(
            "backward: this tensor does not require grad and has no graph "
            "(create inputs with requires_grad=True, outside no_grad())"
        )
    if grad is None:
        if root.data.size != 1:
            raise GradientError(
                f"backward: grad can be implied only for a scalar output, got shape "
                f"{root.shape}; pass grad= of that shape"
            )
        return np.ones(root.data.shape, root.data.dtype)
    grad = _numeric_gradient(grad, root.dtype, "backward: grad")
    if grad.shape != root.shape:
        raise GradientError(f"backward: grad has shape {grad.shape}, expected the output's shape {root.shape}")
    return grad


def _accumulate(grads: dict, owned: set, parent: Tensor, g_parent: np.ndarray, upstream: np.ndarray | None) -> None:
    """``dL/d(parent) += g_parent``, summed back to the parent's shape and cast to its dtype.

    ``owned`` holds the parents whose sum this sweep allocated and no one else holds: later
    contributions are added into it in place. Any other array (``upstream`` passed through, a
    view, one array handed to two inputs) is never written: the first addition copies it.
    """
    data = parent.data
    if g_parent.shape != data.shape or g_parent.dtype != data.dtype:
        g_parent = _fit(g_parent, data)  # a VJP may return the broadcast shape or another dtype
    prev = grads.get(parent)
    if prev is None:  # the first path to reach parent (the common case)
        grads[parent] = g_parent
        if g_parent is not upstream and type(g_parent) is np.ndarray and g_parent.base is None:
            owned.add(parent)  # a fresh array: later paths may add into it
    elif parent in owned:
        prev += g_parent
    else:
        # ufuncs on 0-d arrays return numpy scalars; an owned buffer must be an array
        grads[parent] = np.asarray(prev + g_parent)
        owned.add(parent)


class _CollectorPaused:
    """Python's cyclic garbage collector off for the sweep: it would rescan the growing dicts of
    arrays for cycles that cannot exist (the graph points from outputs to inputs only)."""

    __slots__ = ("was_enabled",)

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()


def _on_arrival(node: Tensor, g: np.ndarray, owned: set, anomaly: bool) -> np.ndarray:
    """A node's complete gradient, before it moves on: its hooks see (and may replace) it, and
    under ``detect_anomaly()`` a NaN or Inf stops the sweep here."""
    if node._hooks:
        g = _run_hooks(node, g, owned)
    if anomaly:
        _check_finite_gradient(node, g)
    return g


def _backprop_special(node: Tensor, g: np.ndarray, grads: dict, owned: set, deferred: dict, anomaly: bool) -> None:
    """The rows the plain loop does not handle: ``stack``/``concat`` (one VJP for all inputs),
    ``getitem`` (adds into its input's running sum), ``a @ W`` with a thin ``a`` (the product
    ``a^T g`` waits for W's turn), and every row under ``detect_anomaly()`` (each VJP checked)."""
    op = node._op
    if op.whole_row:
        _backprop_whole_row(node, g, grads, owned, anomaly)
        return
    args = [t.data for t in node._inputs]
    waits = None if anomaly else _defer_thin_product(node, op, g, args, deferred)
    attrs = node._kwargs or _NO_ATTRS
    for vjp, parent in zip(op.vjps, node._inputs):
        if parent.requires_grad and parent is not waits:
            g_parent = vjp(g, node.data, *args, **attrs)
            if anomaly:
                _check_finite_vjp(node, parent, g_parent)
            _accumulate(grads, owned, parent, g_parent, g)


# Rows whose gradient for one input is ``a^T @ g``, a weight's share of a step: (that input, the
# input ``a``). ``a @ W`` only (nn's layers, ``h @ W_hh.T``), not the course's column layout
# ``W @ a``: the course's programs sum dW step by step, and models/ replays them to the last bit
# (min-char-rnn, Dinosaurus Island), which one matmul's summation order would not.
THIN_PRODUCTS = {ops.matmul: (1, 0), ops.addmm: (2, 1)}
THIN_ROWS = 8  # at 32 rows the per-step products already run at full speed (measured)


def is_thin_product(a: np.ndarray, g: np.ndarray, w: np.ndarray) -> bool:
    """Is ``a^T g`` a thin share of weight ``w``'s gradient (``y = a @ w``, ``g = dL/dy``)? 2-d,
    at most ``THIN_ROWS`` rows, of ``w``'s shape and dtype. ``backward`` and ``mg.compile`` defer
    such shares and add them as one matmul."""
    return (
        a.ndim == 2
        and a.shape[0] <= THIN_ROWS
        and g.ndim == 2
        and g.shape[0] == a.shape[0]  # (an addmm input may have grown the output's rows)
        and w.shape == (a.shape[1], g.shape[1])
        and w.dtype == a.dtype == g.dtype
    )


def _defer_thin_product(node: Tensor, op: Any, g: np.ndarray, args: list, deferred: dict) -> Tensor | None:
    """For ``y_t = a_t @ W`` with a thin ``a_t`` (batch 1), keep ``(a_t, g_t)`` instead of adding the
    outer product ``a_t^T g_t`` now; returns the weight whose gradient waits (None: not deferred).

    A time loop adds T such products into W's gradient, each a pass over the whole (k, m)
    array; W's turn comes after every step's, and then ONE matmul ``[a_1; ...]^T [g_1; ...]``
    gives the same sum (``_add_deferred_products``)."""
    w_index, a_index = THIN_PRODUCTS[op]
    a, weight = args[a_index], node._inputs[w_index]
    if not (weight.requires_grad and is_thin_product(a, g, weight.data)):
        return None
    pairs = deferred.get(weight)
    if pairs is None:  # the first product is added now (a weight read once pays nothing);
        deferred[weight] = []  # the ones after it wait
        return None
    for i, other in enumerate(node._inputs):
        if other is weight and i != w_index:
            return None  # a @ a: each path is its own
    pairs.append((a, g))
    return weight


def _add_deferred_products(weight: Tensor, pairs: list, grads: dict, owned: set) -> None:
    """``dL/dW += sum_t a_t^T g_t``, as one matmul of the stacked pairs."""
    if not pairs:
        return
    if len(pairs) == 1:
        a, g = pairs[0]
    else:
        a = np.concatenate([p[0] for p in pairs])
        g = np.concatenate([p[1] for p in pairs])
    _accumulate(grads, owned, weight, np.dot(a.T, g), None)


def _backprop_whole_row(node: Tensor, g: np.ndarray, grads: dict, owned: set, anomaly: bool) -> None:
    """Variadic rows (``concat``, ``stack``) give every input's gradient in one call; accumulating
    rows (``getitem``) add into the running sum of their input in place."""
    op = node._op
    if op.accumulate:  # x_proj[t] at every step: into x_proj's one buffer, in place
        args = [t.data for t in node._inputs]
        attrs = node._kwargs or _NO_ATTRS
        for vjp, parent in zip(op.vjps, node._inputs):
            if parent.requires_grad:
                vjp(_own_buffer(parent, grads, owned), g, node.data, *args, **attrs)
        return

    def buffer_for(parent: Tensor) -> np.ndarray:
        return _own_buffer(parent, grads, owned)

    for parent, g_parent in zip(node._inputs, vjps(node, g, buffer_for)):
        if g_parent is not None:
            if anomaly:
                _check_finite_vjp(node, parent, g_parent)
            _accumulate(grads, owned, parent, g_parent, g)


def _own_buffer(parent: Tensor, grads: dict, owned: set) -> np.ndarray:
    """The running sum of ``dL/d(parent)`` as an array this sweep owns (zeros if none yet): rows
    that accumulate write into it."""
    buf = grads.get(parent)
    if buf is None:
        buf = grads[parent] = np.zeros(parent.data.shape, dtype=parent.data.dtype)
        owned.add(parent)
    elif parent not in owned:
        buf = grads[parent] = buf.copy()
        owned.add(parent)
    return buf


def _accumulating_vjps(
    op: Any,
    grad: np.ndarray,
    out: np.ndarray,
    inputs: tuple,
    args: list,
    attrs: Mapping[str, Any],
    buffer_for: Callable[[Tensor], np.ndarray] | None,
) -> tuple:
    """Rows like ``getitem`` add into a buffer of the input's full shape instead of returning a
    fresh array: slicing a (T, B, 4H) tensor T times must not cost T full-size zero arrays."""
    result = []
    for vjp, t in zip(op.vjps, inputs):
        if not t.requires_grad:
            result.append(None)
        elif buffer_for is None:
            buf = np.zeros(t.data.shape, dtype=t.data.dtype)
            vjp(buf, grad, out, *args, **attrs)
            result.append(buf)
        else:
            vjp(buffer_for(t), grad, out, *args, **attrs)
            result.append(None)  # already added into the running sum
    return tuple(result)


def _fit(g: np.ndarray, data: np.ndarray) -> np.ndarray:
    """A VJP may return the output's broadcast shape or another float dtype: sum back, cast."""
    if g.shape != data.shape:
        g = unbroadcast(g, data.shape)
    if g.dtype != data.dtype:
        g = g.astype(data.dtype)
    return g


def _run_hooks(node: Tensor, g: np.ndarray, owned: set) -> np.ndarray:
    if node not in owned:  # a hook may write into its argument: never into a shared array
        g = np.array(g)
    owned.discard(node)  # and it may keep it: nothing may add into it later
    for hook in node._hooks:
        replaced = hook(g)
        if replaced is not None:
            replaced = _hook_result(hook, replaced, g, node)
            g = replaced
    return g


def _hook_result(hook: Callable, replaced: Any, g: np.ndarray, node: Tensor) -> np.ndarray:
    name = getattr(hook, "__name__", hook)
    replaced = _numeric_gradient(replaced, g.dtype, f"register_hook: the value hook {name!r} returned")
    if replaced.shape != g.shape:
        raise GradientError(
            f"register_hook: hook {name!r} returned a gradient "
            f"of shape {replaced.shape} for a tensor of shape {node.shape} "
            f"(op {node.op or 'leaf'}, scope '{node.scope or '<top>'}'); "
            "it must keep the shape"
        )
    return replaced


def _numeric_gradient(value: Any, dtype: np.dtype, what: str) -> np.ndarray:
    """``value`` (a Tensor, array or number) as an array of ``dtype``; anything else is a TypeError naming ``what``."""
    array = np.asarray(value)  # a Tensor converts through __array__
    if array.dtype.kind not in "biufc":
        described = f"a {type(value).__name__}" + (f" of dtype {array.dtype}" if isinstance(value, np.ndarray) else "")
        raise TypeError(f"{what} must be numeric (a Tensor, an array or a number), got {described}")
    return array.astype(dtype, copy=False)


def accumulate_grad(t: Tensor, g: np.ndarray, owned: bool = False) -> None:
    """``t.grad += g``, or ``t.grad = g`` (a copy unless ``owned``: nobody else holds ``g``) if
    it has none. ``g`` must already have ``t``'s shape and dtype: the engine's VJPs guarantee it,
    so this skips the checks of the public ``.grad`` setter (``mg.compile``'s replay uses it too)."""
    if t._grad is None:
        t._grad = g if owned else np.array(g)
    else:
        t._grad += g


_NO_ATTRS: Mapping[str, Any] = {}


# --------------------------------------------------------------------------------------
# Node numbering, structural tags
# --------------------------------------------------------------------------------------

_creation = itertools.count(1)  # numbers tensors in the order they are made (atomic under the GIL)
next_node_id = _creation.__next__


_CREATION_ORDER = operator.attrgetter("_seq")  # t.id


EMPTY_TAGS: Mapping[str, Any] = MappingProxyType({})


def tag(t: Tensor, *shared: Mapping[str, Any], **tags: Any) -> Tensor:
    """Attach structural tags to a tensor (read back, merged, as ``t.tags``); returns ``t``.

    ``nn`` marks what a renderer needs to know about a recurrent layer's graph (see
    ``docs/engine.md`` for the vocabulary: ``role``, ``name``, ``cell``, ``layer``,
    ``direction``, ``step``). ``shared`` mappings are kept by reference, not copied (a layer
    builds them once per call or per step and tags many tensors with them: they must not be
    mutated afterwards); keyword ``tags`` are one-off keys. Later keys win; later calls add.
    Tags never change values or gradients.
    """
    added = (*shared, tags) if tags else shared
    t._tags = added if t._tags is None else t._tags + added
    return t


# --------------------------------------------------------------------------------------
# Checks: anomaly mode and in-place versions
# --------------------------------------------------------------------------------------


def _check_finite_gradient(node: Tensor, g: np.ndarray) -> None:
    if not np.isfinite(g).all():
        raise AnomalyError(
            f"backward: the gradient reaching the output of "
            f"{node.op or 'a leaf'} (shape {node.shape}) holds "
            f"NaN/Inf at scope '{node.scope or '<top>'}', created at {node._origin}"
        )


def _check_finite_vjp(node: Tensor, parent: Tensor, g_parent: np.ndarray) -> None:
    if not np.isfinite(g_parent).all():
        i = next(i for i, t in enumerate(node._inputs) if t is parent)
        raise AnomalyError(
            f"backward: {node.op} produced a NaN/Inf gradient for its input {i} "
            f"(shape {parent.shape}) at scope '{node.scope or '<top>'}', "
            f"created at {node._origin}"
        )


def _check_versions(node: Tensor) -> None:
    # The output too: many VJPs read it (exp, tanh, sigmoid, div, softmax, ...).
    for which, t in [*(("an input", t) for t in node._inputs), ("the output", node)]:
        if version_of(t) > node._stamp:
            raise GradientError(
                f"backward: {which} of '{node.op}' (shape {t.shape}, scope "
                f"'{node.scope or '<top>'}') was modified in place after the op ran, so its "
                "gradient would be wrong. Run backward() before updating parameters, or recompute "
                "the forward pass."
            )


class _Clock:
    """Bumped by every in-place update; a node remembers the time it was made (``_stamp``)."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = 0


inplace_clock = _Clock()  # public: ``apply`` stamps every node with ``inplace_clock.now``

# Views share memory (getitem, reshape, transpose, detach), so a write through one is a write
# to all: versions are also kept per memory owner, {id(owner): (weakref to owner, clock)}.
_owner_versions: dict[int, tuple[Any, int]] = {}


def _owner(array: np.ndarray) -> np.ndarray:
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def version_of(t: Tensor) -> int:
    """The clock time of the last in-place write to ``t``'s memory (through ``t`` or a view)."""
    owner = _owner(t.data)
    entry = _owner_versions.get(id(owner))
    if entry is None or entry[0]() is not owner:
        return t._version
    return max(t._version, entry[1])


def mark_modified(t: Tensor) -> None:
    """Record an in-place write to ``t.data`` (``Tensor.add_`` & co. call this after writing)."""
    inplace_clock.now += 1
    t._version = inplace_clock.now
    owner = _owner(t.data)
    key = id(owner)
    entry = _owner_versions.get(key)
    if entry is None or entry[0]() is not owner:
        entry = (weakref.ref(owner, lambda _, key=key: _owner_versions.pop(key, None)), 0)
    _owner_versions[key] = (entry[0], inplace_clock.now)


# --------------------------------------------------------------------------------------
# Engine state, per thread
# --------------------------------------------------------------------------------------


class EngineState:
    """What the engine reads on every op: grad mode, anomaly mode, the scope path, the trace.

    One immutable value per thread (a ``ContextVar``: each thread starts from the defaults,
    and an asyncio task from its creator's). Modes change it with ``state_changed``, which
    restores the previous value on exit, so overlapping blocks in two threads never meet.
    A ``threading.local`` would do the same, but reading it costs ~4x a ContextVar's ``get``
    (measured: 375 ns vs 100 ns per op on the benchmark machine), paid by every op.
    """

    __slots__ = ("grad_enabled", "anomaly", "scope", "tape")

    def __init__(
        self, grad_enabled: bool = True, anomaly: bool = False, scope: str = "", tape: Tape | None = None
    ) -> None:
        init = object.__setattr__
        init(self, "grad_enabled", grad_enabled)
        init(self, "anomaly", anomaly)
        init(self, "scope", scope)  # "lstm/l0/fwd/t3": kept joined, so an op pays one read
        init(self, "tape", tape)  # the active tracing.Tape, or None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"EngineState is immutable (cannot set {name!r}): change it for a block "
            "with autograd.state_changed(...), or mg.no_grad(), mg.scope(...)"
        )

    def replace(self, **changes: Any) -> EngineState:
        unknown = changes.keys() - _FIELDS
        if unknown:
            raise TypeError(
                f"state_changed: unknown engine state field(s) {sorted(unknown)}; the fields are {list(self.__slots__)}"
            )
        return EngineState(
            changes.get("grad_enabled", self.grad_enabled),
            changes.get("anomaly", self.anomaly),
            changes.get("scope", self.scope),
            changes.get("tape", self.tape),
        )

    def __repr__(self) -> str:
        return (
            f"EngineState(grad_enabled={self.grad_enabled}, anomaly={self.anomaly}, "
            f"scope={self.scope!r}, tape={'active' if self.tape is not None else None})"
        )


_FIELDS = frozenset(EngineState.__slots__)
_STATE: ContextVar[EngineState] = ContextVar("minigrad_engine_state", default=EngineState())  # noqa: B039 - immutable
engine_state: Callable[[], EngineState] = _STATE.get  # the calling thread's state


class StateChange(ContextDecorator):
    """A ``with`` block (or a decorator) that runs with some engine state fields changed, in
    this thread only. A class, not a generator: ``mg.scope`` opens one per timestep."""

    __slots__ = ("changes", "previous")

    def __init__(self, changes: dict[str, Any]) -> None:
        if not changes.keys() <= _FIELDS:  # unknown fields fail here, at the call
            EngineState().replace(**changes)
        self.changes = changes
        self.previous: EngineState | None = None

    def __enter__(self) -> EngineState:
        self.previous = previous = _STATE.get()
        changed = previous.replace(**self.changes)
        _STATE.set(changed)
        return changed

    def __exit__(self, *exc: object) -> None:
        _STATE.set(self.previous)

    def _recreate_cm(self) -> StateChange:  # a decorated function may recurse: one block per call
        return StateChange(self.changes)


def state_changed(**changes: Any) -> StateChange:
    """Run the block with some engine state fields changed, in this thread only:
    ``with state_changed(grad_enabled=False): ...`` (``no_grad()`` is exactly that)."""
    return StateChange(changes)


def no_grad() -> StateChange:
    """Inside, ops build no graph and record no gradient links (inference, parameter updates).

    Per thread, as PyTorch's; usable as a decorator too (``@mg.no_grad()``).
    """
    return state_changed(grad_enabled=False)


def enable_grad() -> StateChange:
    """Turn graph building back on inside a ``no_grad`` block."""
    return state_changed(grad_enabled=True)


def is_grad_enabled() -> bool:
    return _STATE.get().grad_enabled


def is_anomaly_enabled() -> bool:
    return _STATE.get().anomaly


def current_scope() -> str:
    """The calling thread's scope path, e.g. ``"lstm/l0/fwd/t3"`` ("" at top level)."""
    return _STATE.get().scope


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise at the first op whose output, or whose incoming gradient, holds NaN or Inf.

    The error names the op, its scope (so the layer and timestep) and the line of user
    code that created it. Costs one finiteness check per op and per gradient: debug only.
    """
    with state_changed(anomaly=True):
        # numpy's own RuntimeWarnings would only repeat, less precisely, what the error says.
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            yield


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def user_source_line() -> str:
    """The first stack frame outside minigrad: where the user's code created a tensor."""
    frame = sys._getframe(1)
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)).startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


Hook = Callable[[np.ndarray], Any]
