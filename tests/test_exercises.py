"""models.exercises.check: the references pass; broken implementations are rejected with a message
that names the wrong output, the index, both values and, for the classic mistakes, a hint.

The broken implementations are written the way a learner writes them: the reference's source with
one line changed (a transposed weight, ``da_next`` left out of the sum, a dropped gate term, a loop
off by one timestep ...), compiled in the reference module's namespace.
"""

from __future__ import annotations

import inspect
import re
import textwrap

import numpy as np
import pytest

from models import dinosaurus as dino
from models import exercises
from models import rnn_step_by_step as sbs
from models.exercises import EXERCISES, check

STEP_BY_STEP = [
    "rnn_cell_forward",
    "rnn_forward",
    "lstm_cell_forward",
    "lstm_forward",
    "rnn_cell_backward",
    "rnn_backward",
    "lstm_cell_backward",
    "lstm_backward",
]


def broken(name: str, *edits: tuple[str, str], module=sbs):
    """The reference ``name`` with each ``(old, new)`` text edit applied once (``old`` must occur)."""
    source = textwrap.dedent(inspect.getsource(getattr(module, name)))
    for old, new in edits:
        assert old in source, f"{old!r} is not in {name}'s source"
        source = source.replace(old, new, 1)
    namespace = dict(vars(module))
    exec(compile(source, f"<broken {name}>", "exec"), namespace)
    return namespace[name]


def rejection(name: str, fn) -> str:
    with pytest.raises(AssertionError) as info:
        check(name, fn)
    return str(info.value)


@pytest.mark.parametrize("name", STEP_BY_STEP)
def test_references_pass(name):
    assert check(name, getattr(sbs, name)) is True


@pytest.mark.parametrize("name", ["clip", "sample", "optimize"])
def test_dinosaurus_references_pass(name):
    assert check(name, getattr(dino, name)) is True


def test_every_exercise_is_registered():
    assert list(EXERCISES) == STEP_BY_STEP + ["clip", "sample", "optimize"]


# (exercise, edits, fragments the message must contain)
BROKEN = [
    # ---- rnn_cell_forward
    ("rnn_cell_forward", [("Waa @ a_prev", "Waa.T @ a_prev")], ["a_next[", "Waa is used transposed"]),
    (
        "rnn_cell_forward",
        [("Wax @ xt", "Wax.T @ xt")],
        ["raised ValueError", "the course's example", "Wax: array (5, 3)"],
    ),
    ("rnn_cell_forward", [("+ Wax @ xt + ba)", "+ Wax @ xt)")], ["a_next[", "the bias ba is missing"]),
    ("rnn_cell_forward", [("np.tanh(", "sigmoid(")], ["a_next[", "needs tanh, not sigmoid"]),
    (
        "rnn_cell_forward",
        [
            (
                "softmax(Wya @ a_next + by)",
                "np.exp(Wya @ a_next + by) / np.exp(Wya @ a_next + by).sum(axis=1, keepdims=True)",
            )
        ],
        ["yt_pred[", "over axis 0"],
    ),
    ("rnn_cell_forward", [("softmax(Wya @ a_next + by)", "softmax(Wya @ a_prev + by)")], ["yt_pred[", "from a_prev"]),
    (
        "rnn_cell_forward",
        [("return a_next, yt_pred, (a_next, a_prev,", "return a_next, yt_pred, (a_prev, a_next,")],
        ["cache[0] (a_next)", "in that order"],
    ),
    (
        "rnn_cell_forward",
        [("return a_next, yt_pred, (a_next, a_prev, xt, parameters)", "return a_next, yt_pred")],
        ["must have 3 items (a_next, yt_pred, cache), got 2"],
    ),
    # ---- rnn_forward
    ("rnn_forward", [("a[:, :, t] = a_next", "a[:, :, t] = cache[1]")], ["a[", "off by one timestep"]),
    (
        "rnn_forward",
        [("rnn_cell_forward(x[:, :, t], a_next, parameters)", "rnn_cell_forward(x[:, :, t], a0, parameters)")],
        ["a[", "not carried"],
    ),
    (
        "rnn_forward",
        [("return a, y_pred, (caches, x)", "return a, y_pred, caches")],
        ["caches must have 2 items (list_of_caches, x), got 4"],
    ),
    ("rnn_forward", [("y_pred[:, :, t] = yt_pred", "pass")], ["y_pred[", "all zeros"]),
    (
        "rnn_forward",
        [("rnn_cell_forward(x[:, :, t], a_next, parameters)", "rnn_cell_forward(x[:, :, t - 1], a_next, parameters)")],
        ["a[", "x[:, :, t], not x[:, :, t - 1]"],
    ),
    # ---- lstm_cell_forward
    (
        "lstm_cell_forward",
        [("np.concatenate((a_prev, xt), axis=0)", "np.concatenate((xt, a_prev), axis=0)")],
        ["a_next[", "concat stacks xt on top of a_prev"],
    ),
    ("lstm_cell_forward", [("c_next = ft * c_prev + it * cct", "c_next = it * cct")], ["drops the forget-gate term"]),
    (
        "lstm_cell_forward",
        [("c_next = ft * c_prev + it * cct", "c_next = ft * c_prev")],
        ["drops the update-gate term"],
    ),
    ("lstm_cell_forward", [("a_next = ot * np.tanh(c_next)", "a_next = ot * c_next")], ["a_next[", "misses the tanh"]),
    (
        "lstm_cell_forward",
        [
            ('sigmoid(p["Wf"] @ concat + p["bf"])', 'sigmoid(p["Wi"] @ concat + p["bi"])'),
            ('it = sigmoid(p["Wi"] @ concat + p["bi"])', 'it = sigmoid(p["Wf"] @ concat + p["bf"])'),
        ],
        ["forget and update gates are swapped"],
    ),
    (
        "lstm_cell_forward",
        [('ot = sigmoid(p["Wo"] @ concat + p["bo"])', 'ot = np.tanh(p["Wo"] @ concat + p["bo"])')],
        ["Gamma_o needs sigmoid"],
    ),
    # ---- lstm_forward
    (
        "lstm_forward",
        [
            (
                "lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)",
                "lstm_cell_forward(x[:, :, t], a_next, np.zeros(np.shape(a0)), parameters)",
            )
        ],
        ["cell state is not carried"],
    ),
    ("lstm_forward", [("c[:, :, t] = c_next", "c[:, :, t] = cache[3]")], ["c[", "off by one timestep"]),
    ("lstm_forward", [("return a, y, c, (caches, x)", "return a, c, y, (caches, x)")], ["y and c are swapped"]),
    # ---- rnn_cell_backward
    (
        "rnn_cell_backward",
        [("dz = (1 - a_next**2) * da_next", "dz = da_next")],
        ["dxt[", "tanh derivative is missing"],
    ),
    ("rnn_cell_backward", [('"da_prev": Waa.T @ dz', '"da_prev": Waa @ dz')], ["da_prev[", "Waa transposed"]),
    (
        "rnn_cell_backward",
        [('"dWax": dz @ xt.T', '"dWax": xt @ dz.T')],
        ["dWax has shape (3, 5), expected (5, 3)", "transposed"],
    ),
    ("rnn_cell_backward", [('"dWaa": dz @ a_prev.T', '"dWaa": dz @ a_next.T')], ["dWaa[", "a_prev.T"]),
    (
        "rnn_cell_backward",
        [("np.sum(dz, axis=1, keepdims=True)", "np.sum(dz, axis=1)")],
        ["dba has shape (5,), expected (5, 1)", "keepdims=True"],
    ),
    (
        "rnn_cell_backward",
        [("np.sum(dz, axis=1, keepdims=True)", "np.sum(dz, axis=0, keepdims=True)")],
        ["dba has shape (1, 10)", "axis 1"],
    ),
    ("rnn_cell_backward", [('"dba": np.sum(dz, axis=1, keepdims=True),', "")], ["missing 'dba'"]),
    (
        "rnn_cell_backward",
        [("dz = (1 - a_next**2) * da_next", "dz = -(1 - a_next**2) * da_next")],
        ["dxt[", "sign is flipped"],
    ),
    (
        "rnn_cell_backward",
        [("dz = (1 - a_next**2) * da_next", "dz = (1 - np.tanh(a_next) ** 2) * da_next")],
        ["already tanh(z)"],
    ),
    # ---- rnn_backward
    (
        "rnn_backward",
        [("rnn_cell_backward(da[:, :, t] + da_prevt, cells[t])", "rnn_cell_backward(da[:, :, t], cells[t])")],
        ["dx[", "da_next misses the contribution of da_prevt", "minigrad autograd"],
    ),
    ("rnn_backward", [("for t in reversed(range(T_x)):", "for t in range(T_x):")], ["reversed(range(T_x))"]),
    ("rnn_backward", [('dWax += g["dWax"]', 'dWax = g["dWax"]')], ["dWax[", "add up over every timestep"]),
    (
        "rnn_backward",
        [("for t in reversed(range(T_x)):", "for t in range(T_x - 1, 0, -1):")],
        ["dx[", "stops before t = 0"],
    ),
    (
        "rnn_backward",
        [
            (
                "rnn_cell_backward(da[:, :, t] + da_prevt, cells[t])",
                "rnn_cell_backward(da[:, :, t] + da_prevt, cells[t - 1])",
            )
        ],
        ["its own cache, caches[t]"],
    ),
    (
        "rnn_backward",
        [
            (
                "rnn_cell_backward(da[:, :, t] + da_prevt, cells[t])",
                "rnn_cell_backward(da[:, :, t - 1] + da_prevt, cells[t])",
            )
        ],
        ["its own output gradient da[:, :, t]"],
    ),
    # ---- lstm_cell_backward
    (
        "lstm_cell_backward",
        [("dc = dc_next + da_next * ot * (1 - tanh_c**2)", "dc = dc_next")],
        ["path through a_next"],
    ),
    (
        "lstm_cell_backward",
        [("dc = dc_next + da_next * ot * (1 - tanh_c**2)", "dc = da_next * ot * (1 - tanh_c**2)")],
        ["dc misses dc_next"],
    ),
    (
        "lstm_cell_backward",
        [("dit = dc * cct * it * (1 - it)", "dit = dc_next * cct * it * (1 - it)")],
        ["dxt[", "the mistake is in dit (update gate)"],
    ),
    ("lstm_cell_backward", [("dft = dc * c_prev", "dft = dc * c_next")], ["dft uses c_next"]),
    (
        "lstm_cell_backward",
        [("dcct = dc * it * (1 - cct**2)", "dcct = dc * it * (1 - np.tanh(cct) ** 2)")],
        ["cct is already tanh", "dcct (candidate)"],
    ),
    ("lstm_cell_backward", [(' + p["Wo"].T @ dot', "")], ["drop a gate term: the output gate's Wo.T @ dot is missing"]),
    ("lstm_cell_backward", [(' + p["Wi"].T @ dit', "")], ["drop a gate term: the update gate's Wi.T @ dit is missing"]),
    (
        "lstm_cell_backward",
        [
            (
                '"dxt": dconcat[n_a:],\n        "da_prev": dconcat[:n_a],',
                '"dxt": dconcat[:xt.shape[0]],\n        "da_prev": dconcat[xt.shape[0]:],',
            )
        ],
        ["the stacked gradient is [da_prev; dxt]"],
    ),
    ("lstm_cell_backward", [('"dc_prev": dc * ft', '"dc_prev": dc_next * ft')], ["dc_prev[", "with the whole dc"]),
    (
        "lstm_cell_backward",
        [("dc = dc_next + da_next * ot * (1 - tanh_c**2)", "dc = dc_next + da_next * ot")],
        ["dft, dit and dcct are wrong but dot is right"],
    ),
    # ---- lstm_backward
    (
        "lstm_backward",
        [
            (
                "lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, cells[t])",
                "lstm_cell_backward(da[:, :, t], dc_prevt, cells[t])",
            )
        ],
        ["da_next misses the contribution of da_prevt"],
    ),
    (
        "lstm_backward",
        [
            (
                "lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, cells[t])",
                "lstm_cell_backward(da[:, :, t] + da_prevt, np.zeros((n_a, m)), cells[t])",
            )
        ],
        ["dc_prevt is not carried"],
    ),
    (
        "lstm_backward",
        [('"lstm_backward", "lstm_forward")', '"lstm_backward", "lstm_forward")\n    T_x = len(cells)')],
        ["raised IndexError", "read T_x from da.shape"],
    ),
    ("lstm_backward", [("for t in reversed(range(T_x)):", "for t in range(T_x - 1, 0, -1):")], ["stops before t = 0"]),
    ("lstm_backward", [('dx[:, :, t] = g["dxt"]', 'dx[:, :, t - 1] = g["dxt"]')], ["dx[", "belongs in dx[:, :, t]"]),
    (
        "lstm_forward",
        [
            (
                "lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)",
                "lstm_cell_forward(x[:, :, t - 1], a_next, c_next, parameters)",
            )
        ],
        ["x[:, :, t], not x[:, :, t - 1]"],
    ),
]


@pytest.mark.parametrize("name, edits, fragments", BROKEN, ids=[f"{b[0]}-{i}" for i, b in enumerate(BROKEN)])
def test_broken_implementation_is_rejected_with_a_useful_message(name, edits, fragments):
    message = rejection(name, broken(name, *edits))
    assert message.startswith(f"{name}"), message
    assert "case: " in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


DINO_BROKEN = [
    (
        "clip",
        [("np.clip(gradient, -maxValue, maxValue, out=gradient)", "gradient = np.clip(gradient, -maxValue, maxValue)")],
        ["dWaa[", "np.clip returns a new array"],
    ),
    (
        "clip",
        [("for gradient in (dWax, dWaa, dWya, db, dby):", "for gradient in (dWax, dWaa, dWya, db):")],
        ["dby[", "dby was left as it was"],
    ),
    (
        "clip",
        [("np.clip(gradient, -maxValue, maxValue, out=gradient)", "np.clip(gradient, 0, maxValue, out=gradient)")],
        ["the lower bound is -maxValue, not 0"],
    ),
    (
        "clip",
        [("np.clip(gradient, -maxValue, maxValue, out=gradient)", "np.clip(gradient, -10, 10, out=gradient)")],
        ["maxValue=5", "use the maxValue argument"],
    ),
    (
        "sample",
        [("np.random.seed(counter + seed)  #", "np.random.seed(seed)  #")],
        ["indices[", "np.random.seed(counter + seed)"],
    ),
    ("sample", [("        x[idx] = 1\n", "")], ["indices[", "feed the sampled character back"]),
    ("sample", [("        a_prev = a\n", "")], ["indices[", "carry the hidden state"]),
    (
        "sample",
        [("idx = np.random.choice(range(len(y)), p=np.ravel(y))", "idx = int(np.argmax(y))")],
        ["np.argmax always picks"],
    ),
    ("sample", [("counter != SAMPLE_CAP", "counter != 100")], ["indices[50] is wrong: expected 0", "50-character cap"]),
    (
        "optimize",
        [("    gradients = clip(gradients, 5)\n", "")],
        ["gradients['d", "clip the gradients before the update"],
    ),
    (
        "optimize",
        [("parameters = update_parameters(parameters, gradients, learning_rate)", "pass")],
        ["parameters['Wax'] after the update", "update the parameters"],
    ),
    (
        "optimize",
        [("update_parameters(parameters, gradients, learning_rate)", "update_parameters(parameters, gradients, 0.01)")],
        ["learning_rate=0.1", "pass learning_rate on"],
    ),
    ("optimize", [("a[len(X) - 1]", "a[len(X)]")], ["raised KeyError", "optimize_test"]),
    ("optimize", [("a[len(X) - 1]", "a[-1]")], ["a_last[", "a[-1] is a_prev"]),
]


@pytest.mark.parametrize("name, edits, fragments", DINO_BROKEN, ids=[f"{b[0]}-{i}" for i, b in enumerate(DINO_BROKEN)])
def test_broken_dinosaurus_function_is_rejected_with_a_useful_message(name, edits, fragments):
    message = rejection(name, broken(name, *edits, module=dino))
    assert message.startswith(f"{name}"), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


def test_optimize_is_graded_against_autograd_and_the_courses_numbers():
    case = EXERCISES["optimize"].cases()[0]
    expected = EXERCISES["optimize"].expected(case)
    assert expected["loss"] == pytest.approx(126.50397572165389, rel=1e-12)  # the notebook's printed loss
    assert expected["gradients['dWaa']"][1][2] == pytest.approx(0.19470931534713587, rel=1e-10)
    assert np.argmax(expected["gradients['dWax']"]) == 93
    reference = exercises._named_optimize(dino.optimize(*__import__("copy").deepcopy(case.args)))
    for key, value in reference.items():
        np.testing.assert_allclose(value, expected[key], rtol=1e-10, atol=1e-12, err_msg=key)


def test_sample_is_graded_on_the_courses_sample_test():
    case = EXERCISES["sample"].cases()[0]
    assert dino.sample(*case.args)[:6] == [23, 16, 26, 26, 24, 3]  # the notebook's sample_test
    capped = EXERCISES["sample"].cases()[2]
    indices = dino.sample(*capped.args)
    assert len(indices) == 51 and indices[-1] == 0  # the cap case really reaches the cap


def test_message_names_key_index_expected_and_got():
    """The first wrong value is named with its index, and both numbers are the real ones."""
    fn = broken(
        "rnn_backward",
        ("rnn_cell_backward(da[:, :, t] + da_prevt, cells[t])", "rnn_cell_backward(da[:, :, t], cells[t])"),
    )
    message = rejection("rnn_backward", fn)
    match = re.search(r"dx\[(\d+), (\d+), (\d+)\] is wrong: expected (\S+), got (\S+) \(", message)
    assert match, message
    index = tuple(int(i) for i in match.groups()[:3])
    case = exercises.EXERCISES["rnn_backward"].cases()[0]
    da, caches = case.args
    right, wrong = sbs.rnn_backward(da, caches)["dx"], fn(da, caches)["dx"]
    assert float(match.group(4)) == pytest.approx(right[index], rel=1e-7)
    assert float(match.group(5)) == pytest.approx(wrong[index], rel=1e-7)
    assert not np.isclose(right[index], wrong[index])
    # and it is the first wrong entry in C order
    assert np.argwhere(~np.isclose(right, wrong))[0].tolist() == list(index)


def test_every_registered_mistake_is_recognised():
    """Each known mistake, replayed as if a learner wrote it, is caught and gets its own hint."""
    for name, exercise in EXERCISES.items():
        for hint, mistaken in exercise.mistakes:
            message = rejection(name, mistaken)
            assert hint in message, f"{name}: {hint!r} not in\n{message}"


def test_backward_expected_values_come_from_autograd_and_agree_with_the_reference():
    for name in ("rnn_cell_backward", "rnn_backward", "lstm_cell_backward", "lstm_backward"):
        exercise = EXERCISES[name]
        assert exercise.source == "minigrad autograd"
        for case in exercise.cases():
            expected = exercise.expected(case)
            reference = getattr(sbs, name)(*case.args)
            for key, value in expected.items():
                np.testing.assert_allclose(reference[key], value, rtol=0, atol=1e-10, err_msg=f"{name} {key}")


def test_cases_include_the_course_examples_and_random_shapes():
    for name in STEP_BY_STEP:
        labels = [case.label for case in EXERCISES[name].cases()]
        assert labels[0].startswith("the course's example (np.random.seed(1)"), labels
        assert any(label.startswith("random shapes") for label in labels), labels
    assert any("public_tests (np.random.seed(17)" in c.label for c in EXERCISES["rnn_forward"].cases())


def test_a_correct_but_differently_written_solution_passes():
    """Learners write the LSTM backward the course's way (the gate blocks of each weight, np.dot):
    floating-point reorderings must not fail them."""

    def lstm_cell_backward(da_next, dc_next, cache):
        a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters = cache
        n_a = a_next.shape[0]
        dot = da_next * np.tanh(c_next) * ot * (1 - ot)
        dcct = (dc_next * it + ot * (1 - np.square(np.tanh(c_next))) * it * da_next) * (1 - np.square(cct))
        dit = (dc_next * cct + ot * (1 - np.square(np.tanh(c_next))) * cct * da_next) * it * (1 - it)
        dft = (dc_next * c_prev + ot * (1 - np.square(np.tanh(c_next))) * c_prev * da_next) * ft * (1 - ft)
        concat = np.concatenate((a_prev, xt), axis=0)
        W = {k: parameters[k] for k in ("Wf", "Wi", "Wc", "Wo")}
        da_prev = sum(np.dot(W[k][:, :n_a].T, d) for k, d in (("Wf", dft), ("Wi", dit), ("Wc", dcct), ("Wo", dot)))
        dxt = sum(np.dot(W[k][:, n_a:].T, d) for k, d in (("Wf", dft), ("Wi", dit), ("Wc", dcct), ("Wo", dot)))
        dc_prev = dc_next * ft + ot * (1 - np.square(np.tanh(c_next))) * ft * da_next
        return {
            "dxt": dxt,
            "da_prev": da_prev,
            "dc_prev": dc_prev,
            "dWf": np.dot(dft, concat.T),
            "dWi": np.dot(dit, concat.T),
            "dWc": np.dot(dcct, concat.T),
            "dWo": np.dot(dot, concat.T),
            "dbf": np.sum(dft, axis=1, keepdims=True),
            "dbi": np.sum(dit, axis=1, keepdims=True),
            "dbc": np.sum(dcct, axis=1, keepdims=True),
            "dbo": np.sum(dot, axis=1, keepdims=True),
        }

    assert check("lstm_cell_backward", lstm_cell_backward) is True


def test_stub_raises_not_implemented_unchanged():
    def rnn_cell_forward(xt, a_prev, parameters):
        raise NotImplementedError("write rnn_cell_forward")

    with pytest.raises(NotImplementedError, match="write rnn_cell_forward"):
        check("rnn_cell_forward", rnn_cell_forward)


def test_changing_an_argument_in_place_is_reported():
    fn = broken(
        "rnn_cell_backward", ("dz = (1 - a_next**2) * da_next", "dz = (1 - a_next**2) * da_next\n    da_next *= 0")
    )
    assert "changed its argument da_next in place" in rejection("rnn_cell_backward", fn)


def test_learner_gets_copies_so_the_reference_is_not_spoiled():
    def rnn_cell_forward(xt, a_prev, parameters):
        parameters["Wax"] *= 0  # vandalise the (copied) weights after the fact
        return sbs.rnn_cell_forward(xt, a_prev, parameters)

    assert "a_next[" in rejection("rnn_cell_forward", rnn_cell_forward)
    assert check("rnn_cell_forward", sbs.rnn_cell_forward) is True


def test_non_array_outputs_are_named():
    def rnn_cell_backward(da_next, cache):
        grads = sbs.rnn_cell_backward(da_next, cache)
        grads["dba"] = None
        return grads

    assert "dba is None, expected an array of shape (5, 1)" in rejection("rnn_cell_backward", rnn_cell_backward)
    assert "must return a dict" in rejection("rnn_cell_backward", lambda da_next, cache: [1, 2])


def test_usage_errors():
    with pytest.raises(ValueError, match="unknown exercise 'rnn_cel_forward'; expected one of rnn_cell_forward"):
        check("rnn_cel_forward", sbs.rnn_cell_forward)
    with pytest.raises(TypeError, match="fn must be your function rnn_forward, got ndarray"):
        check("rnn_forward", np.zeros(3))
