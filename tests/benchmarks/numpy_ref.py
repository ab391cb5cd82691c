"""The floors: hand-written numpy forward + backward for every workload.

Two hand-written versions of each recurrent model, both float32, PyTorch's parameter
shapes and names, batch-major rows ``(B, features)``, gates stacked ``i, f, g, o``:

* ``MinCharRNN`` and ``CourseLSTM`` are written the way the classics are: Karpathy's
  min-char-rnn (``lossFun``) and the course's ``lstm_forward`` / ``lstm_backward``. Every
  timestep computes its own input projection, output layer and softmax, and the backward
  loop adds each timestep's weight gradients (``dWhh += dh_raw^T h_{t-1}``). These are the
  floors that the targets of issue 7 are set against.
* ``VectorisedRNN`` and ``VectorisedLSTM`` take everything that does not recur out of the
  time loop: one matmul for the input projection of every timestep, one for the output
  layer, one for each weight gradient after the backward loop. This is about the fastest
  a person writes by hand; the table reports minigrad's ratio to it too.

All of them, minigrad's and PyTorch's twins compute exactly the same maths (``run.py --check``
compares their losses and parameters on identical weights):

    RNN:   h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)
    LSTM:  [i, f, g, o] = [s, s, tanh, s](x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)
           c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
    head:  logits_t = h_t W^T + b,  loss = mean over (t, b) of -log softmax(logits_t)[y_t]

then gradient clipping (by value or by global norm, PyTorch's rules) and Adagrad or Adam
(PyTorch's update rules). The hidden state is carried from one step to the next and cut
(truncated BPTT), as min-char-rnn's ``hprev``.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32


def init_params(cell: str, vocab: int, hidden: int, seed: int = 0) -> dict[str, np.ndarray]:
    """PyTorch-named float32 weights, ``U(-1/sqrt(H), 1/sqrt(H))`` as PyTorch: every variant loads these."""
    rng = np.random.default_rng(seed)
    gates = {"rnn": 1, "lstm": 4}[cell]
    k = 1.0 / np.sqrt(hidden)

    def u(*shape: int) -> np.ndarray:
        return rng.uniform(-k, k, size=shape).astype(F32)

    return {
        "weight_ih_l0": u(gates * hidden, vocab),
        "weight_hh_l0": u(gates * hidden, hidden),
        "bias_ih_l0": u(gates * hidden),
        "bias_hh_l0": u(gates * hidden),
        "head.weight": u(vocab, hidden),
        "head.bias": u(vocab),
    }


PARAM_ORDER = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "head.weight", "head.bias")


def make_batches(vocab: int, steps: int, batch: int, count: int, seed: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` (one-hot inputs (T, B, V) float32, next-token targets (T, B) int64) pairs."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        tokens = rng.integers(0, vocab, size=(steps + 1, batch))
        onehot = np.zeros((steps, batch, vocab), dtype=F32)
        np.put_along_axis(onehot, tokens[:-1, :, None], 1.0, axis=2)
        batches.append((onehot, tokens[1:].astype(np.int64)))
    return batches


# --------------------------------------------------------------------------------------
# Shared pieces: the loss, clipping and the optimizers (PyTorch's rules)
# --------------------------------------------------------------------------------------


def softmax_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean of ``-log softmax(logits)[y]`` over rows, and its gradient ``(softmax - onehot(y)) / N``."""
    n = logits.shape[0]
    rows = np.arange(n)
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = float(np.log(s[:, 0]).sum() - shifted[rows, targets].sum()) / n
    e /= s
    e[rows, targets] -= 1.0
    e *= F32(1.0 / n)
    return loss, e


def clip_value(grads: list[np.ndarray], clip: float) -> None:
    for g in grads:
        np.clip(g, -clip, clip, out=g)


def clip_norm(grads: list[np.ndarray], max_norm: float) -> float:
    total = float(np.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads)))
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= F32(coef)
    return total


class Adagrad:
    """``s += g^2;  p -= lr * g / (sqrt(s) + eps)`` (PyTorch's Adagrad, eps 1e-10)."""

    def __init__(self, params: list[np.ndarray], lr: float, eps: float = 1e-10) -> None:
        self.params, self.lr, self.eps = params, lr, eps
        self.sums = [np.zeros_like(p) for p in params]

    def step(self, grads: list[np.ndarray]) -> None:
        for p, g, s in zip(self.params, grads, self.sums):
            s += g * g
            denom = np.sqrt(s)
            denom += self.eps
            p -= self.lr * g / denom


class Adam:
    """PyTorch's Adam: ``p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)``."""

    def __init__(
        self, params: list[np.ndarray], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads: list[np.ndarray]) -> None:
        b1, b2 = self.betas
        self.t += 1
        step_size = self.lr / (1 - b1**self.t)
        root_c2 = np.sqrt(1 - b2**self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            denom = np.sqrt(v)
            denom /= root_c2
            denom += self.eps
            p -= step_size * m / denom


# --------------------------------------------------------------------------------------
# W1: min-char-rnn
# --------------------------------------------------------------------------------------


class MinCharRNN:
    """min-char-rnn's ``lossFun``, batched: tanh RNN, softmax cross-entropy at every step,
    gradients clipped by value, Adagrad."""

    def __init__(self, params: dict[str, np.ndarray], batch: int, lr: float = 0.1, clip: float = 5.0) -> None:
        self.params = [params[k].copy() for k in PARAM_ORDER]
        self.h = np.zeros((batch, self.params[1].shape[1]), dtype=F32)
        self.clip = clip
        self.opt = Adagrad(self.params, lr)

    def step(self, x: np.ndarray, targets: np.ndarray) -> float:
        w_ih, w_hh, b_ih, b_hh, w_y, b_y = self.params
        steps, batch, _ = x.shape
        count = steps * batch
        rows = np.arange(batch)
        b = b_ih + b_hh
        hs, ps = {-1: self.h}, {}
        loss = 0.0
        for t in range(steps):
            hs[t] = np.tanh(np.dot(x[t], w_ih.T) + np.dot(hs[t - 1], w_hh.T) + b)
            y = np.dot(hs[t], w_y.T) + b_y
            e = np.exp(y - y.max(axis=1, keepdims=True))
            ps[t] = e / e.sum(axis=1, keepdims=True)
            loss -= float(np.log(ps[t][rows, targets[t]]).sum())
        self.h = hs[steps - 1]
        g_wih, g_whh, g_b, g_wy, g_by = (np.zeros_like(p) for p in (w_ih, w_hh, b_ih, w_y, b_y))
        dh_next = np.zeros_like(self.h)
        for t in reversed(range(steps)):
            dy = ps[t].copy()
            dy[rows, targets[t]] -= 1  # softmax - onehot(y)
            dy /= count  # the loss is a mean
            g_wy += np.dot(dy.T, hs[t])
            g_by += dy.sum(axis=0)
            dh = np.dot(dy, w_y) + dh_next
            dh_raw = (1 - hs[t] * hs[t]) * dh  # through tanh
            g_b += dh_raw.sum(axis=0)
            g_wih += np.dot(dh_raw.T, x[t])
            g_whh += np.dot(dh_raw.T, hs[t - 1])
            dh_next = np.dot(dh_raw, w_hh)
        grads = [g_wih, g_whh, g_b, g_b.copy(), g_wy, g_by]
        clip_value(grads, self.clip)
        self.opt.step(grads)
        return loss / count


class VectorisedRNN:
    """The RNN with everything that does not recur taken out of the time loop (a strong floor)."""

    def __init__(self, params: dict[str, np.ndarray], batch: int, lr: float = 0.1, clip: float = 5.0) -> None:
        self.params = [params[k].copy() for k in PARAM_ORDER]
        self.hidden = self.params[1].shape[0]
        self.h = np.zeros((batch, self.hidden), dtype=F32)
        self.clip = clip
        self.opt = Adagrad(self.params, lr)

    def step(self, x: np.ndarray, targets: np.ndarray) -> float:
        w_ih, w_hh, b_ih, b_hh, w_y, b_y = self.params
        steps, batch, vocab = x.shape
        hidden = self.hidden
        xs = x.reshape(steps * batch, vocab)
        # Forward: every timestep's input projection in one matmul, then the recurrence.
        xp = np.dot(xs, w_ih.T)
        xp += b_ih
        xp += b_hh
        xp = xp.reshape(steps, batch, hidden)
        hs = np.empty((steps + 1, batch, hidden), dtype=F32)
        hs[0] = self.h
        w_hh_t = w_hh.T
        for t in range(steps):
            a = np.dot(hs[t], w_hh_t)
            a += xp[t]
            np.tanh(a, out=hs[t + 1])
        self.h = hs[steps].copy()
        h_all = hs[1:].reshape(steps * batch, hidden)
        logits = np.dot(h_all, w_y.T)
        logits += b_y
        loss, dlogits = softmax_cross_entropy(logits, targets.reshape(-1))
        # Backward through the head, then through time.
        g_wy = np.dot(dlogits.T, h_all)
        g_by = dlogits.sum(axis=0)
        dh_all = np.dot(dlogits, w_y).reshape(steps, batch, hidden)
        dz = np.empty((steps, batch, hidden), dtype=F32)
        dh_next = None
        for t in range(steps - 1, -1, -1):
            dh = dh_all[t] if dh_next is None else dh_all[t] + dh_next
            h = hs[t + 1]
            np.multiply(dh, 1 - h * h, out=dz[t])  # through tanh
            dh_next = np.dot(dz[t], w_hh)
        dzs = dz.reshape(steps * batch, hidden)
        g_whh = np.dot(dzs.T, hs[:-1].reshape(steps * batch, hidden))
        g_wih = np.dot(dzs.T, xs)
        g_b = dzs.sum(axis=0)
        grads = [g_wih, g_whh, g_b, g_b.copy(), g_wy, g_by]
        clip_value(grads, self.clip)
        self.opt.step(grads)
        return loss


# --------------------------------------------------------------------------------------
# W2, W3: the LSTM char-LM
# --------------------------------------------------------------------------------------


def _sigmoid_course(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


class CourseLSTM:
    """The course's ``lstm_forward`` / ``lstm_backward`` (one cache per timestep, weight
    gradients added per timestep), with the gates stacked; clip by global norm, Adam."""

    def __init__(self, params: dict[str, np.ndarray], batch: int, lr: float = 2e-3, max_norm: float = 5.0) -> None:
        self.params = [params[k].copy() for k in PARAM_ORDER]
        hidden = self.params[1].shape[1]
        self.h = np.zeros((batch, hidden), dtype=F32)
        self.c = np.zeros((batch, hidden), dtype=F32)
        self.max_norm = max_norm
        self.opt = Adam(self.params, lr)

    def step(self, x: np.ndarray, targets: np.ndarray) -> float:
        w_ih, w_hh, b_ih, b_hh, w_y, b_y = self.params
        steps, batch, _ = x.shape
        n = w_hh.shape[1]
        count = steps * batch
        rows = np.arange(batch)
        b = b_ih + b_hh
        h, c = self.h, self.c
        caches, loss = [], 0.0
        for t in range(steps):  # lstm_cell_forward
            z = np.dot(x[t], w_ih.T) + np.dot(h, w_hh.T) + b
            it, ft = _sigmoid_course(z[:, :n]), _sigmoid_course(z[:, n : 2 * n])
            cct, ot = np.tanh(z[:, 2 * n : 3 * n]), _sigmoid_course(z[:, 3 * n :])
            c_next = ft * c + it * cct
            tc = np.tanh(c_next)
            h_next = ot * tc
            y = np.dot(h_next, w_y.T) + b_y
            e = np.exp(y - y.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
            loss -= float(np.log(p[rows, targets[t]]).sum())
            caches.append((h, c, it, ft, cct, ot, tc, h_next, p))
            h, c = h_next, c_next
        self.h, self.c = h, c
        g_wih, g_whh, g_b, g_wy, g_by = (np.zeros_like(q) for q in (w_ih, w_hh, b_ih, w_y, b_y))
        da_next = np.zeros_like(h)
        dc_next = np.zeros_like(c)
        for t in reversed(range(steps)):  # lstm_cell_backward
            a_prev, c_prev, it, ft, cct, ot, tc, a_next, p = caches[t]
            dy = p.copy()
            dy[rows, targets[t]] -= 1
            dy /= count
            g_wy += np.dot(dy.T, a_next)
            g_by += dy.sum(axis=0)
            da = np.dot(dy, w_y) + da_next
            dc = dc_next + da * ot * (1 - tc * tc)
            dot = da * tc * ot * (1 - ot)
            dcct = dc * it * (1 - cct * cct)
            dit = dc * cct * it * (1 - it)
            dft = dc * c_prev * ft * (1 - ft)
            dz = np.concatenate([dit, dft, dcct, dot], axis=1)
            g_wih += np.dot(dz.T, x[t])
            g_whh += np.dot(dz.T, a_prev)
            g_b += dz.sum(axis=0)
            da_next = np.dot(dz, w_hh)
            dc_next = dc * ft
        grads = [g_wih, g_whh, g_b, g_b.copy(), g_wy, g_by]
        clip_norm(grads, self.max_norm)
        self.opt.step(grads)
        return loss / count


def _sigmoid(z: np.ndarray, out: np.ndarray) -> None:
    # 0.5 * tanh(0.5 z) + 0.5: stable, and cheaper than 1 / (1 + exp(-z)).
    np.multiply(z, F32(0.5), out=out)
    np.tanh(out, out=out)
    out *= F32(0.5)
    out += F32(0.5)


class VectorisedLSTM:
    """The LSTM with everything that does not recur taken out of the time loop (a strong floor)."""

    def __init__(self, params: dict[str, np.ndarray], batch: int, lr: float = 2e-3, max_norm: float = 5.0) -> None:
        self.params = [params[k].copy() for k in PARAM_ORDER]
        self.hidden = self.params[1].shape[1]
        self.h = np.zeros((batch, self.hidden), dtype=F32)
        self.c = np.zeros((batch, self.hidden), dtype=F32)
        self.max_norm = max_norm
        self.opt = Adam(self.params, lr)

    def step(self, x: np.ndarray, targets: np.ndarray) -> float:
        w_ih, w_hh, b_ih, b_hh, w_y, b_y = self.params
        steps, batch, vocab = x.shape
        n = self.hidden
        xs = x.reshape(steps * batch, vocab)
        xp = np.dot(xs, w_ih.T)
        xp += b_ih
        xp += b_hh
        xp = xp.reshape(steps, batch, 4 * n)
        gates = np.empty((steps, batch, 4 * n), dtype=F32)  # i, f, g, o after their nonlinearities
        cs = np.empty((steps + 1, batch, n), dtype=F32)
        tcs = np.empty((steps, batch, n), dtype=F32)  # tanh(c_t)
        hs = np.empty((steps + 1, batch, n), dtype=F32)
        hs[0], cs[0] = self.h, self.c
        w_hh_t = w_hh.T
        for t in range(steps):
            z = np.dot(hs[t], w_hh_t)
            z += xp[t]
            a = gates[t]
            _sigmoid(z[:, : 2 * n], a[:, : 2 * n])
            np.tanh(z[:, 2 * n : 3 * n], out=a[:, 2 * n : 3 * n])
            _sigmoid(z[:, 3 * n :], a[:, 3 * n :])
            c = cs[t + 1]
            np.multiply(a[:, n : 2 * n], cs[t], out=c)
            c += a[:, :n] * a[:, 2 * n : 3 * n]
            np.tanh(c, out=tcs[t])
            np.multiply(a[:, 3 * n :], tcs[t], out=hs[t + 1])
        self.h, self.c = hs[steps].copy(), cs[steps].copy()
        h_all = hs[1:].reshape(steps * batch, n)
        logits = np.dot(h_all, w_y.T)
        logits += b_y
        loss, dlogits = softmax_cross_entropy(logits, targets.reshape(-1))
        g_wy = np.dot(dlogits.T, h_all)
        g_by = dlogits.sum(axis=0)
        dh_all = np.dot(dlogits, w_y).reshape(steps, batch, n)
        dz = np.empty((steps, batch, 4 * n), dtype=F32)
        dh_next = dc_next = None
        for t in range(steps - 1, -1, -1):
            a = gates[t]
            i, f, g, o = a[:, :n], a[:, n : 2 * n], a[:, 2 * n : 3 * n], a[:, 3 * n :]
            tc = tcs[t]
            dh = dh_all[t] if dh_next is None else dh_all[t] + dh_next
            dc = dh * o * (1 - tc * tc)
            if dc_next is not None:
                dc += dc_next
            d = dz[t]
            np.multiply(dc * g, i * (1 - i), out=d[:, :n])  # d input gate
            np.multiply(dc * cs[t], f * (1 - f), out=d[:, n : 2 * n])  # d forget gate
            np.multiply(dc * i, 1 - g * g, out=d[:, 2 * n : 3 * n])  # d candidate
            np.multiply(dh * tc, o * (1 - o), out=d[:, 3 * n :])  # d output gate
            dc_next = dc * f
            dh_next = np.dot(d, w_hh)
        dzs = dz.reshape(steps * batch, 4 * n)
        g_whh = np.dot(dzs.T, hs[:-1].reshape(steps * batch, n))
        g_wih = np.dot(dzs.T, xs)
        g_b = dzs.sum(axis=0)
        grads = [g_wih, g_whh, g_b, g_b.copy(), g_wy, g_by]
        clip_norm(grads, self.max_norm)
        self.opt.step(grads)
        return loss


# --------------------------------------------------------------------------------------
# W4: one layer, tanh(x @ W + b)
# --------------------------------------------------------------------------------------


class NumpyLayer:
    """``y = tanh(x W + b)``; backward ``dz = g (1 - y^2)``, ``dW = x^T dz``, ``db = sum_rows dz``."""

    def __init__(self, x: np.ndarray, w: np.ndarray, b: np.ndarray, g: np.ndarray) -> None:
        self.x, self.w, self.b, self.g = x, w, b, g

    def step(self) -> tuple[np.ndarray, np.ndarray]:
        z = np.dot(self.x, self.w)
        z += self.b
        y = np.tanh(z)
        dz = self.g * (1 - y * y)
        return np.dot(self.x.T, dz), dz.sum(axis=0)
