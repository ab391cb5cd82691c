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

    def __init__(self, mg: ModuleType, cell: str, params: dict[str, np.ndarray], batch: int, optimizer: str,
                 lr: float, clip_value: float | None = None, max_norm: float | None = None) -> None:
        utils = mg.nn.utils
        hidden = params["weight_hh_l0"].shape[1]
        vocab = params["weight_ih_l0"].shape[1]
        self.cell = cell
        self.rnn = (mg.nn.RNN if cell == "rnn" else mg.nn.LSTM)(vocab, hidden)
        self.head = mg.nn.Linear(hidden, vocab)
        self.rnn.load_state_dict({k: params[k] for k in PARAM_ORDER[:4]})
        self.head.load_state_dict({"weight": params["head.weight"], "bias": params["head.bias"]})
        named = dict(self.rnn.named_parameters())
        self.params = [named[k] for k in PARAM_ORDER[:4]] + [self.head.weight, self.head.bias]
        self.opt = (mg.optim.Adagrad(self.params, lr=lr) if optimizer == "adagrad"
                    else mg.optim.Adam(self.params, lr=lr))
        self.clip_value, self.max_norm = clip_value, max_norm
        self._clip_value, self._clip_norm = utils.clip_grad_value_, utils.clip_grad_norm_
        self.state = None
        self._cross_entropy = mg.nn.functional.cross_entropy

    def step(self, x: Any, targets: np.ndarray) -> float:
        steps, batch, vocab = x.shape
        out, state = self.rnn(x, self.state)
        self.state = state.detach() if self.cell == "rnn" else (state[0].detach(), state[1].detach())
        logits = self.head(out.reshape(steps * batch, -1))
        loss = self._cross_entropy(logits, targets)
        self.opt.zero_grad()
        loss.backward()
        if self.clip_value is not None:
            self._clip_value(self.params, self.clip_value)
        if self.max_norm is not None:
            self._clip_norm(self.params, self.max_norm)
        self.opt.step()
        return loss.item()

    def numpy_params(self) -> list[np.ndarray]:
        return [p.data.copy() for p in self.params]


class MinigradLayer:
    """W4: ``tanh(x @ W + b)`` forward and backward through the engine."""

    def __init__(self, mg: ModuleType, x: np.ndarray, w: np.ndarray, b: np.ndarray, g: np.ndarray) -> None:
        self.x = mg.tensor(x)
        self.w = mg.tensor(w, requires_grad=True)
        self.b = mg.tensor(b, requires_grad=True)
        self.g = g

    def step(self) -> tuple[np.ndarray, np.ndarray]:
        self.w.grad = self.b.grad = None
        (self.x @ self.w + self.b).tanh().backward(self.g)
        return self.w.grad, self.b.grad


def as_minigrad(mg: ModuleType, batches: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[Any, np.ndarray]]:
    """Inputs as tensors that need no gradient; targets flattened to (T*B,) int64 indices."""
    return [(mg.tensor(x), y.reshape(-1)) for x, y in batches]
