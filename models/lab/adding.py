"""The long-range memory benchmark: the adding problem for every cell, gradient clipping, gradient profiles.

Every run is seeded (weights via ``mg.manual_seed``, batches via its own ``numpy`` generator),
and the test set of each length is drawn from a fixed seed, so every cell is scored on the same
sequences.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import minigrad as mg
from minigrad import nn
from minigrad.nn.functional import mse_loss

from . import tasks
from .gradients import TimeGradients, gradient_through_time
from .models import Regressor, fit

__all__ = [
    "AddingRun",
    "ExplodingRun",
    "adding_test_set",
    "exploding_gradients",
    "gradient_profile",
    "test_mse",
    "train_adding",
]

TEST_SEED = 12345


@dataclass
class AddingRun:
    """One cell trained on the adding problem at one length."""

    cell: str
    length: int
    model: Regressor
    test_mse: float  # after the last step
    curve: list[tuple[int, float]] = field(default_factory=list)  # (iteration, test MSE), 0 = at init
    losses: list[float] = field(default_factory=list)  # training loss of each step
    grad_norms: list[float] = field(default_factory=list)  # total gradient norm of each step, before clipping
    seconds: float = 0.0

    @property
    def solved(self) -> bool:
        """Test MSE under a tenth of the baseline's (the usual "solved" bar is lower still)."""
        return self.test_mse < 0.1 * tasks.ADDING_BASELINE_MSE


def adding_test_set(length: int, size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """The fixed test sequences of one length (same for every cell and every run)."""
    return tasks.adding_problem(length, size, np.random.default_rng(TEST_SEED + length))


def test_mse(model: Regressor, x: np.ndarray, y: np.ndarray, chunk: int = 500) -> float:
    """Mean squared error of ``model`` on (x, y), without building a graph."""
    total = 0.0
    with mg.no_grad():
        for start in range(0, x.shape[1], chunk):
            pred = model(x[:, start : start + chunk]).data
            total += float(((pred - y[start : start + chunk]) ** 2).sum())
    return total / y.size


def train_adding(
    cell: str,
    length: int,
    iterations: int = 600,
    batch: int = 128,
    hidden: int = 32,
    lr: float = 1e-2,
    clip_norm: float | None = 1.0,
    seed: int = 0,
    eval_every: int = 50,
    test_size: int = 1000,
    on_step: Callable[[int, float, float], None] | None = None,
    model: Regressor | None = None,
) -> AddingRun:
    """Train ``Regressor(cell)`` with Adam on fresh adding-problem batches; test MSE every ``eval_every`` steps.

    The same budget for every cell: ``iterations`` steps of ``batch`` sequences, ``hidden`` units,
    learning rate ``lr``, PyTorch's default initialisation (``mg.manual_seed(seed)`` first), or
    the given ``model`` (a ``Regressor`` of that cell with 2 inputs) trained further.
    """
    if length < 2:
        raise ValueError(f"train_adding: length must be >= 2 (two marked positions), got {length}")
    mg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Regressor(cell, 2, hidden) if model is None else model
    x_test, y_test = adding_test_set(length, test_size)
    run = AddingRun(cell, length, model, math.nan, [(0, test_mse(model, x_test, y_test))])

    def loss_fn(i: int) -> mg.Tensor:
        x, y = tasks.adding_problem(length, batch, rng)
        return mse_loss(model(x), y)

    def step(i: int, loss: float, norm: float) -> None:
        run.grad_norms.append(norm)
        if (i + 1) % eval_every == 0 or i + 1 == iterations:
            run.curve.append((i + 1, test_mse(model, x_test, y_test)))
        if on_step is not None:
            on_step(i, loss, norm)

    start = time.perf_counter()
    run.losses = fit(model.parameters(), loss_fn, iterations, lr=lr, clip_norm=clip_norm, on_step=step)
    run.seconds = time.perf_counter() - start
    run.test_mse = run.curve[-1][1]
    return run


@dataclass
class ExplodingRun:
    """A vanilla RNN whose gradients explode, trained by plain SGD with or without clipping."""

    clip_norm: float | None
    losses: list[float]
    grad_norms: list[float]  # before clipping
    test_mse: float  # nan if the parameters blew up

    @property
    def diverged(self) -> bool:
        return not math.isfinite(self.test_mse) or self.test_mse > 10 * tasks.ADDING_BASELINE_MSE


def exploding_gradients(
    length: int = 50,
    iterations: int = 200,
    clip_norm: float | None = None,
    gain: float = 3.0,
    lr: float = 0.1,
    batch: int = 64,
    hidden: int = 32,
    seed: int = 0,
    on_step: Callable[[int, float, float], None] | None = None,
) -> ExplodingRun:
    """Adding problem, tanh RNN with ``W_hh = gain * Q`` (Q random orthogonal), SGD at ``lr``.

    A recurrent matrix with every singular value ``gain > 1`` makes ``dh_T/dh_t`` grow like
    ``gain^(T-t)`` wherever tanh is not saturated: most batches give small gradients, some give
    huge ones (Pascanu et al. 2013's "cliffs"), and one SGD step along a huge gradient throws the
    weights far away. ``clip_grad_norm_(params, clip_norm)`` keeps the direction and caps the step.
    """
    mg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Regressor("rnn", 2, hidden)
    q, _ = np.linalg.qr(rng.normal(size=(hidden, hidden)))
    model.rnn.weight_hh_l0.copy_((gain * q).astype(np.float32))
    params = list(model.parameters())
    optimizer = mg.optim.SGD(params, lr=lr)
    losses, norms = [], []
    with np.errstate(all="ignore"):  # a diverging run overflows on purpose
        for i in range(iterations):
            x, y = tasks.adding_problem(length, batch, rng)
            optimizer.zero_grad()
            loss = mse_loss(model(x), y)
            loss.backward()
            norm = nn.utils.clip_grad_norm_(params, clip_norm if clip_norm is not None else math.inf)
            optimizer.step()
            losses.append(float(loss.item()))
            norms.append(norm)
            if on_step is not None:
                on_step(i, losses[-1], norm)
        final = test_mse(model, *adding_test_set(length, 500))
    return ExplodingRun(clip_norm, losses, norms, final if math.isfinite(final) else math.nan)


def gradient_profile(model: Regressor, length: int, batch: int = 100, seed: int = 7) -> TimeGradients:
    """``||dL/dh_t||`` (and ``||dL/dc_t||`` for an LSTM) of the MSE on a fixed batch of the adding problem."""
    x, y = tasks.adding_problem(length, batch, np.random.default_rng(seed))
    return gradient_through_time(lambda: mse_loss(model(x), y))
