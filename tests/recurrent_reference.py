"""Plain-numpy references for the recurrent tests, written from the published equations.

Independent of minigrad: every gate is its own line with its own block of the stacked
weights (PyTorch's layout: rows stacked gate by gate). The forward functions broadcast over
leading axes, so the parameters, inputs and states may all carry an extra leading axis N:
``fd_gradients`` uses that to run the central differences of every element as ONE batched
forward. The ``*_bptt`` functions are hand-derived backward passes (no autodiff).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Params = dict[str, np.ndarray]


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def affine(p: Params, k: int, H: int, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Gate k's pre-activation W_ik x + b_ik + W_hk h + b_hk; x (..., B, I), h (..., B, H) -> (..., B, H)."""
    return input_part(p, k, H, x) + hidden_part(p, k, H, h)


def input_part(p: Params, k: int, H: int, x: np.ndarray) -> np.ndarray:
    out = x @ np.swapaxes(p["weight_ih"][..., k * H : (k + 1) * H, :], -1, -2)
    return out if p.get("bias_ih") is None else out + p["bias_ih"][..., None, k * H : (k + 1) * H]


def hidden_part(p: Params, k: int, H: int, h: np.ndarray) -> np.ndarray:
    out = h @ np.swapaxes(p["weight_hh"][..., k * H : (k + 1) * H, :], -1, -2)
    return out if p.get("bias_hh") is None else out + p["bias_hh"][..., None, k * H : (k + 1) * H]


# ---- one step of each cell ---------------------------------------------------------------


def rnn_step(p: Params, x: np.ndarray, state: tuple, nonlinearity: str = "tanh") -> tuple:
    (h,) = state
    a = affine(p, 0, h.shape[-1], x, h)
    return (np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0.0),)


def gru_step(p: Params, x: np.ndarray, state: tuple, variant: str = "reset_after") -> tuple:
    (h,) = state
    H = h.shape[-1]
    if variant == "minimal":  # gates z, n (the course's simplified GRU)
        z = sigmoid(affine(p, 0, H, x, h))
        n = np.tanh(affine(p, 1, H, x, h))
    else:  # gates r, z, n
        r = sigmoid(affine(p, 0, H, x, h))
        z = sigmoid(affine(p, 1, H, x, h))
        if variant == "reset_after":  # PyTorch / cuDNN
            n = np.tanh(input_part(p, 2, H, x) + r * hidden_part(p, 2, H, h))
        else:  # Cho et al. 2014
            n = np.tanh(input_part(p, 2, H, x) + hidden_part(p, 2, H, r * h))
    return ((1 - z) * n + z * h,)


def lstm_step(p: Params, x: np.ndarray, state: tuple, peephole: bool = False, proj_size: int = 0) -> tuple:
    h, c = state
    H = c.shape[-1]
    i = sigmoid(affine(p, 0, H, x, h) + (p["weight_ci"][..., None, :] * c if peephole else 0))
    f = sigmoid(affine(p, 1, H, x, h) + (p["weight_cf"][..., None, :] * c if peephole else 0))
    g = np.tanh(affine(p, 2, H, x, h))
    c_new = f * c + i * g
    o = sigmoid(affine(p, 3, H, x, h) + (p["weight_co"][..., None, :] * c_new if peephole else 0))
    h_new = o * np.tanh(c_new)
    if proj_size:
        h_new = h_new @ np.swapaxes(p["weight_hr"], -1, -2)
    return h_new, c_new


STEPS: dict[str, Callable[..., tuple]] = {"rnn": rnn_step, "gru": gru_step, "lstm": lstm_step}


def state_sizes(family: str, hidden_size: int, proj_size: int = 0, **options: object) -> tuple[int, ...]:
    return (proj_size or hidden_size, hidden_size) if family == "lstm" else (hidden_size,)


# ---- stacked, bidirectional layers ----------------------------------------------------------


def layers_forward(
    family: str,
    params: Params,
    x: np.ndarray,
    states: list | None,
    hidden_size: int,
    num_layers: int,
    bidirectional: bool,
    **options: object,
) -> tuple[np.ndarray, list]:
    """x (..., T, B, I); states None or [h0 (..., D*L, B, P)] (+ [c0]). Returns out (..., T, B, D*P)
    and the final states, stacked at index layer * D + direction, as PyTorch."""
    D = 2 if bidirectional else 1
    T, B = x.shape[-3], x.shape[-2]
    step = STEPS[family]
    layer_input = x
    finals: list[list[np.ndarray]] = []
    for layer in range(num_layers):
        outputs = []
        for d in range(D):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            p = {name[: -len(suffix)]: v for name, v in params.items() if name.endswith(suffix)}
            index = layer * D + d
            sizes = state_sizes(family, hidden_size, **options)
            if states is None:
                state = tuple(np.zeros(x.shape[:-3] + (B, size)) for size in sizes)
            else:
                state = tuple(s[..., index, :, :] for s in states)
            ys: list = [None] * T
            for t in range(T) if d == 0 else range(T - 1, -1, -1):
                state = step(p, layer_input[..., t, :, :], state, **options)
                ys[t] = state[0]
            outputs.append(np.stack(ys, axis=-3))
            for k, s in enumerate(state):
                if len(finals) <= k:
                    finals.append([])
                finals[k].append(s)
        layer_input = np.concatenate(outputs, axis=-1)
    return layer_input, [np.stack(f, axis=-3) for f in finals]


# ---- central differences, every element at once ---------------------------------------------


def fd_gradients(
    loss: Callable[[dict[str, np.ndarray]], np.ndarray], arrays: dict[str, np.ndarray], eps: float = 1e-6
) -> dict[str, np.ndarray]:
    """d loss / d arrays[name] by central differences. ``loss`` gets every array with a leading
    axis of 2P perturbed copies (+eps then -eps on each of the P elements) and returns (2P,)."""
    names = list(arrays)
    theta = np.concatenate([arrays[n].ravel() for n in names])
    P = theta.size
    batch = theta + eps * np.concatenate([np.eye(P), -np.eye(P)])
    losses = loss(_unpack(batch, arrays, names))
    return _unpack((losses[:P] - losses[P:]) / (2 * eps), arrays, names)


def _unpack(flat: np.ndarray, like: dict[str, np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    lead = flat.shape[:-1]
    out, start = {}, 0
    for n in names:
        size = like[n].size
        out[n] = flat[..., start : start + size].reshape(lead + like[n].shape)
        start += size
    return out


# ---- hand-derived BPTT (single layer, one direction, no leading axes) ------------------------


def _param_grads(p: Params) -> Params:
    return {k: np.zeros_like(v) for k, v in p.items()}


def _accumulate(grads: Params, gx: np.ndarray, gh: np.ndarray, x: np.ndarray, h: np.ndarray) -> None:
    """Gradients of the stacked affine maps, given d(pre-activation) for the x side and the h side."""
    grads["weight_ih"] += gx.T @ x
    grads["weight_hh"] += gh.T @ h
    if "bias_ih" in grads:
        grads["bias_ih"] += gx.sum(0)
        grads["bias_hh"] += gh.sum(0)


def rnn_bptt(
    p: Params, x: np.ndarray, h0: np.ndarray, d_out: np.ndarray, d_hn: np.ndarray, nonlinearity: str = "tanh"
) -> tuple[Params, np.ndarray, np.ndarray]:
    """a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh, h_t = act(a_t); returns (param grads, dx, dh0)."""
    T = x.shape[0]
    hs, pre = [h0], []
    for t in range(T):
        a = affine(p, 0, h0.shape[-1], x[t], hs[-1])
        pre.append(a)
        hs.append(np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0.0))
    grads, dx, dh = _param_grads(p), np.zeros_like(x), d_hn.copy()
    for t in range(T - 1, -1, -1):
        dh = dh + d_out[t]
        da = dh * (1 - hs[t + 1] ** 2) if nonlinearity == "tanh" else dh * (pre[t] > 0)
        _accumulate(grads, da, da, x[t], hs[t])
        dx[t] = da @ p["weight_ih"]
        dh = da @ p["weight_hh"]
    return grads, dx, dh


def gru_bptt(
    p: Params, x: np.ndarray, h0: np.ndarray, d_out: np.ndarray, d_hn: np.ndarray
) -> tuple[Params, np.ndarray, np.ndarray]:
    """PyTorch's GRU (reset_after): h' = (1 - z) n + z h, n = tanh(x_n + r * (W_hn h + b_hn))."""
    T, H = x.shape[0], h0.shape[-1]
    hs, cache = [h0], []
    for t in range(T):
        h = hs[-1]
        r = sigmoid(affine(p, 0, H, x[t], h))
        z = sigmoid(affine(p, 1, H, x[t], h))
        hn = hidden_part(p, 2, H, h)
        n = np.tanh(input_part(p, 2, H, x[t]) + r * hn)
        cache.append((r, z, hn, n))
        hs.append((1 - z) * n + z * h)
    grads, dx, dh = _param_grads(p), np.zeros_like(x), d_hn.copy()
    for t in range(T - 1, -1, -1):
        r, z, hn, n = cache[t]
        h = hs[t]
        dh = dh + d_out[t]
        dn = dh * (1 - z)
        dz = dh * (h - n)
        dan = dn * (1 - n**2)  # d pre-activation of n
        dar = dan * hn * r * (1 - r)
        daz = dz * z * (1 - z)
        dhn = dan * r  # d (W_hn h + b_hn)
        gx = np.concatenate([dar, daz, dan], axis=-1)
        gh = np.concatenate([dar, daz, dhn], axis=-1)
        _accumulate(grads, gx, gh, x[t], h)
        dx[t] = gx @ p["weight_ih"]
        dh = dh * z + gh @ p["weight_hh"]
    return grads, dx, dh


def lstm_bptt(
    p: Params, x: np.ndarray, h0: np.ndarray, c0: np.ndarray, d_out: np.ndarray, d_hn: np.ndarray, d_cn: np.ndarray
) -> tuple[Params, np.ndarray, np.ndarray, np.ndarray]:
    """PyTorch's LSTM: c' = f c + i g, h' = o tanh(c'); returns (param grads, dx, dh0, dc0)."""
    T, H = x.shape[0], h0.shape[-1]
    hs, cs, cache = [h0], [c0], []
    for t in range(T):
        i, f, o = (sigmoid(affine(p, k, H, x[t], hs[-1])) for k in (0, 1, 3))
        g = np.tanh(affine(p, 2, H, x[t], hs[-1]))
        c = f * cs[-1] + i * g
        cache.append((i, f, g, o, np.tanh(c)))
        cs.append(c)
        hs.append(o * np.tanh(c))
    grads, dx = _param_grads(p), np.zeros_like(x)
    dh, dc = d_hn.copy(), d_cn.copy()
    for t in range(T - 1, -1, -1):
        i, f, g, o, tanh_c = cache[t]
        dh = dh + d_out[t]
        do = dh * tanh_c
        dc = dc + dh * o * (1 - tanh_c**2)
        da = np.concatenate(
            [dc * g * i * (1 - i), dc * cs[t] * f * (1 - f), dc * i * (1 - g**2), do * o * (1 - o)], axis=-1
        )
        _accumulate(grads, da, da, x[t], hs[t])
        dx[t] = da @ p["weight_ih"]
        dh = da @ p["weight_hh"]
        dc = dc * f
    return grads, dx, dh, dc
