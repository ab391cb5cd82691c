"""Graders for the week-1 exercises: ``check(name, fn)`` returns ``True`` or raises ``AssertionError``.

A learner writes one of the course's functions and hands it to the grader::

    from models.exercises import check
    check("rnn_cell_backward", rnn_cell_backward)      # True, or an AssertionError that says what is wrong

The grader runs ``fn`` on the course's own test cases (the examples the assignment prints, with
the same ``np.random.seed`` calls, and its ``public_tests`` seeds) and then on random shapes,
and compares every output with the reference solution in :mod:`models.rnn_step_by_step`; for
the backward functions the expected gradients come from **minigrad's autograd** run on the same
forward (the reference agrees with it to 1e-10, ``tests/test_rnn_step_by_step.py``). The first
wrong value is reported by output key and index, with the expected and the received value and,
when the mistake is a known one, a hint:

    rnn_backward: dx[0, 0, 0] is wrong: expected 0.27334554, got 0.072752459 (90 of 120 entries
    differ, the largest by 12.8) (expected values: minigrad autograd)
      case: the course's example (np.random.seed(1); n_x=3, n_a=5, m=10, T_x=4)
      hint: da_next misses the contribution of da_prevt: each step receives da[:, :, t] + da_prevt ...
      wrong: dx, da0, dWax, dWaa, dba

Hints come from replaying *known mistakes* (a transposed weight, ``da_next`` left out of the sum,
a dropped gate term, a loop off by one timestep ...) on the failing case: when one of them
produces exactly the learner's wrong value, its hint is shown. Otherwise the shape of the error
is described (transposed, sign flipped, all zeros, shifted by one timestep). docs/learn.md has
the whole story.

The learner's function gets copies of the inputs, so nothing it does in place can spoil the
reference; backward functions get the *reference* forward's caches, so a wrong forward cannot
hide or cause a backward error. A stub that raises ``NotImplementedError`` propagates unchanged.

``clip``, ``sample`` and ``optimize`` are Dinosaurus Island's (:mod:`models.dinosaurus`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import minigrad as mg
from models import dinosaurus as dino
from models import rnn_step_by_step as sbs

__all__ = ["EXERCISES", "check"]

#: relative and absolute tolerance of every comparison (float64 reorderings are ~1e-15)
RTOL, ATOL = 1e-6, 1e-9

_RNN_CACHE = ("a_next", "a_prev", "xt", "parameters")
_LSTM_CACHE = ("a_next", "c_next", "a_prev", "c_prev", "ft", "it", "cct", "ot", "xt", "parameters")
_RNN_GRADS = ("dxt", "da_prev", "dWax", "dWaa", "dba")
_RNN_SEQ_GRADS = ("dx", "da0", "dWax", "dWaa", "dba")
_LSTM_GRADS = ("dxt", "da_prev", "dc_prev", "dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo")
_LSTM_SEQ_GRADS = ("dx", "da0", "dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo")


class _MalformedError(AssertionError):
    """The learner's result does not have the course's structure (count, type, keys)."""


@dataclass
class Case:
    """One test case: the arguments ``fn`` is called with, what they are, and the forward inputs
    that autograd needs to recompute a backward function's gradients."""

    label: str
    args: tuple
    forward: dict[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Exercise:
    """What the grader knows about one exercise."""

    name: str
    signature: str
    cases: Callable[[], list[Case]]
    expected: Callable[[Case], dict[str, Any]]  # the right outputs, by display key
    named: Callable[[Any], dict[str, Any]]  # a result (right or wrong) -> outputs by display key
    mistakes: Sequence[tuple[str, Callable[..., Any]]] = ()  # (hint, a function making that mistake)
    source: str = "the reference solution"
    in_place_ok: bool = False  # the course's own function updates its arguments
    after: str = ""  # said when a function it calls may be the culprit
    updated: Callable[[tuple], dict[str, Any]] | None = None  # outputs read off the arguments after the call


# ---- building the course's cases -------------------------------------------------------------


def _randn(seed: int) -> Callable[..., np.ndarray]:
    """``np.random.seed(seed); np.random.randn(...)`` without touching numpy's global state."""
    return np.random.RandomState(seed).randn


def _rnn_params(
    randn: Callable[..., np.ndarray],
    n_x: int,
    n_a: int,
    n_y: int,
    order: Sequence[str] = ("Waa", "Wax", "Wya", "ba", "by"),
) -> dict[str, np.ndarray]:
    shapes = {"Waa": (n_a, n_a), "Wax": (n_a, n_x), "Wya": (n_y, n_a), "ba": (n_a, 1), "by": (n_y, 1)}
    return {k: randn(*shapes[k]) for k in order}


def _lstm_params(
    randn: Callable[..., np.ndarray], n_x: int, n_a: int, n_y: int, zero_output: bool = False
) -> dict[str, np.ndarray]:
    p = {}
    for gate in "fioc":  # the course draws them in this order
        p[f"W{gate}"] = randn(n_a, n_a + n_x)
        p[f"b{gate}"] = randn(n_a, 1)
    if zero_output:  # the backward example: "unused, but needed for lstm_forward"
        p["Wy"], p["by"] = np.zeros((n_y, n_a)), np.zeros((n_y, 1))
    else:
        p["Wy"], p["by"] = randn(n_y, n_a), randn(n_y, 1)
    return p


def _dims(**sizes: int) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items())


# Random shapes: a square one (n_x = n_a, so a transposed weight gives wrong numbers instead of a
# shape error), one example (m = 1), and everything different (a wrong axis shows as a wrong shape).
_RANDOM_SHAPES = ({"n_x": 4, "n_a": 4, "n_y": 3, "m": 1, "T_x": 5}, {"n_x": 2, "n_a": 6, "n_y": 3, "m": 7, "T_x": 3})


def _random_cases(make: Callable[[np.random.Generator, dict[str, int]], Case]) -> list[Case]:
    cases = []
    for i, dims in enumerate(_RANDOM_SHAPES):
        case = make(np.random.default_rng(100 + i), dims)
        case.label = f"random shapes (np.random.default_rng({100 + i}); {_dims(**dims)})"
        cases.append(case)
    return cases


def _rng_rnn_params(rng: np.random.Generator, d: dict[str, int]) -> dict[str, np.ndarray]:
    return _rnn_params(lambda *s: rng.standard_normal(s), d["n_x"], d["n_a"], d["n_y"])


def _rng_lstm_params(rng: np.random.Generator, d: dict[str, int]) -> dict[str, np.ndarray]:
    return _lstm_params(lambda *s: rng.standard_normal(s), d["n_x"], d["n_a"], d["n_y"])


def _rnn_cell_forward_cases() -> list[Case]:
    randn = _randn(1)
    xt, a_prev = randn(3, 10), randn(5, 10)
    cases = [
        Case(
            f"the course's example (np.random.seed(1); {_dims(n_x=3, n_a=5, n_y=2, m=10)})",
            (xt, a_prev, _rnn_params(randn, 3, 5, 2)),
        )
    ]

    def make(rng: np.random.Generator, d: dict[str, int]) -> Case:
        xt, a_prev = rng.standard_normal((d["n_x"], d["m"])), rng.standard_normal((d["n_a"], d["m"]))
        return Case("", (xt, a_prev, _rng_rnn_params(rng, d)))

    return cases + _random_cases(make)


def _rnn_forward_cases() -> list[Case]:
    cases = []
    for seed, (n_x, m, T_x, n_a, n_y), what in (
        (1, (3, 10, 4, 5, 2), "the course's example"),
        (17, (4, 8, 13, 7, 3), "public_tests"),
    ):
        randn = _randn(seed)
        x, a0 = randn(n_x, m, T_x), randn(n_a, m)
        cases.append(
            Case(
                f"{what} (np.random.seed({seed}); {_dims(n_x=n_x, n_a=n_a, n_y=n_y, m=m, T_x=T_x)})",
                (x, a0, _rnn_params(randn, n_x, n_a, n_y)),
            )
        )

    def make(rng: np.random.Generator, d: dict[str, int]) -> Case:
        x, a0 = rng.standard_normal((d["n_x"], d["m"], d["T_x"])), rng.standard_normal((d["n_a"], d["m"]))
        return Case("", (x, a0, _rng_rnn_params(rng, d)))

    return cases + _random_cases(make)


def _lstm_cell_forward_cases() -> list[Case]:
    cases = []
    for seed, (n_x, m, n_a, n_y), what in (
        (1, (3, 10, 5, 2), "the course's example"),
        (212, (4, 8, 7, 3), "public_tests"),
    ):
        randn = _randn(seed)
        xt, a_prev, c_prev = randn(n_x, m), randn(n_a, m), randn(n_a, m)
        cases.append(
            Case(
                f"{what} (np.random.seed({seed}); {_dims(n_x=n_x, n_a=n_a, n_y=n_y, m=m)})",
                (xt, a_prev, c_prev, _lstm_params(randn, n_x, n_a, n_y)),
            )
        )

    def make(rng: np.random.Generator, d: dict[str, int]) -> Case:
        xt, a_prev, c_prev = (rng.standard_normal((n, d["m"])) for n in (d["n_x"], d["n_a"], d["n_a"]))
        return Case("", (xt, a_prev, c_prev, _rng_lstm_params(rng, d)))

    return cases + _random_cases(make)


def _lstm_forward_cases() -> list[Case]:
    cases = []
    for seed, (n_x, m, T_x, n_a, n_y), what in (
        (1, (3, 10, 7, 5, 2), "the course's example"),
        (45, (4, 13, 16, 3, 2), "public_tests"),
    ):
        randn = _randn(seed)
        x, a0 = randn(n_x, m, T_x), randn(n_a, m)
        cases.append(
            Case(
                f"{what} (np.random.seed({seed}); {_dims(n_x=n_x, n_a=n_a, n_y=n_y, m=m, T_x=T_x)})",
                (x, a0, _lstm_params(randn, n_x, n_a, n_y)),
            )
        )

    def make(rng: np.random.Generator, d: dict[str, int]) -> Case:
        x, a0 = rng.standard_normal((d["n_x"], d["m"], d["T_x"])), rng.standard_normal((d["n_a"], d["m"]))
        return Case("", (x, a0, _rng_lstm_params(rng, d)))

    return cases + _random_cases(make)


def _rnn_cell_backward_cases() -> list[Case]:
    randn = _randn(1)
    xt, a_prev = randn(3, 10), randn(5, 10)
    p = _rnn_params(randn, 3, 5, 2, order=("Wax", "Waa", "Wya", "ba", "by"))
    cache = sbs.rnn_cell_forward(xt, a_prev, p)[2]
    da_next = randn(5, 10)
    cases = [
        Case(
            f"the course's example (np.random.seed(1); {_dims(n_x=3, n_a=5, m=10)})",
            (da_next, cache),
            {"xt": xt, "a_prev": a_prev, "parameters": p},
        )
    ]

    def make(rng: np.random.Generator, d: dict[str, int]) -> Case:
        xt, a_prev = rng.standard_normal((d["n_x"], d["m"])), rng.standard_normal((d["n_a"], d["m"]))
        p = _rng_rnn_params(rng, d)
        cache = sbs.rnn_cell_forward(xt, a_prev, p)[2]
        return Case("", (rng.standard_normal((d["n_a"], d["m"])), cache), {"xt": xt, "a_prev": a_prev, "parameters": p})

    return cases + _random_cases(make)


def _rnn_backward_cases() -> list[Case]:
    randn = _randn(1)
    x, a0 = randn(3, 10, 4), randn(5, 10)
    p = _rnn_params(randn, 3, 5, 2, order=("Wax", "Waa", "Wya", "ba", "by"))
    caches = sbs.rnn_forward(x, a0, p)[2]
    da = randn(5, 10, 4)
    cases = [
        Case(
            f"the course's example (np.random.seed(1); {_dims(n_x=3, n_a=5, m=10, T_x=4)})",
            (da, caches),
            {"x": x, "a0": a0, "parameters": p},
        )
    ]

    def make(rng: np.random.Generator, d: dict[str, int]) -> Case:
        x, a0 = rng.standard_normal((d["n_x"], d["m"], d["T_x"])), rng.standard_normal((d["n_a"], d["m"]))
        p = _rng_rnn_params(rng, d)
        caches = sbs.rnn_forward(x, a0, p)[2]
        da = rng.standard_normal((d["n_a"], d["m"], d["T_x"]))
        return Case("", (da, caches), {"x": x, "a0": a0, "parameters": p})

    return cases + _random_cases(make)


def _lstm_cell_backward_cases() -> list[Case]:
    randn = _randn(1)
    xt, a_prev, c_prev = randn(3, 10), randn(5, 10), randn(5, 10)
    p = _lstm_params(randn, 3, 5, 2)
    cache = sbs.lstm_cell_forward(xt, a_prev, c_prev, p)[3]
    da_next, dc_next = randn(5, 10), randn(5, 10)
    cases = [
        Case(
            f"the course's example (np.random.seed(1); {_dims(n_x=3, n_a=5, m=10)})",
            (da_next, dc_next, cache),
            {"xt": xt, "a_prev": a_prev, "c_prev": c_prev, "parameters": p},
        )
    ]

    def make(rng: np.random.Generator, d: dict[str, int]) -> Case:
        xt, a_prev, c_prev = (rng.standard_normal((n, d["m"])) for n in (d["n_x"], d["n_a"], d["n_a"]))
        p = _rng_lstm_params(rng, d)
        cache = sbs.lstm_cell_forward(xt, a_prev, c_prev, p)[3]
        da_next, dc_next = rng.standard_normal((d["n_a"], d["m"])), rng.standard_normal((d["n_a"], d["m"]))
        return Case("", (da_next, dc_next, cache), {"xt": xt, "a_prev": a_prev, "c_prev": c_prev, "parameters": p})

    return cases + _random_cases(make)


def _lstm_backward_cases() -> list[Case]:
    randn = _randn(1)
    x, a0 = randn(3, 10, 7), randn(5, 10)
    p = _lstm_params(randn, 3, 5, 2, zero_output=True)
    caches = sbs.lstm_forward(x, a0, p)[3]
    da = randn(5, 10, 4)
    cases = [
        Case(
            f"the course's example (np.random.seed(1); {_dims(n_x=3, n_a=5, m=10)}, a forward of "
            "T_x=7 steps and a da of 4)",
            (da, caches),
            {"x": x, "a0": a0, "parameters": p},
            note="this case runs the forward over 7 steps and passes a da of 4, as the course's "
            "example does: read T_x from da.shape, not from the caches",
        )
    ]

    def make(rng: np.random.Generator, d: dict[str, int]) -> Case:
        x, a0 = rng.standard_normal((d["n_x"], d["m"], d["T_x"])), rng.standard_normal((d["n_a"], d["m"]))
        p = _rng_lstm_params(rng, d)
        caches = sbs.lstm_forward(x, a0, p)[3]
        da = rng.standard_normal((d["n_a"], d["m"], d["T_x"]))
        return Case("", (da, caches), {"x": x, "a0": a0, "parameters": p})

    return cases + _random_cases(make)


# ---- expected values: the reference for forwards, autograd for backwards ----------------------


def _lstm_cell_autograd(
    da_next: np.ndarray,
    dc_next: np.ndarray,
    xt: np.ndarray,
    a_prev: np.ndarray,
    c_prev: np.ndarray,
    parameters: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Gradients of ``J = sum(da_next * a_next) + sum(dc_next * c_next)`` by minigrad's autograd
    (float64): exactly what ``lstm_cell_backward`` computes by hand."""
    leaf = {k: mg.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for k, v in parameters.items()}
    x_t, a_t, c_t = (mg.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in (xt, a_prev, c_prev))
    concat = mg.concat([a_t, x_t], axis=0)
    ft = (leaf["Wf"] @ concat + leaf["bf"]).sigmoid()
    it = (leaf["Wi"] @ concat + leaf["bi"]).sigmoid()
    cct = (leaf["Wc"] @ concat + leaf["bc"]).tanh()
    c_next = ft * c_t + it * cct
    ot = (leaf["Wo"] @ concat + leaf["bo"]).sigmoid()
    a_next = ot * c_next.tanh()
    ((a_next * mg.tensor(da_next)).sum() + (c_next * mg.tensor(dc_next)).sum()).backward()
    grads = {"dxt": x_t.grad, "da_prev": a_t.grad, "dc_prev": c_t.grad}
    grads.update({f"d{k}": leaf[k].grad for k in ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo")})
    return grads


def _expected_rnn_cell_backward(case: Case) -> dict[str, Any]:
    da_next, _ = case.args
    f = case.forward
    g = sbs.rnn_backward_autograd(da_next[:, :, None], f["xt"][:, :, None], f["a_prev"], f["parameters"])
    g = {"dxt": g["dx"][:, :, 0], "da_prev": g["da0"], "dWax": g["dWax"], "dWaa": g["dWaa"], "dba": g["dba"]}
    return {k: g[k] for k in _RNN_GRADS}


def _expected_rnn_backward(case: Case) -> dict[str, Any]:
    f = case.forward
    g = sbs.rnn_backward_autograd(case.args[0], f["x"], f["a0"], f["parameters"])
    return {k: g[k] for k in _RNN_SEQ_GRADS}


def _expected_lstm_cell_backward(case: Case) -> dict[str, Any]:
    da_next, dc_next, _ = case.args
    f = case.forward
    g = _lstm_cell_autograd(da_next, dc_next, f["xt"], f["a_prev"], f["c_prev"], f["parameters"])
    return {k: g[k] for k in _LSTM_GRADS}


def _expected_lstm_backward(case: Case) -> dict[str, Any]:
    f = case.forward
    g = sbs.lstm_backward_autograd(case.args[0], f["x"], f["a0"], f["parameters"])
    return {k: g[k] for k in _LSTM_SEQ_GRADS}


# ---- turning a result into named outputs (and telling the learner when its structure is off) ---


def _unpack(result: Any, names: Sequence[str], what: str) -> tuple:
    if not isinstance(result, (tuple, list)):
        raise _MalformedError(f"{what} must be a tuple ({', '.join(names)}), got {type(result).__name__}")
    if len(result) != len(names):
        raise _MalformedError(f"{what} must have {len(names)} items ({', '.join(names)}), got {len(result)}")
    return tuple(result)


def _named_cache(cache: Any, prefix: str, names: Sequence[str], out: dict[str, Any]) -> None:
    items = _unpack(cache, names, prefix)
    for i, (name, item) in enumerate(zip(names, items)):
        out[f"{prefix}[{i}] ({name})"] = item


def _named_caches(caches: Any, names: Sequence[str], out: dict[str, Any]) -> None:
    cells, x = _unpack(caches, ("list_of_caches", "x"), "caches")
    if not isinstance(cells, (list, tuple)):
        raise _MalformedError(f"caches[0] must be the list of the cell caches, got {type(cells).__name__}")
    out["len(caches[0])"] = len(cells)
    for t, cache in enumerate(cells):
        _named_cache(cache, f"caches[0][{t}]", names, out)
    out["caches[1] (x)"] = x


def _named_dict(result: Any, keys: Sequence[str], fn: str) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise _MalformedError(f"{fn} must return a dict with keys {', '.join(keys)}; got {type(result).__name__}")
    missing = [k for k in keys if k not in result]
    if missing:
        raise _MalformedError(
            f"{fn}'s dict is missing {', '.join(repr(k) for k in missing)} "
            f"(expected keys {', '.join(keys)}; got {', '.join(map(repr, result))})"
        )
    return {k: result[k] for k in keys}


def _named_rnn_cell_forward(result: Any) -> dict[str, Any]:
    a_next, yt_pred, cache = _unpack(result, ("a_next", "yt_pred", "cache"), "rnn_cell_forward's result")
    out = {"a_next": a_next, "yt_pred": yt_pred}
    _named_cache(cache, "cache", _RNN_CACHE, out)
    return out


def _named_rnn_forward(result: Any) -> dict[str, Any]:
    a, y_pred, caches = _unpack(result, ("a", "y_pred", "caches"), "rnn_forward's result")
    out = {"a": a, "y_pred": y_pred}
    _named_caches(caches, _RNN_CACHE, out)
    return out


def _named_lstm_cell_forward(result: Any) -> dict[str, Any]:
    a_next, c_next, yt_pred, cache = _unpack(
        result, ("a_next", "c_next", "yt_pred", "cache"), "lstm_cell_forward's result"
    )
    out = {"a_next": a_next, "c_next": c_next, "yt_pred": yt_pred}
    _named_cache(cache, "cache", _LSTM_CACHE, out)
    return out


def _named_lstm_forward(result: Any) -> dict[str, Any]:
    a, y, c, caches = _unpack(result, ("a", "y", "c", "caches"), "lstm_forward's result")
    out = {"a": a, "y": y, "c": c}
    _named_caches(caches, _LSTM_CACHE, out)
    return out


# ---- known mistakes (each a small, deliberately wrong variant of the reference) ---------------


def _with(parameters: dict[str, np.ndarray], **changes: np.ndarray) -> dict[str, np.ndarray]:
    return {**parameters, **changes}


def _rnn_cell(
    xt: np.ndarray,
    a_prev: np.ndarray,
    p: dict[str, np.ndarray],
    act: Callable = np.tanh,
    y_from: str = "a_next",
    axis: int = 0,
    cache_order: Sequence[int] = (0, 1, 2, 3),
) -> tuple:
    a_next = act(p["Waa"] @ a_prev + p["Wax"] @ xt + p["ba"])
    z = p["Wya"] @ (a_next if y_from == "a_next" else a_prev) + p["by"]
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    cache = (a_next, a_prev, xt, p)
    return a_next, e / e.sum(axis=axis, keepdims=True), tuple(cache[i] for i in cache_order)


_RNN_CELL_FORWARD_MISTAKES = (
    (
        "Waa is used transposed: a<t> = tanh(Waa @ a_prev + Wax @ xt + ba), Waa (n_a, n_a) on the left of a_prev",
        lambda xt, a, p: sbs.rnn_cell_forward(xt, a, _with(p, Waa=p["Waa"].T)),
    ),
    (
        "the bias ba is missing from a<t> = tanh(Waa @ a_prev + Wax @ xt + ba)",
        lambda xt, a, p: sbs.rnn_cell_forward(xt, a, _with(p, ba=0 * p["ba"])),
    ),
    (
        "the bias by is missing from yt_pred = softmax(Wya @ a_next + by)",
        lambda xt, a, p: sbs.rnn_cell_forward(xt, a, _with(p, by=0 * p["by"])),
    ),
    ("a<t> needs tanh, not sigmoid", lambda xt, a, p: _rnn_cell(xt, a, p, act=sbs.sigmoid)),
    (
        "a<t> needs its tanh: a<t> = tanh(Waa @ a_prev + Wax @ xt + ba)",
        lambda xt, a, p: _rnn_cell(xt, a, p, act=lambda z: z),
    ),
    (
        "yt_pred is computed from a_prev; it is softmax(Wya @ a_next + by), from the new state",
        lambda xt, a, p: _rnn_cell(xt, a, p, y_from="a_prev"),
    ),
    (
        "the softmax runs over axis 1 (the examples); it must normalise each column, over axis 0 (the classes)",
        lambda xt, a, p: _rnn_cell(xt, a, p, axis=1),
    ),
    (
        "the cache must be (a_next, a_prev, xt, parameters), in that order",
        lambda xt, a, p: _rnn_cell(xt, a, p, cache_order=(1, 0, 2, 3)),
    ),
)


def _rnn_seq(
    x: np.ndarray,
    a0: np.ndarray,
    p: dict[str, np.ndarray],
    carry: bool = True,
    store_prev: bool = False,
    x_shift: int = 0,
) -> tuple:
    n_x, m, T_x = x.shape
    n_y, n_a = p["Wya"].shape
    a, y, caches, a_next = np.zeros((n_a, m, T_x)), np.zeros((n_y, m, T_x)), [], a0
    for t in range(T_x):
        a_prev = a_next
        a_next, yt, cache = sbs.rnn_cell_forward(x[:, :, t + x_shift], a_next if carry else a0, p)
        a[:, :, t] = a_prev if store_prev else a_next
        y[:, :, t] = yt
        caches.append(cache)
    return a, y, (caches, x)


_X_SHIFT = "off by one timestep: step t must read its own input x[:, :, t], not x[:, :, t - 1]"
_RNN_FORWARD_MISTAKES = (
    (_X_SHIFT, lambda x, a0, p: _rnn_seq(x, a0, p, x_shift=-1)),
    (
        "the state is not carried: each step must start from the previous step's a_next, not from a0",
        lambda x, a0, p: _rnn_seq(x, a0, p, carry=False),
    ),
    (
        "off by one timestep: a[:, :, t] must hold the state computed at step t (a_next), not the one before it",
        lambda x, a0, p: _rnn_seq(x, a0, p, store_prev=True),
    ),
)


def _lstm_cell(
    xt: np.ndarray,
    a_prev: np.ndarray,
    c_prev: np.ndarray,
    p: dict[str, np.ndarray],
    x_first: bool = False,
    forget: bool = True,
    update: bool = True,
    tanh_c: bool = True,
    a_from_prev: bool = False,
    cand: Callable = np.tanh,
    out_act: Callable = sbs.sigmoid,
    cache_order: Sequence[int] = tuple(range(10)),
) -> tuple:
    concat = np.concatenate((xt, a_prev) if x_first else (a_prev, xt), axis=0)
    ft = sbs.sigmoid(p["Wf"] @ concat + p["bf"])
    it = sbs.sigmoid(p["Wi"] @ concat + p["bi"])
    cct = cand(p["Wc"] @ concat + p["bc"])
    c_next = (ft * c_prev if forget else 0) + (it * cct if update else 0)
    ot = out_act(p["Wo"] @ concat + p["bo"])
    c_out = c_prev if a_from_prev else c_next
    a_next = ot * (np.tanh(c_out) if tanh_c else c_out)
    yt = sbs.softmax(p["Wy"] @ a_next + p["by"])
    cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, p)
    return a_next, c_next, yt, tuple(cache[i] for i in cache_order)


_LSTM_CELL_FORWARD_MISTAKES = (
    (
        "concat stacks xt on top of a_prev; it must be np.concatenate((a_prev, xt), axis=0), the order of "
        "the columns of Wf, Wi, Wc, Wo",
        lambda xt, a, c, p: _lstm_cell(xt, a, c, p, x_first=True),
    ),
    (
        "c_next drops the forget-gate term: c<t> = Gamma_f * c<t-1> + Gamma_u * c~<t>",
        lambda xt, a, c, p: _lstm_cell(xt, a, c, p, forget=False),
    ),
    (
        "c_next drops the update-gate term: c<t> = Gamma_f * c<t-1> + Gamma_u * c~<t>",
        lambda xt, a, c, p: _lstm_cell(xt, a, c, p, update=False),
    ),
    ("a_next misses the tanh: a<t> = Gamma_o * tanh(c<t>)", lambda xt, a, c, p: _lstm_cell(xt, a, c, p, tanh_c=False)),
    (
        "a_next uses c_prev; it is Gamma_o * tanh(c_next), the new cell state",
        lambda xt, a, c, p: _lstm_cell(xt, a, c, p, a_from_prev=True),
    ),
    ("the candidate c~ needs tanh, not sigmoid", lambda xt, a, c, p: _lstm_cell(xt, a, c, p, cand=sbs.sigmoid)),
    ("the output gate Gamma_o needs sigmoid, not tanh", lambda xt, a, c, p: _lstm_cell(xt, a, c, p, out_act=np.tanh)),
    (
        "the forget and update gates are swapped: ft uses Wf, bf and it (Gamma_u) uses Wi, bi",
        lambda xt, a, c, p: sbs.lstm_cell_forward(xt, a, c, _with(p, Wf=p["Wi"], bf=p["bi"], Wi=p["Wf"], bi=p["bf"])),
    ),
    (
        "the output gate uses the wrong weights: Gamma_o = sigmoid(Wo @ concat + bo)",
        lambda xt, a, c, p: sbs.lstm_cell_forward(xt, a, c, _with(p, Wo=p["Wf"], bo=p["bf"])),
    ),
    (
        "a gate's bias is missing (bf, bi, bc or bo)",
        lambda xt, a, c, p: sbs.lstm_cell_forward(xt, a, c, _with(p, bf=0 * p["bf"])),
    ),
    (
        "the cache must be (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters), in that order",
        lambda xt, a, c, p: _lstm_cell(xt, a, c, p, cache_order=(1, 0, 2, 3, 4, 5, 6, 7, 8, 9)),
    ),
)


def _lstm_seq(
    x: np.ndarray,
    a0: np.ndarray,
    p: dict[str, np.ndarray],
    carry_c: bool = True,
    carry_a: bool = True,
    store_prev: bool = False,
    c0_is_a0: bool = False,
    x_shift: int = 0,
) -> tuple:
    n_x, m, T_x = x.shape
    n_y, n_a = p["Wy"].shape
    a, c, y, caches = np.zeros((n_a, m, T_x)), np.zeros((n_a, m, T_x)), np.zeros((n_y, m, T_x)), []
    a_next, c_next = a0, (a0 if c0_is_a0 else np.zeros_like(a0))
    for t in range(T_x):
        a_prev, c_prev = a_next, c_next
        a_next, c_next, yt, cache = sbs.lstm_cell_forward(
            x[:, :, t + x_shift], a_next if carry_a else a0, c_next if carry_c else np.zeros_like(a0), p
        )
        a[:, :, t], c[:, :, t] = (a_prev, c_prev) if store_prev else (a_next, c_next)
        y[:, :, t] = yt
        caches.append(cache)
    return a, y, c, (caches, x)


_LSTM_FORWARD_MISTAKES = (
    (_X_SHIFT, lambda x, a0, p: _lstm_seq(x, a0, p, x_shift=-1)),
    (
        "the cell state is not carried: each step must start from the previous step's c_next",
        lambda x, a0, p: _lstm_seq(x, a0, p, carry_c=False),
    ),
    (
        "the hidden state is not carried: each step must start from the previous step's a_next, not a0",
        lambda x, a0, p: _lstm_seq(x, a0, p, carry_a=False),
    ),
    (
        "off by one timestep: a[:, :, t] and c[:, :, t] must hold the states computed at step t",
        lambda x, a0, p: _lstm_seq(x, a0, p, store_prev=True),
    ),
    ("c<0> must be zeros (np.zeros_like(a0)), not a0", lambda x, a0, p: _lstm_seq(x, a0, p, c0_is_a0=True)),
    (
        "lstm_forward returns (a, y, c, caches): y and c are swapped",
        lambda x, a0, p: (lambda a, y, c, caches: (a, c, y, caches))(*sbs.lstm_forward(x, a0, p)),
    ),
)


def _rnn_cell_back(
    da_next: np.ndarray, cache: tuple, dtanh: str = "a_next", transpose_waa: bool = True, dwaa_from: str = "a_prev"
) -> dict[str, np.ndarray]:
    a_next, a_prev, xt, p = cache
    dz = da_next * {"a_next": 1 - a_next**2, "a_prev": 1 - a_prev**2, "none": 1, "linear": 1 - a_next}[dtanh]
    return {
        "dxt": p["Wax"].T @ dz,
        "da_prev": (p["Waa"].T if transpose_waa else p["Waa"]) @ dz,
        "dWax": dz @ xt.T,
        "dWaa": dz @ (a_prev if dwaa_from == "a_prev" else a_next).T,
        "dba": np.sum(dz, axis=1, keepdims=True),
    }


_RNN_CELL_BACKWARD_MISTAKES = (
    ("the tanh derivative is missing: dz = (1 - a_next**2) * da_next", lambda g, c: _rnn_cell_back(g, c, dtanh="none")),
    ("tanh'(z) is 1 - tanh(z)**2 = 1 - a_next**2 (squared)", lambda g, c: _rnn_cell_back(g, c, dtanh="linear")),
    (
        "tanh' is taken at a_prev; it is 1 - a_next**2, at the output of this step",
        lambda g, c: _rnn_cell_back(g, c, dtanh="a_prev"),
    ),
    ("da_prev needs Waa transposed: da_prev = Waa.T @ dz", lambda g, c: _rnn_cell_back(g, c, transpose_waa=False)),
    (
        "dWaa = dz @ a_prev.T: the state that went into this step, not a_next",
        lambda g, c: _rnn_cell_back(g, c, dwaa_from="a_next"),
    ),
)


def _bptt(
    da: np.ndarray,
    caches: tuple,
    lstm: bool,
    recurrent: bool = True,
    carry_c: bool = True,
    backwards: bool = True,
    accumulate: bool = True,
    skip_first: bool = False,
    cache_shift: int = 0,
    da_shift: int = 0,
    dx_shift: int = 0,
) -> dict[str, np.ndarray]:
    """The sequence backward loop with switches for the classic mistakes (defaults: the reference)."""
    cells, x = caches
    n_a, m, T_x = da.shape
    n_x = x.shape[0]
    keys = _LSTM_SEQ_GRADS[2:] if lstm else _RNN_SEQ_GRADS[2:]
    first = (
        sbs.lstm_cell_backward(da[:, :, 0], np.zeros((n_a, m)), cells[0])
        if lstm
        else sbs.rnn_cell_backward(da[:, :, 0], cells[0])
    )
    grads = {k: np.zeros_like(first[k]) for k in keys}
    dx, da_prevt, dc_prevt = np.zeros((n_x, m, T_x)), np.zeros((n_a, m)), np.zeros((n_a, m))
    steps = range(1 if skip_first else 0, T_x)
    for t in reversed(steps) if backwards else steps:
        da_next = da[:, :, t + da_shift] + (da_prevt if recurrent else 0)
        cell = cells[t + cache_shift]
        if lstm:
            g = sbs.lstm_cell_backward(da_next, dc_prevt if carry_c else np.zeros((n_a, m)), cell)
            dc_prevt = g["dc_prev"]
        else:
            g = sbs.rnn_cell_backward(da_next, cell)
        dx[:, :, t + dx_shift], da_prevt = g["dxt"], g["da_prev"]
        for k in keys:
            grads[k] = grads[k] + g[k] if accumulate else g[k]
    return {"dx": dx, "da0": da_prevt, **grads}


def _seq_backward_mistakes(lstm: bool) -> tuple:
    return (
        (
            "da_next misses the contribution of da_prevt: each step receives da[:, :, t] + da_prevt (its output's "
            "gradient plus the gradient flowing back from step t+1)",
            lambda da, c: _bptt(da, c, lstm, recurrent=False),
        ),
        (
            "the loop runs forward in time; backprop through time walks t = T_x-1 down to 0: "
            "for t in reversed(range(T_x))",
            lambda da, c: _bptt(da, c, lstm, backwards=False),
        ),
        (
            "parameter gradients must add up over every timestep (dWax += ...), not be overwritten",
            lambda da, c: _bptt(da, c, lstm, accumulate=False),
        ),
        (
            "off by one timestep: the loop stops before t = 0 (range(T_x - 1, 0, -1)); use reversed(range(T_x))",
            lambda da, c: _bptt(da, c, lstm, skip_first=True),
        ),
        (
            "off by one timestep: step t must be differentiated with its own cache, caches[t], not caches[t - 1]",
            lambda da, c: _bptt(da, c, lstm, cache_shift=-1),
        ),
        (
            "off by one timestep: step t receives its own output gradient da[:, :, t], not da[:, :, t - 1]",
            lambda da, c: _bptt(da, c, lstm, da_shift=-1),
        ),
        (
            "off by one timestep: dxt of step t belongs in dx[:, :, t]",
            lambda da, c: _bptt(da, c, lstm, dx_shift=-1),
        ),
    ) + (
        (
            (
                "dc_prevt is not carried: each cell must receive the dc_prev of step t+1 "
                "(zero only after the last step)",
                lambda da, c: _bptt(da, c, lstm, carry_c=False),
            ),
        )
        if lstm
        else ()
    )


def _lstm_cell_back(
    da_next: np.ndarray,
    dc_next: np.ndarray,
    cache: tuple,
    a_path: bool = True,
    c_path: bool = True,
    gate_derivatives: str = "all",
    dft_from: str = "c_prev",
    drop_gate: str = "",
    swap_split: bool = False,
    dc_prev_full: bool = True,
) -> dict[str, np.ndarray]:
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, p = cache
    n_a, n_x = a_next.shape[0], xt.shape[0]
    tanh_c = np.tanh(c_next)
    from_a = da_next * ot * (1 - tanh_c**2)
    dc = (dc_next if c_path else 0) + (from_a if a_path else 0)
    deriv = {"ot": ot * (1 - ot), "cct": 1 - cct**2, "it": it * (1 - it), "ft": ft * (1 - ft)}
    if gate_derivatives != "all":
        deriv[gate_derivatives] = 1
    dot = da_next * tanh_c * deriv["ot"]
    dcct = dc * it * deriv["cct"]
    dit = dc * cct * deriv["it"]
    dft = dc * (c_prev if dft_from == "c_prev" else c_next) * deriv["ft"]
    concat_T = np.concatenate((a_prev, xt), axis=0).T
    terms = {"f": p["Wf"].T @ dft, "i": p["Wi"].T @ dit, "c": p["Wc"].T @ dcct, "o": p["Wo"].T @ dot}
    dconcat = sum(v for k, v in terms.items() if k != drop_gate)
    da_prev, dxt = (dconcat[n_x:], dconcat[:n_x]) if swap_split else (dconcat[:n_a], dconcat[n_a:])
    return {
        "dxt": dxt,
        "da_prev": da_prev,
        "dc_prev": (dc if dc_prev_full else dc_next) * ft,
        "dWf": dft @ concat_T,
        "dbf": np.sum(dft, axis=1, keepdims=True),
        "dWi": dit @ concat_T,
        "dbi": np.sum(dit, axis=1, keepdims=True),
        "dWc": dcct @ concat_T,
        "dbc": np.sum(dcct, axis=1, keepdims=True),
        "dWo": dot @ concat_T,
        "dbo": np.sum(dot, axis=1, keepdims=True),
    }


_GATE = {
    "f": "forget gate's Wf.T @ dft",
    "i": "update gate's Wi.T @ dit",
    "c": "candidate's Wc.T @ dcct",
    "o": "output gate's Wo.T @ dot",
}
_LSTM_CELL_BACKWARD_MISTAKES = (
    (
        "dc misses the path through a_next: dc = dc_next + da_next * Gamma_o * (1 - tanh(c_next)**2)",
        lambda da, dc, c: _lstm_cell_back(da, dc, c, a_path=False),
    ),
    (
        "dc misses dc_next, the gradient arriving along the cell state from step t+1: "
        "dc = dc_next + da_next * Gamma_o * (1 - tanh(c_next)**2)",
        lambda da, dc, c: _lstm_cell_back(da, dc, c, c_path=False),
    ),
    (
        "dc_prev = dc * Gamma_f with the whole dc (dc_next plus the path through a_next), not dc_next * Gamma_f",
        lambda da, dc, c: _lstm_cell_back(da, dc, c, dc_prev_full=False),
    ),
    (
        "dot misses the sigmoid derivative Gamma_o * (1 - Gamma_o)",
        lambda da, dc, c: _lstm_cell_back(da, dc, c, gate_derivatives="ot"),
    ),
    (
        "dcct misses the tanh derivative (1 - cct**2)",
        lambda da, dc, c: _lstm_cell_back(da, dc, c, gate_derivatives="cct"),
    ),
    (
        "dit misses the sigmoid derivative Gamma_u * (1 - Gamma_u)",
        lambda da, dc, c: _lstm_cell_back(da, dc, c, gate_derivatives="it"),
    ),
    (
        "dft misses the sigmoid derivative Gamma_f * (1 - Gamma_f)",
        lambda da, dc, c: _lstm_cell_back(da, dc, c, gate_derivatives="ft"),
    ),
    (
        "dft uses c_next; the forget gate multiplies c_prev, so dft = dc * c_prev * Gamma_f * (1 - Gamma_f)",
        lambda da, dc, c: _lstm_cell_back(da, dc, c, dft_from="c_next"),
    ),
    (
        "the stacked gradient is [da_prev; dxt]: da_prev is rows :n_a, dxt rows n_a: (a_prev comes first in concat)",
        lambda da, dc, c: _lstm_cell_back(da, dc, c, swap_split=True),
    ),
) + tuple(
    (
        f"da_prev and dxt drop a gate term: the {_GATE[g]} is missing from the sum of the four gates' terms",
        lambda da, dc, c, g=g: _lstm_cell_back(da, dc, c, drop_gate=g),
    )
    for g in "fico"
)


# ---- the exercises --------------------------------------------------------------------------

EXERCISES: dict[str, Exercise] = {}


def _register(exercise: Exercise) -> None:
    EXERCISES[exercise.name] = exercise


_register(
    Exercise(
        "rnn_cell_forward",
        "rnn_cell_forward(xt, a_prev, parameters) -> (a_next, yt_pred, cache)",
        _rnn_cell_forward_cases,
        lambda case: _named_rnn_cell_forward(sbs.rnn_cell_forward(*case.args)),
        _named_rnn_cell_forward,
        _RNN_CELL_FORWARD_MISTAKES,
    )
)
_register(
    Exercise(
        "rnn_forward",
        "rnn_forward(x, a0, parameters) -> (a, y_pred, caches)",
        _rnn_forward_cases,
        lambda case: _named_rnn_forward(sbs.rnn_forward(*case.args)),
        _named_rnn_forward,
        _RNN_FORWARD_MISTAKES,
        after="rnn_cell_forward",
    )
)
_register(
    Exercise(
        "lstm_cell_forward",
        "lstm_cell_forward(xt, a_prev, c_prev, parameters) -> (a_next, c_next, yt_pred, cache)",
        _lstm_cell_forward_cases,
        lambda case: _named_lstm_cell_forward(sbs.lstm_cell_forward(*case.args)),
        _named_lstm_cell_forward,
        _LSTM_CELL_FORWARD_MISTAKES,
    )
)
_register(
    Exercise(
        "lstm_forward",
        "lstm_forward(x, a0, parameters) -> (a, y, c, caches)",
        _lstm_forward_cases,
        lambda case: _named_lstm_forward(sbs.lstm_forward(*case.args)),
        _named_lstm_forward,
        _LSTM_FORWARD_MISTAKES,
        after="lstm_cell_forward",
    )
)
_register(
    Exercise(
        "rnn_cell_backward",
        "rnn_cell_backward(da_next, cache) -> gradients",
        _rnn_cell_backward_cases,
        _expected_rnn_cell_backward,
        lambda r: _named_dict(r, _RNN_GRADS, "rnn_cell_backward"),
        _RNN_CELL_BACKWARD_MISTAKES,
        source="minigrad autograd",
    )
)
_register(
    Exercise(
        "rnn_backward",
        "rnn_backward(da, caches) -> gradients",
        _rnn_backward_cases,
        _expected_rnn_backward,
        lambda r: _named_dict(r, _RNN_SEQ_GRADS, "rnn_backward"),
        _seq_backward_mistakes(lstm=False),
        source="minigrad autograd",
        after="rnn_cell_backward",
    )
)
_register(
    Exercise(
        "lstm_cell_backward",
        "lstm_cell_backward(da_next, dc_next, cache) -> gradients",
        _lstm_cell_backward_cases,
        _expected_lstm_cell_backward,
        lambda r: _named_dict(r, _LSTM_GRADS, "lstm_cell_backward"),
        _LSTM_CELL_BACKWARD_MISTAKES,
        source="minigrad autograd",
    )
)
_register(
    Exercise(
        "lstm_backward",
        "lstm_backward(da, caches) -> gradients",
        _lstm_backward_cases,
        _expected_lstm_backward,
        lambda r: _named_dict(r, _LSTM_SEQ_GRADS, "lstm_backward"),
        _seq_backward_mistakes(lstm=True),
        source="minigrad autograd",
        after="lstm_cell_backward",
    )
)


# ---- Dinosaurus Island: clip, sample, optimize (models.dinosaurus is the reference) ---------------

_DINO_GRADS = ("dWaa", "dWax", "dWya", "db", "dby")
_DINO_CHARS = {c: i for i, c in enumerate("\nabcdefghijklmnopqrstuvwxyz")}  # dinos.txt's vocabulary


def _clip_cases() -> list[Case]:
    cases = []
    for max_value in (10, 5):  # the course's clip_test, run with both of its values
        randn = _randn(3)
        gradients = {
            k: randn(*s) * 10
            for k, s in (("dWax", (5, 3)), ("dWaa", (5, 5)), ("dWya", (2, 5)), ("db", (5, 1)), ("dby", (2, 1)))
        }
        cases.append(
            Case(
                f"the course's clip_test (np.random.seed(3), gradients * 10, maxValue={max_value})",
                (gradients, max_value),
            )
        )
    rng = np.random.default_rng(100)
    gradients = {
        k: rng.standard_normal(s) * 3
        for k, s in (("dWax", (6, 4)), ("dWaa", (6, 6)), ("dWya", (4, 6)), ("db", (6, 1)), ("dby", (4, 1)))
    }
    gradients["da_next"] = rng.standard_normal((6, 1))  # rnn_backward's extra key, which clip drops
    cases.append(Case("random gradients (np.random.default_rng(100), maxValue=0.5)", (gradients, 0.5)))
    return cases


def _named_clip(result: Any) -> dict[str, Any]:
    return _named_dict(result, _DINO_GRADS, "clip")


def _clip_variant(
    gradients: dict, max_value: float, low: str = "-max", fixed: float | None = None, skip: str = "", keep: bool = False
) -> dict:
    bound = max_value if fixed is None else fixed
    out = {}
    for k in _DINO_GRADS:
        g = np.array(gradients[k], dtype=float)
        if not keep and k != skip:
            g = np.clip(g, -bound if low == "-max" else None if low == "none" else 0.0, bound)
        out[k] = g
    return out


_CLIP_MISTAKES = (
    (
        "np.clip returns a new array: clip in place with np.clip(gradient, -maxValue, maxValue, out=gradient), "
        "or store the result back in the dict",
        lambda g, m: _clip_variant(g, m, keep=True),
    ),
    (
        "clip both sides: every element must end up in [-maxValue, maxValue]",
        lambda g, m: _clip_variant(g, m, low="none"),
    ),
    ("the lower bound is -maxValue, not 0", lambda g, m: _clip_variant(g, m, low="zero")),
    ("use the maxValue argument, not a fixed number", lambda g, m: _clip_variant(g, m, fixed=10)),
    ("use the maxValue argument, not a fixed number", lambda g, m: _clip_variant(g, m, fixed=5)),
) + tuple(
    (f"every gradient must be clipped: {k} was left as it was", lambda g, m, k=k: _clip_variant(g, m, skip=k))
    for k in _DINO_GRADS
)


def _sample_case(label: str, parameters: dict, seed: int) -> Case:
    return Case(label, (parameters, dict(_DINO_CHARS), seed))


def _sample_cases() -> list[Case]:
    randn = _randn(24)  # the course's sample_test
    n_a, vocab = 100, 27
    Wax, Waa, Wya = randn(n_a, vocab), randn(n_a, n_a), randn(vocab, n_a)
    b, by = randn(n_a, 1), randn(vocab, 1)
    course = {"Wax": Wax, "Waa": Waa, "Wya": Wya, "b": b, "by": by}
    cases = [
        _sample_case("the course's sample_test (np.random.seed(24), n_a=100, seed=0)", course, 0),
        _sample_case("the course's parameters with seed=7", course, 7),
    ]
    rng = np.random.default_rng(101)
    small = {
        "Wax": rng.standard_normal((10, vocab)),
        "Waa": rng.standard_normal((10, 10)) * 0.5,
        "Wya": rng.standard_normal((vocab, 10)),
        "b": rng.standard_normal((10, 1)),
        "by": rng.standard_normal((vocab, 1)),
    }
    small["by"][0] = -30.0  # "\\n" almost never comes: the 50-character cap must end the name
    cases.append(_sample_case("random parameters that never predict '\\n' (the 50-character cap; seed=3)", small, 3))
    return cases


def _named_sample(result: Any) -> dict[str, Any]:
    if not isinstance(result, (list, tuple, np.ndarray)):
        raise _MalformedError(f"sample must return the list of sampled indices, got {type(result).__name__}")
    try:
        indices = np.asarray(result, dtype=np.int64).ravel()
    except (TypeError, ValueError):
        raise _MalformedError("sample must return a list of integer indices") from None
    return {"indices": indices}


def _sample_variant(
    parameters: dict,
    char_to_ix: dict,
    seed: int,
    *,
    reseed: str = "counter+seed",
    feed_back: bool = True,
    carry: bool = True,
    greedy: bool = False,
    cap: bool = True,
) -> list[int]:
    """The course's sampling loop with switches for its classic mistakes (defaults: the right loop)."""
    Waa, Wax, Wya, by, b = (parameters[k] for k in ("Waa", "Wax", "Wya", "by", "b"))
    vocab_size, n_a = by.shape[0], Waa.shape[1]
    x, a_prev = np.zeros((vocab_size, 1)), np.zeros((n_a, 1))
    indices, idx, counter, newline = [], -1, 0, char_to_ix["\n"]
    if reseed == "once":
        np.random.seed(seed)
    while idx != newline and counter != (dino.SAMPLE_CAP if cap else 10 * dino.SAMPLE_CAP):
        a = np.tanh(Wax @ x + Waa @ a_prev + b)
        y = dino.softmax(Wya @ a + by)
        if reseed == "counter+seed":
            np.random.seed(counter + seed)
        elif reseed == "seed":
            np.random.seed(seed)
        idx = int(np.argmax(y)) if greedy else int(np.random.choice(range(len(y)), p=y.ravel()))
        indices.append(idx)
        if feed_back:
            x = np.zeros((vocab_size, 1))
            x[idx] = 1
        if carry:
            a_prev = a
        seed += 1
        counter += 1
    if cap and counter == dino.SAMPLE_CAP:
        indices.append(newline)
    return indices


_SAMPLE_MISTAKES = (
    (
        "seed numpy before EVERY character with np.random.seed(counter + seed), as the course's grader expects",
        lambda p, c, s: _sample_variant(p, c, s, reseed="once"),
    ),
    (
        "np.random.seed(counter + seed) before each choice (and seed += 1, counter += 1 after it)",
        lambda p, c, s: _sample_variant(p, c, s, reseed="seed"),
    ),
    (
        "feed the sampled character back: x becomes the one-hot of idx before the next step",
        lambda p, c, s: _sample_variant(p, c, s, feed_back=False),
    ),
    ("carry the hidden state: a_prev = a after each step", lambda p, c, s: _sample_variant(p, c, s, carry=False)),
    (
        "sample with np.random.choice(range(vocab_size), p=y.ravel()); np.argmax always picks the likeliest",
        lambda p, c, s: _sample_variant(p, c, s, greedy=True),
    ),
    (
        "stop after 50 characters (counter != 50) and then append the index of '\\n'",
        lambda p, c, s: _sample_variant(p, c, s, cap=False),
    ),
)


def _optimize_cases() -> list[Case]:
    randn = _randn(1)  # the course's optimize_test
    vocab, n_a = 27, 100
    a_prev = randn(n_a, 1)
    Wax, Waa, Wya = randn(n_a, vocab), randn(n_a, n_a), randn(vocab, n_a)
    b, by = randn(n_a, 1), randn(vocab, 1)
    parameters = {"Wax": Wax, "Waa": Waa, "Wya": Wya, "b": b, "by": by}
    cases = [
        Case(
            "the course's optimize_test (np.random.seed(1), n_a=100, X=[12, 3, 5, 11, 22, 3])",
            ([12, 3, 5, 11, 22, 3], [4, 14, 11, 22, 25, 26], a_prev, parameters, 0.01),
        )
    ]
    rng = np.random.default_rng(102)
    n_a = 8
    parameters = {
        "Wax": rng.standard_normal((n_a, vocab)) * 0.3,
        "Waa": rng.standard_normal((n_a, n_a)) * 0.3,
        "Wya": rng.standard_normal((vocab, n_a)) * 0.3,
        "b": rng.standard_normal((n_a, 1)) * 0.3,
        "by": rng.standard_normal((vocab, 1)) * 0.3,
    }
    name = [_DINO_CHARS[c] for c in "tyrannosaurus"]
    cases.append(
        Case(
            "'tyrannosaurus' with small random weights (np.random.default_rng(102), n_a=8, learning_rate=0.1)",
            ([None, *name], [*name, _DINO_CHARS["\n"]], rng.standard_normal((n_a, 1)), parameters, 0.1),
        )
    )
    return cases


def _named_optimize(result: Any) -> dict[str, Any]:
    loss, gradients, a_last = _unpack(result, ("loss", "gradients", "a_last"), "optimize's result")
    out = {"loss": loss}
    out.update({f"gradients[{k!r}]": v for k, v in _named_dict(gradients, _DINO_GRADS, "optimize's gradients").items()})
    out["a_last"] = a_last
    return out


def _updated_parameters(args: tuple) -> dict[str, Any]:
    return {f"parameters[{k!r}] after the update": args[3][k] for k in dino.PARAMETER_KEYS}


def _expected_optimize(case: Case) -> dict[str, Any]:
    """minigrad's autograd gradients, clipped at 5, and the parameters they update."""
    args = copy.deepcopy(case.args)
    out = _named_optimize(dino.optimize_autograd(*args))
    out.update(_updated_parameters(args))
    return out


def _optimize_variant(
    X: Any,
    Y: Any,
    a_prev: np.ndarray,
    parameters: dict,
    learning_rate: float = 0.01,
    *,
    max_value: float | None = 5,
    update: int = 1,
    lr: float | None = None,
    last: str = "len(X)-1",
) -> tuple:
    loss, cache = dino.rnn_forward(X, Y, a_prev, parameters)
    gradients, a = dino.rnn_backward(X, Y, parameters, cache)
    gradients = dino.clip(gradients, max_value) if max_value is not None else {k: gradients[k] for k in _DINO_GRADS}
    if update:
        dino.update_parameters(parameters, gradients, update * (learning_rate if lr is None else lr))
    return loss, gradients, a[len(X) - 1 if last == "len(X)-1" else -1]


_OPTIMIZE_MISTAKES = (
    (
        "clip the gradients before the update: gradients = clip(gradients, 5)",
        lambda *a: _optimize_variant(*a, max_value=None),
    ),
    ("the course clips at maxValue=5", lambda *a: _optimize_variant(*a, max_value=10)),
    (
        "update the parameters: parameters = update_parameters(parameters, gradients, learning_rate)",
        lambda *a: _optimize_variant(*a, update=0),
    ),
    ("gradient DEScent: the update is W -= learning_rate * dW", lambda *a: _optimize_variant(*a, update=-1)),
    ("pass learning_rate on to update_parameters (not a fixed 0.01)", lambda *a: _optimize_variant(*a, lr=0.01)),
    (
        "return a[len(X) - 1], the last step's state: in the course's cache a[-1] is a_prev, the state before "
        "the first step",
        lambda *a: _optimize_variant(*a, last="-1"),
    ),
)

_register(
    Exercise(
        "clip",
        "clip(gradients, maxValue) -> gradients",
        _clip_cases,
        lambda case: _named_clip(dino.clip(*copy.deepcopy(case.args))),
        _named_clip,
        _CLIP_MISTAKES,
        in_place_ok=True,
    )
)
_register(
    Exercise(
        "sample",
        "sample(parameters, char_to_ix, seed) -> indices",
        _sample_cases,
        lambda case: _named_sample(dino.sample(*copy.deepcopy(case.args))),
        _named_sample,
        _SAMPLE_MISTAKES,
    )
)
_register(
    Exercise(
        "optimize",
        "optimize(X, Y, a_prev, parameters, learning_rate=0.01) -> (loss, gradients, a_last)",
        _optimize_cases,
        _expected_optimize,
        _named_optimize,
        _OPTIMIZE_MISTAKES,
        source="minigrad autograd (gradients clipped at 5)",
        in_place_ok=True,
        after="clip",
        updated=_updated_parameters,
    )
)


# ---- comparing ------------------------------------------------------------------------------


def _leaves(key: str, value: Any) -> Iterator[tuple[str, Any]]:
    """A dict (the parameters in a cache) is compared key by key; everything else is one leaf."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{key}[{k!r}]", v
    else:
        yield key, value


def _as_array(value: Any) -> np.ndarray | None:
    if value is None or isinstance(value, (dict, str)):
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def _close(a: Any, b: Any) -> bool:
    a, b = _as_array(a), _as_array(b)
    return a is not None and b is not None and a.shape == b.shape and np.allclose(a, b, rtol=RTOL, atol=ATOL)


def _first_difference(key: str, want: Any, got: Any) -> tuple[str, str] | None:
    """(the key that differs, a sentence saying how) for the first difference, or None."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return key, f"is a {type(got).__name__}, expected the parameters dict"
        missing = [k for k in want if k not in got]
        if missing:
            return key, f"is missing the keys {missing}"
        for (k, w), (_, g) in zip(_leaves(key, want), _leaves(key, {k: got[k] for k in want})):
            found = _first_difference(k, w, g)
            if found:
                return found
        return None
    w, g = np.asarray(want, dtype=np.float64), _as_array(got)
    if g is None:
        return key, f"is {'None' if got is None else type(got).__name__}, expected an array of shape {w.shape}"
    if g.shape != w.shape:
        if w.ndim == g.ndim == 1:  # a sequence (sample's indices): the first position that differs
            n = min(len(w), len(g))
            differ = np.flatnonzero(~np.isclose(g[:n], w[:n], rtol=RTOL, atol=ATOL))
            if differ.size:
                i = int(differ[0])
                return f"{key}[{i}]", f"is wrong: expected {w[i]:.8g}, got {g[i]:.8g} (and the lengths differ)"
            return key, f"has {len(g)} items, expected {len(w)} (the first {n} are right)"
        return key, f"has shape {g.shape}, expected {w.shape}"
    bad = ~np.isclose(g, w, rtol=RTOL, atol=ATOL)
    if not bad.any():
        return None
    if w.ndim == 0:
        return key, f"is wrong: expected {w.item():.8g}, got {g.item():.8g}"
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return (
        f"{key}{list(index)}",
        f"is wrong: expected {w[index]:.8g}, got {g[index]:.8g} "
        f"({int(bad.sum())} of {bad.size} entries differ, the largest by {np.max(np.abs(g - w)):.3g})",
    )


def _shape_of_error(key: str, want: Any, got: Any) -> str:
    """A hint from the form of the error alone (no known mistake reproduced it)."""
    w, g = _as_array(want), _as_array(got)
    if w is None or g is None:
        return ""
    if g.shape != w.shape:
        if g.shape == w.shape[::-1]:
            return f"the shape is reversed: a weight or an input is transposed (expected {w.shape})"
        if key.startswith("db") and w.ndim == 2 and w.shape[1] == 1 and g.shape in ((w.shape[0],), (1, w.shape[0])):
            return "a bias gradient sums over the examples: np.sum(dz, axis=1, keepdims=True) has shape (n_a, 1)"
        if key.startswith("db") and w.ndim == 2 and w.shape[1] == 1:
            return "a bias gradient sums over the examples (axis 1), keepdims=True"
        if g.size == w.size:
            return "the right number of entries in the wrong shape: check reshape/keepdims"
        return ""
    if not w.any():
        return ""
    if np.allclose(g, -w, rtol=RTOL, atol=ATOL):
        return "the sign is flipped"
    if not g.any():
        return "it is all zeros: was it ever filled in (or accumulated into)?"
    if w.ndim == 2 and w.shape[0] == w.shape[1] and np.allclose(g, w.T, rtol=RTOL, atol=ATOL):
        return "it is the transpose of the right answer: a weight is transposed"
    if w.ndim == 3 and w.shape[2] > 1:
        if np.allclose(g[..., 1:], w[..., :-1], rtol=RTOL, atol=ATOL):
            return "off by one timestep: your value at step t is the right value for step t-1"
        if np.allclose(g[..., :-1], w[..., 1:], rtol=RTOL, atol=ATOL):
            return "off by one timestep: your value at step t is the right value for step t+1"
        right = np.all(np.isclose(g, w, rtol=RTOL, atol=ATOL), axis=(0, 1))
        if right.any() and not right.all():
            return f"right at timesteps {np.flatnonzero(right).tolist()}, wrong at {np.flatnonzero(~right).tolist()}"
    return ""


def _known_mistake(exercise: Exercise, case: Case, key: str, got: dict[str, Any]) -> str:
    """The hint of the known mistake that reproduces the learner's outputs: one that reproduces all
    of them if there is one (two mistakes can give the same wrong ``key``), else the first that
    reproduces the wrong ``key``."""
    partial = ""
    for hint, mistaken in exercise.mistakes:
        try:
            args = copy.deepcopy(case.args)
            theirs = exercise.named(mistaken(*args))
            if exercise.updated is not None:
                theirs.update(exercise.updated(args))
        except Exception:  # noqa: BLE001  (a variant that cannot run on this case simply does not match)
            continue
        if key in theirs and _close(theirs[key], got.get(key)):
            if all(_same(theirs.get(k), v) for k, v in got.items()):
                return hint
            partial = partial or hint
    return partial


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
        )
    return _close(a, b)


def _which_outputs(exercise: Exercise, expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """For a gradient dict: which keys are wrong and which are right, and what that pattern says."""
    if len(expected) > 12:  # a forward's flattened caches: the first wrong key says enough
        return []
    wrong = [k for k, v in expected.items() if _first_difference(k, v, got.get(k))]
    right = [k for k in expected if k not in wrong]
    lines = [f"  wrong: {', '.join(wrong)}" + (f"; right: {', '.join(right)}" if right else "")]
    gates = {"f": "dft (forget gate)", "i": "dit (update gate)", "c": "dcct (candidate)", "o": "dot (output gate)"}
    bad_gates = [g for g in gates if f"dW{g}" in wrong or f"db{g}" in wrong]
    if exercise.name == "lstm_cell_backward" and len(bad_gates) == 1:
        lines.append(
            f"  the mistake is in {gates[bad_gates[0]]}: only that gate's dW and db are wrong "
            "(dxt and da_prev sum every gate's term, so they inherit it)"
        )
    elif exercise.name == "lstm_cell_backward" and len(bad_gates) == 3 and "o" not in bad_gates and "dWo" in right:
        lines.append("  dft, dit and dcct are wrong but dot is right: they all start from dc, so look there")
    return lines


def _argument_names(exercise: Exercise) -> list[str]:
    """``"rnn_cell_forward(xt, a_prev, parameters) -> ..."`` -> ``["xt", "a_prev", "parameters"]``."""
    inside = exercise.signature.split("(", 1)[1].split(")", 1)[0]
    return [part.split("=")[0].strip() for part in inside.split(",")]


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array {value.shape}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__} of {len(value)}"
    return repr(value)


def _call(exercise: Exercise, fn: Callable[..., Any], case: Case) -> tuple[Any, tuple]:
    args = copy.deepcopy(case.args)
    try:
        return fn(*args), args
    except NotImplementedError:
        raise  # a stub: the learner should see "write rnn_cell_forward" as is
    except Exception as exc:
        given = ", ".join(f"{n} = {_describe(v)}" for n, v in zip(_argument_names(exercise), case.args))
        note = f"\n  note: {case.note}" if case.note else ""
        raise AssertionError(
            f"{exercise.name} raised {type(exc).__name__}: {exc}\n  case: {case.label}{note}\n"
            f"  arguments: {given}\n  expected: {exercise.signature}"
        ) from exc


def check(name: str, fn: Callable[..., Any]) -> bool:
    """Grade the learner's ``fn`` for exercise ``name``; ``True``, or ``AssertionError`` saying what is wrong.

    ``name`` is one of :data:`EXERCISES` (the eight step-by-step functions, then ``clip``, ``sample``,
    ``optimize``). The message names the first wrong output (key and index), the expected and the
    received value, the case it came from and, for a recognised mistake, a hint.
    """
    if name not in EXERCISES:
        raise ValueError(f"check: unknown exercise {name!r}; expected one of {', '.join(EXERCISES)}")
    if not callable(fn):
        raise TypeError(f"check: fn must be your function {name}, got {type(fn).__name__}")
    exercise = EXERCISES[name]
    for case in exercise.cases():
        result, args = _call(exercise, fn, case)
        expected = exercise.expected(case)
        try:
            got = exercise.named(result)
            if exercise.updated is not None:
                got.update(exercise.updated(args))
        except _MalformedError as exc:
            raise AssertionError(f"{name}: {exc}\n  case: {case.label}\n  expected: {exercise.signature}") from None
        for key, want in expected.items():
            found = _first_difference(key, want, got.get(key))
            if found is None:
                continue
            where, how = found
            hint = _known_mistake(exercise, case, key, got) or _shape_of_error(key, want, got.get(key))
            lines = [f"{name}: {where!s} {how} (expected values: {exercise.source})", f"  case: {case.label}"]
            if case.note:
                lines.append(f"  note: {case.note}")
            if hint:
                lines.append(f"  hint: {hint}")
            lines += _which_outputs(exercise, expected, got)
            if exercise.after:
                lines.append(f"  (it calls your {exercise.after}: check that one first if it has not passed)")
            raise AssertionError("\n".join(lines))
        if not exercise.in_place_ok:
            for arg, before, after in zip(_argument_names(exercise), case.args, args):
                if not isinstance(before, tuple) and _first_difference(arg, before, after):
                    raise AssertionError(
                        f"{name} changed its argument {arg} in place; work on new arrays "
                        f"(e.g. a = a + b, not a += b)\n  case: {case.label}"
                    )
    return True
