"""``mg.compile(loss_fn)``: record a training step once, replay it as straight-line Python.

Eager minigrad pays, per op, for building a graph node and, per node, for the backward
loop's bookkeeping. A training step runs the same ops every time, so ``compile`` records
one step with the tracer, checks a second recording against it, and writes the step out
as a Python function: one line per op of the forward pass, calling the derivative
table's forward (``ops.py``), then one line per VJP, in reverse order, calling the
table's VJPs. That function is the BPTT code autodiff runs; ``step.source`` shows it::

    step = mg.compile(loss_fn)          # loss_fn(*inputs) -> scalar loss tensor
    loss = step(x, targets)             # forward + backward: parameters' .grad filled
    print(step.source)                  # v3 = matmul(v1, v2)  ... g_v1 = matmul_vjp0(...)

``loss_fn`` may also return ``(loss, *outputs)`` (e.g. the last hidden state, to carry
over to the next call); ``step`` then returns ``(loss, *outputs)``, every one detached.

**The rule** (tinygrad's TinyJit and ``torch.compile`` state theirs): the replay runs the
ops that the recorded calls ran. Python code in ``loss_fn`` that does not go through
tensor ops (an ``if`` on a tensor's value or on a Python flag, a loop whose length comes
from the data, an integer that picks which tensor to use, a number computed with numpy from
``.data``) is not seen by a tracer. ``compile`` records two calls and compiles only if they
ran the same ops on the same kinds of operands; a branch that flips only later is not
caught: ``mg.compile(fn, check=N)`` runs the eager function beside the replay every N calls
and falls back to eager if they disagree.

**Guards**: each call checks what the replay assumes and, on a miss, recompiles (new
shapes or dtypes of the inputs: one replay per signature) or runs eagerly, with the
reason in ``step.last_fallback``:

* input shapes and dtypes (and the values of non-tensor arguments) -> recompile;
* the tensors ``loss_fn`` reads (parameters, buffers) are the same objects, with the same
  shapes and dtypes -> else recompile. They are looked up everywhere ``loss_fn`` can find
  them: its closure, the globals it names (its comprehensions' too) and its bound ``self``,
  and inside those Modules (every name of a tied weight; buffers), lists, dicts, object
  attributes and the globals of the functions it calls, 3 levels deep. A parameter found
  nowhere there cannot be watched: the step stays eager, with the reason;
* the floating-point numbers and arrays (up to 65,536 elements) found there whose values the
  replay baked in as constants (``x * self.temperature``, ``mg.tensor(MASK)``) are unchanged
  -> else recompile. Integers and flags are Python control flow (the rule above);
* after 8 recompiles for one input signature, the step runs eagerly (something it reads
  changes at every call);
* no hooks registered on them -> else eager (hooks see each gradient in eager mode);
* grad mode on, no ``trace()`` and no ``detect_anomaly()`` active -> else eager;
* ``loss_fn`` draws no random numbers (dropout), modifies no tensor in place, registers
  no hook and retains no gradient while recorded -> else eager, for good;
* the two recorded calls agree -> else eager, for good (data-dependent Python).
"""

from __future__ import annotations

import inspect
import keyword
import operator
import types
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from . import autograd, ops, random, tracing
from .ops import unbroadcast
from .tensor import Tensor, constant

_LITERALS = (type(None), bool, int, float, str, slice, type(Ellipsis))


class CompileError(RuntimeError):
    """What makes a loss function unfit for replay (shown in ``step.last_fallback``)."""

    result: Any = None  # what the eager call that found it returned


def compile(loss_fn: Callable[..., Any], check: int | None = None) -> CompiledStep:  # noqa: A001 - torch's name
    """Capture-and-replay of ``loss_fn``'s forward and backward; see the module docstring."""
    if not callable(loss_fn):
        raise TypeError(f"compile: loss_fn must be callable, got {type(loss_fn).__name__}")
    if check is not None and (isinstance(check, bool) or not isinstance(check, int) or check < 1):
        raise ValueError(
            f"compile: check must be a positive int (compare with eager every N calls) or None, got {check!r}"
        )
    return CompiledStep(loss_fn, check)


class CompiledStep:
    """``step(*inputs)``: forward and backward of ``loss_fn``, replayed once recorded twice."""

    def __init__(self, loss_fn: Callable[..., Any], check: int | None) -> None:
        self.loss_fn = loss_fn
        self.check = check
        self.calls = 0
        self.last_fallback: str | None = None  # why the last call ran eagerly (None: it replayed)
        self._replays: dict[tuple, _Replay] = {}
        self._recordings: dict[tuple, _Recording] = {}
        self._refused: dict[tuple, str] = {}
        self._recompiles: dict[tuple, int] = {}
        self._last: _Replay | None = None

    @property
    def source(self) -> str:
        """The Python of the replay compiled last (raises before the first compilation)."""
        if self._last is None:
            raise RuntimeError(
                "compile: no replay compiled yet: the step compiles at its second call "
                f"({'reason it ran eagerly: ' + self.last_fallback if self.last_fallback else ''})"
            )
        return self._last.source

    def __call__(self, *inputs: Any) -> Any:
        self.calls += 1
        reason = _mode_guard()
        if reason:
            return self._eager(inputs, reason)
        key = _signature(inputs)
        if key in self._refused:
            return self._eager(inputs, self._refused[key])
        replay = self._replays.get(key)
        if replay is not None:
            hooked = replay.hooked_parameter()
            if hooked:
                return self._eager(inputs, hooked)
            miss = replay.guard()
            if miss is None:
                self.last_fallback = None
                if self.check and self.calls % self.check == 0:
                    return self._checked(replay, inputs, key)
                return replay.run(inputs)
            del self._replays[key]  # the parameters changed: record again
            self._recompiles[key] = count = self._recompiles.get(key, 0) + 1
            if count > _MAX_RECOMPILES:  # something it reads changes at every call (torch's cache limit)
                self._refused[key] = f"recompiled {count - 1} times, the last because {miss}: runs eagerly from now"
                return self._eager(inputs, self._refused[key])
            result = self._record(inputs, key)
            self.last_fallback = f"recompiling: {miss}"
            return result
        return self._record(inputs, key)

    # ---- the eager paths --------------------------------------------------------------
    def _eager(self, inputs: tuple, reason: str) -> Any:
        self.last_fallback = reason
        loss, extras = _split(self.loss_fn(*inputs))
        if loss.requires_grad:  # under no_grad there is no graph: evaluation only
            loss.backward()
        return _result(loss.data, [t.data for t in extras])

    def _record(self, inputs: tuple, key: tuple) -> Any:
        try:
            recording = _Recording.of(self.loss_fn, inputs)
        except CompileError as err:
            self._refused[key] = self.last_fallback = str(err)
            return err.result
        previous = self._recordings.pop(key, None)
        if previous is None:
            self._recordings[key] = recording
            self.last_fallback = "recording (the step compiles at its second call)"
        else:
            difference = previous.differs_from(recording)
            if difference:
                self._refused[key] = f"the two recorded calls differ ({difference}): data-dependent Python"
                self.last_fallback = self._refused[key]
            else:
                try:
                    self._replays[key] = self._last = _Replay(recording, self.loss_fn)
                    self.last_fallback = "recorded (the next call replays)"
                except CompileError as err:
                    self._refused[key] = self.last_fallback = str(err)
        return recording.result

    def _checked(self, replay: _Replay, inputs: tuple, key: tuple) -> Any:
        """Run the replay and eager on the same inputs; keep eager's gradients; on a mismatch stop replaying."""
        before = [None if p.grad is None else p.grad.copy() for p in replay.leaves]
        compiled_loss = _loss_array(replay.run(inputs))
        compiled_grads = [p.grad for p in replay.leaves]
        for p, g in zip(replay.leaves, before):
            p.grad = g
        eager = self._eager(inputs, "")
        self.last_fallback = None
        eager_loss = _loss_array(eager)
        rtol, atol = (1e-10, 1e-12) if eager_loss.dtype == np.float64 else (1e-4, 1e-6)
        same = np.allclose(compiled_loss, eager_loss, rtol=rtol, atol=atol) and all(
            (a is None) == (b is None) and (a is None or np.allclose(a, b, rtol=rtol, atol=atol))
            for a, b in zip(compiled_grads, [p.grad for p in replay.leaves])
        )
        if not same:
            del self._replays[key]
            self._refused[key] = (
                f"check at call {self.calls}: the replay (loss {float(compiled_loss.sum()):.6g}) "
                f"disagreed with eager (loss {float(eager_loss.sum()):.6g}): loss_fn's Python "
                "takes another path now; running eagerly from here on"
            )
            self.last_fallback = self._refused[key]
            warnings.warn(f"mg.compile: {self.last_fallback}", RuntimeWarning, stacklevel=3)
        return eager


# --------------------------------------------------------------------------------------
# Guards and signatures
# --------------------------------------------------------------------------------------


def _mode_guard() -> str | None:
    state = autograd.engine_state()
    if not state.grad_enabled:
        return "grad mode is off (no_grad): ran loss_fn eagerly, without backward (evaluation)"
    if state.tape is not None:
        return "a trace() is active: ran eagerly so that it records every op"
    if state.anomaly:
        return "detect_anomaly() is active: ran eagerly so that every op is checked"
    return None


def _signature(inputs: tuple) -> tuple:
    """Shapes and dtypes of the tensor/array inputs, values of the others: one replay per signature."""
    key = []
    for x in inputs:
        data = x.data if isinstance(x, Tensor) else x
        if isinstance(data, np.ndarray):
            key.append((type(x).__name__, data.shape, data.dtype.str, x.requires_grad if isinstance(x, Tensor) else 0))
        else:
            try:
                hash(x)
            except TypeError:
                key.append(("id", id(x)))
            else:
                key.append(("value", type(x).__name__, x))
    return tuple(key)


def _split(result: Any) -> tuple[Tensor, list[Tensor]]:
    loss, *extras = result if isinstance(result, (tuple, list)) else (result,)
    if not isinstance(loss, Tensor) or not all(isinstance(t, Tensor) for t in extras):
        raise TypeError(
            f"compile: loss_fn must return a loss tensor, or a tuple (loss, *tensors); got {type(result).__name__}"
        )
    if loss.data.size != 1:
        raise ValueError(
            f"compile: loss_fn's loss must be a scalar tensor (backward() needs no grad=), got shape {loss.shape}"
        )
    return loss, list(extras)


def _loss_array(result: Any) -> np.ndarray:
    return (result[0] if isinstance(result, tuple) else result).data


def _result(loss: np.ndarray, extras: list[np.ndarray]) -> Any:
    loss_t = constant(loss)  # the replay's own arrays: wrapped as they are, no graph
    return (loss_t, *(constant(e) for e in extras)) if extras else loss_t


def _reachable_tensors(fn: Callable) -> list[Tensor]:
    """Every tensor ``fn`` can read (see :func:`_reachable`), each once."""
    seen: dict[int, Tensor] = {}
    for _, value in _reachable(fn):
        if isinstance(value, Tensor):
            seen.setdefault(id(value), value)
    return list(seen.values())


def _reachable(fn: Callable) -> list[tuple[tuple, Any]]:
    """Every (path, value) that ``fn`` can read, for the guards: tensors, numbers and small numpy
    arrays. A path names where the value was found (``("self", "W_hh")``, ``("closure", 0,
    param rnn.weight_hh_l0)``, ...), so a guard can tell that the object *at that place* is
    still the same one (a number or an array: still equal).

    Looked through: ``fn``'s bound ``self``, its closure cells and the globals it names (its
    comprehensions' and nested functions' too), and inside them Modules (each parameter under
    every name it has, tied weights too; then their other public attributes), lists, tuples,
    dicts, plain objects' attributes and the globals of the Python functions found there, up to
    ``_SEARCH_DEPTH`` levels deep."""
    found: list[tuple[tuple, Any]] = []
    seen: set[int] = set()

    def visit(obj: Any, path: tuple, depth: int) -> None:
        if isinstance(obj, Tensor) or isinstance(obj, (int, float, complex, np.generic)):
            found.append((path, obj))
            return
        if isinstance(obj, np.ndarray):
            if obj.size <= _WATCHED_ARRAY_SIZE:
                found.append((path, obj))
            return
        if depth > _SEARCH_DEPTH or id(obj) in seen or isinstance(obj, (str, bytes, type)):
            return
        seen.add(id(obj))
        if hasattr(obj, "named_parameters") and callable(obj.named_parameters):
            for name, p in obj.named_parameters(remove_duplicate=False):
                found.append(((*path, _ParameterOf(name)), p))
            for name, item in list(vars(obj).items())[:_SEARCH_WIDTH]:  # buffers, numbers, settings
                if not name.startswith("_") and not hasattr(item, "named_parameters"):
                    visit(item, (*path, name), depth + 1)
        elif isinstance(obj, (list, tuple)):
            for i, item in enumerate(obj[:_SEARCH_WIDTH]):
                visit(item, (*path, i), depth + 1)
        elif isinstance(obj, dict):
            for key, item in list(obj.items())[:_SEARCH_WIDTH]:
                if isinstance(key, (str, int)):
                    visit(item, (*path, key), depth + 1)
        elif isinstance(obj, types.FunctionType):  # a helper loss_fn calls: the globals it reads
            for name in _global_names(obj.__code__):
                if name in obj.__globals__ and not inspect.ismodule(obj.__globals__[name]):
                    visit(obj.__globals__[name], (*path, _GlobalOf(name)), depth + 1)
        elif not inspect.ismodule(obj) and not callable(obj):
            for name, item in list(getattr(obj, "__dict__", {}).items())[:_SEARCH_WIDTH]:
                visit(item, (*path, name), depth + 1)

    target = getattr(fn, "__func__", fn)
    owner = getattr(fn, "__self__", None)
    if owner is not None and not inspect.ismodule(owner):
        visit(owner, ("self",), 0)
    if hasattr(fn, "named_parameters"):
        visit(fn, ("fn",), 0)
    for i, cell in enumerate(getattr(target, "__closure__", None) or ()):
        try:
            visit(cell.cell_contents, ("closure", i), 0)
        except ValueError:  # an empty cell
            pass
    code = getattr(target, "__code__", None)
    if code is not None:
        namespace = getattr(target, "__globals__", {})
        for name in _global_names(code):
            if name in namespace and not inspect.ismodule(namespace[name]):
                visit(namespace[name], ("global", name), 0)
    return found


def _global_names(code: types.CodeType) -> list[str]:
    """The names a function's code may read as globals: its own, and its comprehensions' and
    nested functions' (each its own code object in Python 3.11); attribute names are in there too."""
    names: list[str] = []
    stack = [code]
    while stack:
        c = stack.pop()
        names += c.co_names
        stack += [k for k in c.co_consts if isinstance(k, types.CodeType)]
    return list(dict.fromkeys(names))


def _baked(plan: list) -> tuple[list, list[np.ndarray]]:
    """The floating-point numbers (literals and one-element constants) and the arrays that a
    recording bakes into its replay (``mg.tensor(MASK)`` bakes a copy of ``MASK``)."""
    scalars: list = []
    arrays: list[np.ndarray] = []
    stack = [b for _, operands, kwargs in plan for b in (*operands, *kwargs.values())]
    while stack:
        kind, *rest = stack.pop()
        if kind == "tuple":
            stack += rest[0]
        elif kind == "literal" and isinstance(rest[0], (float, complex, np.floating, np.complexfloating)):
            scalars.append(rest[0])
        elif kind == "const" and isinstance(rest[0], np.ndarray):
            arrays.append(rest[0])
            if rest[0].size == 1 and rest[0].dtype.kind in "fc":
                scalars.append(rest[0].item())
    return scalars, arrays


def _in(value: Any, scalars: list) -> bool:
    return any(value == s or (value != value and s != s) for s in scalars)


def _same_value(now: Any, then: Any) -> bool:
    """Still the value the replay baked in? (An array: the same contents; NaN stays NaN.)"""
    if isinstance(then, np.ndarray):
        return isinstance(now, np.ndarray) and np.array_equal(now, then, equal_nan=then.dtype.kind in "fc")
    if type(now) is not type(then):
        return False
    return bool(now == then) or (now != now and then != then)


_MAX_RECOMPILES = 8  # then the step stays eager for that signature
_WATCHED_ARRAY_SIZE = 65_536  # larger arrays are baked in unwatched (the rule in the module docstring)


class _GlobalOf(str):
    """A path step: the global of this name in the function found so far (``f.__globals__[name]``)."""

    def __str__(self) -> str:
        return f"global {super().__str__()}"


class _ParameterOf(str):
    """A path step: the Module's parameter of this dotted name (``module.get_parameter(name)``)."""

    def __str__(self) -> str:
        return f"param {super().__str__()}"


_SEARCH_DEPTH = 3  # self.layers[2].W, cfg.params["rnn"][0]: containers inside containers
_SEARCH_WIDTH = 1000  # items looked at per container


def _accessor(fn: Callable, path: tuple) -> Callable[[], Any]:
    """``lambda: _resolve(fn, path)``, with the fixed part of the path looked up once: the guard
    runs at every call, and a bound method's ``self``, a closure's cell and a module's globals
    dict never change (what they hold may)."""
    target = getattr(fn, "__func__", fn)
    head, rest = path[0], path[1:]
    if head == "self":
        owner = fn.__self__
        root: Callable[[], Any] = lambda: owner  # noqa: E731
    elif head == "fn":
        root = lambda: fn  # noqa: E731
    elif head == "closure":
        cell, rest = target.__closure__[rest[0]], rest[1:]
        root = lambda: cell.cell_contents  # noqa: E731
    else:
        namespace, global_name, rest = target.__globals__, rest[0], rest[1:]
        root = lambda: namespace.get(global_name)  # noqa: E731
    if not rest:
        return root
    if len(rest) == 1 and isinstance(rest[0], _ParameterOf):  # a module's parameter, "rnn.weight_hh_l0"
        name = str.__str__(rest[0])

        def get(module: Any) -> Any:
            return module.get_parameter(name)

    elif (
        head == "self" and len(rest) == 1 and type(rest[0]) is str and not isinstance(fn.__self__, (list, tuple, dict))
    ):  # a plain object's attribute, self.W
        get = operator.attrgetter(rest[0])
    else:
        return lambda: _resolve(fn, path)

    def look_again() -> Any:
        try:
            return get(root())
        except AttributeError:
            return None

    return look_again


def _resolve(fn: Callable, path: tuple) -> Any:
    """The object now at ``path`` (as ``_reachable`` names it), or None if the path no longer leads anywhere."""
    target = getattr(fn, "__func__", fn)
    try:
        head, *rest = path
        if head == "self":
            obj = fn.__self__
        elif head == "fn":
            obj = fn
        elif head == "closure":
            obj = target.__closure__[rest.pop(0)].cell_contents
        else:
            obj = target.__globals__[rest.pop(0)]
        while rest:
            step = rest.pop(0)
            if isinstance(step, _ParameterOf):
                obj = obj.get_parameter(str.__str__(step))
            elif isinstance(step, _GlobalOf):
                obj = obj.__globals__[str.__str__(step)]
            elif isinstance(obj, (list, tuple)):
                obj = obj[step]
            elif isinstance(obj, dict):
                obj = obj[step]
            else:
                obj = getattr(obj, step)
        return obj
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------
# A recorded call
# --------------------------------------------------------------------------------------


class _Recording:
    """One eager call of ``loss_fn`` under the tracer: its records and how each operand is bound.

    Operands are classified as ``("v", k)`` (the output of record k), ``("in", i)`` (input i,
    a tensor or the array a tensor wraps), ``("view", i, offset, shape, strides)`` (a numpy view
    of input i's array), ``("ref", id)`` (the same tensor object each call: a parameter, a fixed
    tensor; read afresh at each replay) or ``("const", array)`` (made anew each call, so it must
    hold the same values each call).
    """

    def __init__(self) -> None:
        self.records: list[tracing.Record] = []
        self.plan: list[tuple[str, list, dict]] = []  # (op, operand bindings, kwarg bindings)
        self.refs: dict[int, Tensor] = {}
        self.reachable: list[Tensor] = []
        self.loss_index = -1
        self.extra_indices: list[Any] = []
        self.result: Any = None
        self.inputs_template: list[tuple] = []
        self.inputs: tuple = ()

    @classmethod
    def of(cls, fn: Callable, inputs: tuple) -> _Recording:
        rec = cls()
        rec.reachable = _reachable_tensors(fn)
        versions = {id(t): autograd.version_of(t) for t in rec.reachable}
        rng_before = random.generator().bit_generator.state
        with tracing.trace() as tape:
            result = fn(*inputs)
        loss, extras = _split(result)
        loss.backward()
        rec.result = _result(loss.data, [t.data for t in extras])

        def refuse(why: str) -> CompileError:
            err = CompileError(why)
            err.result = rec.result
            return err

        if random.generator().bit_generator.state != rng_before:
            raise refuse("loss_fn draws random numbers (dropout?): a replay would reuse one draw")
        for t in rec.reachable:
            if autograd.version_of(t) != versions[id(t)]:
                raise refuse(f"loss_fn modifies a tensor in place (shape {t.shape}): a replay would not")
        rec.records = tape.records
        produced = {id(r.output): k for k, r in enumerate(rec.records)}
        for k, r in enumerate(rec.records):
            if r.op not in ops.PRIMITIVES or ops.PRIMITIVES[r.op] is not _primitive_of(r):
                raise refuse(
                    f"op {r.op!r} is not a row of the derivative table (e.g. mg.checkpoint): it cannot be replayed"
                )
            if r.output.hooks or r.output.retains_grad:
                raise refuse(
                    f"a hook or retain_grad() on the output of {r.op} (scope '{r.scope}'): "
                    "a replay keeps no intermediate tensors"
                )
            try:
                operands = [rec._bind(t, inputs, produced, k) for t in r.inputs]
                kwargs = {name: rec._bind_value(v, inputs, k) for name, v in (r.kwargs or {}).items()}
            except CompileError as err:
                raise refuse(str(err)) from None
            rec.plan.append((r.op, operands, kwargs))
        rec.loss_index = produced.get(id(loss), -1)
        if rec.loss_index < 0:
            raise refuse("loss_fn's loss is not the output of an op it ran")
        try:
            rec.extra_indices = [rec._bind(t, inputs, produced, len(rec.records)) for t in extras]
        except CompileError as err:
            raise refuse(str(err)) from None
        rec.inputs_template = [_signature((x,)) for x in inputs]
        rec.inputs = inputs
        return rec

    def _bind(self, t: Tensor, inputs: tuple, produced: dict, k: int) -> tuple:
        if id(t) in produced and produced[id(t)] < k:
            return ("v", produced[id(t)])
        for i, x in enumerate(inputs):
            if t is x or (isinstance(x, np.ndarray) and t.data is x) or (isinstance(x, Tensor) and t.data is x.data):
                return ("in", i)
        if t.op is not None:
            raise CompileError(
                f"an op reads a tensor computed before loss_fn ran (op {t.op}, shape {t.shape}): pass it as an input"
            )
        if any(t is r for r in self.reachable) or t.requires_grad:
            self.refs[id(t)] = t
            return ("ref", id(t))
        view = self._as_view(t.data, inputs)
        return view if view is not None else ("const", t.data)

    def _bind_value(self, value: Any, inputs: tuple, k: int) -> Any:
        if isinstance(value, np.ndarray):
            for j, r in enumerate(self.records[:k]):
                if value is r.output.data:
                    return ("v-data", j)
            for i, x in enumerate(inputs):
                if value is x or (isinstance(x, Tensor) and value is x.data):
                    return ("in", i)
            view = self._as_view(value, inputs)
            return view if view is not None else ("const", value)
        if isinstance(value, dict):
            return ("scratch",)  # a row's scratch space, filled by its forward (cross_entropy's softmax)
        if isinstance(value, tuple):
            return ("tuple", tuple(self._bind_value(v, inputs, k) for v in value))
        if isinstance(value, (*_LITERALS, np.dtype, np.generic)):
            return ("literal", value)
        raise CompileError(f"a keyword argument of type {type(value).__name__} cannot be replayed")

    @staticmethod
    def _as_view(array: np.ndarray, inputs: tuple) -> tuple | None:
        base = array.base
        if base is None:
            return None
        for i, x in enumerate(inputs):
            data = x.data if isinstance(x, Tensor) else x
            if isinstance(data, np.ndarray) and (base is data or base is data.base and data.base is not None):
                start = data.__array_interface__["data"][0]
                offset = array.__array_interface__["data"][0] - start
                if 0 <= offset < max(data.nbytes, 1) and array.dtype == data.dtype:
                    return ("view", i, offset, array.shape, array.strides)
        return None

    def differs_from(self, other: _Recording) -> str | None:
        """None if both calls ran the same ops on the same kinds of operands, else where they part."""
        if len(self.plan) != len(other.plan):
            return f"{len(self.plan)} ops, then {len(other.plan)}"
        for k, ((op_a, args_a, kw_a), (op_b, args_b, kw_b)) in enumerate(zip(self.plan, other.plan)):
            where = f"op {k} ({op_a}, scope '{self.records[k].scope}')"
            if op_a != op_b:
                return f"{where} became {op_b}"
            if (
                not _same(args_a, args_b)
                or kw_a.keys() != kw_b.keys()
                or not all(_same(kw_a[n], kw_b[n]) for n in kw_a)
            ):
                return f"{where} got other operands or arguments"
        if self.loss_index != other.loss_index or not _same(self.extra_indices, other.extra_indices):
            return "the loss or the returned tensors come from other ops"
        return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and bool(np.array_equal(a, b))
        )
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - incomparable values are different values
        return False


def _primitive_of(record: tracing.Record) -> Any:
    return record.output.primitive if record.output.primitive is not None else ops.PRIMITIVES.get(record.op)


# --------------------------------------------------------------------------------------
# The replay: generated Python
# --------------------------------------------------------------------------------------


class _Replay:
    """The generated forward + backward of one recording, and the guards it runs under."""

    def __init__(self, rec: _Recording, loss_fn: Callable) -> None:
        self.rec = rec
        self.loss_fn = loss_fn
        self.refs = list(rec.refs.values())
        self.leaves = [t for t in self.refs if t.requires_grad]
        used = {id(t) for t in self.refs}  # where each tensor the replay reads was found
        reachable = _reachable(loss_fn)
        self.guarded = [  # (where loss_fn finds it, how to look there again, the tensor found)
            (path, _accessor(loss_fn, path), t)
            for path, t in reachable
            if isinstance(t, Tensor) and id(t) in used and _resolve(loss_fn, path) is t
        ]
        # numbers and arrays the replay baked in as constants: still equal? (Only those it baked:
        # an optimizer's step count in the same object must not recompile the step every call.)
        scalars, arrays = _baked(rec.plan)
        self.values = [
            (".".join(map(str, path)), _accessor(loss_fn, path), v.copy() if isinstance(v, np.ndarray) else v)
            for path, v in reachable
            if (isinstance(v, np.ndarray) and any(_same_value(v, a) for a in arrays))
            or (isinstance(v, (float, complex, np.floating, np.complexfloating)) and _in(v, scalars))
        ]
        watched = {id(t) for *_, t in self.guarded}
        for t in self.refs:
            if id(t) not in watched:  # replaced where loss_fn finds it, the replay would not know
                what = f"{t.name!r} " if t.name else ""
                raise CompileError(
                    f"a parameter {what}of shape {t.shape} that loss_fn reads is not reachable from its "
                    "closure, globals or bound self (through Modules, lists, dicts and object attributes, "
                    f"{_SEARCH_DEPTH} levels deep): a replay could not tell if it were replaced, so the step "
                    "stays eager; keep parameters in a Module, or pass them as arguments"
                )
        self.shapes = [(t.shape, t.dtype) for t in self.refs]
        self.inputs_needing_grad = {i: x for i, x in enumerate(rec.inputs) if isinstance(x, Tensor) and x.requires_grad}
        self.namespace: dict[str, Any] = {"np": np, "unbroadcast": unbroadcast, "_accumulate_into": _accumulate_into}
        self.alias = self._shared_parameter_ops()
        self.source = self._generate()
        code = compile_python(self.source, "<mg.compile>", "exec")
        exec(code, self.namespace)  # noqa: S102 - our own generated code
        self._fn = self.namespace["compiled_step"]

    def guard(self) -> str | None:
        for where, look_again, value in self.values:
            if not _same_value(look_again(), value):
                return f"{where}, which loss_fn can read, changed since the step was recorded"
        if self.guarded:
            for path, look_again, t in self.guarded:
                if look_again() is not t:
                    where = ".".join(str(part) for part in path)
                    return f"the tensor loss_fn reads at {where} is another object now (a replaced parameter or module)"
        for t, (shape, dtype) in zip(self.refs, self.shapes):
            if t.data.shape != shape or t.data.dtype != dtype:
                return f"a parameter changed shape or dtype ({shape} {dtype} -> {t.data.shape} {t.data.dtype})"
        return None

    def hooked_parameter(self) -> str | None:
        for t in self.refs:
            if t.hooks:
                return f"a hook is registered on a parameter of shape {t.shape}: ran eagerly so that it runs"
        return None

    def run(self, inputs: tuple) -> Any:
        arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
        loss, extras = self._fn(self.refs, inputs, *arrays)
        return _result(loss, extras)

    def _shared_parameter_ops(self) -> dict[int, int]:
        """Records that repeat an earlier op on the same parameters (``W_hh.T`` at every timestep):
        record k -> the first one. The replay computes it once and its gradients meet there."""
        first: dict[tuple, int] = {}
        alias: dict[int, int] = {}
        for k, (op, operands, kwargs) in enumerate(self.rec.plan):
            if not operands or any(b[0] != "ref" for b in operands):
                continue
            if any(b[0] not in ("literal", "tuple") for b in kwargs.values()):
                continue
            key = (op, tuple(operands), repr(sorted(kwargs.items())))
            if key in first:
                alias[k] = first[key]
            else:
                first[key] = k
        return alias

    # ---- code generation --------------------------------------------------------------
    def _name_ref(self, t: Tensor, index: int, used: set) -> str:
        base = "".join(c if c.isalnum() or c == "_" else "_" for c in (t.name or f"p{index}"))
        if base[0].isdigit() or keyword.iskeyword(base) or base in used:
            base = "p_" + base
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        return name

    def _constant(self, value: Any) -> str:
        name = f"c{self._n_constants}"
        self._n_constants += 1
        self.namespace[name] = value
        return name

    def _value(self, binding: Any, names: dict) -> str:
        kind = binding[0]
        if kind in ("v", "v-data"):
            return f"v{self.alias.get(binding[1], binding[1])}"
        if kind == "in":
            return f"in{binding[1]}"
        if kind == "view":  # the same slice of an input array as when recorded
            _, i, offset, shape, strides = binding
            return f"np.ndarray({shape}, in{i}.dtype, in{i}, {offset}, {strides})"
        if kind == "ref":
            return f"{names[binding[1]]}.data"
        if kind == "const":
            return self._constant(binding[1])
        if kind == "tuple":
            inner = ", ".join(self._value(b, names) for b in binding[1])
            return f"({inner},)" if len(binding[1]) == 1 else f"({inner})"
        value = binding[1]  # a literal
        if value is Ellipsis:
            return "..."
        if isinstance(value, (type(None), bool, int, float, str, slice)):
            return repr(value)
        return self._constant(value)

    def _generate(self) -> str:
        rec = self.rec
        self._n_constants = 0
        used = {"np", "unbroadcast", "refs", "inputs", *ops.PRIMITIVES, *(f"{op}_vjp" for op in ops.PRIMITIVES)}
        names = {id(t): self._name_ref(t, i, used) for i, t in enumerate(self.refs)}
        n_in = len(rec.inputs_template)
        lines = [
            f"def compiled_step(refs, inputs, {', '.join(f'in{i}' for i in range(n_in))}):",
            '    """Forward, then backward, as loss.backward() would run them (generated by mg.compile)."""',
        ]
        if self.refs:
            lines.append(f"    {', '.join(names[id(t)] for t in self.refs)}{',' if len(self.refs) == 1 else ''} = refs")
        lines.append("    # forward: one line per op, each a row of the derivative table (ops.py)")
        self._kw_src: list[str] = []
        for k, (op, operands, kwargs) in enumerate(rec.plan):
            if k in self.alias:
                self._kw_src.append("")
                continue  # computed once, at its first record
            self.namespace[op] = ops.PRIMITIVES[op].forward
            args = [self._value(b, names) for b in operands]
            kw = {}
            for n, b in kwargs.items():
                if b[0] == "scratch":  # a row's scratch dict: the forward fills it for the VJP
                    lines.append(f"    s{k} = {{}}")
                    kw[n] = f"s{k}"
                else:
                    kw[n] = self._value(b, names)
            self._kw_src.append("".join(f", {n}={v}" for n, v in kw.items()))
            call = ", ".join(args) + self._kw_src[k]
            lines.append(_with_comment(f"    v{k} = {op}({call})", rec.records[k].scope))
        lines.append("    # backward: the VJPs, last op first; g_X is dL/dX")
        lines += self._backward_lines(names)
        extras = ", ".join(self._value(b, names) for b in rec.extra_indices)
        lines.append(f"    return v{rec.loss_index}, [{extras}]")
        return "\n".join(lines) + "\n"

    def _backward_lines(self, names: dict) -> list[str]:
        rec = self.rec
        records = rec.records
        needs = [r.output.requires_grad for r in records]
        grad_inputs = set(self.inputs_needing_grad)
        state: dict[str, str] = {}  # gradient variable -> "fresh" (may alias another) or "owned"
        seed = f"g_v{rec.loss_index}"
        loss = records[rec.loss_index].output.data
        lines = [f"    {seed} = np.ones({loss.shape}, np.{loss.dtype})  # dL/dL = 1"]
        state[seed] = "owned"

        def target_of(binding: tuple) -> tuple[str, Any] | None:
            if binding[0] == "v" and needs[binding[1]]:
                j = self.alias.get(binding[1], binding[1])
                return f"g_v{j}", records[j].output
            if binding[0] == "ref" and rec.refs[binding[1]].requires_grad:
                return f"g_{names[binding[1]]}", rec.refs[binding[1]]
            if binding[0] == "in" and binding[1] in grad_inputs:
                return f"g_in{binding[1]}", self.inputs_needing_grad[binding[1]]
            return None

        # W's gradient in y_t = a_t @ W with a thin a_t (batch 1): the per-step products a_t^T g_t
        # wait here, and W's turn sums them as ONE matmul of the stacked pairs
        deferred: dict[str, list[tuple[str, str]]] = {}

        def add_deferred(var: str) -> None:
            pairs = deferred.pop(var)
            if len(pairs) == 1:  # one step: its product as it is
                expr = f"np.dot({pairs[0][0]}.T, {pairs[0][1]})"
            else:
                a_rows = ", ".join(a for a, _ in pairs)
                g_rows = ", ".join(gt for _, gt in pairs)
                expr = f"np.dot(np.concatenate([{a_rows}]).T, np.concatenate([{g_rows}]))"
                lines.append(f"    # {var} = sum_t a_t^T g_t = [a_1; ...; a_T]^T [g_1; ...; g_T]: one matmul")
            if var not in state:
                lines.append(f"    {var} = {expr}")
            elif state[var] == "owned":
                lines.append(f"    {var} += {expr}")
            else:
                lines.append(f"    {var} = {var} + {expr}")
            state[var] = "owned"

        for k in range(len(records) - 1, -1, -1):
            g = f"g_v{k}"
            if g in deferred:
                add_deferred(g)
            if g not in state:
                continue  # no gradient reaches this op
            op, operands, _ = rec.plan[k]
            prim = ops.PRIMITIVES[op]
            scope = records[k].scope
            args = ", ".join([f"v{k}"] + [self._value(b, names) for b in operands]) + self._kw_src[k]
            if prim.variadic:  # one VJP gives every input's gradient
                self.namespace[f"{op}_vjp"] = prim.vjps
                lines.append(_with_comment(f"    d{k} = {op}_vjp({g}, {args})", scope))
            for i, binding in enumerate(operands):
                target = target_of(binding)
                if target is None:
                    continue
                var, tensor = target
                if prim.accumulate:  # the row adds into a full-size buffer (getitem)
                    self.namespace[f"{op}_vjp{i}"] = prim.vjps[i]
                    if state.get(var) != "owned":
                        start = f"np.zeros({tensor.shape}, np.{tensor.dtype})" if var not in state else f"{var}.copy()"
                        lines.append(f"    {var} = {start}")
                        state[var] = "owned"
                    lines.append(_with_comment(f"    {op}_vjp{i}({var}, {g}, {args})", scope))
                    continue
                left = _THIN_PRODUCT_LEFT.get((op, i))
                if left is not None and self._thin(k, left, tensor):
                    deferred.setdefault(var, []).append((self._value(operands[left], names), g))
                    continue
                if prim.variadic:
                    expr = f"d{k}[{i}]"
                elif _passes_gradient_through(prim.vjps[i]):  # d(a + b)/da = 1: the VJP is g itself
                    expr = g
                else:
                    self.namespace[f"{op}_vjp{i}"] = prim.vjps[i]
                    expr = f"{op}_vjp{i}({g}, {args})"
                grad_shape, grad_dtype = self._vjp_result(k, i)
                if grad_shape != tensor.shape:  # shapes are known now: sum back only where numpy broadcast
                    expr = _sum_to_shape(expr, grad_shape, tensor.shape)
                if grad_dtype != tensor.dtype:
                    expr = f"({expr}).astype(np.{tensor.dtype})"
                if var not in state:  # the first path: may be another variable's array (g passed through)
                    lines.append(_with_comment(f"    {var} = {expr}", scope))
                    state[var] = "fresh"
                elif state[var] == "owned":  # an array this function made: add in place
                    lines.append(_with_comment(f"    {var} += {expr}", scope))
                else:  # the second path: a new array, ours from now on
                    lines.append(_with_comment(f"    {var} = {var} + {expr}", scope))
                    state[var] = "owned"
        for var in list(deferred):  # parameters and inputs: their sums are complete now
            add_deferred(var)
        lines.append("    # leaves: gradients accumulate into .grad, as backward() does")
        for t in self.leaves:
            var = f"g_{names[id(t)]}"
            if var in state:
                lines.append(f"    _accumulate_into({names[id(t)]}, {var})")
        for i in sorted(grad_inputs):
            if f"g_in{i}" in state:
                lines.append(f"    _accumulate_into(inputs[{i}], g_in{i})")
        return lines

    def _thin(self, k: int, left: int, weight: Tensor) -> bool:
        """Record k's weight gradient ``a^T g`` is deferred as ``backward`` would (``autograd.is_thin_product``)."""
        r = self.rec.records[k]
        return autograd.is_thin_product(r.inputs[left].data, r.output.data, weight.data)

    def _vjp_result(self, k: int, i: int) -> tuple[tuple, np.dtype]:
        """Shape and dtype of record k's VJP for input i, found by running it once on the recording."""
        r = self.rec.records[k]
        prim = ops.PRIMITIVES[r.op]
        g = np.ones_like(r.output.data)
        args = [t.data for t in r.inputs]
        with np.errstate(all="ignore"):
            if prim.variadic:
                result = prim.vjps(g, r.output.data, *args, **(r.kwargs or {}))[i]
            else:
                result = prim.vjps[i](g, r.output.data, *args, **(r.kwargs or {}))
        result = np.asarray(result)
        return result.shape, result.dtype


# Rows whose gradient for one input is ``a^T @ g`` (a weight), and which operand is ``a``.
# (row name, the weight's input) -> the input ``a`` of its share ``a^T g``: autograd's table, by name
_THIN_PRODUCT_LEFT = {(row.name, w): a for row, (w, a) in autograd.THIN_PRODUCTS.items()}


def _passes_gradient_through(vjp: Callable) -> bool:
    """A row whose VJP is ``lambda g, ...: g`` (add, sub's first input): the replay writes ``g`` itself."""
    code = getattr(vjp, "__code__", None)
    return code is not None and code.co_code == _RETURNS_G.co_code and code.co_argcount >= 1


_RETURNS_G = (lambda g, *rest: g).__code__


def _sum_to_shape(expr: str, shape: tuple, target: tuple) -> str:
    """``unbroadcast`` written out for shapes known at compile time: sum the leading axes numpy
    added, then (keeping them) the axes where the input had size 1."""
    lead = len(shape) - len(target)
    if lead:
        expr = f"{expr}.sum(axis={tuple(range(lead))})"
    ones = tuple(i for i, n in enumerate(target) if n == 1 and shape[lead + i] != 1)
    if ones:
        expr = f"{expr}.sum(axis={ones}, keepdims=True)"
    return expr


def _accumulate_into(leaf: Tensor, g: np.ndarray) -> None:
    autograd.accumulate_grad(leaf, np.asarray(g, dtype=leaf.data.dtype), owned=False)


def _with_comment(line: str, scope: str) -> str:
    return f"{line:<78}  # {scope}" if scope else line


compile_python = __builtins__["compile"] if isinstance(__builtins__, dict) else __builtins__.compile

__all__ = ["CompileError", "CompiledStep", "compile"]
