"""Karpathy's min-char-rnn (2015), step for step, on minigrad.

The original is a 112-line numpy program with a hand-written backward. This is the same
program with the backward left to ``loss.backward()``; every other choice is the original's:

* one tanh RNN with **one hidden bias** ``bh`` (PyTorch's ``nn.RNN`` has two, ``bias_ih`` and
  ``bias_hh``, which receive the same gradient and so move the sum twice as far under SGD)::

      h<t> = tanh(Wxh x<t> + Whh h<t-1> + bh)      y<t> = Why h<t> + by      p<t> = softmax(y<t>)
      loss = -sum_t log p<t>[target_t]             summed over a window of seq_length characters

* ``Wxh, Whh, Why ~ randn * 0.01`` drawn in that order, ``bh = by = 0``, column vectors;
* the text is read in windows of ``seq_length`` (25) characters; the hidden state is carried
  from window to window (its value only: gradients stop at the window's start); the pointer
  rule ``if p + seq_length + 1 >= len(data) or n == 0: h = 0; p = 0`` (so the text's last
  partial window is never read);
* every gradient element clipped into ``[-5, 5]``, then **Adagrad as min-char-rnn writes it**,
  ``mem += g * g; param += -lr * g / sqrt(mem + 1e-8)`` (``MinCharAdagrad``; PyTorch's
  ``lr * g / (sqrt(mem) + eps)`` differs from it by more than 1 % in the early steps, where
  ``mem`` is small);
* ``smooth_loss`` starts at ``-log(1/V) * seq_length`` and follows ``0.999 s + 0.001 loss``;
* every 100 iterations, before the step, 200 characters are sampled from the current hidden
  state, starting with the window's first character, and printed between ``----`` lines,
  followed by ``iter %d, loss: %f``.

Two things the original leaves to chance are fixed here so that a run can be repeated: the
vocabulary is ``sorted(set(data))`` (the original's ``list(set(data))`` has Python's hash
order, which changes from run to run), and the random numbers (weights, then samples) come
from ``np.random.RandomState(seed)``, the stream the original draws from after
``np.random.seed(seed)``. ``tests/test_min_char_rnn.py`` runs a numpy transcription of the
original next to this program and checks loss and parameters after every step to 1e-12.

Why "to the last bit" matters here: min-char-rnn's training is chaotic in its first steps.
Adagrad divides each gradient element by the root of its own running sum of squares, so
its first update is about ``lr * sign(g)`` for every element with ``|g| >> 1e-4``, and an
element whose gradient is near zero moves by ``-lr * g / 1e-4``: a change of one unit in the
last place of ``g`` is multiplied by about 1000 per step. Two float64 programs that round one
sum differently (the accumulator started at 1e-8 instead of 1e-8 added at the end, or
``log_softmax``'s gradient instead of ``p - onehot``) agree to 1e-16 after step 1, 1e-12
after step 5, 1e-7 after step 8, and are different runs by step 100 (measured on three
texts). So the forward, the softmax, the optimizer and the order of every sum follow the
original exactly; the backward through the network is minigrad's own (the engine's
``np.dot`` and tanh rows round the same way as the hand-written lines).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

import minigrad as mg
from minigrad import nn

__all__ = ["MinCharAdagrad", "MinCharRNN", "MinCharRNNTrainer", "StepResult"]


class MinCharRNN(nn.Module):
    """The network: ``Wxh (H, V)``, ``Whh (H, H)``, ``Why (V, H)``, ``bh (H, 1)``, ``by (V, 1)``, float64."""

    def __init__(self, vocab_size: int, hidden_size: int = 100, rng: np.random.RandomState | None = None) -> None:
        super().__init__()
        for name, value, low in (("vocab_size", vocab_size, 2), ("hidden_size", hidden_size, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"MinCharRNN: {name} must be an integer >= {low}, got {value!r}")
        rng = np.random.RandomState(0) if rng is None else rng
        self.vocab_size, self.hidden_size = int(vocab_size), int(hidden_size)
        self.Wxh = nn.Parameter(rng.randn(hidden_size, vocab_size) * 0.01)  # input to hidden
        self.Whh = nn.Parameter(rng.randn(hidden_size, hidden_size) * 0.01)  # hidden to hidden
        self.Why = nn.Parameter(rng.randn(vocab_size, hidden_size) * 0.01)  # hidden to output
        self.bh = nn.Parameter(np.zeros((hidden_size, 1)))  # hidden bias (one, as min-char-rnn)
        self.by = nn.Parameter(np.zeros((vocab_size, 1)))  # output bias

    def step(self, x: np.ndarray, h: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        """``h = tanh(Wxh x + Whh h + bh)`` and the scores ``y = Why h + by`` (before the softmax)."""
        h = (self.Wxh @ x + self.Whh @ h + self.bh).tanh()
        return h, self.Why @ h + self.by

    def forward(self, inputs: list[int], hprev: np.ndarray) -> tuple[list[mg.Tensor], np.ndarray]:
        """The scores ``y<t>`` (V, 1) of every step of the window, and the last hidden state as a
        plain array (the next window starts from its value; backpropagation stops there)."""
        if not inputs:
            raise ValueError("MinCharRNN: the window of inputs is empty")
        eye = np.eye(self.vocab_size)
        h = mg.tensor(np.asarray(hprev, dtype=np.float64))
        scores = []
        for ix in inputs:
            h, y = self.step(eye[:, [ix]], h)
            scores.append(y)
        return scores, h.numpy()

    def loss_and_backward(self, inputs: list[int], targets: list[int], hprev: np.ndarray) -> tuple[float, np.ndarray]:
        """Forward over the window, ``loss = -sum_t log p<t>[target_t]``, and backward into ``.grad``.

        The softmax and cross-entropy are computed as min-char-rnn writes them
        (``p = exp(y) / sum(exp(y))``, unshifted) together with their joint gradient
        ``dL/dy<t> = p<t> - onehot(target_t)``; ``backward`` takes it from there, through ``Why``,
        the tanh, ``Whh`` and every earlier step (BPTT). Written this way the gradients are
        the original's to the last bit: ``log_softmax``'s own backward rounds differently in the
        last place, and min-char-rnn's training amplifies a one-ulp difference (see the module's
        docstring).
        """
        if len(inputs) != len(targets):
            raise ValueError(
                f"MinCharRNN: inputs and targets must be equally long, got {len(inputs)} and {len(targets)}"
            )
        scores, h_last = self(inputs, hprev)
        loss = 0.0
        dscores = []
        for y, target in zip(scores, targets):
            p = np.exp(y.data) / np.sum(np.exp(y.data))  # probabilities of the next character
            loss += -np.log(p[target, 0])  # softmax (cross-entropy) loss
            dy = np.copy(p)
            dy[target] -= 1  # dL/dy = p - onehot(target)
            dscores.append(dy)
        # One backward pass from all T score vectors at once; stacked on a leading axis, each step's
        # gradient is a contiguous (V, 1) block, so the engine's np.dot takes the same BLAS path
        # as the original's (a strided column would be summed in another order).
        mg.stack(scores, axis=0).backward(np.stack(dscores, axis=0))
        return float(loss), h_last

    def sample(self, h: np.ndarray, seed_ix: int, n: int, rng: np.random.RandomState) -> list[int]:
        """``n`` character indices, starting after ``seed_ix`` from hidden state ``h``:
        ``ix ~ softmax(y)`` with ``rng.choice``, fed back as the next input (the original's ``sample``)."""
        eye = np.eye(self.vocab_size)
        x, state = eye[:, [seed_ix]], mg.tensor(np.asarray(h, dtype=np.float64))
        ixes = []
        with mg.no_grad():
            for _ in range(n):
                state, y = self.step(x, state)
                p = np.exp(y.data) / np.sum(np.exp(y.data))
                ix = rng.choice(range(self.vocab_size), p=p.ravel())
                x = eye[:, [ix]]
                ixes.append(int(ix))
        return ixes


class MinCharAdagrad:
    """min-char-rnn's Adagrad, to the last bit: ``mem += g * g; p += -lr * g / sqrt(mem + 1e-8)``.

    ``mg.optim.Adagrad(params, lr, initial_accumulator_value=1e-8, eps=0)`` is the same rule on
    paper (``mem`` starts at 1e-8 instead of adding it inside the root), but it adds the
    numbers in another order; min-char-rnn's training turns that one-ulp difference into a
    different run within about ten steps (measured: ``docs/course.md``). PyTorch's default
    ``lr * g / (sqrt(mem) + eps)`` is not the same rule at all while ``mem`` is small.
    """

    def __init__(self, params: list[nn.Parameter], lr: float = 1e-1) -> None:
        if not lr > 0:
            raise ValueError(f"MinCharAdagrad: lr must be > 0, got {lr}")
        self.params, self.lr = list(params), float(lr)
        self.memory = [np.zeros_like(p.data) for p in self.params]  # the original's mWxh, mWhh, ...

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        for param, mem in zip(self.params, self.memory):
            if param.grad is None:
                continue
            dparam = np.asarray(param.grad)
            mem += dparam * dparam
            param.add_(-self.lr * dparam / np.sqrt(mem + 1e-8))  # adagrad update


@dataclass
class StepResult:
    """What one iteration did: ``n`` (before the step), the window's ``loss``, ``smooth_loss`` and,
    every ``sample_every`` iterations, the ``sample`` drawn before the step."""

    n: int
    loss: float
    smooth_loss: float
    sample: str | None


class MinCharRNNTrainer:
    """min-char-rnn's main loop, one ``step()`` per iteration (iterate for an endless run)."""

    def __init__(
        self,
        data: str,
        hidden_size: int = 100,
        seq_length: int = 25,
        learning_rate: float = 1e-1,
        seed: int = 0,
        sample_every: int = 100,
        sample_length: int = 200,
    ) -> None:
        if not isinstance(data, str):
            raise TypeError(f"MinCharRNNTrainer: data must be the text (str), got {type(data).__name__}")
        for name, value in (
            ("seq_length", seq_length),
            ("sample_every", sample_every),
            ("sample_length", sample_length),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"MinCharRNNTrainer: {name} must be an integer >= 1, got {value!r}")
        if not learning_rate > 0:
            raise ValueError(f"MinCharRNNTrainer: learning_rate must be > 0, got {learning_rate}")
        if len(data) < seq_length + 2:
            raise ValueError(
                f"MinCharRNNTrainer: the text has {len(data)} characters; min-char-rnn needs at least "
                f"seq_length + 2 = {seq_length + 2} (one window, its targets, and the pointer rule)"
            )
        self.data = data
        self.chars = sorted(set(data))
        if len(self.chars) < 2:
            raise ValueError(
                f"MinCharRNNTrainer: the text has one distinct character ({self.chars[0]!r}); "
                "there is nothing to predict"
            )
        self.char_to_ix = {ch: i for i, ch in enumerate(self.chars)}
        self.ix_to_char = dict(enumerate(self.chars))
        self.vocab_size = len(self.chars)
        self.hidden_size, self.seq_length = hidden_size, seq_length
        self.sample_every, self.sample_length = sample_every, sample_length
        self.rng = np.random.RandomState(seed)  # the original's global stream after np.random.seed(seed)
        self.model = MinCharRNN(self.vocab_size, hidden_size, self.rng)
        self.params = list(self.model.parameters())
        self.optimizer = MinCharAdagrad(self.params, lr=learning_rate)
        self.n, self.p = 0, 0
        self.hprev = np.zeros((hidden_size, 1))
        self.smooth_loss = -np.log(1.0 / self.vocab_size) * seq_length  # loss at iteration 0

    def step(self) -> StepResult:
        """One iteration of the original's ``while True`` loop."""
        if self.p + self.seq_length + 1 >= len(self.data) or self.n == 0:
            self.hprev = np.zeros((self.hidden_size, 1))  # reset the memory
            self.p = 0  # go from the start of the data
        inputs = [self.char_to_ix[ch] for ch in self.data[self.p : self.p + self.seq_length]]
        targets = [self.char_to_ix[ch] for ch in self.data[self.p + 1 : self.p + self.seq_length + 1]]
        text = None
        if self.n % self.sample_every == 0:
            sample_ix = self.model.sample(self.hprev, inputs[0], self.sample_length, self.rng)
            text = "".join(self.ix_to_char[ix] for ix in sample_ix)
        self.optimizer.zero_grad()
        value, self.hprev = self.model.loss_and_backward(inputs, targets, self.hprev)
        nn.utils.clip_grad_value_(self.params, 5)  # np.clip(dparam, -5, 5) on every gradient
        self.optimizer.step()
        self.smooth_loss = self.smooth_loss * 0.999 + value * 0.001
        result = StepResult(self.n, value, float(self.smooth_loss), text)
        self.p += self.seq_length
        self.n += 1
        return result

    def __iter__(self) -> Iterator[StepResult]:
        while True:
            yield self.step()

    def run(self, iterations: int, out: Callable[[str], None] | None = print) -> float:
        """``iterations`` steps, printing what min-char-rnn prints; returns the smoothed loss."""
        for _ in range(iterations):
            result = self.step()
            if result.sample is not None and out is not None:
                out("----\n %s \n----" % (result.sample,))  # noqa: UP031 - the original's format
            if result.n % self.sample_every == 0 and out is not None:
                out("iter %d, loss: %f" % (result.n, result.smooth_loss))  # noqa: UP031
        return float(self.smooth_loss)
