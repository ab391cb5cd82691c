"""A character-level language model: the course's dinosaur names and Karpathy's min-char-rnn in one.

This is our trainer, in PyTorch's style (batches, two biases per recurrent layer, Adam by
default). The two original programs themselves, step for step, are ``models/dinosaurus.py``
and ``models/min_char_rnn.py`` (``python -m demos.char_lm --preset course`` / ``min-char-rnn``).

The model reads one character at a time and predicts the next::

    x_t = onehot(c_t) or Embedding(c_t)          h_t = cell(x_t, h_{t-1})   (RNN, GRU or LSTM)
    p(c_{t+1} | c_1..c_t) = softmax(W_hy h_t + b_y)
    loss = -1/N sum_t log p(c_{t+1} = true next char)        (N = predicted characters)

The vocabulary is the text's sorted distinct characters, ``"\\n"`` included (it ends each
name), so for the course's ``dinos.txt`` it is ``char_to_ix = {"\\n": 0, "a": 1, ..., "z": 26}``.

Two ways to cut the text into training examples:

* ``lines`` (the course): one item per line, ``x = ["\\n"] + name``, ``y = name + ["\\n"]``.
  The course feeds a zero vector as ``x<0>``; we feed ``"\\n"`` ("the previous name ended"),
  which is what the ``window`` mode sees too, so one model and one sampler serve both.
  A batch of several names is padded; padded targets are ``IGNORE_INDEX`` and count nowhere.
* ``window`` (min-char-rnn): the text is one long stream, cut into ``batch_size`` parallel
  streams and read in windows of ``seq_len`` characters; the hidden state is carried from
  one window to the next through ``.detach()``, so gradients flow back at most ``seq_len``
  steps (truncated BPTT) while the state remembers further. At the end of the text the state
  is reset and reading starts again at the top, as min-char-rnn does.

The loss shown is per character, in nats, smoothed as the course's ``smooth``:
``smooth <- 0.999 * smooth + 0.001 * loss``, starting at ``log(V)`` (= ``-log(1/V)``), the loss
of a model that guesses uniformly. The course's number is the same thing summed over a name
(it starts at ``-log(1/V) * 7``): multiply ours by the mean name length (about 6) to compare.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import minigrad as mg
from minigrad import nn
from minigrad.nn.functional import cross_entropy
from minigrad.utils.data import DataLoader

STOP = "\n"
IGNORE_INDEX = -100
CELLS = ("rnn", "gru", "lstm")
MODES = ("lines", "window")
OPTIMIZERS = ("sgd", "adam", "adagrad")
REDUCTIONS = ("mean", "sum")
DEFAULT_CORPUS = Path(__file__).resolve().parent / "data" / "names.txt"
# Lines mode unrolls one graph per line: a longer "line" is free text, which --mode window reads in windows.
MAX_LINE_CHARS = 1000
_CHECKPOINT_KEY = "__char_lm__"
_FORMAT = 1


class CorpusError(ValueError):
    """The text cannot train a character model (empty, one distinct character, too short...)."""


# --------------------------------------------------------------------------------------
# Text and vocabulary
# --------------------------------------------------------------------------------------


def read_text(path: str | Path, lowercase: bool = True) -> str:
    """The corpus at ``path`` as one string (UTF-8, ``\\r\\n`` -> ``\\n``, lower-cased like the course)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"char_lm: no corpus file at {path}")
    if not path.is_file():
        raise CorpusError(f"char_lm: corpus {path} is not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise CorpusError(f"char_lm: corpus {path} is not UTF-8 text ({err})") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if lowercase:
        text = text.lower()
    if not text.strip():
        raise CorpusError(f"char_lm: corpus {path} is empty (no non-blank character)")
    return text


def split_lines(text: str) -> list[str]:
    """One item per non-blank line, surrounding spaces removed."""
    return [line.strip() for line in text.split("\n") if line.strip()]


def check_line_lengths(items: Sequence[str], limit: int = MAX_LINE_CHARS) -> None:
    """Lines mode backpropagates through whole lines; refuse one longer than ``limit`` characters.

    A 100,000-character line would be one unrolled graph of 100,000 steps per iteration
    (tens of seconds and a gigabyte each); free text belongs to ``--mode window``.
    """
    for number, item in enumerate(items, 1):
        if len(item) > limit:
            raise CorpusError(
                f"char_lm: line {number} has {len(item):,} characters, more than lines mode's "
                f"limit of {limit:,} (one name or sentence per line); for free text use "
                "--mode window, which reads it in windows of --seq-len characters"
            )


@dataclass(frozen=True)
class Vocab:
    """Characters <-> indices: ``chars`` sorted, ``"\\n"`` (the stop/start symbol) always among them."""

    chars: tuple[str, ...]

    def __post_init__(self) -> None:
        chars = tuple(self.chars)
        object.__setattr__(self, "chars", chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise CorpusError(f"Vocab: every entry must be one character, got {chars!r}")
        if len(set(chars)) != len(chars):
            raise CorpusError(f"Vocab: characters must be distinct, got {''.join(chars)!r}")
        if STOP not in chars:
            raise CorpusError("Vocab: the vocabulary must contain '\\n' (it ends every name)")
        letters = [c for c in chars if c != STOP]
        if len(letters) < 2:
            raise CorpusError(
                f"Vocab: the text has {len(letters)} distinct character(s) besides line breaks "
                f"({''.join(letters)!r}); a language model needs at least two to choose between"
            )
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(chars)})

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        """``sorted(set(text))`` plus ``"\\n"``: the course's ``chars`` / ``char_to_ix``."""
        return cls(tuple(sorted(set(text) | {STOP})))

    @property
    def size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def stop(self) -> int:
        """Index of ``"\\n"``: what every name ends with and every sample starts from."""
        return self._index[STOP]

    @property
    def char_to_ix(self) -> dict[str, int]:
        return dict(self._index)

    @property
    def ix_to_char(self) -> dict[int, str]:
        return dict(enumerate(self.chars))

    def encode(self, text: str) -> np.ndarray:
        """``[char_to_ix[c] for c in text]`` as int64; an unknown character is an error naming it."""
        try:
            return np.fromiter((self._index[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as err:
            raise ValueError(
                f"Vocab.encode: character {err.args[0]!r} is not in the vocabulary {''.join(self.chars)!r}"
            ) from None

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        return "".join(self.chars[int(i)] for i in ids)


# --------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------


def pad_names(names: Sequence[np.ndarray], stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets (T, B) for a batch of encoded names, T = longest name + 1.

    Column b: ``x = [stop] + name_b``, ``y = name_b + [stop]``; below the name, inputs are
    ``stop`` (never read by the loss) and targets ``IGNORE_INDEX``.
    """
    steps = max(len(n) for n in names) + 1
    inputs = np.full((steps, len(names)), stop, dtype=np.int64)
    targets = np.full((steps, len(names)), IGNORE_INDEX, dtype=np.int64)
    for b, name in enumerate(names):
        inputs[1 : len(name) + 1, b] = name
        targets[: len(name), b] = name
        targets[len(name), b] = stop
    return inputs, targets


class NameBatches:
    """Endless batches of whole names (the course's ``examples[j % len(examples)]``, reshuffled every epoch).

    A ``DataLoader`` over the encoded names: shuffled by ``rng`` (one permutation per epoch; the
    last incomplete batch of an epoch is dropped), each batch made by :func:`pad_names`.
    """

    def __init__(self, items: Sequence[str], vocab: Vocab, batch_size: int, rng: np.random.Generator) -> None:
        if not items:
            raise CorpusError("char_lm: the corpus has no non-blank line to train on")
        if batch_size < 1:
            raise ValueError(f"NameBatches: batch_size must be >= 1, got {batch_size}")
        check_line_lengths(items)
        self.names = [vocab.encode(item) for item in items]
        self.stop = vocab.stop
        self.batch_size = min(batch_size, len(self.names))
        self.loader = DataLoader(
            self.names,
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=True,
            generator=rng,
            collate_fn=lambda names: pad_names(names, vocab.stop),
        )
        self._epoch_batches: Iterator = iter(())
        self.epoch = 0

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
        return self

    def __next__(self) -> tuple[np.ndarray, np.ndarray, bool]:
        batch = next(self._epoch_batches, None)
        if batch is None:  # a new epoch: the loader draws a new order
            self._epoch_batches = iter(self.loader)
            self.epoch += 1
            batch = next(self._epoch_batches)
        inputs, targets = batch
        return inputs, targets, True  # every batch starts from a fresh state


class WindowBatches:
    """Endless windows (seq_len, B) of one long text read as B parallel streams (min-char-rnn, batched).

    Stream b is the b-th of B equal pieces of the text; window k holds characters
    ``[k*seq_len, (k+1)*seq_len)`` of every stream, targets shifted by one. The third value
    is True when the streams wrap to the start (the hidden state must then be reset).
    """

    def __init__(self, ids: np.ndarray, batch_size: int, seq_len: int) -> None:
        if batch_size < 1 or seq_len < 1:
            raise ValueError(f"WindowBatches: batch_size and seq_len must be >= 1, got {batch_size}, {seq_len}")
        length = (len(ids) - 1) // batch_size
        if length < seq_len:
            raise CorpusError(
                f"char_lm: the text has {len(ids)} characters, too few for {batch_size} stream(s) "
                f"of at least one window of seq_len={seq_len} (+1 for the last target); "
                "use a longer text or smaller --batch-size/--seq-len"
            )
        cut = length * batch_size
        self.x = ids[:cut].reshape(batch_size, length).T
        self.y = ids[1 : cut + 1].reshape(batch_size, length).T
        self.seq_len = seq_len
        self.windows = length // seq_len
        self.position = 0
        self.epoch = 0

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
        return self

    def __next__(self) -> tuple[np.ndarray, np.ndarray, bool]:
        reset = self.position == 0
        if reset:
            self.epoch += 1
        start = self.position * self.seq_len
        window = slice(start, start + self.seq_len)
        self.position = (self.position + 1) % self.windows
        return self.x[window], self.y[window], reset


# --------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------

State = Any  # h (layers, B, H) for RNN/GRU, (h, c) for LSTM, or None for zeros


class CharLM(nn.Module):
    """Embedding (or one-hot) -> RNN/GRU/LSTM -> Linear: logits of the next character.

    ``forward(ids, state)``: ``ids`` (T, B) integers -> logits (T, B, V) and the last state.
    With ``embedding_dim=None`` the input is one-hot (the course's ``x<t>``), so ``weight_ih_l0``
    plays the course's ``Wax``; ``head`` is ``Wya``/``by``.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int = 64,
        cell: str = "lstm",
        num_layers: int = 1,
        embedding_dim: int | None = None,
        dropout: float = 0.0,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"CharLM: cell must be one of {CELLS}, got {cell!r}")
        for name, value, low in (
            ("vocab_size", vocab_size, 2),
            ("hidden_size", hidden_size, 1),
            ("num_layers", num_layers, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"CharLM: {name} must be an integer >= {low}, got {value!r}")
        if embedding_dim is not None and (not isinstance(embedding_dim, (int, np.integer)) or embedding_dim < 1):
            raise ValueError(
                f"CharLM: embedding_dim must be a positive integer or None (one-hot), got {embedding_dim!r}"
            )
        self.vocab_size, self.hidden_size, self.cell = int(vocab_size), int(hidden_size), cell
        self.num_layers, self.embedding_dim, self.dropout = int(num_layers), embedding_dim, float(dropout)
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        if embedding_dim:
            self.embedding = nn.Embedding(vocab_size, embedding_dim, dtype=dtype)
            input_size = embedding_dim
        else:
            self.embedding = None
            input_size = vocab_size
        layer = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.rnn = layer(input_size, hidden_size, num_layers=num_layers, dropout=dropout, dtype=dtype)
        self.head = nn.Linear(hidden_size, vocab_size, dtype=dtype)

    def config(self) -> dict[str, Any]:
        """The constructor's arguments (what a checkpoint needs to rebuild the model)."""
        return {
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "cell": self.cell,
            "num_layers": self.num_layers,
            "embedding_dim": self.embedding_dim,
            "dropout": self.dropout,
        }

    @property
    def dtype(self) -> np.dtype:
        return self.head.weight.dtype

    def forward(self, ids: Any, state: State = None) -> tuple[mg.Tensor, State]:
        ids = np.asarray(ids.data if isinstance(ids, mg.Tensor) else ids)
        if ids.ndim != 2 or ids.dtype.kind not in "iu":
            raise ValueError(
                f"CharLM: expected character indices of shape (T, B) and an integer dtype, "
                f"got shape {ids.shape} and dtype {ids.dtype}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise IndexError(
                f"CharLM: character index {int(ids.max() if ids.max() >= self.vocab_size else ids.min())}"
                f" is out of range for a vocabulary of {self.vocab_size}"
            )
        if self.embedding is not None:
            x = self.embedding(ids)
        else:
            x = mg.Tensor(np.eye(self.vocab_size, dtype=self.dtype)[ids])  # one-hot rows: a constant
        out, state = self.rnn(x, state)
        return self.head(out), state

    def extra_repr(self) -> str:
        inputs = f"embedding_dim={self.embedding_dim}" if self.embedding_dim else "one-hot inputs"
        return f"vocab_size={self.vocab_size}, cell={self.cell!r}, {inputs}"


def detach_state(state: State) -> State:
    """Cut the graph between windows (truncated BPTT): same values, no history."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


# --------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------


def sample(
    model: CharLM,
    vocab: Vocab,
    n: int = 7,
    *,
    seed: int | np.random.Generator | None = 0,
    temperature: float = 1.0,
    max_len: int = 50,
    prefix: str = "",
) -> list[str]:
    """``n`` names drawn one character at a time, each fed back as the next input.

    Starts from ``"\\n"`` (then ``prefix``, if any) and a zero state; draws
    ``c ~ softmax(logits / temperature)`` (``temperature=0``: always the most likely
    character) until ``"\\n"`` or ``max_len`` characters (the course caps at 50).

    ``seed``: an ``int`` (or ``None``: fresh entropy) seeds a private
    ``np.random.default_rng(seed)``, so the same seed gives the same names; a
    ``np.random.Generator`` is used as it is and advanced, so successive calls with one
    generator give new names and a run is reproducible from the generator's own seed.
    Neither touches numpy's global generator nor minigrad's (``mg.manual_seed``).

    Two sampling rules, and why they differ:

    * **The course's** (``models.dinosaurus.sample(parameters, char_to_ix, seed)``): one name
      per call; before each character it calls ``np.random.seed(counter + seed)`` (with
      ``counter`` and ``seed`` both growing by one per character) and draws with
      ``np.random.choice(range(V), p=y.ravel())``; its first input is the zero vector. It makes
      the notebook's printout reproducible for grading, at a price: it re-seeds numpy's
      global generator, and the k-th character of a name is drawn from the seed ``seed + 2k``,
      so the name of seed ``s + 2`` reuses, one position earlier, the random numbers of the
      name of seed ``s``. While the model barely looks at the past, the names repeat each
      other's tails: the notebook's ``Nkzxwtdm...``, ``Kzxwtdm...``, ``Zxwtdm...`` at iteration 0.
    * **Ours** (this function): one generator for the whole batch, advanced once per
      character; the ``n`` names are drawn in parallel (inverse-CDF on one uniform number
      each), the first input is ``"\\n"``, and no global state changes. It cannot reproduce
      the course's names; ``python -m demos.char_lm --preset course`` uses the course's rule.
    """
    if vocab.size != model.vocab_size:
        raise ValueError(
            f"sample: the vocabulary has {vocab.size} characters but the model predicts {model.vocab_size}"
        )
    if n < 1:
        raise ValueError(f"sample: n must be >= 1, got {n}")
    if not temperature >= 0 or not math.isfinite(temperature):
        raise ValueError(f"sample: temperature must be a finite number >= 0, got {temperature}")
    if max_len < 1:
        raise ValueError(f"sample: max_len must be >= 1, got {max_len}")
    if STOP in prefix:
        raise ValueError("sample: prefix must not contain '\\n' (it would end the name)")
    if isinstance(seed, bool) or not (seed is None or isinstance(seed, (int, np.integer, np.random.Generator))):
        raise TypeError(f"sample: seed must be an int, None or a np.random.Generator, got {type(seed).__name__}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    start = np.concatenate([[vocab.stop], vocab.encode(prefix)])
    drawn = np.full((max(max_len - len(prefix), 0), n), vocab.stop, dtype=np.int64)
    was_training = model.training
    model.eval()
    try:
        with mg.no_grad():
            logits, state = model(np.repeat(start[:, None], n, axis=1))
            done = np.zeros(n, dtype=bool)
            for t in range(len(drawn)):
                scores = logits.data[-1].astype(np.float64)
                if temperature == 0:
                    chosen = scores.argmax(axis=1)
                else:
                    scores = scores / temperature
                    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
                    cdf = np.cumsum(probs, axis=1)
                    u = rng.random(n) * cdf[:, -1]
                    chosen = np.minimum((cdf < u[:, None]).sum(axis=1), vocab.size - 1)
                chosen = np.where(done, vocab.stop, chosen)
                drawn[t] = chosen
                done |= chosen == vocab.stop
                if done.all() or t == len(drawn) - 1:
                    break
                logits, state = model(chosen[None, :], state)
    finally:
        model.train(was_training)
    names = []
    for b in range(n):
        column = drawn[:, b]
        end = np.flatnonzero(column == vocab.stop)
        names.append(prefix + vocab.decode(column[: end[0]] if len(end) else column))
    return names


# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """Everything about a run except the model's shape. Defaults: the headline demo."""

    mode: str = "lines"  # "lines": one name per example (course); "window": truncated BPTT (min-char-rnn)
    batch_size: int = 32  # names per batch ("lines") or parallel streams ("window")
    seq_len: int = 25  # window length ("window" only)
    optimizer: str = "adam"
    lr: float = 0.01
    clip_value: float | None = 5.0  # the course's clip(): every gradient element into [-5, 5]
    clip_norm: float | None = None  # or rescale all gradients together to this joint L2 norm
    reduction: str = "mean"  # "mean" per character; "sum" per name/window as the course and min-char-rnn
    smoothing: float = 0.999  # the course's smooth(): loss <- 0.999 * loss + 0.001 * current
    lowercase: bool = True  # how the text was read (the course lower-cases dinos.txt)
    seed: int = 0

    def __post_init__(self) -> None:
        for name, value, choices in (
            ("mode", self.mode, MODES),
            ("optimizer", self.optimizer, OPTIMIZERS),
            ("reduction", self.reduction, REDUCTIONS),
        ):
            if value not in choices:
                raise ValueError(f"TrainConfig: {name} must be one of {choices}, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig: lr must be > 0, got {self.lr}")
        for name in ("clip_value", "clip_norm"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"TrainConfig: {name} must be > 0 or None (no clipping), got {value}")
        if not 0 <= self.smoothing < 1:
            raise ValueError(f"TrainConfig: smoothing must be in [0, 1), got {self.smoothing}")


def make_optimizer(name: str, params: Sequence[nn.Parameter], lr: float) -> Any:
    """``sgd``: p -= lr g (the course); ``adagrad``: min-char-rnn's; ``adam``: the default."""
    if name == "sgd":
        return mg.optim.SGD(params, lr=lr)
    if name == "adam":
        return mg.optim.Adam(params, lr=lr)
    if name == "adagrad":
        return mg.optim.Adagrad(params, lr=lr)
    raise ValueError(f"make_optimizer: unknown optimizer {name!r}, expected one of {OPTIMIZERS}")


class Trainer:
    """One optimisation step per ``step()``: forward, loss, backward, clip, update.

    ``smooth_loss`` starts at ``log(V)`` and follows ``smooth <- s * smooth + (1 - s) * loss``
    (per-character nats). ``losses``/``smoothed`` keep the history for the loss curve.
    """

    def __init__(self, model: CharLM, vocab: Vocab, text: str, config: TrainConfig | None = None) -> None:
        self.config = config = config or TrainConfig()
        if vocab.size != model.vocab_size:
            raise ValueError(
                f"Trainer: the vocabulary has {vocab.size} characters but the model predicts {model.vocab_size}"
            )
        self.model, self.vocab = model, vocab
        self.rng = np.random.default_rng(config.seed)
        if config.mode == "lines":
            self.batches: Iterator = NameBatches(split_lines(text), vocab, config.batch_size, self.rng)
        else:
            self.batches = WindowBatches(vocab.encode(text), config.batch_size, config.seq_len)
        self.params = list(model.parameters())
        self.optimizer = make_optimizer(config.optimizer, self.params, config.lr)
        self.state: State = None
        self.iteration = 0
        self.smooth_loss = math.log(vocab.size)
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.last_grad_norm = 0.0

    @property
    def epoch(self) -> int:
        return self.batches.epoch

    def loss(self, inputs: np.ndarray, targets: np.ndarray, state: State = None) -> tuple[mg.Tensor, State]:
        """Mean cross-entropy per predicted character (padding ignored), and the last state."""
        logits, state = self.model(inputs, state)
        loss = cross_entropy(logits.reshape(-1, self.vocab.size), targets.reshape(-1), ignore_index=IGNORE_INDEX)
        return loss, state

    def step(self) -> float:
        """One update; returns this batch's per-character loss."""
        inputs, targets, reset = next(self.batches)
        state = None if reset else detach_state(self.state)
        self.model.train()
        loss, state = self.loss(inputs, targets, state)
        value = float(loss.item())
        if not math.isfinite(value):  # raise before the update: the model keeps its last finite weights
            raise FloatingPointError(
                f"Trainer.step: the loss became {value} at iteration {self.iteration + 1}; "
                "lower --lr or clip the gradients (--clip-value / --clip-norm)"
            )
        self.state = state if self.config.mode == "window" else None
        objective = loss
        if self.config.reduction == "sum":  # per name/window summed, averaged over the batch
            objective = loss * (float((targets != IGNORE_INDEX).sum()) / targets.shape[1])
        self.optimizer.zero_grad()
        objective.backward()
        if self.config.clip_norm is not None:
            self.last_grad_norm = nn.utils.clip_grad_norm_(self.params, self.config.clip_norm)
        if self.config.clip_value is not None:
            nn.utils.clip_grad_value_(self.params, self.config.clip_value)
        self.optimizer.step()
        s = self.config.smoothing
        self.smooth_loss = s * self.smooth_loss + (1 - s) * value
        self.iteration += 1
        self.losses.append(value)
        self.smoothed.append(self.smooth_loss)
        return value


def evaluate(
    model: CharLM, vocab: Vocab, text: str, mode: str = "lines", batch_size: int = 256, seq_len: int = 100
) -> float:
    """Mean per-character loss (nats) of ``model`` on ``text``, without training."""
    if vocab.size != model.vocab_size:
        raise ValueError(
            f"evaluate: the vocabulary has {vocab.size} characters but the model predicts {model.vocab_size}"
        )
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        with mg.no_grad():
            if mode == "lines":
                items = split_lines(text)
                check_line_lengths(items)
                names = [vocab.encode(item) for item in items]
                if not names:
                    raise CorpusError("evaluate: the text has no non-blank line")
                for start in range(0, len(names), batch_size):
                    inputs, targets = pad_names(names[start : start + batch_size], vocab.stop)
                    logits, _ = model(inputs)
                    n = int((targets != IGNORE_INDEX).sum())
                    total += (
                        n
                        * cross_entropy(
                            logits.reshape(-1, vocab.size), targets.reshape(-1), ignore_index=IGNORE_INDEX
                        ).item()
                    )
                    count += n
            else:
                ids = vocab.encode(text)
                streams = max(1, min(batch_size, (len(ids) - 1) // seq_len))
                windows = WindowBatches(ids, streams, min(seq_len, (len(ids) - 1) // streams))
                state = None
                for _ in range(windows.windows):
                    inputs, targets, _ = next(windows)
                    logits, state = model(inputs, state)
                    total += targets.size * cross_entropy(logits.reshape(-1, vocab.size), targets.reshape(-1)).item()
                    count += targets.size
    finally:
        model.train(was_training)
    return total / count


# --------------------------------------------------------------------------------------
# Checkpoints: one .npz with the weights and a JSON string (vocabulary, model and training config)
# --------------------------------------------------------------------------------------


def save_checkpoint(
    path: str | Path, model: CharLM, vocab: Vocab, config: TrainConfig | None = None, run: dict[str, Any] | None = None
) -> Path:
    """Write ``model.state_dict()`` plus ``__char_lm__`` (a JSON string array) with ``mg.save``; no pickle.

    ``run`` holds anything else worth keeping (JSON values: iterations, data file, final loss).
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    meta = {
        "format": _FORMAT,
        "kind": "char_lm",
        "vocab": list(vocab.chars),
        "model": model.config(),
        "train": asdict(config) if config is not None else None,
        "run": run or {},
    }
    state = model.state_dict()
    state[_CHECKPOINT_KEY] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    mg.save(state, path)
    return path


def load_checkpoint(path: str | Path, vocab: Vocab | None = None) -> tuple[CharLM, Vocab, dict[str, Any]]:
    """Rebuild the model saved by ``save_checkpoint``: returns ``(model, vocab, meta)``.

    With ``vocab``, the checkpoint's vocabulary must be the same (a model cannot read
    characters it never saw, nor predict in another alphabet's order).
    """
    state = mg.load(path)
    raw = state.pop(_CHECKPOINT_KEY, None)
    if raw is None:
        keys = ", ".join(sorted(state)[:6]) or "none"
        raise ValueError(
            f"load_checkpoint: {path} is not a char_lm checkpoint (no '{_CHECKPOINT_KEY}' entry; its arrays: {keys})"
        )
    try:
        meta = json.loads(str(raw))
        chars, model_config = meta["vocab"], meta["model"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"load_checkpoint: {path} has an unreadable '{_CHECKPOINT_KEY}' entry: {err}") from None
    if meta.get("kind") != "char_lm" or meta.get("format") != _FORMAT:
        raise ValueError(
            f"load_checkpoint: {path} is a {meta.get('kind')!r} checkpoint of format "
            f"{meta.get('format')}, expected 'char_lm' format {_FORMAT}"
        )
    saved_vocab = Vocab(tuple(chars))
    if vocab is not None and vocab != saved_vocab:
        missing = sorted(set(vocab.chars) - set(saved_vocab.chars))
        raise ValueError(
            f"load_checkpoint: {path} was trained on another vocabulary: it knows "
            f"{''.join(saved_vocab.chars)!r} ({saved_vocab.size} characters), the data has "
            f"{''.join(vocab.chars)!r} ({vocab.size})"
            + (f"; characters it never saw: {''.join(missing)!r}" if missing else "")
        )
    _check_model_config(path, model_config, state)
    weight = state["head.weight"]
    model = CharLM(**model_config, dtype=weight.dtype)
    if model.vocab_size != saved_vocab.size:
        raise ValueError(
            f"load_checkpoint: {path} is inconsistent: a model of {model.vocab_size} outputs "
            f"with a vocabulary of {saved_vocab.size} characters"
        )
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError) as err:
        raise ValueError(
            f"load_checkpoint: the weights in {path} do not fit a CharLM({model.extra_repr()}): {err}"
        ) from None
    for name, value in state.items():  # a diverged run's NaN weights would sample empty names
        if not np.isfinite(value).all():
            raise ValueError(
                f"load_checkpoint: {path} holds non-finite weights ({name} has "
                f"{int((~np.isfinite(value)).sum())} NaN/inf values); it cannot be used"
            )
    return model, saved_vocab, meta


def _check_model_config(path: str | Path, config: Any, state: dict[str, np.ndarray]) -> None:
    """The saved constructor arguments must be CharLM's and agree with the saved weights' shapes.

    Checked before the model is built, so a corrupt or hostile ``hidden_size: 10**9`` is a
    one-line error instead of a 283 GiB allocation.
    """
    known = ("vocab_size", "hidden_size", "cell", "num_layers", "embedding_dim", "dropout")
    if not isinstance(config, dict):
        raise ValueError(
            f"load_checkpoint: {path} has model settings of type {type(config).__name__}, "
            f"expected a JSON object with keys {known}"
        )
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise ValueError(
            f"load_checkpoint: {path} has unknown model settings {unknown}; CharLM takes {', '.join(known)}"
        )
    head = state.get("head.weight")
    if head is None or head.ndim != 2:
        raise ValueError(f"load_checkpoint: {path} has no 2-d 'head.weight' array (the output layer)")
    layers = sum(1 for name in state if name.startswith("rnn.weight_ih_l") and not name.endswith("_reverse"))
    embedding = state.get("embedding.weight")
    saved = {
        "vocab_size": head.shape[0],
        "hidden_size": head.shape[1],
        "num_layers": layers,
        "embedding_dim": embedding.shape[1] if embedding is not None and embedding.ndim == 2 else None,
    }
    for name, value in saved.items():
        claimed = config.get(name, {"hidden_size": 64, "num_layers": 1}.get(name))  # CharLM's defaults
        if claimed != value:
            raise ValueError(
                f"load_checkpoint: {path} is inconsistent: its settings say {name}={claimed!r} "
                f"but its weights have {name}={value}"
            )


__all__ = [
    "CELLS",
    "DEFAULT_CORPUS",
    "IGNORE_INDEX",
    "MODES",
    "CharLM",
    "CorpusError",
    "NameBatches",
    "TrainConfig",
    "Trainer",
    "Vocab",
    "WindowBatches",
    "check_line_lengths",
    "detach_state",
    "evaluate",
    "load_checkpoint",
    "make_optimizer",
    "pad_names",
    "read_text",
    "sample",
    "save_checkpoint",
    "split_lines",
]
