"""The lecture's architectures, each trained on a toy or real task and measured.

* :func:`bidirectional_vs_unidirectional` (v10): tag each token by whether it appears LATER.
* :func:`depth_comparison` (v11): 1 vs 2 vs 3 stacked layers (and one wide layer of the same size)
  on a windowed modular sum.
* The RNN types (v5), one runnable example each:
  :func:`example_tagging` (many-to-many, same length), :func:`example_reverse` (many-to-many,
  different lengths: encoder-decoder), :func:`example_names` (many-to-one: first name -> f/m),
  :func:`example_generate` (one-to-many: f/m -> a first name).

Every function seeds its run (weights and batches), trains with Adam for ``iterations`` steps,
and returns an :class:`Outcome` whose ``metrics`` hold test numbers (on sequences or names not
trained on) next to the baseline that a model that learned nothing would reach.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import minigrad as mg
from minigrad import Tensor
from minigrad.nn.functional import cross_entropy

from . import tasks
from .models import Classifier, Generator, Seq2Seq, Tagger, fit

__all__ = [
    "ALPHABET",
    "Outcome",
    "bidirectional_vs_unidirectional",
    "decode",
    "depth_comparison",
    "encode",
    "example_generate",
    "example_names",
    "example_reverse",
    "example_tagging",
    "unidirectional_ceiling",
]

OnStep = Callable[[int, float, float], None] | None
ALPHABET = "abcdefghijklmnopqrstuvwxyz"
GENDERS = ("f", "m")


@dataclass
class Outcome:
    """What one experiment measured: ``metrics`` (name -> value), example outputs, losses, time."""

    name: str
    metrics: dict[str, float] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    model: Any = None


def _start(seed: int) -> np.random.Generator:
    mg.manual_seed(seed)
    return np.random.default_rng(seed)


def _train(
    name: str, model: Any, loss_fn: Callable[[int], Tensor], iterations: int, lr: float, on_step: OnStep
) -> Outcome:
    start = time.perf_counter()
    losses = fit(model.parameters(), loss_fn, iterations, lr=lr, clip_norm=5.0, on_step=on_step)
    return Outcome(name, losses=losses, seconds=time.perf_counter() - start, model=model)


# ---------------------------------------------------------------------------------------------
# Bidirectional (v10) and deep (v11) RNNs
# ---------------------------------------------------------------------------------------------


def unidirectional_ceiling(length: int, vocab: int, tags: np.ndarray | None = None) -> float:
    """Best accuracy on :func:`tasks.appears_later` without reading ahead: expected, or on ``tags`` (T, B).

    The future tokens are independent of the past, so a causal model can only use t:
    P(tag_t = 1) = 1 - (1 - 1/vocab)^(T-1-t). The best rule answers 1 where p > 1/2; it scores
    max(p, 1-p) on average, or exactly ``mean(rule == tags)`` on given test tags.
    """
    t = np.arange(length)
    p = 1.0 - (1.0 - 1.0 / vocab) ** (length - 1 - t)
    if tags is None:
        return float(np.maximum(p, 1 - p).mean())
    return float(((p > 0.5)[:, None] == tags).mean())


def bidirectional_vs_unidirectional(
    cell: str = "gru",
    length: int = 12,
    vocab: int = 8,
    hidden: int = 32,
    iterations: int = 300,
    batch: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
    on_step: OnStep = None,
) -> dict[str, Outcome]:
    """The same tagger, unidirectional and bidirectional, on "does this token appear later?".

    Returns ``{"unidirectional": ..., "bidirectional": ...}``; each ``metrics`` holds the test
    ``accuracy`` and the unidirectional ``ceiling``: what the best causal rule scores on the same
    test sequences (:func:`unidirectional_ceiling`).
    """
    x_test, y_test = tasks.appears_later(length, 1000, vocab, np.random.default_rng(999))
    outcomes = {}
    for name, both in (("unidirectional", False), ("bidirectional", True)):
        rng = _start(seed)
        model = Tagger(cell, vocab, 2, hidden, bidirectional=both)
        outcome = _train(
            name,
            model,
            lambda i, model=model, rng=rng: model.loss(*tasks.appears_later(length, batch, vocab, rng)),
            iterations,
            lr,
            on_step,
        )
        outcome.metrics = {
            "accuracy": model.accuracy(x_test, y_test),
            "ceiling": unidirectional_ceiling(length, vocab, y_test),
        }
        outcomes[name] = outcome
    return outcomes


def depth_comparison(
    cell: str = "gru",
    layers: Sequence[int] = (1, 2, 3),
    length: int = 20,
    vocab: int = 5,
    window: int = 4,
    hidden: int = 16,
    iterations: int = 300,
    batch: int = 64,
    lr: float = 1e-2,
    wide: bool = True,
    seed: int = 0,
    on_step: OnStep = None,
) -> dict[str, Outcome]:
    """Stacked taggers of ``layers`` depths, ``hidden`` units per layer, on :func:`tasks.window_sum`.

    With ``wide``, also one layer made wide enough to hold as many parameters as the deepest
    model, so that depth is compared with width at equal size. Keys ``"<layers> x <units>"``;
    ``metrics``: test ``accuracy``, ``layers``, ``hidden``, ``parameters``, ``chance`` (1/vocab).
    """
    x_test, y_test = tasks.window_sum(length, 1000, vocab, window, np.random.default_rng(998))
    shapes = [(depth, hidden) for depth in layers]
    if wide and max(layers) > 1:
        size = Tagger(cell, vocab, vocab, hidden, num_layers=max(layers)).num_parameters()
        units = min(range(hidden, 8 * hidden), key=lambda h: abs(Tagger(cell, vocab, vocab, h).num_parameters() - size))
        shapes.append((1, units))
    outcomes = {}
    for depth, units in shapes:
        rng = _start(seed)
        model = Tagger(cell, vocab, vocab, units, num_layers=depth)
        outcome = _train(
            f"{depth} x {units}",
            model,
            lambda i, model=model, rng=rng: model.loss(*tasks.window_sum(length, batch, vocab, window, rng)),
            iterations,
            lr,
            on_step,
        )
        outcome.metrics = {
            "accuracy": model.accuracy(x_test, y_test),
            "layers": float(depth),
            "hidden": float(units),
            "parameters": float(model.num_parameters()),
            "chance": 1.0 / vocab,
        }
        outcomes[outcome.name] = outcome
    return outcomes


# ---------------------------------------------------------------------------------------------
# The RNN types (v5)
# ---------------------------------------------------------------------------------------------


def example_tagging(
    cell: str = "gru",
    length: int = 12,
    vocab: int = 8,
    hidden: int = 32,
    iterations: int = 200,
    batch: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
    on_step: OnStep = None,
) -> Outcome:
    """Many-to-many, same length: tag each token 1 if it was seen before (:func:`tasks.seen_before`).

    ``metrics``: test ``accuracy`` and ``majority`` (always answering the more common tag).
    """
    rng = _start(seed)
    model = Tagger(cell, vocab, 2, hidden)
    outcome = _train(
        "many-to-many (tagging)",
        model,
        lambda i: model.loss(*tasks.seen_before(length, batch, vocab, rng)),
        iterations,
        lr,
        on_step,
    )
    x, y = tasks.seen_before(length, 1000, vocab, np.random.default_rng(997))
    outcome.metrics = {"accuracy": model.accuracy(x, y), "majority": float(max(y.mean(), 1 - y.mean()))}
    with mg.no_grad():
        guess = model(x[:, :3]).data.argmax(-1)
    outcome.samples = [
        f"{' '.join(map(str, x[:, b]))}  ->  {''.join(map(str, guess[:, b]))}  (true {''.join(map(str, y[:, b]))})"
        for b in range(3)
    ]
    return outcome


def example_reverse(
    cell: str = "gru",
    lengths: tuple[int, int] = (3, 6),
    vocab: int = 8,
    hidden: int = 48,
    iterations: int = 400,
    batch: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
    on_step: OnStep = None,
) -> Outcome:
    """Many-to-many, different lengths: an encoder-decoder reverses a sequence of ``lengths[0]..lengths[1]`` tokens.

    The encoder reads the whole input; the decoder starts from its final state and writes until it
    chooses EOS, so the output length is the model's decision. Each batch has one random length.
    ``metrics``: ``exact`` (share of test sequences reversed perfectly, length included) and
    ``token_accuracy`` (position by position, over the true length).
    """
    low, high = lengths
    if not 1 <= low <= high:
        raise ValueError(f"example_reverse: lengths must be (low, high) with 1 <= low <= high, got {lengths}")
    rng = _start(seed)
    model = Seq2Seq(cell, vocab, hidden)

    def loss_fn(i: int) -> Tensor:
        return model.loss(*tasks.reverse_sequence(int(rng.integers(low, high + 1)), batch, vocab, rng))

    outcome = _train("many-to-many (encoder-decoder)", model, loss_fn, iterations, lr, on_step)
    test_rng = np.random.default_rng(996)
    exact = correct = total = 0
    for length in range(low, high + 1):
        x, y = tasks.reverse_sequence(length, 200, vocab, test_rng)
        for b, written in enumerate(model.generate(x)):
            exact += written == y[:, b].tolist()
            correct += sum(w == t for w, t in zip(written, y[:, b]))
            total += length
            if b == 0 and length in (low, high):
                outcome.samples.append(f"{' '.join(map(str, x[:, b]))}  ->  {' '.join(map(str, written))}")
    count = 200 * (high - low + 1)
    outcome.metrics = {"exact": exact / count, "token_accuracy": float(correct / total)}
    return outcome


def encode(words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Lower-case words -> padded letter ids (T, B) (padding 0) and lengths (B,)."""
    lengths = np.array([len(w) for w in words])
    if (lengths == 0).any():
        raise ValueError("encode: empty word")
    ids = np.zeros((lengths.max(), len(words)), dtype=np.int64)
    for b, word in enumerate(words):
        if not set(word) <= set(ALPHABET):
            raise ValueError(f"encode: {word!r} has characters outside a-z")
        ids[: len(word), b] = [ALPHABET.index(ch) for ch in word]
    return ids, lengths


def decode(ids: Sequence[int]) -> str:
    return "".join(ALPHABET[i] for i in ids if 0 <= i < len(ALPHABET))


def _split_names(seed: int, test_share: float = 0.2) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    names, labels = tasks.load_names_gender()
    order = np.random.default_rng(seed).permutation(len(names))
    cut = int(len(names) * (1 - test_share))
    train, test = order[:cut], order[cut:]
    return [names[i] for i in train], labels[train], [names[i] for i in test], labels[test]


def predict_names(model: Classifier, names: Sequence[str]) -> np.ndarray:
    """Labels (0 = f, 1 = m) that a trained :class:`Classifier` gives each name."""
    ids, lengths = encode(names)
    with mg.no_grad():
        return model(ids, lengths).data.argmax(-1)


def example_names(
    cell: str = "gru",
    hidden: int = 32,
    iterations: int = 300,
    batch: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
    on_step: OnStep = None,
) -> Outcome:
    """Many-to-one: read a first name letter by letter, then say female or male (1990 US Census lists).

    80/20 train/test split of the names (seeded). ``metrics``: test ``accuracy``,
    ``balanced_accuracy`` (mean of the per-class recalls: 0.5 for a constant answer) and
    ``majority`` (always answering "f", the commoner label).
    """
    rng = _start(seed)
    train_names, train_labels, test_names, test_labels = _split_names(seed)
    model = Classifier(cell, len(ALPHABET), 2, hidden)

    def loss_fn(i: int) -> Tensor:
        pick = rng.integers(0, len(train_names), size=batch)
        ids, lengths = encode([train_names[j] for j in pick])
        return cross_entropy(model(ids, lengths), train_labels[pick])

    outcome = _train("many-to-one (name -> f/m)", model, loss_fn, iterations, lr, on_step)
    guess = predict_names(model, test_names)
    recalls = [float((guess[test_labels == c] == c).mean()) for c in (0, 1)]
    outcome.metrics = {
        "accuracy": float((guess == test_labels).mean()),
        "balanced_accuracy": float(np.mean(recalls)),
        "majority": float(max(test_labels.mean(), 1 - test_labels.mean())),
    }
    outcome.samples = [
        f"{name} -> {GENDERS[g]} (census: {GENDERS[t]})"
        for name, g, t in zip(test_names[:8], guess[:8], test_labels[:8])
    ]
    return outcome


def example_generate(
    cell: str = "gru",
    hidden: int = 48,
    iterations: int = 400,
    batch: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
    samples: int = 6,
    judge: Classifier | None = None,
    on_step: OnStep = None,
) -> Outcome:
    """One-to-many: one input, the label f or m, and the model writes a first name letter by letter.

    Trained on the same 80% of the census names as :func:`example_names`. ``metrics``: ``test_loss``
    (nats per letter, EOS included, on the held-out names), ``uniform`` (log 27: every letter and
    EOS equally likely), ``novel`` (share of samples not in the training names) and, when a trained
    classifier is given as ``judge``, ``judge_agrees``: the share of samples it labels as asked.
    """
    rng = _start(seed)
    train_names, train_labels, test_names, test_labels = _split_names(seed)
    model = Generator(cell, len(ALPHABET), 2, hidden)

    def loss_fn(i: int) -> Tensor:
        pick = rng.integers(0, len(train_names), size=batch)
        ids, lengths = encode([train_names[j] for j in pick])
        return model.loss(train_labels[pick], ids, lengths)

    outcome = _train("one-to-many (f/m -> name)", model, loss_fn, iterations, lr, on_step)
    ids, lengths = encode(test_names)
    with mg.no_grad():
        test_loss = float(model.loss(test_labels, ids, lengths).item())
    asked = np.array([0, 1] * (50 if judge is not None else samples // 2 + 1))
    written = [
        decode(s) or "?" for s in model.sample(asked, np.random.default_rng(seed + 1), max_len=12, temperature=0.8)
    ]
    known = set(train_names)
    outcome.metrics = {
        "test_loss": test_loss,
        "uniform": float(np.log(len(ALPHABET) + 1)),
        "novel": float(np.mean([w not in known for w in written])),
    }
    if judge is not None:
        valid = [i for i, w in enumerate(written) if w != "?"]
        said = predict_names(judge, [written[i] for i in valid])
        outcome.metrics["judge_agrees"] = float((said == asked[valid]).mean())
    outcome.samples = [
        f"{GENDERS[a]}: {w}{'' if w not in known else ' (in the training names)'}"
        for a, w in zip(asked[:samples], written[:samples])
    ]
    return outcome
