"""Small recurrent models for the lab: one per RNN type of the lecture (v5), on ``minigrad.nn``.

Every model takes a ``cell`` name from :data:`CELLS` (vanilla RNN, the three GRU variants, LSTM
with or without peepholes), so the same experiment runs on each. Inputs are time-major.

* :class:`Regressor`   many-to-one, real inputs (the adding problem): Linear on the last step.
* :class:`Tagger`      many-to-many, same length: a label for every token (optionally bidirectional, deep).
* :class:`Classifier`  many-to-one on padded token sequences: Linear on each sequence's own last step.
* :class:`Seq2Seq`     many-to-many, different lengths: encoder, then a decoder that stops at EOS.
* :class:`Generator`   one-to-many: one class label sets the initial state, the model writes a sequence,
  feeding each sampled token back in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import minigrad as mg
from minigrad import Tensor, nn
from minigrad.nn.functional import cross_entropy

__all__ = ["CELLS", "Classifier", "Generator", "Regressor", "Seq2Seq", "Tagger", "fit", "make_rnn"]

# name -> (layer class, cell options). The layer's scope name is its class name, lower-case.
CELLS: dict[str, tuple[type[nn.RNNBase], dict[str, Any]]] = {
    "rnn": (nn.RNN, {}),
    "gru": (nn.GRU, {}),  # PyTorch's GRU (reset after W_hn h)
    "gru-reset-before": (nn.GRU, {"variant": "reset_before"}),  # Cho et al. 2014, the course's full GRU
    "gru-minimal": (nn.GRU, {"variant": "minimal"}),  # the course's simplified GRU (update gate only)
    "lstm": (nn.LSTM, {}),
    "lstm-peephole": (nn.LSTM, {"peephole": True}),  # Gers & Schmidhuber 2000
}


def make_rnn(
    cell: str, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False, dtype: Any = None
) -> nn.RNNBase:
    """The recurrent layer that ``cell`` names (see :data:`CELLS`)."""
    if cell not in CELLS:
        raise ValueError(f"make_rnn: unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
    layer, options = CELLS[cell]
    return layer(input_size, hidden_size, num_layers=num_layers, bidirectional=bidirectional, dtype=dtype, **options)


class Regressor(nn.Module):
    """Many-to-one regression: ``y = W h_{T-1} + b`` on the last step of the top layer. x: (T, B, I)."""

    def __init__(
        self, cell: str, input_size: int, hidden_size: int, output_size: int = 1, num_layers: int = 1, dtype: Any = None
    ) -> None:
        super().__init__()
        self.cell = cell
        self.rnn = make_rnn(cell, input_size, hidden_size, num_layers, dtype=dtype)
        self.head = nn.Linear(hidden_size, output_size, dtype=dtype)

    def forward(self, x: Any) -> Tensor:
        out, _ = self.rnn(x)
        return self.head(out[-1])


class Tagger(nn.Module):
    """Many-to-many, same length: tokens (T, B) -> logits (T, B, C), one label per token.

    ``Embedding -> RNN (num_layers, optionally bidirectional) -> Linear`` on every step.
    """

    def __init__(
        self,
        cell: str,
        vocab: int,
        classes: int,
        hidden_size: int,
        embedding_dim: int = 16,
        num_layers: int = 1,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embedding_dim)
        self.rnn = make_rnn(cell, embedding_dim, hidden_size, num_layers, bidirectional)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), classes)

    def forward(self, tokens: Any) -> Tensor:
        out, _ = self.rnn(self.embed(tokens))
        return self.head(out)

    def loss(self, tokens: np.ndarray, tags: np.ndarray) -> Tensor:
        logits = self(tokens)
        return cross_entropy(logits.reshape(-1, logits.shape[-1]), tags.reshape(-1))

    def accuracy(self, tokens: np.ndarray, tags: np.ndarray) -> float:
        with mg.no_grad():
            return float((self(tokens).data.argmax(-1) == tags).mean())


class Classifier(nn.Module):
    """Many-to-one classification of padded sequences: tokens (T, B), lengths (B,) -> logits (B, C).

    The layer runs with ``lengths=`` (a variable-length batch), so its final state ``h_n`` is each
    sequence's state at its own last step and the padding runs through nothing. The logits read the
    top layer's final state (both directions' with ``bidirectional=True``: the reverse direction
    then starts at each name's own last letter, not on padding).
    """

    def __init__(
        self,
        cell: str,
        vocab: int,
        classes: int,
        hidden_size: int,
        embedding_dim: int = 16,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embedding_dim)
        self.rnn = make_rnn(cell, embedding_dim, hidden_size, bidirectional=bidirectional)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), classes)

    def forward(self, tokens: Any, lengths: np.ndarray) -> Tensor:
        _, final = self.rnn(self.embed(tokens), lengths=lengths)
        h_n = final[0] if isinstance(final, tuple) else final  # an LSTM's is (h_n, c_n)
        # The top layer's final state, both directions side by side when bidirectional: (B, D*H).
        last = h_n[-1] if self.rnn.num_directions == 1 else mg.concat([h_n[-2], h_n[-1]], axis=-1)
        return self.head(last)


class Seq2Seq(nn.Module):
    """Many-to-many with different lengths: an encoder reads x (T_x, B); its final state starts a decoder.

    Training (teacher forcing): the decoder reads ``[BOS, y_0, ..., y_{T_y-1}]`` and predicts
    ``[y_0, ..., y_{T_y-1}, EOS]``. Generation: greedy, feeding back each prediction until every
    sequence has written EOS (or ``max_len``). Token ids ``vocab`` = BOS, ``vocab + 1`` = EOS.
    """

    def __init__(self, cell: str, vocab: int, hidden_size: int, embedding_dim: int = 16) -> None:
        super().__init__()
        self.vocab = vocab
        self.bos, self.eos = vocab, vocab + 1
        self.embed = nn.Embedding(vocab + 2, embedding_dim)
        self.encoder = make_rnn(cell, embedding_dim, hidden_size)
        self.decoder = make_rnn(cell, embedding_dim, hidden_size)
        self.head = nn.Linear(hidden_size, vocab + 2)

    def loss(self, source: np.ndarray, target: np.ndarray) -> Tensor:
        with mg.scope("encoder"):  # two GRUs: their own scopes keep their timesteps apart
            _, state = self.encoder(self.embed(source))
        batch = source.shape[1]
        inputs = np.concatenate([np.full((1, batch), self.bos), target])
        wanted = np.concatenate([target, np.full((1, batch), self.eos)])
        with mg.scope("decoder"):
            out, _ = self.decoder(self.embed(inputs), state)
        logits = self.head(out)
        return cross_entropy(logits.reshape(-1, logits.shape[-1]), wanted.reshape(-1))

    def generate(self, source: np.ndarray, max_len: int | None = None) -> list[list[int]]:
        """Greedy decoding of each column of ``source``; each result stops before its EOS."""
        max_len = 2 * source.shape[0] + 2 if max_len is None else max_len
        batch = source.shape[1]
        with mg.no_grad():
            _, state = self.encoder(self.embed(source))
            token = np.full((1, batch), self.bos)
            written = []
            for _ in range(max_len):
                out, state = self.decoder(self.embed(token), state)
                token = self.head(out).data.argmax(-1)
                written.append(token[0])
                if (np.stack(written) == self.eos).any(axis=0).all():
                    break
        results = []
        for column in np.stack(written, axis=1):
            stop = np.flatnonzero(column == self.eos)
            results.append(column[: stop[0] if len(stop) else len(column)].tolist())
        return results


class Generator(nn.Module):
    """One-to-many: a class label (one input) -> a sequence of tokens.

    ``h_0 = tanh(E_class[label])`` (and ``c_0 = 0`` for an LSTM); the first input is BOS, each
    later input the previous token; the model writes tokens until EOS. Token ids ``vocab`` = BOS,
    ``vocab + 1`` = EOS.
    """

    def __init__(self, cell: str, vocab: int, classes: int, hidden_size: int, embedding_dim: int = 16) -> None:
        super().__init__()
        self.vocab = vocab
        self.bos, self.eos = vocab, vocab + 1
        self.start = nn.Embedding(classes, hidden_size)
        self.embed = nn.Embedding(vocab + 2, embedding_dim)
        self.rnn = make_rnn(cell, embedding_dim, hidden_size)
        self.lstm = isinstance(self.rnn, nn.LSTM)  # its state is the pair (h, c)
        self.head = nn.Linear(hidden_size, vocab + 2)

    def initial_state(self, labels: np.ndarray) -> Any:
        h0 = self.start(np.asarray(labels)).tanh()
        h0 = h0.reshape(1, *h0.shape)
        return (h0, mg.zeros(h0.shape, dtype=h0.dtype)) if self.lstm else h0

    def loss(self, labels: np.ndarray, sequences: np.ndarray, lengths: np.ndarray) -> Tensor:
        """Mean cross-entropy per token of padded ``sequences`` (T, B) with their ``lengths``, EOS included."""
        T, batch = sequences.shape
        lengths = np.asarray(lengths)
        inputs = np.concatenate([np.full((1, batch), self.bos), sequences])
        wanted = np.concatenate([sequences, np.zeros((1, batch), dtype=sequences.dtype)])
        wanted[lengths, np.arange(batch)] = self.eos
        wanted[np.arange(T + 1)[:, None] > lengths[None, :]] = -100  # padding: ignored by the loss
        out, _ = self.rnn(self.embed(inputs), self.initial_state(labels))
        logits = self.head(out)
        return cross_entropy(logits.reshape(-1, logits.shape[-1]), wanted.reshape(-1))

    def sample(
        self, labels: Sequence[int], rng: np.random.Generator, max_len: int = 20, temperature: float = 1.0
    ) -> list[list[int]]:
        """One sampled sequence per label (softmax at ``temperature``; 0 = greedy), EOS not included."""
        labels = np.asarray(labels)
        batch = len(labels)
        written = np.full((max_len, batch), self.eos)
        with mg.no_grad():
            state = self.initial_state(labels)
            token = np.full((1, batch), self.bos)
            done = np.zeros(batch, dtype=bool)
            for t in range(max_len):
                out, state = self.rnn(self.embed(token), state)
                logits = self.head(out).data[0].astype(np.float64)
                if temperature == 0:
                    token = logits.argmax(-1)
                else:
                    p = np.exp((logits - logits.max(-1, keepdims=True)) / temperature)
                    p /= p.sum(-1, keepdims=True)
                    token = (p.cumsum(-1) > rng.random((batch, 1))).argmax(-1)
                token = np.where(done, self.eos, token)
                written[t] = token
                done |= token == self.eos
                token = token[None]
                if done.all():
                    break
        return [
            col[: np.flatnonzero(col == self.eos)[0]].tolist() if (col == self.eos).any() else col.tolist()
            for col in written.T
        ]


def fit(
    parameters: Sequence[Tensor],
    loss_fn: Callable[[int], Tensor],
    iterations: int,
    lr: float = 1e-2,
    clip_norm: float | None = None,
    on_step: Callable[[int, float, float], None] | None = None,
) -> list[float]:
    """Adam on ``loss_fn(i)`` for ``iterations`` steps; returns each step's loss.

    ``clip_norm`` rescales the gradients to that joint norm at most (``clip_grad_norm_``).
    ``on_step(i, loss, grad_norm)`` is called after each step (grad_norm before clipping).
    """
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise ValueError(f"fit: iterations must be a positive integer, got {iterations!r}")
    parameters = list(parameters)
    optimizer = mg.optim.Adam(parameters, lr=lr)
    losses = []
    for i in range(iterations):
        optimizer.zero_grad()
        loss = loss_fn(i)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(parameters, clip_norm if clip_norm is not None else float("inf"))
        optimizer.step()
        losses.append(float(loss.item()))
        if on_step is not None:
            on_step(i, losses[-1], norm)
    return losses
