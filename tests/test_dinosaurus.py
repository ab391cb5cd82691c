"""The course's Dinosaurus Island functions: the notebook's published values, the autograd twin, errors."""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
from pathlib import Path

import numpy as np
import pytest

from models import dinosaurus as dino

ROOT = Path(__file__).resolve().parents[1]
DINOS = ROOT / "../shared/data/dinos.txt"

# Printed by the course's notebook (model(data.split("\n"), ix_to_char, char_to_ix, 22001, verbose=True)).
NAMES_AT_0 = [
    "Nkzxwtdmfqoeyhsqwasjkjvu",
    "Kneb",
    "Kzxwtdmfqoeyhsqwasjkjvu",
    "Neb",
    "Zxwtdmfqoeyhsqwasjkjvu",
    "Eb",
    "Xwtdmfqoeyhsqwasjkjvu",
]


@pytest.fixture(scope="module")
def dinos() -> tuple[list[str], dict[int, str], dict[str, int]]:
    """The course's dinos.txt, read as the notebook does; missing: a failure in CI, a skip elsewhere."""
    if not DINOS.is_file():
        message = f"the course's dinosaur list is missing: {DINOS.resolve()} (see docs/course.md for where to get it)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + "; CI must provide ../shared/data/dinos.txt")
        pytest.skip(message)
    return dino.load_dinos(DINOS)


def optimize_case() -> tuple[list[int], list[int], np.ndarray, dict[str, np.ndarray]]:
    """The notebook's optimize_test input."""
    np.random.seed(1)
    vocab_size, n_a = 27, 100
    a_prev = np.random.randn(n_a, 1)
    Wax, Waa, Wya = np.random.randn(n_a, vocab_size), np.random.randn(n_a, n_a), np.random.randn(vocab_size, n_a)
    b, by = np.random.randn(n_a, 1), np.random.randn(vocab_size, 1)
    parameters = {"Wax": Wax, "Waa": Waa, "Wya": Wya, "b": b, "by": by}
    return [12, 3, 5, 11, 22, 3], [4, 14, 11, 22, 25, 26], a_prev, parameters


def run_model(*args, **kwargs) -> tuple[dict, str, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        parameters, last = dino.model(*args, **kwargs)
    return parameters, last, out.getvalue()


# ---- utils ----------------------------------------------------------------------------------------


def test_softmax_smooth_and_initial_loss():
    z = np.array([[1.0], [2.0], [1000.0]])
    p = dino.softmax(z)
    assert p.shape == (3, 1) and np.isfinite(p).all() and math.isclose(p.sum(), 1.0)
    assert dino.smooth(10.0, 20.0) == pytest.approx(10.01)
    assert dino.get_initial_loss(27, 7) == pytest.approx(7 * math.log(27))


def test_initialize_parameters_is_the_courses():
    params = dino.initialize_parameters(50, 27, 27)
    assert {k: v.shape for k, v in params.items()} == {
        "Wax": (50, 27),
        "Waa": (50, 50),
        "Wya": (27, 50),
        "b": (50, 1),
        "by": (27, 1),
    }
    np.random.seed(1)
    np.testing.assert_array_equal(params["Wax"], np.random.randn(50, 27) * 0.01)
    np.testing.assert_array_equal(params["Waa"], np.random.randn(50, 50) * 0.01)
    assert not params["b"].any() and not params["by"].any()


def test_load_dinos_builds_the_notebooks_vocabulary(dinos):
    data_x, ix_to_char, char_to_ix = dinos
    assert len(data_x) == 1536 and data_x[0] == "aachenosaurus"
    assert char_to_ix["\n"] == 0 and char_to_ix["a"] == 1 and char_to_ix["z"] == 26 and len(char_to_ix) == 27
    assert all(ix_to_char[i] == c for c, i in char_to_ix.items())


# ---- clip ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "max_value, expected",
    [
        (10, {"dWaa": 10.0, "dWax": -10.0, "dWya": 0.2971381536101662, "db": 10.0, "dby": 8.45833407}),
        (5, {"dWaa": 5.0, "dWax": -5.0, "dWya": 0.2971381536101662, "db": 5.0, "dby": 5.0}),
    ],
)
def test_clip_gives_the_notebooks_values_and_leaves_its_input_alone(max_value, expected):
    np.random.seed(3)
    gradients = {
        "dWax": np.random.randn(5, 3) * 10,
        "dWaa": np.random.randn(5, 5) * 10,
        "dWya": np.random.randn(2, 5) * 10,
        "db": np.random.randn(5, 1) * 10,
        "dby": np.random.randn(2, 1) * 10,
    }
    before = copy.deepcopy(gradients)
    clipped = dino.clip(gradients, max_value)
    assert clipped["dWaa"][1][2] == expected["dWaa"]
    assert clipped["dWax"][3][1] == expected["dWax"]
    assert clipped["dWya"][1][2] == pytest.approx(expected["dWya"], rel=1e-15)
    assert clipped["db"][4] == pytest.approx([expected["db"]])
    assert clipped["dby"][1] == pytest.approx([expected["dby"]], rel=1e-8)
    for key, value in before.items():
        np.testing.assert_array_equal(gradients[key], value)
        assert np.abs(clipped[key]).max() <= max_value


# ---- sample ----------------------------------------------------------------------------------------


def test_sample_follows_the_courses_seeding_rule():
    char_to_ix = {c: i for i, c in enumerate("\nabcdefghijklmnopqrstuvwxyz")}
    np.random.seed(24)
    vocab_size, n_a = 27, 100
    Wax, Waa, Wya = np.random.randn(n_a, vocab_size), np.random.randn(n_a, n_a), np.random.randn(vocab_size, n_a)
    b, by = np.random.randn(n_a, 1), np.random.randn(vocab_size, 1)
    parameters = {"Wax": Wax, "Waa": Waa, "Wya": Wya, "b": b, "by": by}
    indices = dino.sample(parameters, char_to_ix, 0)
    assert indices[:6] == [23, 16, 26, 26, 24, 3]  # the notebook's sample_test
    assert len(indices) < 52 and indices[-1] == char_to_ix["\n"]
    assert indices == dino.sample(parameters, char_to_ix, 0)  # same seed, same name
    assert indices != dino.sample(parameters, char_to_ix, 1)


def test_sample_stops_at_fifty_characters_then_appends_newline():
    # A model that never predicts "\n": by strongly favours "a".
    params = dino.initialize_parameters(5, 3, 3)
    params["by"] = np.array([[-50.0], [50.0], [0.0]])
    indices = dino.sample(params, {"\n": 0, "a": 1, "b": 2}, 0)
    assert len(indices) == 51 and indices[:50] == [1] * 50 and indices[-1] == 0


# ---- forward, backward, optimize -----------------------------------------------------------------


def test_optimize_gives_the_notebooks_values():
    X, Y, a_prev, parameters = optimize_case()
    old = copy.deepcopy(parameters)
    loss, gradients, a_last = dino.optimize(X, Y, a_prev, parameters, learning_rate=0.01)
    # Published with 17 digits; the last two depend on the BLAS build (a learner's run printed ...376).
    assert loss == pytest.approx(126.50397572165389, rel=1e-13)
    assert gradients["dWaa"][1][2] == pytest.approx(0.19470931534713587, rel=1e-11)
    assert np.argmax(gradients["dWax"]) == 93
    assert gradients["dWya"][1][2] == pytest.approx(-0.007773876032002162, rel=1e-10)
    assert gradients["db"][4] == pytest.approx([-0.06809825], abs=1e-8)
    assert gradients["dby"][1] == pytest.approx([0.01538192], abs=1e-8)
    assert a_last[4] == pytest.approx([-1.0])
    assert set(gradients) == set(dino.GRADIENT_KEYS)
    for key in dino.PARAMETER_KEYS:  # updated in place by -lr * clipped gradient
        np.testing.assert_allclose(parameters[key], old[key] - 0.01 * gradients["d" + key], rtol=0, atol=1e-15)


def test_rnn_backward_equals_minigrads_autograd():
    X, Y, a_prev, parameters = optimize_case()
    loss, cache = dino.rnn_forward(X, Y, a_prev, parameters)
    gradients, a = dino.rnn_backward(X, Y, parameters, cache)
    loss_ag, gradients_ag, a_last = dino.rnn_forward_backward_autograd(X, Y, a_prev, parameters)
    assert loss_ag == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(a_last, a[len(X) - 1], rtol=0, atol=1e-12)
    for key in dino.GRADIENT_KEYS:
        scale = max(1.0, np.abs(gradients[key]).max())
        np.testing.assert_allclose(gradients_ag[key], gradients[key], rtol=0, atol=1e-10 * scale, err_msg=key)


def test_autograd_twin_with_trained_scale_weights_and_zero_first_input():
    params = dino.initialize_parameters(20, 27, 27)
    rng = np.random.default_rng(5)
    params["b"] = rng.standard_normal((20, 1)) * 0.1
    X = [None, 4, 1, 20, 9]
    Y = X[1:] + [0]
    a0 = rng.standard_normal((20, 1)) * 0.5
    loss, cache = dino.rnn_forward(X, Y, a0, params)
    gradients, _ = dino.rnn_backward(X, Y, params, cache)
    loss_ag, gradients_ag, _ = dino.rnn_forward_backward_autograd(X, Y, a0, params)
    assert loss_ag == pytest.approx(loss, rel=1e-13)
    for key in dino.GRADIENT_KEYS:
        np.testing.assert_allclose(gradients_ag[key], gradients[key], rtol=0, atol=1e-12, err_msg=key)
    assert not gradients["dWax"][:, 0].any()  # "\n" is never an input here (x<0> is zero, not "\n")


# ---- the training loop: the notebook's printout -------------------------------------------------


def test_model_prints_the_notebooks_lines(dinos):
    data_x, ix_to_char, char_to_ix = dinos
    parameters, last, printed = run_model(data_x, ix_to_char, char_to_ix, 2001, verbose=True)
    lines = printed.split("\n")
    assert "Iteration: 0, Loss: 23.087336" in lines
    assert "Iteration: 2000, Loss: 27.884160" in lines
    start = lines.index("Iteration: 0, Loss: 23.087336")
    assert lines[start + 1] == "" and lines[start + 2 : start + 9] == NAMES_AT_0
    at_2000 = lines.index("Iteration: 2000, Loss: 27.884160")
    assert lines[at_2000 + 2 : at_2000 + 9] == [
        "Liusskeomnolxeros",
        "Hmdaairus",
        "Hytroligoraurus",
        "Lecalosapaus",
        "Xusicikoraurus",
        "Abalpsamantisaurus",
        "Tpraneronxeros",
    ]
    assert last == "Tpraneronxeros\n"  # get_sample keeps the final newline; model prints without it
    assert "j =  0 idx =  0" in lines and "single_example = turiasaurus" in lines  # verbose, after the shuffle
    assert "j =  1536 idx =  0" in lines
    assert set(parameters) == set(dino.PARAMETER_KEYS) and parameters["Wax"].shape == (50, 27)


def test_model_carries_the_hidden_state_from_name_to_name(dinos):
    data_x, ix_to_char, char_to_ix = dinos
    seen = []
    original = dino.optimize

    def spy(X, Y, a_prev, parameters, learning_rate=0.01):
        seen.append(a_prev.copy())
        result = original(X, Y, a_prev, parameters, learning_rate)
        seen.append(result[2].copy())
        return result

    dino.optimize = spy
    try:
        run_model(data_x, ix_to_char, char_to_ix, 3, dino_names=1)
    finally:
        dino.optimize = original
    assert not seen[0].any()  # the very first a_prev is zero
    np.testing.assert_array_equal(seen[2], seen[1])  # then a<T> of one name is a_prev of the next
    np.testing.assert_array_equal(seen[4], seen[3])
    assert seen[2].any()


def test_minigrad_engine_trains_the_same_model(dinos):
    data_x, ix_to_char, char_to_ix = dinos
    by_hand, _, printed = run_model(data_x, ix_to_char, char_to_ix, 200, dino_names=3)
    by_autograd, _, printed_ag = run_model(data_x, ix_to_char, char_to_ix, 200, dino_names=3, engine="minigrad")
    assert printed_ag == printed
    for key in dino.PARAMETER_KEYS:
        np.testing.assert_allclose(by_autograd[key], by_hand[key], rtol=0, atol=1e-10, err_msg=key)


def test_model_callback_sees_every_iteration(dinos):
    data_x, ix_to_char, char_to_ix = dinos
    calls = []
    _, _, printed = run_model(
        data_x,
        ix_to_char,
        char_to_ix,
        5,
        dino_names=1,
        print_every=2,
        callback=lambda j, cur, smoothed, params: calls.append((j, cur, smoothed)),
    )
    assert [c[0] for c in calls] == [0, 1, 2, 3, 4]
    # The course starts the smoothed loss at get_initial_loss(vocab_size, dino_names): 1 name here.
    assert calls[0][2] == pytest.approx(0.999 * 1 * math.log(27) + 0.001 * calls[0][1])
    assert [line for line in printed.split("\n") if line.startswith("Iteration")] == [
        f"Iteration: {j}, Loss: {calls[j][2]:f}" for j in (0, 2, 4)
    ]


# ---- bad input ----------------------------------------------------------------------------------


def test_errors_name_the_function_and_what_was_expected(tmp_path):
    X, Y, a_prev, parameters = optimize_case()
    with pytest.raises(KeyError, match=r"rnn_forward: parameters lack \['b'\]"):
        dino.rnn_forward(X, Y, a_prev, {k: v for k, v in parameters.items() if k != "b"})
    with pytest.raises(ValueError, match="parameter Waa has shape"):
        dino.optimize(X, Y, a_prev, {**parameters, "Waa": parameters["Waa"][:5]})
    with pytest.raises(ValueError, match="X and Y must have the same length"):
        dino.optimize(X, Y[:-1], a_prev, parameters)
    with pytest.raises(ValueError, match=r"Y\[1\] = 27 is not a character index in \[0, 27\)"):
        dino.rnn_forward(X, [4, 27, 11, 22, 25, 26], a_prev, parameters)
    with pytest.raises(ValueError, match="vocab_size=30 but Wax has 27 columns"):
        dino.rnn_forward(X, Y, a_prev, parameters, vocab_size=30)
    with pytest.raises(ValueError, match=r"a0 must have shape \(n_a, 1\)"):
        dino.rnn_forward(X, Y, a_prev.ravel(), parameters)
    with pytest.raises(ValueError, match="clip: maxValue must be a positive number"):
        dino.clip({"d" + k: np.zeros(1) for k in dino.PARAMETER_KEYS}, -1)
    with pytest.raises(KeyError, match="clip: gradients lack"):
        dino.clip({"dWax": np.zeros(1)}, 5)
    with pytest.raises(ValueError, match="sample: char_to_ix must be a dict that maps '\\\\n'"):
        dino.sample(parameters, {"a": 1}, 0)
    with pytest.raises(ValueError, match="sample: seed must be a non-negative integer"):
        dino.sample(parameters, {"\n": 0}, -1)
    chars = {c: i for i, c in enumerate("\nab")}
    ix = {i: c for c, i in chars.items()}
    with pytest.raises(ValueError, match="vocab_size=27 but char_to_ix has 3 characters"):
        dino.model(["ab"], ix, chars, 1)
    with pytest.raises(ValueError, match=r"name 1 \('abc'\) has characters that are not in char_to_ix: \['c'\]"):
        dino.model(["ab", "abc"], ix, chars, 1, vocab_size=3)
    with pytest.raises(ValueError, match="model: engine must be one of"):
        dino.model(["ab"], ix, chars, 1, vocab_size=3, engine="torch")
    with pytest.raises(FileNotFoundError, match="not shipped with minigrad; get it from"):
        dino.load_dinos(tmp_path / "dinos.txt")
    with pytest.raises(ValueError, match="is a folder; expected the file dinos.txt"):
        dino.load_dinos(tmp_path)
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(ValueError, match="has no names"):
        dino.load_dinos(tmp_path / "empty.txt")
