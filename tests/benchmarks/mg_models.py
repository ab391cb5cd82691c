"""The minigrad side of every workload, written as a user would: public API only.

Each class takes the ``minigrad`` module as its first argument, so ``run.py --compare DIR``
can time an experimental copy of the engine against the current one in the same process.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
from numpy_ref import PARAM_ORDER


class MinigradCharModel:
    """``mg.nn.RNN``/``mg.nn.LSTM`` + ``mg.nn.Linear``; ``step`` = forward, cross-entropy at every
    step, BPTT, clip, optimizer, as ``numpy_ref`` and ``torch_ref``."""

    def __init__(
        self,
        mg: ModuleType,
        cell: str,
        params: dict[str, np.ndarray],
        batch: int,
        optimizer: str,
        lr: float,
        clip_value: float | None = None,
        max_norm: float | None = None,
        compiled: bool = False,
        checkpoint_every: int | None = None,
    ) -> None:
        utils = mg.nn.utils
        hidden = params["weight_hh_l0"].shape[1]
        vocab = params["weight_ih_l0"].shape[1]
        self.cell = cell
        options = {"checkpoint_every": checkpoint_every} if checkpoint_every else {}
        self.rnn = (mg.nn.RNN if cell == "rnn" else mg.nn.LSTM)(vocab, hidden, **options)
        self.head = mg.nn.Linear(hidden, vocab)
        self.rnn.load_state_dict({k: params[k] for k in PARAM_ORDER[:4]})
        self.head.load_state_dict({"weight": params["head.weight"], "bias": params["head.bias"]})
        named = dict(self.rnn.named_parameters())
        self.params = [named[k] for k in PARAM_ORDER[:4]] + [self.head.weight, self.head.bias]
        self.opt = mg.optim.Adagrad(self.params, lr=lr) if optimizer == "adagrad" else mg.optim.Adam(self.params, lr=lr)
        self.clip_value, self.max_norm = clip_value, max_norm
        self._clip_value, self._clip_norm = utils.clip_grad_value_, utils.clip_grad_norm_
        zeros = mg.tensor(np.zeros((1, batch, hidden), dtype=np.float32))
        self.state = (zeros,) if cell == "rnn" else (zeros, mg.tensor(zeros.data))
        self._cross_entropy = mg.nn.functional.cross_entropy
        self._step = mg.compile(self.loss) if compiled else None

    def loss(self, x: Any, targets: np.ndarray, *state: Any) -> tuple[Any, ...]:
        steps, batch, vocab = x.shape
        out, state = self.rnn(x, state[0] if self.cell == "rnn" else state)
        logits = self.head(out.reshape(steps * batch, -1))
        return (self._cross_entropy(logits, targets), *((state,) if self.cell == "rnn" else state))

    def step(self, x: Any, targets: np.ndarray) -> float:
        self.opt.zero_grad()
        if self._step is not None:  # mg.compile: forward and backward replayed
            loss, *state = self._step(x, targets, *self.state)
        else:
            loss, *state = self.loss(x, targets, *self.state)
            loss.backward()
        self.state = tuple(s.detach() for s in state)
        if self.clip_value is not None:
            self._clip_value(self.params, self.clip_value)
        if self.max_norm is not None:
            self._clip_norm(self.params, self.max_norm)
        self.opt.step()
        return loss.item()

    def numpy_params(self) -> list[np.ndarray]:
        return [p.data.copy() for p in self.params]


class MinigradRawLoop:
    """min-char-rnn written op by op as learners write it (issue 15's raw-op loop), eager or ``mg.compile``d:
    ``h = (x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh).tanh()``, cross-entropy per step, backward, clip, Adagrad."""

    def __init__(
        self,
        mg: ModuleType,
        params: dict[str, np.ndarray],
        batch: int,
        lr: float = 0.1,
        clip_value: float = 5.0,
        compiled: bool = False,
    ) -> None:
        self.params = [mg.nn.Parameter(params[k].copy()) for k in PARAM_ORDER]
        self.w_ih, self.w_hh, self.b_ih, self.b_hh, self.w_y, self.b_y = self.params
        self.h = mg.tensor(np.zeros((batch, params["weight_hh_l0"].shape[1]), dtype=np.float32))
        self.opt = mg.optim.Adagrad(self.params, lr=lr)
        self.clip_value = clip_value
        self._clip = mg.nn.utils.clip_grad_value_
        self._cross_entropy = mg.nn.functional.cross_entropy
        self._step = mg.compile(self.loss) if compiled else None

    def loss(self, x: Any, targets: np.ndarray, h: Any) -> tuple[Any, Any]:
        steps, batch = x.shape[0], x.shape[1]
        y = targets.reshape(steps, batch)
        total = 0.0
        for t in range(steps):
            h = (x[t] @ self.w_ih.T + self.b_ih + h @ self.w_hh.T + self.b_hh).tanh()
            total = total + self._cross_entropy(h @ self.w_y.T + self.b_y, y[t])
        return total / steps, h

    def step(self, x: Any, targets: np.ndarray) -> float:
        self.opt.zero_grad()
        if self._step is not None:
            loss, h = self._step(x, targets, self.h)
        else:
            loss, h = self.loss(x, targets, self.h)
            loss.backward()
        self.h = h.detach()
        self._clip(self.params, self.clip_value)
        self.opt.step()
        return loss.item()

    def numpy_params(self) -> list[np.ndarray]:
        return [p.data.copy() for p in self.params]


class MinigradLayer:
    """W4: ``tanh(x @ W + b)`` forward and backward through the engine."""

    def __init__(
        self, mg: ModuleType, x: np.ndarray, w: np.ndarray, b: np.ndarray, g: np.ndarray, compiled: bool = False
    ) -> None:
        self.x = mg.tensor(x)
        self.w = mg.tensor(w, requires_grad=True)
        self.b = mg.tensor(b, requires_grad=True)
        self.g = g
        # mg.compile replays a scalar loss: sum(y * g) has the gradient g with respect to y
        self._step = mg.compile(self.loss) if compiled else None
        self._g = mg.tensor(g)

    def loss(self) -> Any:
        return ((self.x @ self.w + self.b).tanh() * self._g).sum()

    def step(self) -> tuple[np.ndarray, np.ndarray]:
        self.w.grad = self.b.grad = None
        if self._step is not None:
            self._step()
        else:
            (self.x @ self.w + self.b).tanh().backward(self.g)
        return self.w.grad, self.b.grad


def as_minigrad(mg: ModuleType, batches: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[Any, np.ndarray]]:
    """Inputs as tensors that need no gradient; targets flattened to (T*B,) int64 indices."""
    return [(mg.tensor(x), y.reshape(-1)) for x, y in batches]
