"""LSTM music generation: the course's jazz model (Sequence Models, week 1) on Bach chorale melodies.

The course trains an LSTM many-to-many on sequences of musical values (predict value t+1 from
values 0..t), then generates one-to-many: an inference loop samples a value, feeds it back as
the next input and repeats. Here a "value" is a token ``PITCH:DUR`` of the soprano line of a Bach
chorale (``models/data/bach_soprano.txt``, made from music21's corpus by
``models/data/make_bach_tokens.py``), and the network is ``Embedding -> nn.LSTM -> Linear``
trained with cross-entropy and Adam, all minigrad.

Out come a MIDI file (a small standard-MIDI-file writer and reader below, no dependency), a WAV
rendered with numpy (additive synth, stdlib ``wave``) and a piano-roll PNG (matplotlib).

A note is ``(pitch, duration)``: ``pitch`` a MIDI number 0..127 or ``None`` for a rest,
``duration`` a positive number of sixteenth notes.
"""

from __future__ import annotations

import json
import os
import struct
import wave
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import minigrad as mg
from minigrad import nn

Note = tuple[int | None, int]
PathLike = str | os.PathLike

START = "<s>"  # begins every chorale: the model learns how melodies open
DEFAULT_DATA = Path(__file__).parent / "data" / "bach_soprano.txt"
TICKS_PER_QUARTER = 480  # MIDI time resolution; a sixteenth is 120 ticks

__all__ = [
    "COURSE",
    "DEFAULT_DATA",
    "START",
    "DJModel",
    "KerasLSTMCell",
    "MusicLSTM",
    "categorical_crossentropy",
    "course_data",
    "course_inference",
    "train_course",
    "Vocab",
    "batches",
    "format_token",
    "generate",
    "load_tokens",
    "longest_quote",
    "merge_rests",
    "parse_token",
    "plot_pianoroll",
    "read_midi",
    "render_audio",
    "token_stream",
    "train",
    "write_midi",
    "write_wav",
    "save_checkpoint",
    "load_checkpoint",
]


# ---- tokens --------------------------------------------------------------------------------


def parse_token(token: str) -> Note:
    """``"67:4"`` -> ``(67, 4)`` (G4 for a quarter note); ``"R:2"`` -> ``(None, 2)`` (an eighth rest)."""
    pitch, sep, dur = token.partition(":")
    try:
        if not sep:
            raise ValueError
        note = (None if pitch == "R" else int(pitch), int(dur))
    except ValueError:
        raise ValueError(f"parse_token: {token!r} is not a PITCH:DUR token (e.g. '67:4' or 'R:2')") from None
    if (note[0] is not None and not 0 <= note[0] <= 127) or note[1] < 1:
        raise ValueError(f"parse_token: {token!r} is out of range (pitch 0..127 or R, duration >= 1 sixteenth)")
    return note


def format_token(note: Note) -> str:
    """``(67, 4)`` -> ``"67:4"``; ``(None, 2)`` -> ``"R:2"``."""
    pitch, dur = note
    return f"{'R' if pitch is None else int(pitch)}:{int(dur)}"


def merge_rests(notes: Sequence[Note | str]) -> list[Note]:
    """Consecutive rests as one (the form a MIDI file keeps: it has no rest events, only delays)."""
    merged: list[Note] = []
    for pitch, dur in _check_notes(notes, "merge_rests"):
        if pitch is None and merged and merged[-1][0] is None:
            merged[-1] = (None, merged[-1][1] + dur)
        else:
            merged.append((pitch, dur))
    return merged


def load_tokens(path: PathLike = DEFAULT_DATA) -> dict[str, list[str]]:
    """Read a token file (format in the header of ``bach_soprano.txt``): ``{piece name: [tokens]}``.

    Lines are ``NAME<TAB>TOKENS`` or just ``TOKENS`` (then named ``line<N>``); ``#`` starts a comment.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"load_tokens: no token file at {path} (the default, {DEFAULT_DATA.name}, is "
            "made by `python -m models.data.make_bach_tokens`)"
        )
    pieces: dict[str, list[str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, text = line.rpartition("\t")
        tokens = text.split()
        for token in tokens:
            try:
                parse_token(token)
            except ValueError as err:
                raise ValueError(f"load_tokens: {path}, line {number}: {err}") from None
        if tokens:
            pieces[name.strip() or f"line{number}"] = tokens
    if not pieces:
        raise ValueError(
            f"load_tokens: {path} holds no melodies (only comments or blank lines); expected lines "
            "of PITCH:DUR tokens such as '67:4 69:4 R:4'"
        )
    return pieces


class Vocab:
    """Token <-> index. Index 0 is ``START``; the rest are the corpus's tokens, sorted by pitch then duration."""

    def __init__(self, tokens: Sequence[str]) -> None:
        notes = sorted({parse_token(t) for t in tokens if t != START}, key=lambda n: (n[0] is None, n[0] or 0, n[1]))
        self.tokens = [START] + [format_token(n) for n in notes]
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def from_pieces(cls, pieces: dict[str, list[str]]) -> Vocab:
        return cls([t for piece in pieces.values() for t in piece])

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        unknown = [t for t in tokens if t not in self.index]
        if unknown:
            raise ValueError(
                f"Vocab.encode: token(s) {unknown[:5]} are not in the vocabulary of {len(self)} "
                f"tokens (pitches seen: {self.pitch_range()})"
            )
        return np.array([self.index[t] for t in tokens], dtype=np.int64)

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.tokens[int(i)] for i in ids]

    def pitch_range(self) -> str:
        pitches = [p for p, _ in map(parse_token, self.tokens[1:]) if p is not None]
        return f"{min(pitches)}..{max(pitches)}" if pitches else "none"


def token_stream(pieces: dict[str, list[str]], vocab: Vocab) -> np.ndarray:
    """All pieces as one index array, each preceded by ``START``: the many-to-many training text."""
    return np.concatenate([vocab.encode([START, *piece]) for piece in pieces.values()])


def batches(
    stream: np.ndarray, seq_len: int, batch_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random windows of the stream: inputs ``x (seq_len, batch)`` and targets ``y``, ``y[t] = x[t+1]``."""
    if len(stream) < seq_len + 1:
        raise ValueError(
            f"batches: the token stream has {len(stream)} tokens, need at least seq_len + 1 = "
            f"{seq_len + 1}; use a shorter --seq-len or more data"
        )
    starts = rng.integers(0, len(stream) - seq_len, size=batch_size)
    windows = stream[starts[None, :] + np.arange(seq_len + 1)[:, None]]  # (seq_len + 1, batch)
    return windows[:-1], windows[1:]


def longest_quote(tokens: Sequence[str], pieces: dict[str, list[str]]) -> tuple[int, str]:
    """The longest run of ``tokens`` found verbatim in one of the ``pieces``: ``(length, piece name)``
    (``(0, "")`` if none). Tells how much a generated melody copies its training data."""
    best, where = 0, ""
    for name, piece in pieces.items():
        n = best + 1  # only a longer quote can beat the best so far
        while n <= min(len(tokens), len(piece)):
            grams = {tuple(piece[i : i + n]) for i in range(len(piece) - n + 1)}
            if not any(tuple(tokens[i : i + n]) in grams for i in range(len(tokens) - n + 1)):
                break
            best, where, n = n, name, n + 1
    return best, where


# ---- the model -----------------------------------------------------------------------------


class MusicLSTM(nn.Module):
    """The course's jazz model on tokens: ``e_t = E[x_t]``, ``(a_t, c_t) = LSTM(e_t, a_{t-1}, c_{t-1})``,
    ``logits_t = W a_t + b``; trained to predict ``x_{t+1}`` (softmax cross-entropy)."""

    def __init__(self, vocab_size: int, embedding_dim: int = 32, hidden_size: int = 128, num_layers: int = 1) -> None:
        super().__init__()
        self.vocab_size, self.embedding_dim, self.hidden_size, self.num_layers = (
            vocab_size,
            embedding_dim,
            hidden_size,
            num_layers,
        )
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers=num_layers)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(
        self, ids: np.ndarray, state: tuple[mg.Tensor, mg.Tensor] | None = None
    ) -> tuple[mg.Tensor, tuple[mg.Tensor, mg.Tensor]]:
        """``ids (T, B)`` integers -> ``logits (T, B, vocab)`` and the LSTM state ``(h, c)``."""
        out, state = self.lstm(self.embedding(np.asarray(ids, dtype=np.int64)), state)
        return self.head(out), state


def train(
    model: MusicLSTM,
    stream: np.ndarray,
    *,
    steps: int,
    seq_len: int = 32,
    batch_size: int = 32,
    lr: float = 1e-2,
    clip: float = 5.0,
    seed: int = 0,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Many-to-many training: Adam on the mean cross-entropy of every next token, gradient norm clipped.

    Returns the loss of every step; ``on_step(step, loss)`` is called after each.
    """
    if steps < 1:
        raise ValueError(f"train: steps must be at least 1, got {steps}")
    rng = np.random.default_rng(seed)
    params = list(model.parameters())
    optimizer = mg.optim.Adam(params, lr=lr)
    losses = []
    model.train()
    for step in range(1, steps + 1):
        x, y = batches(stream, seq_len, batch_size, rng)
        logits, _ = model(x)
        loss = nn.functional.cross_entropy(logits.reshape(-1, model.vocab_size), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, clip)
        optimizer.step()
        losses.append(loss.item())
        if on_step is not None:
            on_step(step, losses[-1])
    return losses


def generate(
    model: MusicLSTM,
    vocab: Vocab,
    length: int,
    *,
    temperature: float = 1.0,
    primer: Sequence[str] = (),
    seed: int | None = None,
) -> list[str]:
    """The one-to-many inference loop: feed ``START`` and the primer, then ``length`` times sample
    ``x_{t+1} ~ softmax(logits_t / temperature)`` and feed it back as the next input.

    ``temperature`` 0 takes the most likely token (greedy); higher values are more adventurous.
    ``START`` is never sampled. Returns the ``length`` new tokens (the primer not included).
    """
    if length < 0:
        raise ValueError(f"generate: length must be >= 0, got {length}")
    if not temperature >= 0:
        raise ValueError(f"generate: temperature must be >= 0 (0 = greedy), got {temperature}")
    if model.vocab_size != len(vocab):
        raise ValueError(f"generate: the model predicts {model.vocab_size} tokens but the vocabulary has {len(vocab)}")
    rng = np.random.default_rng(seed)
    ids = vocab.encode([START, *primer])
    out: list[int] = []
    was_training = model.training
    model.eval()
    try:
        with mg.no_grad():
            logits, state = model(ids[:, None])  # (T, 1, V): the primer sets the state
            for _ in range(length):
                scores = logits.data[-1, 0].astype(np.float64)
                scores[0] = -np.inf  # never START inside a melody
                if temperature == 0:
                    nxt = int(np.argmax(scores))
                else:
                    p = np.exp((scores - scores.max()) / temperature)
                    nxt = int(rng.choice(len(p), p=p / p.sum()))
                out.append(nxt)
                logits, state = model(np.array([[nxt]]), state)
    finally:  # the caller's mode, even after an error
        model.train(was_training)
    return vocab.decode(out)


# ---- the course's model, as the notebook builds it ------------------------------------------
#
# "Improvise a Jazz Solo with an LSTM Network" (Sequence Models, week 1) in Keras:
#
#     LSTM_cell = LSTM(n_a, return_state=True); densor = Dense(n_values, activation="softmax")
#     djmodel(Tx=30, ...): x<1> = 0, then for t in range(Tx): _, a, c = LSTM_cell(x<t>, [a, c]); out = densor(a)
#     Adam(lr=0.01, beta_1=0.9, beta_2=0.999, decay=0.01), categorical cross-entropy summed over the Tx outputs,
#     model.fit([X, a0, c0], list(Y), epochs=100) on m = 60 windows (batch_size 32, Keras's default)
#     music_inference_model(LSTM_cell, densor, Ty=50): from x<1> = 0, feed back one_hot(argmax(out)).
#
# Differences from the jazz data are the data's, not the model's: see docs/course.md.

COURSE = {
    "n_a": 64,
    "Tx": 30,
    "m": 60,
    "epochs": 100,
    "batch_size": 32,
    "lr": 0.01,
    "beta_1": 0.9,
    "beta_2": 0.999,
    "decay": 0.01,
    "epsilon": 1e-7,
    "Ty": 50,
}


def _glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Keras's default kernel initialiser: U(-l, l), l = sqrt(6 / (fan_in + fan_out))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def _orthogonal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """Keras's recurrent initialiser: a (rows, cols) matrix with orthonormal rows or columns (QR of a
    Gaussian matrix, signs fixed by the diagonal of R so the result is uniformly distributed)."""
    q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
    q *= np.sign(np.diag(r))
    return q if rows >= cols else q.T


class KerasLSTMCell(nn.Module):
    """Keras's ``LSTM(n_a)`` cell, one step, built from minigrad primitives (one bias per gate).

    With ``z = x W + a_prev U + b`` split into four blocks of ``n_a`` in Keras's order i, f, c, o::

        Gamma_u = sigmoid(z_i)   Gamma_f = sigmoid(z_f)   c~ = tanh(z_c)   Gamma_o = sigmoid(z_o)
        c = Gamma_f * c_prev + Gamma_u * c~           a = Gamma_o * tanh(c)

    ``kernel W (n_x, 4 n_a)`` glorot-uniform, ``recurrent_kernel U (n_a, 4 n_a)`` orthogonal,
    ``bias b (4 n_a,)`` zeros but 1 for the forget gate (``unit_forget_bias=True``). PyTorch's
    ``nn.LSTMCell`` has two biases (``bias_ih + bias_hh``) that get the same gradient; Keras and
    the course have this one.
    """

    def __init__(
        self, input_size: int, units: int, rng: np.random.Generator | None = None, dtype: Any = np.float32
    ) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("units", units)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"KerasLSTMCell: {name} must be a positive integer, got {value!r}")
        rng = np.random.default_rng(0) if rng is None else rng
        self.units = int(units)
        bias = np.zeros(4 * units)
        bias[units : 2 * units] = 1.0  # unit_forget_bias
        self.kernel = nn.Parameter(_glorot_uniform(rng, input_size, 4 * units).astype(dtype))
        self.recurrent_kernel = nn.Parameter(_orthogonal(rng, units, 4 * units).astype(dtype))
        self.bias = nn.Parameter(bias.astype(dtype))

    def forward(self, x: mg.Tensor, state: tuple[mg.Tensor, mg.Tensor]) -> tuple[mg.Tensor, mg.Tensor]:
        """``x (m, n_x)``, ``state = (a_prev, c_prev)`` each ``(m, n_a)`` -> ``(a, c)``."""
        a_prev, c_prev = state
        z = x @ self.kernel + a_prev @ self.recurrent_kernel + self.bias
        n = self.units
        update = z[:, :n].sigmoid()
        forget = z[:, n : 2 * n].sigmoid()
        candidate = z[:, 2 * n : 3 * n].tanh()
        output = z[:, 3 * n :].sigmoid()
        c = forget * c_prev + update * candidate
        return output * c.tanh(), c


class DJModel(nn.Module):
    """The course's ``djmodel``: one ``LSTM_cell`` and one ``densor`` (Dense + softmax) shared by every step.

    ``forward(X)`` with ``X (m, Tx, n_values)`` one-hot rows (``X[:, 0]`` is the zero vector)
    returns the ``Tx`` score arrays ``(m, n_values)`` before the softmax (the loss applies it).
    """

    def __init__(self, n_values: int, n_a: int = 64, seed: int = 0, dtype: Any = np.float32) -> None:
        super().__init__()
        if isinstance(n_values, bool) or not isinstance(n_values, (int, np.integer)) or n_values < 2:
            raise ValueError(f"DJModel: n_values must be an integer >= 2, got {n_values!r}")
        rng = np.random.default_rng(seed)
        self.n_values, self.n_a = int(n_values), int(n_a)
        self.lstm_cell = KerasLSTMCell(n_values, n_a, rng, dtype)
        self.densor_kernel = nn.Parameter(_glorot_uniform(rng, n_a, n_values).astype(dtype))
        self.densor_bias = nn.Parameter(np.zeros(n_values, dtype=dtype))

    @property
    def dtype(self) -> np.dtype:
        return self.densor_kernel.dtype

    def densor(self, a: mg.Tensor) -> mg.Tensor:
        """Scores ``a W_y + b_y``; the course's ``Dense(n_values, activation="softmax")`` without the softmax."""
        return a @ self.densor_kernel + self.densor_bias

    def zero_state(self, m: int) -> tuple[mg.Tensor, mg.Tensor]:
        zeros = np.zeros((m, self.n_a), dtype=self.dtype)
        return mg.tensor(zeros), mg.tensor(zeros.copy())

    def forward(self, X: np.ndarray) -> list[mg.Tensor]:
        X = np.asarray(X)
        if X.ndim != 3 or X.shape[2] != self.n_values:
            raise ValueError(f"DJModel: X must be one-hot of shape (m, Tx, n_values={self.n_values}), got {X.shape}")
        a, c = self.zero_state(X.shape[0])
        outputs = []
        for t in range(X.shape[1]):
            a, c = self.lstm_cell(mg.tensor(X[:, t, :].astype(self.dtype)), (a, c))
            outputs.append(self.densor(a))
        return outputs


def course_data(
    stream: np.ndarray, n_values: int, m: int = 60, Tx: int = 30, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The course's ``data_processing``: ``m`` windows of ``Tx`` values from random places of the corpus.

    After ``np.random.seed(0)`` (here a private ``RandomState(seed)``, the same numbers), window
    ``i`` starts at ``np.random.choice(len(corpus) - Tx)``; ``X[i, 0]`` is the zero vector,
    ``X[i, j]`` the one-hot of value ``j`` and ``Y[i, j - 1]`` the same value (the next one to
    predict), for ``j >= 1``; ``Y[i, Tx - 1]`` stays zero, so the last output adds no loss.
    Returns ``X (m, Tx, n_values)`` and ``Y (Tx, m, n_values)`` (the course's ``list(Y)`` order).
    """
    stream = np.asarray(stream)
    if len(stream) <= Tx:
        raise ValueError(f"course_data: the corpus has {len(stream)} values; windows of Tx={Tx} need more")
    if m < 1 or Tx < 2:
        raise ValueError(f"course_data: m must be >= 1 and Tx >= 2, got m={m}, Tx={Tx}")
    rng = np.random.RandomState(seed)
    X = np.zeros((m, Tx, n_values), dtype=bool)
    Y = np.zeros((m, Tx, n_values), dtype=bool)
    for i in range(m):
        start = rng.choice(len(stream) - Tx)
        window = stream[start : start + Tx]
        for j in range(1, Tx):
            X[i, j, window[j]] = 1
            Y[i, j - 1, window[j]] = 1
    return X, np.swapaxes(Y, 0, 1)


def categorical_crossentropy(scores: list[mg.Tensor], Y: np.ndarray) -> mg.Tensor:
    """Keras's loss for a model with ``Tx`` softmax outputs: the sum over outputs of the batch mean
    of ``-sum_v Y[t, b, v] log softmax(scores_t)[b, v]`` (an all-zero target row adds nothing)."""
    total = None
    for t, s in enumerate(scores):
        target = mg.tensor(np.asarray(Y[t], dtype=s.dtype))
        loss_t = -(target * s.log_softmax(axis=1)).sum(axis=1).mean()
        total = loss_t if total is None else total + loss_t
    return total


def train_course(
    model: DJModel,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    epochs: int = 100,
    batch_size: int = 32,
    lr: float = 0.01,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    decay: float = 0.01,
    epsilon: float = 1e-7,
    seed: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
) -> list[float]:
    """``model.fit([X, a0, c0], list(Y), epochs, batch_size)`` with the course's Keras Adam.

    Every epoch shuffles the ``m`` examples and takes batches of ``batch_size`` (the last one
    smaller). Keras's Adam with ``decay``: at update ``k`` (from 0) the rate is
    ``lr_k = lr / (1 + decay * k)``, and the step is ``lr_k * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    * m / (sqrt(v) + epsilon)`` (``t = k + 1``). That is ``mg.optim.Adam`` with ``lr = lr_k`` and
    ``eps = epsilon / sqrt(1 - beta_2^t)``, set before every step. Returns the loss of each epoch
    (the mean over its batches, weighted by their sizes, as Keras's ``history["loss"]``).
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"train_course: epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    Y = np.asarray(Y)
    if Y.shape[:2] != (X.shape[1], X.shape[0]):
        raise ValueError(
            f"train_course: Y must have shape (Tx, m, n_values) = {(X.shape[1], X.shape[0])} + (...,), got {Y.shape}"
        )
    rng = np.random.default_rng(seed)
    params = list(model.parameters())
    optimizer = mg.optim.Adam(params, lr=lr, betas=(beta_1, beta_2), eps=epsilon)
    group = optimizer.param_groups[0]
    updates, history = 0, []
    model.train()
    for epoch in range(epochs):
        order = rng.permutation(len(X))
        total = 0.0
        for start in range(0, len(X), batch_size):
            rows = order[start : start + batch_size]
            loss = categorical_crossentropy(model(X[rows]), Y[:, rows])
            if not np.isfinite(loss.item()):  # stop before the update: the weights stay finite
                raise FloatingPointError(f"train_course: the loss became {loss.item()} in epoch {epoch + 1}; lower lr")
            optimizer.zero_grad()
            loss.backward()
            group["lr"] = lr / (1.0 + decay * updates)  # Keras's time-based decay
            group["eps"] = epsilon / np.sqrt(1.0 - beta_2 ** (updates + 1))  # Keras adds eps to sqrt(v)
            optimizer.step()
            updates += 1
            total += float(loss.item()) * len(rows)
        history.append(total / len(X))
        if on_epoch is not None:
            on_epoch(epoch, history[-1])
    return history


def course_inference(model: DJModel, Ty: int = 50) -> list[int]:
    """The course's ``music_inference_model`` + ``predict_and_sample``: from ``x<1> = 0`` and zero
    states, ``Ty`` times: ``out = softmax(densor(a))``, ``x = one_hot(argmax(out))`` fed back.
    Greedy: the same model always plays the same melody. Returns the ``Ty`` value indices."""
    if Ty < 1:
        raise ValueError(f"course_inference: Ty must be >= 1, got {Ty}")
    eye = np.eye(model.n_values, dtype=model.dtype)
    x = np.zeros((1, model.n_values), dtype=model.dtype)
    indices = []
    was_training = model.training
    model.eval()
    try:
        with mg.no_grad():
            a, c = model.zero_state(1)
            for _ in range(Ty):
                a, c = model.lstm_cell(mg.tensor(x), (a, c))
                index = int(np.argmax(model.densor(a).data[0]))  # argmax of the softmax = of the scores
                indices.append(index)
                x = eye[[index]]
    finally:
        model.train(was_training)
    return indices


# ---- checkpoints: the weights plus a JSON entry (vocabulary, model settings); no pickle ----------

_CHECKPOINT_KEY = "__music_lstm__"
_SETTINGS = ("vocab_size", "embedding_dim", "hidden_size", "num_layers")


def save_checkpoint(path: PathLike, model: MusicLSTM, vocab: Vocab, run: dict | None = None) -> Path:
    """Write the model's ``state_dict`` and ``__music_lstm__`` (vocabulary and settings, JSON) with ``mg.save``."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    meta = {
        "kind": "music_lstm",
        "format": 1,
        "tokens": vocab.tokens,
        "model": {name: getattr(model, name) for name in _SETTINGS},
        "run": run or {},
    }
    state = model.state_dict()
    state[_CHECKPOINT_KEY] = np.array(json.dumps(meta))
    mg.save(state, path)
    return path


def load_checkpoint(path: PathLike) -> tuple[MusicLSTM, Vocab, dict]:
    """Rebuild ``(model, vocab, meta)`` from ``save_checkpoint``'s file.

    The settings are checked against the saved weights' shapes before the model is built, and
    non-finite weights (a diverged run) are refused: each is a ``ValueError`` naming the file.
    """
    state = mg.load(path)
    raw = state.pop(_CHECKPOINT_KEY, None)
    if raw is None:
        raise ValueError(f"load_checkpoint: {path} is not a music checkpoint (no '{_CHECKPOINT_KEY}' entry)")
    try:
        meta = json.loads(str(raw))
        tokens, settings = list(meta["tokens"]), dict(meta["model"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"load_checkpoint: {path} has an unreadable '{_CHECKPOINT_KEY}' entry: {err}") from None
    unknown = sorted(set(settings) - set(_SETTINGS))
    if unknown:
        raise ValueError(
            f"load_checkpoint: {path} has unknown model settings {unknown}; MusicLSTM takes {', '.join(_SETTINGS)}"
        )
    try:
        shapes = {
            "vocab_size": state["head.weight"].shape[0],
            "hidden_size": state["head.weight"].shape[1],
            "embedding_dim": state["embedding.weight"].shape[1],
            "num_layers": sum(name.startswith("lstm.weight_ih_l") for name in state),
        }
    except (KeyError, IndexError):
        raise ValueError(
            f"load_checkpoint: {path} lacks the 2-d 'head.weight' and 'embedding.weight' arrays of a MusicLSTM"
        ) from None
    for name, value in shapes.items():
        if settings.get(name) != value:
            raise ValueError(
                f"load_checkpoint: {path} is inconsistent: its settings say "
                f"{name}={settings.get(name)!r} but its weights have {name}={value}"
            )
    vocab = Vocab(tokens)
    if vocab.tokens != tokens or len(vocab) != shapes["vocab_size"]:
        raise ValueError(
            f"load_checkpoint: {path} has a vocabulary of {len(tokens)} tokens that does not "
            f"match its {shapes['vocab_size']} outputs"
        )
    for name, value in state.items():
        if not np.isfinite(value).all():
            raise ValueError(f"load_checkpoint: {path} holds non-finite weights ({name}); it cannot be used")
    model = MusicLSTM(**settings)
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError) as err:
        raise ValueError(f"load_checkpoint: the weights in {path} do not fit a MusicLSTM: {err}") from None
    return model, vocab, meta


# ---- MIDI: a small standard-MIDI-file writer and reader ------------------------------------


def _varlen(value: int) -> bytes:
    """MIDI variable-length quantity: 7 bits per byte, high bit set on all but the last."""
    chunk = [value & 0x7F]
    value >>= 7
    while value:
        chunk.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(chunk))


def _check_notes(notes: Sequence[Note], fn: str) -> list[Note]:
    checked = []
    for i, note in enumerate(notes):
        if isinstance(note, str):
            note = parse_token(note)
        try:
            pitch, dur = note
        except (TypeError, ValueError):
            raise TypeError(
                f"{fn}: note {i} is {note!r}, expected (pitch or None, duration) or a 'PITCH:DUR' token"
            ) from None
        if (pitch is not None and not (isinstance(pitch, (int, np.integer)) and 0 <= pitch <= 127)) or not (
            isinstance(dur, (int, np.integer)) and dur >= 1
        ):
            raise ValueError(
                f"{fn}: note {i} is {note!r}; pitch must be an int 0..127 or None (rest), "
                "duration an int >= 1 (sixteenths)"
            )
        checked.append((None if pitch is None else int(pitch), int(dur)))
    return checked


def write_midi(
    notes: Sequence[Note | str], path: PathLike, *, bpm: float = 90, program: int = 0, velocity: int = 80
) -> Path:
    """Write a monophonic melody as a format-0 standard MIDI file (one track, channel 0).

    Events: tempo, program change (0 = acoustic grand piano), then a note-on/note-off pair per note;
    a rest just delays the next note-on.
    """
    notes = _check_notes(notes, "write_midi")
    if not 0 <= program <= 127 or not 1 <= velocity <= 127 or not bpm > 0:
        raise ValueError(
            f"write_midi: program must be 0..127, velocity 1..127 and bpm > 0; got {program}, {velocity}, {bpm}"
        )
    sixteenth = TICKS_PER_QUARTER // 4
    events = bytearray()
    events += b"\x00\xff\x51\x03" + round(60_000_000 / bpm).to_bytes(3, "big")  # microseconds per quarter
    events += bytes([0x00, 0xC0, program])
    wait = 0
    for pitch, dur in notes:
        if pitch is None:
            wait += dur * sixteenth
            continue
        events += _varlen(wait) + bytes([0x90, pitch, velocity])
        events += _varlen(dur * sixteenth) + bytes([0x80, pitch, 0])
        wait = 0
    events += _varlen(wait) + b"\xff\x2f\x00"  # end of track
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_QUARTER)
    path.write_bytes(header + b"MTrk" + struct.pack(">I", len(events)) + bytes(events))
    return path


def _read_varlen(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos


def _track_spans(data: bytes, pos: int, end: int, path: Path) -> tuple[list[tuple[int, int, int]], int]:
    """(start tick, stop tick, pitch) of every note in one MTrk chunk's events, and the track's last tick."""
    spans, sounding, tick, status = [], {}, 0, None
    while pos < end:
        delta, pos = _read_varlen(data, pos)
        tick += delta
        if data[pos] & 0x80:
            status, pos = data[pos], pos + 1
        elif status is None:
            raise ValueError(f"read_midi: {path}: running status with no previous status at byte {pos}")
        if status == 0xFF:  # meta event: type, length, payload
            meta_type = data[pos]
            length, pos = _read_varlen(data, pos + 1)
            pos += length
            if meta_type == 0x2F:  # end of track
                break
        elif status in (0xF0, 0xF7):  # sysex: length, payload
            length, pos = _read_varlen(data, pos)
            pos += length
        else:
            kind = status & 0xF0
            args = data[pos : pos + (1 if kind in (0xC0, 0xD0) else 2)]
            pos += len(args)
            if kind == 0x90 and args[1] > 0:
                sounding[args[0]] = tick
            elif (kind == 0x80 or kind == 0x90) and args[0] in sounding:
                spans.append((sounding.pop(args[0]), tick, args[0]))
    return spans, tick


def read_midi(path: PathLike) -> list[Note]:
    """Read a standard MIDI file back as one line of notes: every note of every track lasts from its
    note-on to its note-off, silences between notes (and before the end of track) become rests,
    durations are rounded to sixteenths. Raises ``ValueError`` naming what is malformed."""
    path = Path(path)
    data = path.read_bytes()
    if data[:4] != b"MThd" or len(data) < 14:
        raise ValueError(f"read_midi: {path} is not a standard MIDI file (no MThd header)")
    length, fmt, ntracks, division = struct.unpack(">IHHH", data[4:14])
    if length < 6 or fmt > 2 or division & 0x8000 or division == 0:
        raise ValueError(f"read_midi: {path}: unsupported header (format {fmt}, division {division:#x})")
    pos, spans, last_tick = 8 + length, [], 0
    try:
        for _ in range(ntracks):
            if data[pos : pos + 4] != b"MTrk":
                raise ValueError(f"read_midi: {path}: expected an MTrk chunk at byte {pos}")
            (size,) = struct.unpack(">I", data[pos + 4 : pos + 8])
            if pos + 8 + size > len(data):
                raise ValueError(f"read_midi: {path}: a track chunk runs past the end of the file")
            track_spans, track_end = _track_spans(data, pos + 8, pos + 8 + size, path)
            spans += track_spans
            last_tick = max(last_tick, track_end)
            pos += 8 + size
    except (IndexError, struct.error):
        raise ValueError(f"read_midi: {path}: truncated or corrupt event data") from None
    sixteenth = division / 4
    notes: list[Note] = []
    clock = 0.0
    for start, stop, pitch in sorted(spans):
        gap = round((start - clock) / sixteenth)
        if gap > 0:
            notes.append((None, gap))
        dur = max(1, round((stop - start) / sixteenth))
        notes.append((pitch, dur))
        clock = start + dur * sixteenth
    tail = round((last_tick - clock) / sixteenth)  # a closing rest lives in the end-of-track delta
    if tail > 0:
        notes.append((None, tail))
    return notes


# ---- audio: additive synthesis, written with the stdlib `wave` module ------------------------


def render_audio(notes: Sequence[Note | str], *, bpm: float = 90, sample_rate: int = 22050) -> np.ndarray:
    """The melody as float samples in [-1, 1]: each note is a sum of harmonics
    ``sum_k  a_k sin(2 pi k f t)``, ``f = 440 * 2**((pitch - 69) / 12)``, ``a_k = 0.6**(k-1)``,
    shaped by an envelope (10 ms attack, exponential decay, 30 ms release)."""
    notes = _check_notes(notes, "render_audio")
    sixteenth_s = 60.0 / bpm / 4
    total = sum(d for _, d in notes) * sixteenth_s
    out = np.zeros(int(total * sample_rate) + 1)
    start = 0.0
    for pitch, dur in notes:
        seconds = dur * sixteenth_s
        if pitch is not None:
            t = np.arange(int(seconds * sample_rate)) / sample_rate
            f = 440.0 * 2 ** ((pitch - 69) / 12)
            harmonics = np.arange(1, 6)[:, None]
            tone = (0.6 ** (harmonics - 1) * np.sin(2 * np.pi * f * harmonics * t)).sum(axis=0)
            envelope = np.minimum(1.0, t / 0.01) * np.exp(-2.5 * t) * np.minimum(1.0, (seconds - t) / 0.03)
            i = int(start * sample_rate)
            out[i : i + len(t)] += tone * envelope
        start += seconds
    peak = np.abs(out).max()
    return out / peak * 0.8 if peak > 0 else out


def write_wav(notes: Sequence[Note | str], path: PathLike, *, bpm: float = 90, sample_rate: int = 22050) -> Path:
    """Render the melody (``render_audio``) to a 16-bit mono WAV file."""
    samples = render_audio(notes, bpm=bpm, sample_rate=sample_rate)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


# ---- piano roll ----------------------------------------------------------------------------


def plot_pianoroll(
    notes: Sequence[Note | str], path: PathLike, *, primer_len: int = 0, title: str = "generated melody"
) -> Path:
    """A piano-roll PNG: time in quarter notes across, pitch up; the primer's notes in grey."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    notes = _check_notes(notes, "plot_pianoroll")
    pitches = [p for p, _ in notes if p is not None]
    fig, ax = plt.subplots(figsize=(max(6.0, min(24.0, sum(d for _, d in notes) / 16)), 4))
    clock = 0.0
    for i, (pitch, dur) in enumerate(notes):
        if pitch is not None:
            colour = "0.6" if i < primer_len else "tab:blue"
            # A white edge keeps repeated equal notes apart (two quarters must not read as a half).
            ax.broken_barh([(clock, dur / 4)], (pitch - 0.4, 0.8), facecolors=colour, edgecolors="white", linewidth=0.8)
        clock += dur / 4
    if pitches:
        low, high = min(pitches) - 2, max(pitches) + 2
        ax.set_ylim(low, high)
        naturals = [p for p in range(low, high + 1) if p % 12 in (0, 2, 4, 5, 7, 9, 11)]
        ax.set_yticks(naturals, [f"{'C D EF G A B'[p % 12]}{p // 12 - 1}" for p in naturals], fontsize=7)
    ax.set_xlim(0, max(clock, 1))
    ax.set_xlabel("time (quarter notes)")
    ax.set_ylabel("pitch (C4 = middle C)")
    ax.set_title(title + (" (primer in grey)" if primer_len else ""))
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
