"""The Sequence Models course (week 1) assignment "Character level language model - Dinosaurus
Island", in plain numpy, with the course's newest signatures, shapes and dictionary keys.

A tanh RNN reads a dinosaur name one character at a time and predicts the next one::

    a<t>     = tanh(Wax x<t> + Waa a<t-1> + b)          (n_a, 1)   one bias b, as in the course
    y_hat<t> = softmax(Wya a<t> + by)                    (n_y, 1)
    loss     = -sum_t log y_hat<t>[Y[t]]                 summed over the name's characters

Conventions kept from the course, on purpose (its printed values reproduce; see the tests):

* column vectors: ``x<t>`` is one-hot ``(vocab_size, 1)``, ``a<t>`` is ``(n_a, 1)``;
  ``x<0>`` is the **zero vector** (``X = [None] + name``), ``Y = name + ["\\n"]``;
* parameters ``{"Wax", "Waa", "Wya", "b", "by"}``, gradients ``{"dWax", "dWaa", "dWya", "db",
  "dby"}`` (``rnn_backward`` also carries ``"da_next"``, which ``clip`` drops);
* ``model`` feeds the last hidden state of one name as ``a_prev`` of the next (the state is
  never reset), shuffles the names once with ``np.random.seed(0); np.random.shuffle``, and
  smooths the loss with ``loss <- 0.999 loss + 0.001 current`` from ``-log(1/27) * 7``;
* ``sample`` calls ``np.random.seed(counter + seed)`` before each ``np.random.choice`` and
  increments both ``counter`` and ``seed`` per character (so the seeds go ``seed, seed+2,
  seed+4, ...``), stopping at ``"\\n"`` or after 50 characters (then appends ``"\\n"``).

With these, ``model`` prints the notebook's ``Iteration: 0, Loss: 23.087336`` and
``Iteration: 2000, Loss: 27.884160`` and the same names. The numbers are bit-for-bit the
course's for about the first 12,000 iterations; later, the last bits of the BLAS matrix-vector
products (which differ between machines and BLAS builds) grow through the chaotic training
run, and the printed losses and names drift apart. That is rounding, not a different program.

The hand-written backward (``rnn_step_backward``/``rnn_backward``) has an autograd twin,
``rnn_forward_backward_autograd``, that builds the same forward from minigrad primitives and
lets ``Tensor.backward`` compute the gradients; ``tests/test_dinosaurus.py`` checks that the
two agree to 1e-10 in float64, and ``model(..., engine="minigrad")`` trains with it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import minigrad as mg

Params = dict[str, np.ndarray]
Grads = dict[str, np.ndarray]
Cache = tuple[dict[int, np.ndarray], dict[int, np.ndarray], dict[int, np.ndarray]]

PARAMETER_KEYS = ("Wax", "Waa", "Wya", "b", "by")
GRADIENT_KEYS = ("dWax", "dWaa", "dWya", "db", "dby")
ENGINES = ("numpy", "minigrad")
NEWLINE = "\n"
SAMPLE_CAP = 50  # the course's sample() stops after 50 characters and appends "\n"
DINOS_SOURCE = (
    "the course's Dinosaurus Island assignment (Sequence Models, week 1): "
    "the file dinos.txt next to the notebook (File > Open in the Coursera lab)"
)

__all__ = [
    "DINOS_SOURCE",
    "ENGINES",
    "GRADIENT_KEYS",
    "PARAMETER_KEYS",
    "SAMPLE_CAP",
    "clip",
    "get_initial_loss",
    "get_sample",
    "initialize_parameters",
    "load_dinos",
    "model",
    "optimize",
    "optimize_autograd",
    "print_sample",
    "rnn_backward",
    "rnn_forward",
    "rnn_forward_backward_autograd",
    "rnn_step_backward",
    "rnn_step_forward",
    "sample",
    "smooth",
    "softmax",
    "update_parameters",
]


# --------------------------------------------------------------------------------------
# utils.py of the assignment
# --------------------------------------------------------------------------------------


def softmax(x: np.ndarray) -> np.ndarray:
    """``exp(x - max(x)) / sum(exp(x - max(x)))`` over axis 0 (the course's ``utils.softmax``).

    Shifting by the largest score cannot change the result and keeps ``exp`` from overflowing.
    """
    e_x = np.exp(x - np.max(x))
    return e_x / e_x.sum(axis=0)


def smooth(loss: float, cur_loss: float) -> float:
    """Exponential moving average of the loss: ``0.999 * loss + 0.001 * cur_loss``."""
    return loss * 0.999 + cur_loss * 0.001


def get_initial_loss(vocab_size: int, seq_length: int) -> float:
    """``-log(1/vocab_size) * seq_length``: the summed loss of a uniform guess over ``seq_length`` characters."""
    if vocab_size < 1 or seq_length < 0:
        raise ValueError(
            f"get_initial_loss: vocab_size must be >= 1 and seq_length >= 0, got {vocab_size} and {seq_length}"
        )
    return -np.log(1.0 / vocab_size) * seq_length


def get_sample(sample_ix: Sequence[int], ix_to_char: dict[int, str]) -> str:
    """The sampled characters as a string, first letter capitalised (the final ``"\\n"`` is kept)."""
    if len(sample_ix) == 0:
        raise ValueError("get_sample: sample_ix is empty (sample() always returns at least one index)")
    txt = "".join(ix_to_char[ix] for ix in sample_ix)
    return txt[0].upper() + txt[1:]


def print_sample(sample_ix: Sequence[int], ix_to_char: dict[int, str]) -> None:
    """Print ``get_sample(sample_ix, ix_to_char)`` without a newline of its own."""
    print(get_sample(sample_ix, ix_to_char), end="")


def initialize_parameters(n_a: int, n_x: int, n_y: int) -> Params:
    """Small random weights, zero biases, after ``np.random.seed(1)`` (as the course does).

    ``Wax (n_a, n_x)``, ``Waa (n_a, n_a)``, ``Wya (n_y, n_a)`` ~ ``randn * 0.01`` (drawn in
    that order); ``b (n_a, 1)`` and ``by (n_y, 1)`` zeros.
    """
    for name, value in (("n_a", n_a), ("n_x", n_x), ("n_y", n_y)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"initialize_parameters: {name} must be a positive integer, got {value!r}")
    np.random.seed(1)
    Wax = np.random.randn(n_a, n_x) * 0.01  # input to hidden
    Waa = np.random.randn(n_a, n_a) * 0.01  # hidden to hidden
    Wya = np.random.randn(n_y, n_a) * 0.01  # hidden to output
    b = np.zeros((n_a, 1))  # hidden bias
    by = np.zeros((n_y, 1))  # output bias
    return {"Wax": Wax, "Waa": Waa, "Wya": Wya, "b": b, "by": by}


def _unpack(parameters: Params, where: str) -> tuple[np.ndarray, ...]:
    """``Waa, Wax, Wya, by, b`` after checking that the dict has every key with consistent shapes."""
    if not isinstance(parameters, dict):
        raise TypeError(
            f"{where}: parameters must be a dict with keys {PARAMETER_KEYS}, got {type(parameters).__name__}"
        )
    missing = [k for k in PARAMETER_KEYS if k not in parameters]
    if missing:
        raise KeyError(
            f"{where}: parameters lack {missing}; expected the keys {PARAMETER_KEYS} "
            f"(the course's names; got {sorted(parameters)})"
        )
    Waa, Wax, Wya, by, b = (np.asarray(parameters[k]) for k in ("Waa", "Wax", "Wya", "by", "b"))
    n_a = Waa.shape[0] if Waa.ndim == 2 else -1
    n_y = Wya.shape[0] if Wya.ndim == 2 else -1
    expected = {"Waa": (n_a, n_a), "Wax": (n_a, Wax.shape[-1]), "Wya": (n_y, n_a), "b": (n_a, 1), "by": (n_y, 1)}
    for key, shape in expected.items():
        got = np.shape(parameters[key])
        if got != shape or min(shape) < 1:
            shapes = ", ".join(f"{k} {np.shape(parameters[k])}" for k in PARAMETER_KEYS)
            raise ValueError(
                f"{where}: parameter {key} has shape {got}, expected {shape} "
                f"(Wax (n_a, n_x), Waa (n_a, n_a), Wya (n_y, n_a), b (n_a, 1), by (n_y, 1); got {shapes})"
            )
    return Waa, Wax, Wya, by, b


def rnn_step_forward(parameters: Params, a_prev: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step: ``a_next = tanh(Wax x + Waa a_prev + b)``, ``p_t = softmax(Wya a_next + by)``."""
    Waa, Wax, Wya, by, b = parameters["Waa"], parameters["Wax"], parameters["Wya"], parameters["by"], parameters["b"]
    a_next = np.tanh(np.dot(Wax, x) + np.dot(Waa, a_prev) + b)  # hidden state
    p_t = softmax(np.dot(Wya, a_next) + by)  # probabilities of the next character
    return a_next, p_t


def rnn_step_backward(
    dy: np.ndarray, gradients: Grads, parameters: Params, x: np.ndarray, a: np.ndarray, a_prev: np.ndarray
) -> Grads:
    """One step back, adding this step's share into ``gradients`` (in place) and returning them.

    ``dy = y_hat - onehot(Y[t])`` is dLoss/dz for the softmax and cross-entropy together;
    ``da = Wya^T dy + da_next`` (the output path plus the path from step t+1);
    ``daraw = (1 - a^2) * da`` through the tanh; then ``dWax += daraw x^T``,
    ``dWaa += daraw a_prev^T``, ``db += daraw`` and ``da_next = Waa^T daraw`` for step t-1.
    """
    gradients["dWya"] += np.dot(dy, a.T)
    gradients["dby"] += dy
    da = np.dot(parameters["Wya"].T, dy) + gradients["da_next"]  # backprop into a<t>
    daraw = (1 - a * a) * da  # backprop through tanh
    gradients["db"] += daraw
    gradients["dWax"] += np.dot(daraw, x.T)
    gradients["dWaa"] += np.dot(daraw, a_prev.T)
    gradients["da_next"] = np.dot(parameters["Waa"].T, daraw)
    return gradients


def update_parameters(parameters: Params, gradients: Grads, lr: float) -> Params:
    """Plain gradient descent, in place: ``W += -lr * dW`` for each of the five parameters."""
    parameters["Wax"] += -lr * gradients["dWax"]
    parameters["Waa"] += -lr * gradients["dWaa"]
    parameters["Wya"] += -lr * gradients["dWya"]
    parameters["b"] += -lr * gradients["db"]
    parameters["by"] += -lr * gradients["dby"]
    return parameters


def _check_sequences(X: Sequence[Any], Y: Sequence[int], vocab_size: int, where: str) -> None:
    if len(X) != len(Y):
        raise ValueError(
            f"{where}: X and Y must have the same length (Y is X shifted left by one, "
            f"plus the index of '\\n'), got {len(X)} and {len(Y)}"
        )
    if len(X) == 0:
        raise ValueError(f"{where}: X is empty; a name gives X = [None] + its indices")
    for name, seq, allow_none in (("X", X, True), ("Y", Y, False)):
        for t, ix in enumerate(seq):
            if ix is None and allow_none:
                continue
            if isinstance(ix, bool) or not isinstance(ix, (int, np.integer)) or not 0 <= ix < vocab_size:
                raise ValueError(
                    f"{where}: {name}[{t}] = {ix!r} is not a character index in [0, {vocab_size})"
                    + (" or None (the zero vector x<0>)" if allow_none else "")
                )


def rnn_forward(
    X: Sequence[Any], Y: Sequence[int], a0: np.ndarray, parameters: Params, vocab_size: int | None = None
) -> tuple[float, Cache]:
    """Forward through a whole name; returns ``(loss, cache)`` with ``cache = (y_hat, a, x)``.

    ``X[t]`` is a character index or ``None`` (then ``x<t>`` is the zero vector: the course's
    ``x<0>``); ``loss = -sum_t log y_hat<t>[Y[t]]``. ``a``, ``x`` and ``y_hat`` are dicts by
    timestep, with ``a[-1] = a0``. ``vocab_size`` defaults to ``Wax``'s column count (the course
    writes 27, the size of ``dinos.txt``'s alphabet, there).
    """
    _, Wax, _, _, _ = _unpack(parameters, "rnn_forward")
    n_x = Wax.shape[1]
    if vocab_size is None:
        vocab_size = n_x
    elif vocab_size != n_x:
        raise ValueError(f"rnn_forward: vocab_size={vocab_size} but Wax has {n_x} columns (one per character)")
    _check_sequences(X, Y, vocab_size, "rnn_forward")
    if np.shape(a0) != (Wax.shape[0], 1):
        raise ValueError(f"rnn_forward: a0 must have shape (n_a, 1) = {(Wax.shape[0], 1)}, got {np.shape(a0)}")
    x, a, y_hat = {}, {}, {}
    a[-1] = np.copy(a0)
    loss = 0
    for t in range(len(X)):
        # x<t> is the one-hot vector of X[t]; X[t] is None gives the zero vector (the first step).
        x[t] = np.zeros((vocab_size, 1))
        if X[t] is not None:
            x[t][X[t]] = 1
        a[t], y_hat[t] = rnn_step_forward(parameters, a[t - 1], x[t])
        loss -= np.log(y_hat[t][Y[t], 0])  # cross-entropy of this step
    return loss, (y_hat, a, x)


def rnn_backward(X: Sequence[Any], Y: Sequence[int], parameters: Params, cache: Cache) -> tuple[Grads, dict]:
    """Backpropagation through time by hand; returns ``(gradients, a)`` (``a`` from the cache).

    Gradients start at zero and every step from the last to the first adds its share
    (``rnn_step_backward``), starting from ``dy = y_hat<t> - onehot(Y[t])``.
    """
    Waa, Wax, Wya, by, b = _unpack(parameters, "rnn_backward")
    y_hat, a, x = cache
    gradients = {
        "dWax": np.zeros_like(Wax),
        "dWaa": np.zeros_like(Waa),
        "dWya": np.zeros_like(Wya),
        "db": np.zeros_like(b),
        "dby": np.zeros_like(by),
        "da_next": np.zeros_like(a[0]),
    }
    for t in reversed(range(len(X))):
        dy = np.copy(y_hat[t])
        dy[Y[t]] -= 1
        gradients = rnn_step_backward(dy, gradients, parameters, x[t], a[t], a[t - 1])
    return gradients, a


def rnn_forward_backward_autograd(
    X: Sequence[Any], Y: Sequence[int], a0: np.ndarray, parameters: Params
) -> tuple[float, Grads, np.ndarray]:
    """The autograd twin of ``rnn_forward`` + ``rnn_backward``: ``(loss, gradients, a_last)``.

    The same forward, ``a<t> = tanh(Wax x<t> + Waa a<t-1> + b)`` and
    ``loss = -sum_t log_softmax(Wya a<t> + by)[Y[t]]``, written with minigrad tensors
    (float64); ``loss.backward()`` fills the five gradients. No hand-written derivative.
    """
    _unpack(parameters, "rnn_forward_backward_autograd")
    vocab_size = parameters["Wax"].shape[1]
    _check_sequences(X, Y, vocab_size, "rnn_forward_backward_autograd")
    tensors = {k: mg.tensor(np.asarray(parameters[k], dtype=np.float64), requires_grad=True) for k in PARAMETER_KEYS}
    Wax, Waa, Wya, b, by = (tensors[k] for k in PARAMETER_KEYS)
    eye = np.eye(vocab_size)
    a = mg.tensor(np.asarray(a0, dtype=np.float64))
    loss = None
    for t in range(len(X)):
        x = np.zeros((vocab_size, 1)) if X[t] is None else eye[:, [X[t]]]
        a = (Wax @ x + Waa @ a + b).tanh()
        log_p = (Wya @ a + by).log_softmax(axis=0)
        step = -log_p[Y[t], 0]
        loss = step if loss is None else loss + step
    loss.backward()
    gradients = {"d" + k: np.asarray(tensors[k].grad) for k in PARAMETER_KEYS}
    return float(loss.item()), gradients, a.numpy()


# --------------------------------------------------------------------------------------
# The graded functions
# --------------------------------------------------------------------------------------


def clip(gradients: Grads, maxValue: float) -> Grads:  # noqa: N803 - the course's name
    """A copy of the five gradients with every element clipped into ``[-maxValue, maxValue]``.

    The input dict is not modified (the course deep-copies it first); ``da_next`` is dropped.
    """
    if not isinstance(gradients, dict):
        raise TypeError(f"clip: gradients must be a dict with keys {GRADIENT_KEYS}, got {type(gradients).__name__}")
    missing = [k for k in GRADIENT_KEYS if k not in gradients]
    if missing:
        raise KeyError(f"clip: gradients lack {missing}; expected the keys {GRADIENT_KEYS}")
    if isinstance(maxValue, bool) or not isinstance(maxValue, (int, float, np.number)) or not maxValue > 0:
        raise ValueError(f"clip: maxValue must be a positive number, got {maxValue!r}")
    gradients = copy.deepcopy({k: gradients[k] for k in GRADIENT_KEYS})
    dWaa, dWax, dWya, db, dby = (gradients[k] for k in ("dWaa", "dWax", "dWya", "db", "dby"))
    for gradient in (dWax, dWaa, dWya, db, dby):
        np.clip(gradient, -maxValue, maxValue, out=gradient)
    return {"dWaa": dWaa, "dWax": dWax, "dWya": dWya, "db": db, "dby": dby}


def sample(parameters: Params, char_to_ix: dict[str, int], seed: int) -> list[int]:
    """Indices of one sampled name, ending with the index of ``"\\n"``.

    From ``x<1> = 0`` and ``a<0> = 0``: ``a = tanh(Wax x + Waa a_prev + b)``,
    ``y = softmax(Wya a + by)``, then ``np.random.seed(counter + seed)`` and
    ``idx = np.random.choice(range(vocab_size), p=y.ravel())``; ``x`` becomes the one-hot of
    ``idx``; ``seed`` and ``counter`` both grow by one. Stops after ``"\\n"`` or 50 characters
    (then ``"\\n"`` is appended). Seeding numpy's global generator is the course's grading rule:
    it makes the names reproducible, and it resets the global generator as a side effect.
    """
    Waa, Wax, Wya, by, b = _unpack(parameters, "sample")
    if not isinstance(char_to_ix, dict) or NEWLINE not in char_to_ix:
        raise ValueError("sample: char_to_ix must be a dict that maps '\\n' (the end of a name) to its index")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"sample: seed must be a non-negative integer (np.random.seed's rule), got {seed!r}")
    vocab_size = by.shape[0]
    n_a = Waa.shape[1]
    x = np.zeros((vocab_size, 1))  # x<1> = 0: no character before the first one
    a_prev = np.zeros((n_a, 1))
    indices = []
    idx = -1
    counter = 0
    newline_character = char_to_ix[NEWLINE]
    while idx != newline_character and counter != SAMPLE_CAP:
        a = np.tanh(np.dot(Wax, x) + np.dot(Waa, a_prev) + b)
        z = np.dot(Wya, a) + by
        y = softmax(z)
        np.random.seed(counter + seed)  # the course's grading rule (see the docstring)
        idx = np.random.choice(range(len(y)), p=np.ravel(y))
        indices.append(idx)
        x = np.zeros((vocab_size, 1))
        x[idx] = 1
        a_prev = a
        seed += 1
        counter += 1
    if counter == SAMPLE_CAP:
        indices.append(char_to_ix[NEWLINE])
    return indices


def optimize(
    X: Sequence[Any], Y: Sequence[int], a_prev: np.ndarray, parameters: Params, learning_rate: float = 0.01
) -> tuple[float, Grads, np.ndarray]:
    """One training step: forward, backward, ``clip(gradients, 5)``, update (in place).

    Returns ``(loss, clipped gradients, a<T>)``: the last hidden state, which ``model`` feeds
    to the next name as its ``a_prev``.
    """
    loss, cache = rnn_forward(X, Y, a_prev, parameters)
    gradients, a = rnn_backward(X, Y, parameters, cache)
    gradients = clip(gradients, 5)
    parameters = update_parameters(parameters, gradients, learning_rate)
    return loss, gradients, a[len(X) - 1]


def optimize_autograd(
    X: Sequence[Any], Y: Sequence[int], a_prev: np.ndarray, parameters: Params, learning_rate: float = 0.01
) -> tuple[float, Grads, np.ndarray]:
    """``optimize`` with the gradients from minigrad's ``backward`` instead of the hand-written BPTT."""
    loss, gradients, a_last = rnn_forward_backward_autograd(X, Y, a_prev, parameters)
    gradients = clip(gradients, 5)
    parameters = update_parameters(parameters, gradients, learning_rate)
    return loss, gradients, a_last


# --------------------------------------------------------------------------------------
# The training loop
# --------------------------------------------------------------------------------------


def model(
    data_x: Sequence[str],
    ix_to_char: dict[int, str],
    char_to_ix: dict[str, int],
    num_iterations: int = 35000,
    n_a: int = 50,
    dino_names: int = 7,
    vocab_size: int = 27,
    verbose: bool = False,
    *,
    learning_rate: float = 0.01,
    engine: str = "numpy",
    print_every: int = 2000,
    callback: Callable[[int, float, float, Params], None] | None = None,
) -> tuple[Params, str]:
    """Train on one name per iteration; returns ``(parameters, last_dino_name)``.

    Exactly the course's loop: names shuffled once (``np.random.seed(0)``), iteration ``j``
    trains on ``examples[j % len(examples)]`` with ``X = [None] + name``, ``Y = name + ["\\n"]``,
    the hidden state carried from name to name; every 2,000 iterations it prints
    ``Iteration: %d, Loss: %f`` (the smoothed summed loss) and ``dino_names`` names sampled
    with seeds 0, 1, 2, ... (``last_dino_name`` is the last of them).

    The keyword-only options are ours, off the course's path by default: ``learning_rate``,
    ``engine="minigrad"`` (gradients from autograd, ``optimize_autograd``), ``print_every``,
    and ``callback(j, curr_loss, smoothed_loss, parameters)`` called after every iteration
    (it may raise to stop the run: the demo saves ``parameters`` on Ctrl-C).
    """
    if engine not in ENGINES:
        raise ValueError(f"model: engine must be one of {ENGINES}, got {engine!r}")
    for name, value in (
        ("num_iterations", num_iterations),
        ("n_a", n_a),
        ("dino_names", dino_names),
        ("vocab_size", vocab_size),
        ("print_every", print_every),
    ):
        low = 0 if name in ("num_iterations", "dino_names") else 1
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"model: {name} must be an integer >= {low}, got {value!r}")
    if len(char_to_ix) != vocab_size or len(ix_to_char) != vocab_size:
        raise ValueError(
            f"model: vocab_size={vocab_size} but char_to_ix has {len(char_to_ix)} characters and "
            f"ix_to_char {len(ix_to_char)}; pass vocab_size=len(char_to_ix)"
        )
    if NEWLINE not in char_to_ix:
        raise ValueError("model: char_to_ix must contain '\\n' (it ends every name)")
    step = optimize if engine == "numpy" else optimize_autograd
    n_x, n_y = vocab_size, vocab_size
    parameters = initialize_parameters(n_a, n_x, n_y)
    loss = get_initial_loss(vocab_size, dino_names)  # the course's start: dino_names (7) stands for a name's length
    examples = [x.strip() for x in data_x]
    if not examples:
        raise ValueError("model: data_x is empty; pass the names, e.g. open('dinos.txt').read().lower().split('\\n')")
    for line, name in enumerate(examples):
        unknown = sorted(set(name) - set(char_to_ix))
        if unknown:
            raise ValueError(f"model: name {line} ({name!r}) has characters that are not in char_to_ix: {unknown}")
    np.random.seed(0)
    np.random.shuffle(examples)
    a_prev = np.zeros((n_a, 1))
    last_dino_name = "abc"
    for j in range(num_iterations):
        idx = j % len(examples)
        single_example = examples[idx]
        single_example_chars = [c for c in single_example]
        single_example_ix = [char_to_ix[c] for c in single_example_chars]
        X = [None] + single_example_ix  # x<0> is the zero vector
        Y = X[1:] + [char_to_ix[NEWLINE]]  # the next character at every step, then "\n"
        curr_loss, gradients, a_prev = step(X, Y, a_prev, parameters, learning_rate=learning_rate)
        if verbose and j in [0, len(examples) - 1, len(examples)]:
            print(
                "j = ",
                j,
                "idx = ",
                idx,
            )
        if verbose and j in [0]:
            print("single_example =", single_example)
            print("single_example_chars", single_example_chars)
            print("single_example_ix", single_example_ix)
            print(" X = ", X, "\n", "Y =       ", Y, "\n")
        loss = smooth(loss, curr_loss)
        if callback is not None:
            callback(j, float(curr_loss), float(loss), parameters)
        if j % print_every == 0:
            print("Iteration: %d, Loss: %f" % (j, loss) + "\n")  # noqa: UP031 - the course's format
            seed = 0
            for _ in range(dino_names):
                sampled_indices = sample(parameters, char_to_ix, seed)
                last_dino_name = get_sample(sampled_indices, ix_to_char)
                print(last_dino_name.replace(NEWLINE, ""))
                seed += 1  # a new seed per name, as the course (for grading)
            print("\n")
    return parameters, last_dino_name


def load_dinos(path: str | Path) -> tuple[list[str], dict[int, str], dict[str, int]]:
    """The notebook's preprocessing: ``(data_x, ix_to_char, char_to_ix)`` for ``model``.

    ``data = open(path).read().lower()``; the vocabulary is ``sorted(set(data))`` (for
    ``dinos.txt``: ``"\\n"`` = 0, ``a`` = 1, ... ``z`` = 26) and ``data_x = data.split("\\n")``.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"load_dinos: {path} is a folder; expected the file dinos.txt (one name per line)")
    if not path.is_file():
        raise FileNotFoundError(
            f"load_dinos: no file at {path}. The dinosaur list is not shipped with minigrad; get it from {DINOS_SOURCE}"
        )
    try:
        data = path.read_text(encoding="utf-8").lower()
    except UnicodeDecodeError as err:
        raise ValueError(f"load_dinos: {path} is not UTF-8 text ({err})") from None
    if not data.strip():
        raise ValueError(f"load_dinos: {path} has no names (it is empty)")
    chars = sorted(set(data) | {NEWLINE})
    char_to_ix = {ch: i for i, ch in enumerate(chars)}
    ix_to_char = {i: ch for i, ch in enumerate(chars)}
    return data.split(NEWLINE), ix_to_char, char_to_ix
