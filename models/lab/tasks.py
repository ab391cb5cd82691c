"""Toy sequence tasks for the lab, as numpy batches (time-major, as ``nn.RNN`` wants: (T, B, ...)).

Every generator takes a ``numpy.random.Generator`` so that each run is seeded, and checks its
arguments with an error naming the task. Tokens are ints in ``[0, vocab)``.

* :func:`adding_problem`: long-range memory (Hochreiter & Schmidhuber 1997), regression.
* :func:`seen_before` and :func:`appears_later`: tagging; the first is causal (a unidirectional
  RNN can solve it), the second needs the future (bidirectional RNN, lecture v10).
* :func:`window_sum`: tagging that needs a nonlinear function of a few past tokens (deep RNNs, v11).
* :func:`reverse_sequence`: sequence to sequence (encoder-decoder, v5 many-to-many).
* :func:`load_names_gender`: a real list, first names labelled f/m (many-to-one, one-to-many).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = [
    "ADDING_BASELINE_MSE",
    "NAMES_GENDER",
    "adding_problem",
    "appears_later",
    "load_names_gender",
    "reverse_sequence",
    "seen_before",
    "window_sum",
]

# Predicting the mean, 1.0, for a sum of two U(0, 1) values: MSE = Var(u1 + u2) = 2/12.
ADDING_BASELINE_MSE = 1.0 / 6.0
NAMES_GENDER = Path(__file__).resolve().parents[1] / "data" / "names_gender.txt"


def _check(task: str, **sizes: tuple[int, int]) -> None:
    """Each size must be an int >= its minimum; the error names the task and the argument."""
    for name, (value, minimum) in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{task}: {name} must be an integer >= {minimum}, got {value!r}")


def adding_problem(length: int, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem: x (T, B, 2) float32, y (B, 1) float32.

    Channel 0 holds values u_t ~ U(0, 1); channel 1 is a marker, 1 at exactly two positions,
    one in the first half of the sequence and one in the second (the variant of Le et al. 2015,
    so the two marked values are about T/2 apart on average). Target y = u_a + u_b. Predicting
    1.0 always gives MSE 1/6 ~ 0.167 (:data:`ADDING_BASELINE_MSE`): the bar to beat.
    """
    _check("adding_problem", length=(length, 2), batch=(batch, 1))
    values = rng.random((length, batch))
    half = length // 2
    first = rng.integers(0, half, size=batch)
    second = rng.integers(half, length, size=batch)
    marker = np.zeros((length, batch))
    columns = np.arange(batch)
    marker[first, columns] = 1.0
    marker[second, columns] = 1.0
    x = np.stack([values, marker], axis=-1).astype(np.float32)
    y = (values[first, columns] + values[second, columns])[:, None].astype(np.float32)
    return x, y


def _tokens(task: str, length: int, batch: int, vocab: int, rng: np.random.Generator) -> np.ndarray:
    _check(task, length=(length, 1), batch=(batch, 1), vocab=(vocab, 2))
    return rng.integers(0, vocab, size=(length, batch))


def seen_before(length: int, batch: int, vocab: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Tag each token: 1 if the same token occurred EARLIER in the sequence, else 0.

    tokens (T, B) int, tags (T, B) int. Causal: the answer at t depends on x_0..x_t only.
    """
    x = _tokens("seen_before", length, batch, vocab, rng)
    seen = np.zeros((batch, vocab), dtype=bool)
    tags = np.zeros_like(x)
    columns = np.arange(batch)
    for t in range(length):
        tags[t] = seen[columns, x[t]]
        seen[columns, x[t]] = True
    return x, tags


def appears_later(length: int, batch: int, vocab: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Tag each token: 1 if the same token occurs LATER in the sequence, else 0.

    tokens (T, B) int, tags (T, B) int. The answer at t depends on x_{t+1}..x_{T-1}, which a
    unidirectional RNN has not read yet: it can only guess from t and x_0..x_t.
    """
    x = _tokens("appears_later", length, batch, vocab, rng)
    tags = np.zeros_like(x)
    seen = np.zeros((batch, vocab), dtype=bool)
    columns = np.arange(batch)
    for t in range(length - 1, -1, -1):
        tags[t] = seen[columns, x[t]]
        seen[columns, x[t]] = True
    return x, tags


def window_sum(
    length: int, batch: int, vocab: int, window: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Tag each position with ``(x_t + x_{t-1} + ... + x_{t-window+1}) mod vocab`` (missing terms 0).

    tokens (T, B) int, tags (T, B) int in [0, vocab). Remembering ``window - 1`` tokens is easy;
    the modular sum is a table of ``vocab**window`` entries, a nonlinear map that stacked
    layers can share out.
    """
    _check("window_sum", window=(window, 1))
    x = _tokens("window_sum", length, batch, vocab, rng)
    padded = np.concatenate([np.zeros((window - 1, batch), dtype=x.dtype), x])
    tags = sum(padded[k : k + length] for k in range(window)) % vocab
    return x, tags


def reverse_sequence(length: int, batch: int, vocab: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Source tokens (T, B) and their reversal (T, B): the target of an encoder-decoder."""
    x = _tokens("reverse_sequence", length, batch, vocab, rng)
    return x, x[::-1].copy()


def load_names_gender(path: Path | str = NAMES_GENDER) -> tuple[list[str], np.ndarray]:
    """First names and labels (0 = female, 1 = male) from a ``name<TAB>f|m`` file.

    The default file is made from the 1990 US Census lists by ``models/data/make_names_gender.py``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"load_names_gender: {path} does not exist (regenerate it with python models/data/make_names_gender.py)"
        )
    names, labels = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split("\t")
        if len(fields) != 2 or fields[1] not in ("f", "m") or not fields[0].isalpha():
            raise ValueError(f"load_names_gender: {path}:{number}: expected 'name<TAB>f|m', got {line!r}")
        names.append(fields[0].lower())
        labels.append(int(fields[1] == "m"))
    return names, np.array(labels)
