"""The course's hand-written BPTT (models/rnn_step_by_step.py) against minigrad autograd.

The hand-written backward functions return the gradient of a scalar J whose gradient with
respect to the hidden states is the given ``da`` (and ``dc`` for the LSTM cell): that is
J = sum(da * a) (+ sum(dc_next * c_next)). Each test builds the same forward from minigrad
primitives in float64, backpropagates J and compares every entry of the gradient dicts to 1e-10.

The printed example values come from the course notebook, "Building your Recurrent Neural
Network - Step by Step" (Sequence Models, week 1), in its current form (the one whose
lstm_backward passes da[:, :, t] + da_prevt); public copies, e.g. the notebook exported as
Python in the GitHub repositories indexed for this project, print the same numbers. The extra
checks at the end come from that assignment's public_tests.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from models import rnn_step_by_step as sbs

RNN_SHAPES = [("Wax", "a x"), ("Waa", "a a"), ("Wya", "y a"), ("ba", "a 1"), ("by", "y 1")]
LSTM_ORDER = ["Wf", "bf", "Wi", "bi", "Wo", "bo", "Wc", "bc", "Wy", "by"]


def rnn_params(rng, n_x, n_a, n_y):
    dims = {"a": n_a, "x": n_x, "y": n_y, "1": 1}
    return {k: rng.standard_normal(tuple(dims[d] for d in s.split())) for k, s in RNN_SHAPES}


def lstm_params(rng, n_x, n_a, n_y):
    p = {}
    for g in "fico":
        p[f"W{g}"] = rng.standard_normal((n_a, n_a + n_x))
        p[f"b{g}"] = rng.standard_normal((n_a, 1))
    p["Wy"] = rng.standard_normal((n_y, n_a))
    p["by"] = rng.standard_normal((n_y, 1))
    return p


def leaves(arrays):
    return {k: mg.tensor(v, requires_grad=True) for k, v in arrays.items()}


# ---- the same forwards, from minigrad primitives -----------------------------------------------


def mg_rnn_cell(xt, a_prev, P):
    return (P["Waa"] @ a_prev + P["Wax"] @ xt + P["ba"]).tanh()


def mg_lstm_cell(xt, a_prev, c_prev, P):
    concat = mg.concat([a_prev, xt], axis=0)
    ft = (P["Wf"] @ concat + P["bf"]).sigmoid()
    it = (P["Wi"] @ concat + P["bi"]).sigmoid()
    cct = (P["Wc"] @ concat + P["bc"]).tanh()
    c_next = ft * c_prev + it * cct
    ot = (P["Wo"] @ concat + P["bo"]).sigmoid()
    return ot * c_next.tanh(), c_next


def assert_close(hand, auto, name):
    assert hand.shape == auto.shape, f"{name}: hand-written shape {hand.shape} != autograd {auto.shape}"
    np.testing.assert_allclose(hand, auto, rtol=0, atol=1e-10, err_msg=name)


# ---- forward: numpy against minigrad -----------------------------------------------------------


def test_forward_passes_match_minigrad():
    rng = np.random.default_rng(0)
    n_x, n_a, n_y, m, T = 3, 5, 2, 4, 6
    x, a0 = rng.standard_normal((n_x, m, T)), rng.standard_normal((n_a, m))
    P = rnn_params(rng, n_x, n_a, n_y)
    a, y, _ = sbs.rnn_forward(x, a0, P)
    Pt, h = leaves(P), mg.tensor(a0)
    for t in range(T):
        h = mg_rnn_cell(mg.tensor(x[:, :, t]), h, Pt)
        assert_close(a[:, :, t], h.data, f"a[:, :, {t}]")
        assert_close(y[:, :, t], (Pt["Wya"] @ h + Pt["by"]).softmax(axis=0).data, f"y[:, :, {t}]")

    P = lstm_params(rng, n_x, n_a, n_y)
    a, y, c, _ = sbs.lstm_forward(x, a0, P)
    Pt, h, cell = leaves(P), mg.tensor(a0), mg.zeros(n_a, m, dtype=np.float64)
    for t in range(T):
        h, cell = mg_lstm_cell(mg.tensor(x[:, :, t]), h, cell, Pt)
        assert_close(a[:, :, t], h.data, f"a[:, :, {t}]")
        assert_close(c[:, :, t], cell.data, f"c[:, :, {t}]")
        assert_close(y[:, :, t], (Pt["Wy"] @ h + Pt["by"]).softmax(axis=0).data, f"y[:, :, {t}]")
    np.testing.assert_allclose(y.sum(axis=0), 1.0, atol=1e-12)  # softmax over the class axis


# ---- backward: hand-written against autograd ---------------------------------------------------


@pytest.mark.parametrize("m", [1, 7])
def test_rnn_cell_backward_equals_autograd(m):
    rng = np.random.default_rng(m)
    n_x, n_a, n_y = 3, 5, 2
    xt, a_prev, da_next = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m))
    P = rnn_params(rng, n_x, n_a, n_y)
    _, _, cache = sbs.rnn_cell_forward(xt, a_prev, P)
    hand = sbs.rnn_cell_backward(da_next, cache)

    Pt, x_t, a_t = leaves(P), mg.tensor(xt, requires_grad=True), mg.tensor(a_prev, requires_grad=True)
    (mg_rnn_cell(x_t, a_t, Pt) * mg.tensor(da_next)).sum().backward()  # J = sum(da_next * a_next)
    auto = {"dxt": x_t.grad, "da_prev": a_t.grad, "dWax": Pt["Wax"].grad, "dWaa": Pt["Waa"].grad, "dba": Pt["ba"].grad}
    assert set(hand) == set(auto)
    for k in auto:
        assert_close(hand[k], auto[k], k)


@pytest.mark.parametrize("T", [1, 9])
def test_rnn_backward_equals_autograd(T):
    rng = np.random.default_rng(10 + T)
    n_x, n_a, n_y, m = 4, 6, 3, 5
    x, a0, da = rng.standard_normal((n_x, m, T)), rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m, T))
    P = rnn_params(rng, n_x, n_a, n_y)
    _, _, caches = sbs.rnn_forward(x, a0, P)
    hand = sbs.rnn_backward(da, caches)

    Pt, xs, h0 = leaves(P), mg.tensor(x, requires_grad=True), mg.tensor(a0, requires_grad=True)
    h, J = h0, 0.0
    for t in range(T):
        h = mg_rnn_cell(xs[:, :, t], h, Pt)
        J = J + (h * mg.tensor(da[:, :, t])).sum()  # J = sum_t sum(da<t> * a<t>)
    J.backward()
    auto = {"dx": xs.grad, "da0": h0.grad, "dWax": Pt["Wax"].grad, "dWaa": Pt["Waa"].grad, "dba": Pt["ba"].grad}
    assert set(hand) == set(auto)
    for k in auto:
        assert_close(hand[k], auto[k], k)


@pytest.mark.parametrize("m", [1, 6])
def test_lstm_cell_backward_equals_autograd(m):
    rng = np.random.default_rng(20 + m)
    n_x, n_a, n_y = 3, 4, 2
    xt, a_prev, c_prev = (rng.standard_normal(s) for s in ((n_x, m), (n_a, m), (n_a, m)))
    da_next, dc_next = rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m))
    P = lstm_params(rng, n_x, n_a, n_y)
    _, _, _, cache = sbs.lstm_cell_forward(xt, a_prev, c_prev, P)
    hand = sbs.lstm_cell_backward(da_next, dc_next, cache)

    Pt = leaves(P)
    x_t, a_t, c_t = (mg.tensor(v, requires_grad=True) for v in (xt, a_prev, c_prev))
    a_next, c_next = mg_lstm_cell(x_t, a_t, c_t, Pt)
    # J = sum(da_next * a_next) + sum(dc_next * c_next): dc_next is the gradient arriving from step t+1
    ((a_next * mg.tensor(da_next)).sum() + (c_next * mg.tensor(dc_next)).sum()).backward()
    auto = {"dxt": x_t.grad, "da_prev": a_t.grad, "dc_prev": c_t.grad}
    auto.update({f"d{k}": Pt[k].grad for k in LSTM_ORDER if k not in ("Wy", "by")})
    assert set(hand) == set(auto)
    for k in auto:
        assert_close(hand[k], auto[k], k)


@pytest.mark.parametrize("T, T_da", [(1, 1), (8, 8), (7, 4)])
def test_lstm_backward_equals_autograd(T, T_da):
    """(7, 4) is the course's own example: a forward of 7 steps, a da of 4 (T_x is read from da)."""
    rng = np.random.default_rng(30 + T)
    n_x, n_a, n_y, m = 3, 5, 2, 4
    x, a0, da = rng.standard_normal((n_x, m, T)), rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m, T_da))
    P = lstm_params(rng, n_x, n_a, n_y)
    _, _, _, caches = sbs.lstm_forward(x, a0, P)
    hand = sbs.lstm_backward(da, caches)

    Pt, xs, h0 = leaves(P), mg.tensor(x, requires_grad=True), mg.tensor(a0, requires_grad=True)
    h, cell, J = h0, mg.zeros(n_a, m, dtype=np.float64), 0.0
    for t in range(T_da):
        h, cell = mg_lstm_cell(xs[:, :, t], h, cell, Pt)
        J = J + (h * mg.tensor(da[:, :, t])).sum()
    J.backward()
    auto = {"dx": xs.grad[:, :, :T_da], "da0": h0.grad}
    auto.update({f"d{k}": Pt[k].grad for k in LSTM_ORDER if k not in ("Wy", "by")})
    assert set(hand) == set(auto)
    for k in auto:
        assert_close(hand[k], auto[k], k)
    assert not xs.grad[:, :, T_da:].any()  # steps after the last da cannot matter


def test_gradients_follow_float64_finite_differences():
    """An independent check of the hand-written formulas (no autograd): central differences."""
    rng = np.random.default_rng(5)
    n_x, n_a, n_y, m, T = 2, 3, 2, 2, 3
    x, a0, da = rng.standard_normal((n_x, m, T)), rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m, T))
    P = lstm_params(rng, n_x, n_a, n_y)
    hand = sbs.lstm_backward(da, sbs.lstm_forward(x, a0, P)[3])

    def J(params):
        return float(np.sum(da * sbs.lstm_forward(x, a0, params)[0]))

    eps = 1e-6
    for k in ("Wf", "Wi", "Wc", "Wo", "bc"):
        num = np.zeros_like(P[k])
        for idx in np.ndindex(P[k].shape):
            plus, minus = dict(P), dict(P)
            plus[k], minus[k] = P[k].copy(), P[k].copy()
            plus[k][idx] += eps
            minus[k][idx] -= eps
            num[idx] = (J(plus) - J(minus)) / (2 * eps)
        np.testing.assert_allclose(hand[f"d{k}"], num, atol=1e-7, err_msg=k)


# ---- the notebook's printed values --------------------------------------------------------------


def _lstm_notebook_params(with_output=True):
    p = {}
    for k in LSTM_ORDER[:8]:
        p[k] = np.random.randn(5, 5 + 3) if k.startswith("W") else np.random.randn(5, 1)
    if with_output:
        p["Wy"], p["by"] = np.random.randn(2, 5), np.random.randn(2, 1)
    else:  # the backward example: "unused, but needed for lstm_forward"
        p["Wy"], p["by"] = np.zeros((2, 5)), np.zeros((2, 1))
    return p


def test_notebook_rnn_cell_forward():
    np.random.seed(1)
    xt, a_prev = np.random.randn(3, 10), np.random.randn(5, 10)
    P = {
        "Waa": np.random.randn(5, 5),
        "Wax": np.random.randn(5, 3),
        "Wya": np.random.randn(2, 5),
        "ba": np.random.randn(5, 1),
        "by": np.random.randn(2, 1),
    }
    a_next, yt_pred, cache = sbs.rnn_cell_forward(xt, a_prev, P)
    np.testing.assert_allclose(
        a_next[4],
        [
            0.59584544,
            0.18141802,
            0.61311866,
            0.99808218,
            0.85016201,
            0.99980978,
            -0.18887155,
            0.99815551,
            0.6531151,
            0.82872037,
        ],
        atol=1e-8,
    )
    np.testing.assert_allclose(
        yt_pred[1],
        [
            0.9888161,
            0.01682021,
            0.21140899,
            0.36817467,
            0.98988387,
            0.88945212,
            0.36920224,
            0.9966312,
            0.9982559,
            0.17746526,
        ],
        atol=1e-8,
    )
    assert a_next.shape == (5, 10) and yt_pred.shape == (2, 10)
    assert len(cache) == 4 and cache[0] is a_next and cache[1] is a_prev and cache[2] is xt and cache[3] is P


def test_notebook_rnn_forward():
    np.random.seed(1)
    x, a0 = np.random.randn(3, 10, 4), np.random.randn(5, 10)
    P = {
        "Waa": np.random.randn(5, 5),
        "Wax": np.random.randn(5, 3),
        "Wya": np.random.randn(2, 5),
        "ba": np.random.randn(5, 1),
        "by": np.random.randn(2, 1),
    }
    a, y_pred, caches = sbs.rnn_forward(x, a0, P)
    np.testing.assert_allclose(a[4][1], [-0.99999375, 0.77911235, -0.99861469, -0.99833267], atol=1e-8)
    np.testing.assert_allclose(y_pred[1][3], [0.79560373, 0.86224861, 0.11118257, 0.81515947], atol=1e-8)
    np.testing.assert_allclose(caches[1][1][3], [-1.1425182, -0.34934272, -0.20889423, 0.58662319], atol=1e-8)
    assert a.shape == (5, 10, 4) and y_pred.shape == (2, 10, 4) and len(caches) == 2


def test_notebook_lstm_cell_forward():
    np.random.seed(1)
    xt, a_prev, c_prev = np.random.randn(3, 10), np.random.randn(5, 10), np.random.randn(5, 10)
    a_next, c_next, yt, cache = sbs.lstm_cell_forward(xt, a_prev, c_prev, _lstm_notebook_params())
    np.testing.assert_allclose(
        a_next[4],
        [
            -0.66408471,
            0.0036921,
            0.02088357,
            0.22834167,
            -0.85575339,
            0.00138482,
            0.76566531,
            0.34631421,
            -0.00215674,
            0.43827275,
        ],
        atol=1e-8,
    )
    np.testing.assert_allclose(
        c_next[2],
        [
            0.63267805,
            1.00570849,
            0.35504474,
            0.20690913,
            -1.64566718,
            0.11832942,
            0.76449811,
            -0.0981561,
            -0.74348425,
            -0.26810932,
        ],
        atol=1e-8,
    )
    np.testing.assert_allclose(
        yt[1],
        [
            0.79913913,
            0.15986619,
            0.22412122,
            0.15606108,
            0.97057211,
            0.31146381,
            0.00943007,
            0.12666353,
            0.39380172,
            0.07828381,
        ],
        atol=1e-8,
    )
    np.testing.assert_allclose(
        cache[1][3],
        [
            -0.16263996,
            1.03729328,
            0.72938082,
            -0.54101719,
            0.02752074,
            -0.30821874,
            0.07651101,
            -1.03752894,
            1.41219977,
            -0.37647422,
        ],
        atol=1e-8,
    )
    assert len(cache) == 10 and yt.shape == (2, 10)


def test_notebook_lstm_forward():
    np.random.seed(1)
    x, a0 = np.random.randn(3, 10, 7), np.random.randn(5, 10)
    a, y, c, caches = sbs.lstm_forward(x, a0, _lstm_notebook_params())
    assert a[4][3][6] == pytest.approx(0.172117767533, abs=1e-11)
    assert y[1][4][3] == pytest.approx(0.95087346185, abs=1e-11)
    assert c[1][2][1] == pytest.approx(-0.855544916718, abs=1e-11)
    np.testing.assert_allclose(
        caches[1][1][1],
        [0.82797464, 0.23009474, 0.76201118, -0.22232814, -0.20075807, 0.18656139, 0.41005165],
        atol=1e-8,
    )
    assert a.shape == c.shape == (5, 10, 7) and y.shape == (2, 10, 7) and len(caches) == 2


def test_notebook_rnn_cell_backward():
    np.random.seed(1)
    xt, a_prev = np.random.randn(3, 10), np.random.randn(5, 10)
    P = {
        "Wax": np.random.randn(5, 3),
        "Waa": np.random.randn(5, 5),
        "Wya": np.random.randn(2, 5),
        "ba": np.random.randn(5, 1),
        "by": np.random.randn(2, 1),
    }
    _, _, cache = sbs.rnn_cell_forward(xt, a_prev, P)
    g = sbs.rnn_cell_backward(np.random.randn(5, 10), cache)
    assert g["dxt"][1][2] == pytest.approx(-1.3872130506, abs=1e-10)
    assert g["da_prev"][2][3] == pytest.approx(-0.152399493774, abs=1e-11)
    assert g["dWax"][3][1] == pytest.approx(0.410772824935, abs=1e-11)
    assert g["dWaa"][1][2] == pytest.approx(1.15034506685, abs=1e-10)
    np.testing.assert_allclose(g["dba"][4], [0.20023491], atol=1e-8)
    assert g["dxt"].shape == (3, 10) and g["da_prev"].shape == (5, 10)
    assert g["dWax"].shape == (5, 3) and g["dWaa"].shape == (5, 5) and g["dba"].shape == (5, 1)


def test_notebook_rnn_backward():
    np.random.seed(1)
    x, a0 = np.random.randn(3, 10, 4), np.random.randn(5, 10)
    P = {
        "Wax": np.random.randn(5, 3),
        "Waa": np.random.randn(5, 5),
        "Wya": np.random.randn(2, 5),
        "ba": np.random.randn(5, 1),
        "by": np.random.randn(2, 1),
    }
    _, _, caches = sbs.rnn_forward(x, a0, P)
    g = sbs.rnn_backward(np.random.randn(5, 10, 4), caches)
    np.testing.assert_allclose(g["dx"][1][2], [-2.07101689, -0.59255627, 0.02466855, 0.01483317], atol=1e-8)
    assert g["da0"][2][3] == pytest.approx(-0.314942375127, abs=1e-11)
    assert g["dWax"][3][1] == pytest.approx(11.2641044965, abs=1e-9)
    assert g["dWaa"][1][2] == pytest.approx(2.30333312658, abs=1e-10)
    np.testing.assert_allclose(g["dba"][4], [-0.74747722], atol=1e-8)
    assert g["dx"].shape == (3, 10, 4) and g["da0"].shape == (5, 10) and g["dba"].shape == (5, 1)


def test_notebook_lstm_cell_backward():
    np.random.seed(1)
    xt, a_prev, c_prev = np.random.randn(3, 10), np.random.randn(5, 10), np.random.randn(5, 10)
    _, _, _, cache = sbs.lstm_cell_forward(xt, a_prev, c_prev, _lstm_notebook_params())
    da_next, dc_next = np.random.randn(5, 10), np.random.randn(5, 10)
    g = sbs.lstm_cell_backward(da_next, dc_next, cache)
    expected = {
        ("dxt", 1, 2): 3.23055911511,
        ("da_prev", 2, 3): -0.0639621419711,
        ("dc_prev", 2, 3): 0.797522038797,
        ("dWf", 3, 1): -0.147954838164,
        ("dWi", 1, 2): 1.05749805523,
        ("dWc", 3, 1): 2.30456216369,
        ("dWo", 1, 2): 0.331311595289,
        ("dbf", 4, 0): 0.18864637,
        ("dbi", 4, 0): -0.40142491,
        ("dbc", 4, 0): 0.25587763,
        ("dbo", 4, 0): 0.13893342,
    }
    for (k, i, j), v in expected.items():
        assert g[k][i][j] == pytest.approx(v, abs=1e-8), k
    assert g["dxt"].shape == (3, 10) and g["dc_prev"].shape == (5, 10) and g["dWf"].shape == (5, 8)


def test_notebook_lstm_backward():
    np.random.seed(1)
    x, a0 = np.random.randn(3, 10, 7), np.random.randn(5, 10)
    _, _, _, caches = sbs.lstm_forward(x, a0, _lstm_notebook_params(with_output=False))
    g = sbs.lstm_backward(np.random.randn(5, 10, 4), caches)
    np.testing.assert_allclose(g["dx"][1][2], [0.00218254, 0.28205375, -0.48292508, -0.43281115], atol=1e-8)
    expected = {
        ("da0", 2, 3): 0.312770310257,
        ("dWf", 3, 1): -0.0809802310938,
        ("dWi", 1, 2): 0.40512433093,
        ("dWc", 3, 1): -0.0793746735512,
        ("dWo", 1, 2): 0.038948775763,
        ("dbf", 4, 0): -0.15745657,
        ("dbi", 4, 0): -0.50848333,
        ("dbc", 4, 0): -0.42510818,
        ("dbo", 4, 0): -0.17958196,
    }
    for (k, i, j), v in expected.items():
        assert g[k][i][j] == pytest.approx(v, abs=1e-8), k
    assert g["dx"].shape == (3, 10, 4) and g["da0"].shape == (5, 10) and g["dWf"].shape == (5, 8)


def test_public_tests_values():
    """Values asserted by the assignment's public_tests.py (rnn_forward_test, lstm_cell_forward_test,
    lstm_forward_test)."""
    np.random.seed(17)
    x, a0 = np.random.randn(4, 8, 13), np.random.randn(7, 8)
    P = {
        "Waa": np.random.randn(7, 7),
        "Wax": np.random.randn(7, 4),
        "Wya": np.random.randn(3, 7),
        "ba": np.random.randn(7, 1),
        "by": np.random.randn(3, 1),
    }
    a, y_pred, caches = sbs.rnn_forward(x, a0, P)
    np.testing.assert_allclose(a[5, 2, 2:6], [0.99999291, 0.99332189, 0.9921928, 0.99503445], atol=1e-7)
    np.testing.assert_allclose(y_pred[2, 1, 1:5], [0.19428, 0.14292, 0.24993, 0.00119], atol=1e-4)
    assert len(caches[0]) == 13 and caches[1] is x

    np.random.seed(212)
    n_x, m, n_a, n_y = 4, 8, 7, 3
    x, a0, c0 = np.random.randn(n_x, m), np.random.randn(n_a, m), np.random.randn(n_a, m)
    P = {}
    for k in LSTM_ORDER[:8]:
        P[k] = np.random.randn(n_a, n_a + n_x) if k.startswith("W") else np.random.randn(n_a, 1)
    P["Wy"], P["by"] = np.random.randn(n_y, n_a), np.random.randn(n_y, 1)
    a_next, c_next, y_pred, cache = sbs.lstm_cell_forward(x, a0, c0, P)
    for i, v in {
        4: [0.32969833, 0.0574555],
        5: [0.0036446, 0.9806943],
        6: [0.99903873, 0.57509956],
        1: [0.1352798, 0.39884899],
        7: [0.7477249, 0.71588751],
        0: [0.10053951, 0.27129536],
    }.items():
        np.testing.assert_allclose(cache[i][0, 0:2], v, atol=1e-7)
    # public_tests uses np.allclose's default tolerances (rtol=1e-5, atol=1e-8) on these truncated values
    assert np.allclose(y_pred[1], [0.417098, 0.449528, 0.223159, 0.278376, 0.68453, 0.419221, 0.564025, 0.538475])

    np.random.seed(45)
    n_x, m, T_x, n_a, n_y = 4, 13, 16, 3, 2
    x, a0 = np.random.randn(n_x, m, T_x), np.random.randn(n_a, m)
    P = {}
    for k in LSTM_ORDER[:8]:
        P[k] = np.random.randn(n_a, n_a + n_x) if k.startswith("W") else np.random.randn(n_a, 1)
    P["Wy"], P["by"] = np.random.randn(n_y, n_a), np.random.randn(n_y, 1)
    a, y, c, caches = sbs.lstm_forward(x, a0, P)
    np.testing.assert_allclose(a[2, 1, 4:6], [-0.01606022, 0.0243569], atol=1e-7)
    np.testing.assert_allclose(c[2, 1, 4:6], [-0.02753855, 0.05668358], atol=1e-7)
    np.testing.assert_allclose(y[1, 1, 4:6], [0.70444592, 0.70648935], atol=1e-7)
    assert len(caches[0]) == T_x and len(caches[0][0]) == 10


# ---- bad input ---------------------------------------------------------------------------------


def test_clear_errors():
    rng = np.random.default_rng(0)
    P = rnn_params(rng, 3, 5, 2)
    with pytest.raises(KeyError, match=r"rnn_cell_forward: parameters is missing \['Waa'\]"):
        sbs.rnn_cell_forward(np.zeros((3, 4)), np.zeros((5, 4)), {k: v for k, v in P.items() if k != "Waa"})
    with pytest.raises(ValueError, match=r"rnn_cell_forward: xt has shape \(2, 4\), expected \(3, 4\)"):
        sbs.rnn_cell_forward(np.zeros((2, 4)), np.zeros((5, 4)), P)
    with pytest.raises(ValueError, match=r"rnn_cell_forward: xt has shape \(4, 3\), expected \(3, 3\)"):
        sbs.rnn_cell_forward(np.zeros((4, 3)), np.zeros((5, 4)), P)  # transposed input
    with pytest.raises(ValueError, match=r"rnn_forward: x must be 3-D \(n_x, m, T_x\), got shape \(3, 4\)"):
        sbs.rnn_forward(np.zeros((3, 4)), np.zeros((5, 4)), P)
    with pytest.raises(ValueError, match=r"a_prev has shape \(5, 3\), expected \(5, 4\)"):
        sbs.rnn_cell_forward(np.zeros((3, 4)), np.zeros((5, 3)), P)
    _, _, caches = sbs.rnn_forward(np.zeros((3, 4, 2)), np.zeros((5, 4)), P)
    with pytest.raises(ValueError, match="rnn_backward: da has 3 time steps but the forward pass ran only 2"):
        sbs.rnn_backward(np.zeros((5, 4, 3)), caches)
    with pytest.raises(TypeError, match="rnn_backward: caches must be the"):
        sbs.rnn_backward(np.zeros((5, 4, 2)), caches[0])
    with pytest.raises(ValueError, match=r"rnn_cell_backward: da_next has shape \(4, 5\), expected \(5, 4\)"):
        sbs.rnn_cell_backward(np.zeros((4, 5)), caches[0][0])

    L = lstm_params(rng, 3, 5, 2)
    with pytest.raises(ValueError, match=r"lstm_cell_forward: c_prev has shape \(5, 1\), expected \(5, 4\)"):
        sbs.lstm_cell_forward(np.zeros((3, 4)), np.zeros((5, 4)), np.zeros((5, 1)), L)
    with pytest.raises(ValueError, match=r"lstm_cell_forward: xt has shape \(4, 4\), expected \(3, 4\)"):
        sbs.lstm_cell_forward(np.zeros((4, 4)), np.zeros((5, 4)), np.zeros((5, 4)), L)
    with pytest.raises(TypeError, match="lstm_backward: caches must be the .* returned by lstm_forward"):
        sbs.lstm_backward(np.zeros((5, 4, 2)), caches)  # RNN caches given to the LSTM


# ---- the module's own autograd counterparts and the demo --------------------------------------


def test_module_autograd_counterparts_match_hand_written():
    rng = np.random.default_rng(3)
    x, a0, da = rng.standard_normal((3, 4, 5)), rng.standard_normal((6, 4)), rng.standard_normal((6, 4, 5))
    P = rnn_params(rng, 3, 6, 2)
    hand, auto = sbs.rnn_backward(da, sbs.rnn_forward(x, a0, P)[2]), sbs.rnn_backward_autograd(da, x, a0, P)
    assert set(hand) == set(auto)
    for k in hand:
        assert_close(hand[k], auto[k], k)
    P = lstm_params(rng, 3, 6, 2)
    hand, auto = sbs.lstm_backward(da, sbs.lstm_forward(x, a0, P)[3]), sbs.lstm_backward_autograd(da, x, a0, P)
    assert set(hand) == set(auto)
    for k in hand:
        assert_close(hand[k], auto[k], k)


def test_demo_prints_both_sides(capsys):
    from demos import rnn_step_by_step as demo

    diffs = demo.main(["--cell", "lstm", "--param", "dWo", "--m", "3", "--steps", "3"])
    out = capsys.readouterr().out
    assert "hand-written lstm_backward" in out and "minigrad autograd" in out and "dWo" in out
    assert set(diffs) == {"dx", "da0", "dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo"}
    assert max(diffs.values()) < 1e-10
    with pytest.raises(SystemExit):
        demo.main(["--param", "dWf"])  # an LSTM key asked of the RNN
    assert "is not a gradient of rnn_backward" in capsys.readouterr().err
