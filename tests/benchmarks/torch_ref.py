"""PyTorch twins of every workload (imported only when torch is installed).

``eager``: a Python loop of ``nn.RNNCell`` / ``nn.LSTMCell`` over time, the way minigrad's
layers run. ``fused``: ``nn.RNN`` / ``nn.LSTM``, one C++ call over the whole sequence.
Same maths, weights, data, clipping and optimizer as ``numpy_ref``; float32.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy_ref import PARAM_ORDER
from torch import nn


class TorchCharModel:
    """RNN or LSTM + Linear head; ``step`` = forward, cross-entropy at every step, BPTT, clip, optimizer."""

    def __init__(
        self,
        cell: str,
        params: dict[str, np.ndarray],
        batch: int,
        fused: bool,
        optimizer: str,
        lr: float,
        clip_value: float | None = None,
        max_norm: float | None = None,
    ) -> None:
        hidden = params["weight_hh_l0"].shape[1]
        vocab = params["weight_ih_l0"].shape[1]
        self.cell, self.fused = cell, fused
        if fused:
            self.rnn = (nn.RNN if cell == "rnn" else nn.LSTM)(vocab, hidden)
            names = PARAM_ORDER[:4]
        else:
            self.rnn = (nn.RNNCell if cell == "rnn" else nn.LSTMCell)(vocab, hidden)
            names = tuple(k[:-3] for k in PARAM_ORDER[:4])  # weight_ih_l0 -> weight_ih
        self.head = nn.Linear(hidden, vocab)
        with torch.no_grad():
            for name, key in zip(names, PARAM_ORDER[:4]):
                getattr(self.rnn, name).copy_(torch.from_numpy(params[key]))
            self.head.weight.copy_(torch.from_numpy(params["head.weight"]))
            self.head.bias.copy_(torch.from_numpy(params["head.bias"]))
        # The same order as numpy_ref.PARAM_ORDER, for --check.
        self.params = [getattr(self.rnn, n) for n in names] + [self.head.weight, self.head.bias]
        self.opt = (
            torch.optim.Adagrad(self.params, lr=lr) if optimizer == "adagrad" else torch.optim.Adam(self.params, lr=lr)
        )
        self.clip_value, self.max_norm = clip_value, max_norm
        state_shape = (1, batch, hidden) if fused else (batch, hidden)
        zeros = torch.zeros(state_shape)
        self.state = zeros if cell == "rnn" else (zeros, zeros.clone())

    def step(self, x: torch.Tensor, targets: torch.Tensor) -> float:
        steps, batch, vocab = x.shape
        if self.fused:
            out, state = self.rnn(x, self.state)
        else:
            state, outs = self.state, []
            for t in range(steps):
                state = self.rnn(x[t], state)
                outs.append(state if self.cell == "rnn" else state[0])
            out = torch.stack(outs)
        self.state = state.detach() if self.cell == "rnn" else (state[0].detach(), state[1].detach())
        logits = self.head(out.reshape(steps * batch, -1))
        loss = nn.functional.cross_entropy(logits, targets.reshape(-1))
        self.opt.zero_grad()
        loss.backward()
        if self.clip_value is not None:
            nn.utils.clip_grad_value_(self.params, self.clip_value)
        if self.max_norm is not None:
            nn.utils.clip_grad_norm_(self.params, self.max_norm)
        self.opt.step()
        return loss.item()

    def numpy_params(self) -> list[np.ndarray]:
        return [p.detach().numpy().copy() for p in self.params]


class TorchRawLoop:
    """The raw-op min-char-rnn loop in PyTorch eager, op for op as ``mg_models.MinigradRawLoop``."""

    def __init__(self, params: dict[str, np.ndarray], batch: int, lr: float = 0.1, clip_value: float = 5.0) -> None:
        self.params = [torch.tensor(params[k], requires_grad=True) for k in PARAM_ORDER]
        self.h = torch.zeros(batch, params["weight_hh_l0"].shape[1])
        self.opt = torch.optim.Adagrad(self.params, lr=lr)
        self.clip_value = clip_value

    def step(self, x: torch.Tensor, targets: torch.Tensor) -> float:
        w_ih, w_hh, b_ih, b_hh, w_y, b_y = self.params
        steps, batch = x.shape[0], x.shape[1]
        y = targets.reshape(steps, batch)
        h, total = self.h, 0.0
        for t in range(steps):
            h = (x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh).tanh()
            total = total + nn.functional.cross_entropy(h @ w_y.T + b_y, y[t])
        loss = total / steps
        self.h = h.detach()
        self.opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_value_(self.params, self.clip_value)
        self.opt.step()
        return loss.item()

    def numpy_params(self) -> list[np.ndarray]:
        return [p.detach().numpy().copy() for p in self.params]


class TorchLayer:
    """W4: ``tanh(x @ W + b)`` forward and backward through autograd."""

    def __init__(self, x: np.ndarray, w: np.ndarray, b: np.ndarray, g: np.ndarray) -> None:
        self.x = torch.from_numpy(x)
        self.w = torch.from_numpy(w.copy()).requires_grad_()
        self.b = torch.from_numpy(b.copy()).requires_grad_()
        self.g = torch.from_numpy(g)

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        self.w.grad = self.b.grad = None
        torch.tanh(self.x @ self.w + self.b).backward(self.g)
        return self.w.grad, self.b.grad


def as_torch(batches: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
