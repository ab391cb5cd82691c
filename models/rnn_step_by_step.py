"""The Sequence Models course (week 1) assignment "Building your Recurrent Neural Network -
Step by Step", in plain numpy: forward and **hand-written backward** passes of an RNN and an LSTM.

This file is the lesson's "by hand" half; the tests build the same forwards from minigrad
primitives and check that autograd gives the same gradients (``tests/test_rnn_step_by_step.py``),
and ``python -m demos.rnn_step_by_step`` prints both side by side.

Conventions are the assignment's, on purpose (so its printed example values reproduce):
  * one column per example: ``xt`` is ``(n_x, m)``, a whole input ``x`` is ``(n_x, m, T_x)``;
  * parameters are a dict: RNN ``Wax (n_a, n_x), Waa (n_a, n_a), Wya (n_y, n_a), ba (n_a, 1),
    by (n_y, 1)``; LSTM ``Wf, Wi, Wc, Wo (n_a, n_a + n_x)`` acting on the stacked
    ``[a_prev; xt]``, biases ``bf, bi, bc, bo (n_a, 1)``, output ``Wy (n_y, n_a), by (n_y, 1)``;
  * predictions go through a softmax over axis 0 (the class axis);
  * the backward functions take ``da``, the gradient of the loss with respect to the hidden
    states, *not* the loss through the softmax: the dense layer and softmax of the forward pass
    are not differentiated here (as in the course);
  * caches: RNN cell ``(a_next, a_prev, xt, parameters)``; LSTM cell ``(a_next, c_next, a_prev,
    c_prev, ft, it, cct, ot, xt, parameters)``; sequence functions return ``(list_of_caches, x)``.

Quirks of the original kept here, and why they are not bugs:
  * ``rnn_backward`` / ``lstm_backward`` read ``T_x`` from ``da``, not from the caches: the
    course's own LSTM example runs the forward over 7 steps and passes a ``da`` of 4 steps.
    The result is then the exact gradient of ``sum(da * a[:, :, :T_da])`` (later steps cannot
    influence earlier states), and ``dx`` has ``T_da`` steps.
  * ``lstm_backward`` starts from ``dc = 0`` after the last step and does not return ``dc0``
    (``c0`` is a constant zero in ``lstm_forward``).
  * ``lstm_backward`` feeds ``da[:, :, t] + da_prevt`` to each cell (the output path plus the
    recurrent path). The 2018 notebook (v3) printed values computed with ``da[:, :, t]`` alone,
    which drops the recurrent path; the current notebook fixed that, and so does this file:
    ``test_rnn_step_by_step.py`` reproduces the fixed notebook's numbers.
  * the gate names follow the course: ``it`` / ``Wi`` is the *update* gate Gamma_u.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import minigrad as mg

Params = dict[str, np.ndarray]
Grads = dict[str, np.ndarray]

__all__ = [
    "lstm_backward",
    "lstm_backward_autograd",
    "lstm_cell_backward",
    "lstm_cell_forward",
    "lstm_forward",
    "rnn_backward",
    "rnn_backward_autograd",
    "rnn_cell_backward",
    "rnn_cell_forward",
    "rnn_forward",
    "sigmoid",
    "softmax",
]


def softmax(x: np.ndarray) -> np.ndarray:
    """softmax over axis 0 (one column per example): ``exp(x - max) / sum(exp(x - max))``."""
    e = np.exp(x - np.max(x, axis=0, keepdims=True))  # shifting by the max cannot change the result
    return e / e.sum(axis=0, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """sigma(x) = 1 / (1 + exp(-x)), as in the course's ``rnn_utils``."""
    return 1.0 / (1.0 + np.exp(-x))


# ---- input checks (clear errors instead of numpy broadcasting surprises) -----------------------


def _need(parameters: Any, keys: tuple[str, ...], fn: str) -> None:
    if not isinstance(parameters, dict):
        raise TypeError(f"{fn}: parameters must be a dict of numpy arrays, got {type(parameters).__name__}")
    missing = [k for k in keys if k not in parameters]
    if missing:
        raise KeyError(f"{fn}: parameters is missing {missing}; expected keys {list(keys)}, got {sorted(parameters)}")


def _shape(name: str, array: Any, expected: tuple[int, ...], fn: str) -> None:
    shape = np.shape(array)
    if shape != expected:
        raise ValueError(f"{fn}: {name} has shape {shape}, expected {expected}")


def _ndim(name: str, array: Any, ndim: int, layout: str, fn: str) -> None:
    if np.ndim(array) != ndim:
        raise ValueError(f"{fn}: {name} must be {ndim}-D {layout}, got shape {np.shape(array)}")


_RNN_KEYS = ("Wax", "Waa", "Wya", "ba", "by")
_LSTM_KEYS = ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo", "Wy", "by")


def _check_rnn(xt: Any, a_prev: Any, parameters: Params, fn: str) -> None:
    _need(parameters, _RNN_KEYS, fn)
    _ndim("xt", xt, 2, "(n_x, m)", fn)
    _ndim("a_prev", a_prev, 2, "(n_a, m)", fn)
    _ndim("Wax", parameters["Wax"], 2, "(n_a, n_x)", fn)
    # The weights fix n_a and n_x, so a misshapen input is blamed, not the weights.
    (n_a, n_x), m = np.shape(parameters["Wax"]), np.shape(xt)[1]
    n_y = np.shape(parameters["Wya"])[0]
    _shape("xt", xt, (n_x, m), fn)
    _shape("a_prev", a_prev, (n_a, m), fn)
    _shape("Waa", parameters["Waa"], (n_a, n_a), fn)
    _shape("Wya", parameters["Wya"], (n_y, n_a), fn)
    _shape("ba", parameters["ba"], (n_a, 1), fn)
    _shape("by", parameters["by"], (n_y, 1), fn)


def _check_lstm(xt: Any, a_prev: Any, c_prev: Any, parameters: Params, fn: str) -> None:
    _need(parameters, _LSTM_KEYS, fn)
    _ndim("xt", xt, 2, "(n_x, m)", fn)
    _ndim("a_prev", a_prev, 2, "(n_a, m)", fn)
    _ndim("Wf", parameters["Wf"], 2, "(n_a, n_a + n_x)", fn)
    # The weights fix n_a and n_x, so a misshapen input is blamed, not the weights.
    n_a, m = np.shape(parameters["Wf"])[0], np.shape(xt)[1]
    n_x = np.shape(parameters["Wf"])[1] - n_a
    n_y = np.shape(parameters["Wy"])[0]
    _shape("xt", xt, (n_x, m), fn)
    _shape("a_prev", a_prev, (n_a, m), fn)
    _shape("c_prev", c_prev, (n_a, m), fn)
    for gate in "fico":
        _shape(f"W{gate}", parameters[f"W{gate}"], (n_a, n_a + n_x), fn)
        _shape(f"b{gate}", parameters[f"b{gate}"], (n_a, 1), fn)
    _shape("Wy", parameters["Wy"], (n_y, n_a), fn)
    _shape("by", parameters["by"], (n_y, 1), fn)


def _check_seq_grad(da: Any, caches: Any, cache_len: int, fn: str, forward: str) -> tuple[list, int]:
    if not (
        isinstance(caches, tuple)
        and len(caches) == 2
        and isinstance(caches[0], list)
        and caches[0]
        and all(isinstance(c, tuple) and len(c) == cache_len for c in caches[0])
    ):
        raise TypeError(f"{fn}: caches must be the (list_of_caches, x) returned by {forward}")
    cells = caches[0]
    _ndim("da", da, 3, "(n_a, m, T_x)", fn)
    n_a, m, T_x = np.shape(da)
    _shape("da[:, :, t]", np.empty((n_a, m)), np.shape(cells[0][0]), fn)
    if T_x > len(cells):
        raise ValueError(f"{fn}: da has {T_x} time steps but the forward pass ran only {len(cells)}")
    return cells, T_x


# ---- 1. RNN forward -------------------------------------------------------------------------


def rnn_cell_forward(xt: np.ndarray, a_prev: np.ndarray, parameters: Params) -> tuple[np.ndarray, np.ndarray, tuple]:
    """One step of the basic RNN (the assignment's Figure 2).

        a<t>  = tanh(Waa a<t-1> + Wax x<t> + ba)
        y^<t> = softmax(Wya a<t> + by)

    Returns ``a_next (n_a, m)``, ``yt_pred (n_y, m)`` and ``cache = (a_next, a_prev, xt, parameters)``.
    """
    _check_rnn(xt, a_prev, parameters, "rnn_cell_forward")
    Wax, Waa, Wya = parameters["Wax"], parameters["Waa"], parameters["Wya"]
    ba, by = parameters["ba"], parameters["by"]
    a_next = np.tanh(Waa @ a_prev + Wax @ xt + ba)
    yt_pred = softmax(Wya @ a_next + by)
    return a_next, yt_pred, (a_next, a_prev, xt, parameters)


def rnn_forward(x: np.ndarray, a0: np.ndarray, parameters: Params) -> tuple[np.ndarray, np.ndarray, tuple]:
    """The basic RNN over a whole sequence: ``rnn_cell_forward`` at t = 0 .. T_x-1, starting from a0.

    ``x (n_x, m, T_x)``, ``a0 (n_a, m)``. Returns ``a (n_a, m, T_x)``, ``y_pred (n_y, m, T_x)``
    and ``caches = (list of the T_x cell caches, x)``.
    """
    _ndim("x", x, 3, "(n_x, m, T_x)", "rnn_forward")
    _need(parameters, _RNN_KEYS, "rnn_forward")
    n_x, m, T_x = x.shape
    n_y, n_a = parameters["Wya"].shape
    a = np.zeros((n_a, m, T_x))
    y_pred = np.zeros((n_y, m, T_x))
    caches = []
    a_next = a0
    for t in range(T_x):
        a_next, yt_pred, cache = rnn_cell_forward(x[:, :, t], a_next, parameters)
        a[:, :, t] = a_next
        y_pred[:, :, t] = yt_pred
        caches.append(cache)
    return a, y_pred, (caches, x)


# ---- 2. LSTM forward ------------------------------------------------------------------------


def lstm_cell_forward(
    xt: np.ndarray, a_prev: np.ndarray, c_prev: np.ndarray, parameters: Params
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """One LSTM step (the assignment's Figure 4), every gate acting on ``concat = [a_prev; xt]``:

        Gamma_f = sigmoid(Wf concat + bf)          forget gate      (ft)
        Gamma_u = sigmoid(Wi concat + bi)          update gate      (it)
        c~      = tanh(Wc concat + bc)             candidate        (cct)
        c<t>    = Gamma_f * c<t-1> + Gamma_u * c~
        Gamma_o = sigmoid(Wo concat + bo)          output gate      (ot)
        a<t>    = Gamma_o * tanh(c<t>)
        y^<t>   = softmax(Wy a<t> + by)

    Returns ``a_next, c_next (n_a, m)``, ``yt_pred (n_y, m)`` and
    ``cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)``.
    """
    _check_lstm(xt, a_prev, c_prev, parameters, "lstm_cell_forward")
    p = parameters
    concat = np.concatenate((a_prev, xt), axis=0)
    ft = sigmoid(p["Wf"] @ concat + p["bf"])
    it = sigmoid(p["Wi"] @ concat + p["bi"])
    cct = np.tanh(p["Wc"] @ concat + p["bc"])
    c_next = ft * c_prev + it * cct
    ot = sigmoid(p["Wo"] @ concat + p["bo"])
    a_next = ot * np.tanh(c_next)
    yt_pred = softmax(p["Wy"] @ a_next + p["by"])
    return a_next, c_next, yt_pred, (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)


def lstm_forward(x: np.ndarray, a0: np.ndarray, parameters: Params) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """The LSTM over a whole sequence, from ``a0`` and ``c0 = 0``.

    Returns ``a (n_a, m, T_x)``, ``y (n_y, m, T_x)``, ``c (n_a, m, T_x)`` and
    ``caches = (list of the T_x cell caches, x)``.
    """
    _ndim("x", x, 3, "(n_x, m, T_x)", "lstm_forward")
    _need(parameters, _LSTM_KEYS, "lstm_forward")
    n_x, m, T_x = x.shape
    n_y, n_a = parameters["Wy"].shape
    a = np.zeros((n_a, m, T_x))
    c = np.zeros((n_a, m, T_x))
    y = np.zeros((n_y, m, T_x))
    caches = []
    a_next = a0
    c_next = np.zeros(np.shape(a0))
    for t in range(T_x):
        a_next, c_next, yt, cache = lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)
        a[:, :, t] = a_next
        c[:, :, t] = c_next
        y[:, :, t] = yt
        caches.append(cache)
    return a, y, c, (caches, x)


# ---- 3. RNN backward (by hand) ---------------------------------------------------------------


def rnn_cell_backward(da_next: np.ndarray, cache: tuple) -> Grads:
    """Backward through one RNN step, given ``da_next = dJ/da<t>``.

        dz      = (1 - a<t>^2) * da_next           (tanh' written with the saved output)
        dxt     = Wax^T dz          dWax = dz xt^T
        da_prev = Waa^T dz          dWaa = dz a_prev^T
        dba     = sum over the m examples of dz (axis 1, keepdims: shape (n_a, 1))

    Returns ``{"dxt", "da_prev", "dWax", "dWaa", "dba"}``.
    """
    if not (isinstance(cache, tuple) and len(cache) == 4):
        raise TypeError(
            "rnn_cell_backward: cache must be the (a_next, a_prev, xt, parameters) returned by rnn_cell_forward"
        )
    a_next, a_prev, xt, parameters = cache
    _shape("da_next", da_next, np.shape(a_next), "rnn_cell_backward")
    Wax, Waa = parameters["Wax"], parameters["Waa"]
    dz = (1 - a_next**2) * da_next
    return {
        "dxt": Wax.T @ dz,
        "da_prev": Waa.T @ dz,
        "dWax": dz @ xt.T,
        "dWaa": dz @ a_prev.T,
        "dba": np.sum(dz, axis=1, keepdims=True),
    }


def rnn_backward(da: np.ndarray, caches: tuple) -> Grads:
    """Backprop through time for the basic RNN, given ``da (n_a, m, T_x)`` = dJ/da<t> from the outputs.

    Walking t = T_x-1 .. 0, each cell receives its output gradient plus the gradient that flowed
    back from step t+1: ``da_next = da[:, :, t] + da_prevt``. Parameter gradients add up over
    time, ``dx[:, :, t]`` is stored, and ``da0`` is what reaches the initial state.

    Returns ``{"dx", "da0", "dWax", "dWaa", "dba"}``.
    """
    cells, T_x = _check_seq_grad(da, caches, 4, "rnn_backward", "rnn_forward")
    a1, a0, x1, parameters = cells[0]
    n_a, m, _ = da.shape
    n_x = x1.shape[0]
    dx = np.zeros((n_x, m, T_x))
    dWax = np.zeros((n_a, n_x))
    dWaa = np.zeros((n_a, n_a))
    dba = np.zeros((n_a, 1))
    da_prevt = np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        g = rnn_cell_backward(da[:, :, t] + da_prevt, cells[t])
        dx[:, :, t] = g["dxt"]
        da_prevt = g["da_prev"]
        dWax += g["dWax"]
        dWaa += g["dWaa"]
        dba += g["dba"]
    return {"dx": dx, "da0": da_prevt, "dWax": dWax, "dWaa": dWaa, "dba": dba}


# ---- 4. LSTM backward (by hand) --------------------------------------------------------------


def lstm_cell_backward(da_next: np.ndarray, dc_next: np.ndarray, cache: tuple) -> Grads:
    """Backward through one LSTM step, given ``da_next = dJ/da<t>`` and ``dc_next = dJ/dc<t>``.

    With ``dc = dc_next + da_next * Gamma_o * (1 - tanh(c<t>)^2)`` (all the gradient reaching c<t>),
    the course's equations (7)-(21), gradients taken before each gate's nonlinearity:

        dot  = da_next * tanh(c<t>) * Gamma_o * (1 - Gamma_o)
        dcct = dc * Gamma_u * (1 - c~^2)
        dit  = dc * c~ * Gamma_u * (1 - Gamma_u)
        dft  = dc * c<t-1> * Gamma_f * (1 - Gamma_f)
        dW*  = d*t [a_prev; xt]^T        db* = sum over the m examples of d*t (keepdims)
        [da_prev; dxt] = Wf^T dft + Wi^T dit + Wc^T dcct + Wo^T dot   (rows :n_a and n_a:)
        dc_prev = dc * Gamma_f

    Returns ``{"dxt", "da_prev", "dc_prev", "dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo"}``.
    """
    if not (isinstance(cache, tuple) and len(cache) == 10):
        raise TypeError("lstm_cell_backward: cache must be the 10-tuple returned by lstm_cell_forward")
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters = cache
    _shape("da_next", da_next, np.shape(a_next), "lstm_cell_backward")
    _shape("dc_next", dc_next, np.shape(c_next), "lstm_cell_backward")
    n_a = a_next.shape[0]
    tanh_c = np.tanh(c_next)
    dc = dc_next + da_next * ot * (1 - tanh_c**2)
    dot = da_next * tanh_c * ot * (1 - ot)
    dcct = dc * it * (1 - cct**2)
    dit = dc * cct * it * (1 - it)
    dft = dc * c_prev * ft * (1 - ft)

    concat_T = np.concatenate((a_prev, xt), axis=0).T
    p = parameters
    # One product with each gate's whole weight gives the gradient of the stacked [a_prev; xt].
    dconcat = p["Wf"].T @ dft + p["Wi"].T @ dit + p["Wc"].T @ dcct + p["Wo"].T @ dot
    return {
        "dxt": dconcat[n_a:],
        "da_prev": dconcat[:n_a],
        "dc_prev": dc * ft,
        "dWf": dft @ concat_T,
        "dbf": np.sum(dft, axis=1, keepdims=True),
        "dWi": dit @ concat_T,
        "dbi": np.sum(dit, axis=1, keepdims=True),
        "dWc": dcct @ concat_T,
        "dbc": np.sum(dcct, axis=1, keepdims=True),
        "dWo": dot @ concat_T,
        "dbo": np.sum(dot, axis=1, keepdims=True),
    }


def lstm_backward(da: np.ndarray, caches: tuple) -> Grads:
    """Backprop through time for the LSTM, given ``da (n_a, m, T_x)`` = dJ/da<t> from the outputs.

    Walking t = T_x-1 .. 0 with ``dc_prevt = 0`` after the last step, each cell receives
    ``da[:, :, t] + da_prevt`` and ``dc_prevt`` from step t+1; parameter gradients add up,
    ``dx[:, :, t]`` is stored and ``da0`` is what reaches the initial hidden state.

    Returns ``{"dx", "da0", "dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo"}``.
    """
    cells, T_x = _check_seq_grad(da, caches, 10, "lstm_backward", "lstm_forward")
    x1 = cells[0][8]
    n_a, m, _ = da.shape
    n_x = x1.shape[0]
    dx = np.zeros((n_x, m, T_x))
    grads = {k: np.zeros((n_a, n_a + n_x)) for k in ("dWf", "dWi", "dWc", "dWo")}
    grads.update({k: np.zeros((n_a, 1)) for k in ("dbf", "dbi", "dbc", "dbo")})
    da_prevt = np.zeros((n_a, m))
    dc_prevt = np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        g = lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, cells[t])
        dx[:, :, t] = g["dxt"]
        da_prevt, dc_prevt = g["da_prev"], g["dc_prev"]
        for k in grads:
            grads[k] += g[k]
    return {
        "dx": dx,
        "da0": da_prevt,
        "dWf": grads["dWf"],
        "dbf": grads["dbf"],
        "dWi": grads["dWi"],
        "dbi": grads["dbi"],
        "dWc": grads["dWc"],
        "dbc": grads["dbc"],
        "dWo": grads["dWo"],
        "dbo": grads["dbo"],
    }


# ---- 5. the same gradients from minigrad's autograd (the lesson's other half) ------------------


def _leaves(parameters: Params, keys: tuple[str, ...]) -> dict[str, mg.Tensor]:
    return {k: mg.tensor(np.asarray(parameters[k], dtype=np.float64), requires_grad=True) for k in keys}


def rnn_backward_autograd(da: np.ndarray, x: np.ndarray, a0: np.ndarray, parameters: Params) -> Grads:
    """``rnn_backward``'s dict, from minigrad: rebuild the forward from primitives in float64 and
    backpropagate ``J = sum_t sum(da<t> * a<t>)``, the scalar whose gradient ``rnn_backward`` computes."""
    _ndim("da", da, 3, "(n_a, m, T_x)", "rnn_backward_autograd")
    _ndim("x", x, 3, "(n_x, m, T_x)", "rnn_backward_autograd")
    _need(parameters, _RNN_KEYS, "rnn_backward_autograd")
    P = _leaves(parameters, ("Wax", "Waa", "ba"))
    xs = mg.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    a = a0_t = mg.tensor(np.asarray(a0, dtype=np.float64), requires_grad=True)
    T_x = da.shape[2]
    J = mg.tensor(np.float64(0.0))
    for t in range(T_x):
        with mg.scope(f"t{t}"):
            a = (P["Waa"] @ a + P["Wax"] @ xs[:, :, t] + P["ba"]).tanh()
            J = J + (a * mg.tensor(np.asarray(da[:, :, t], dtype=np.float64))).sum()
    J.backward()
    return {
        "dx": xs.grad[:, :, :T_x],
        "da0": a0_t.grad,
        "dWax": P["Wax"].grad,
        "dWaa": P["Waa"].grad,
        "dba": P["ba"].grad,
    }


def lstm_backward_autograd(da: np.ndarray, x: np.ndarray, a0: np.ndarray, parameters: Params) -> Grads:
    """``lstm_backward``'s dict, from minigrad (same gates on ``mg.concat([a, xt])``, ``c0 = 0``,
    ``J = sum_t sum(da<t> * a<t>)``)."""
    _ndim("da", da, 3, "(n_a, m, T_x)", "lstm_backward_autograd")
    _ndim("x", x, 3, "(n_x, m, T_x)", "lstm_backward_autograd")
    _need(parameters, _LSTM_KEYS, "lstm_backward_autograd")
    P = _leaves(parameters, ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo"))
    xs = mg.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    a = a0_t = mg.tensor(np.asarray(a0, dtype=np.float64), requires_grad=True)
    c = mg.tensor(np.zeros(np.shape(a0)))
    T_x = da.shape[2]
    J = mg.tensor(np.float64(0.0))
    for t in range(T_x):
        with mg.scope(f"t{t}"):
            concat = mg.concat([a, xs[:, :, t]], axis=0)
            ft = (P["Wf"] @ concat + P["bf"]).sigmoid()
            it = (P["Wi"] @ concat + P["bi"]).sigmoid()
            cct = (P["Wc"] @ concat + P["bc"]).tanh()
            c = ft * c + it * cct
            ot = (P["Wo"] @ concat + P["bo"]).sigmoid()
            a = ot * c.tanh()
            J = J + (a * mg.tensor(np.asarray(da[:, :, t], dtype=np.float64))).sum()
    J.backward()
    grads = {"dx": xs.grad[:, :, :T_x], "da0": a0_t.grad}
    grads.update({f"d{k}": P[k].grad for k in ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo")})
    return grads
