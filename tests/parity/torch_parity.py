"""PyTorch parity of the recurrent layers and cells, float64 (on demand; needs `pip install torch`).

    python tests/parity/torch_parity.py

Loads each PyTorch module's state_dict (as numpy) into the minigrad layer, runs both on the
same input and initial states, backpropagates the same random weighting of every output, and
compares outputs, final states and every gradient (input, initial states, parameters).
Exits 1 if any difference exceeds 1e-9. Not part of the test suite: torch is no dependency.
"""

import itertools
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import minigrad as mg  # noqa: E402

torch.set_default_dtype(torch.float64)
np.random.seed(0)
torch.manual_seed(0)
worst: dict[str, float] = {}


def run(
    kind: str,
    L: int,
    bidir: bool,
    bf: bool,
    bias: bool,
    init: bool,
    proj: int = 0,  # noqa: C901
    unbatched: bool = False,
    T: int = 5,
) -> dict:
    I, H, B = 3, 4, 2  # noqa: E741 - input size, as PyTorch calls it
    D = 2 if bidir else 1
    opts = dict(num_layers=L, bidirectional=bidir, batch_first=bf, bias=bias)
    if kind.startswith("RNN"):
        tm = torch.nn.RNN(I, H, nonlinearity=kind[4:], **opts)
        mm = mg.nn.RNN(I, H, nonlinearity=kind[4:], dtype=np.float64, **opts)
    elif kind == "GRU":
        tm = torch.nn.GRU(I, H, **opts)
        mm = mg.nn.GRU(I, H, dtype=np.float64, **opts)
    else:
        tm = torch.nn.LSTM(I, H, proj_size=proj, **opts)
        mm = mg.nn.LSTM(I, H, proj_size=proj, dtype=np.float64, **opts)
    sd = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
    mm.load_state_dict(sd)
    assert list(mm.state_dict()) == list(sd), (list(mm.state_dict()), list(sd))
    shape = (T, I) if unbatched else ((B, T, I) if bf else (T, B, I))
    xn = np.random.randn(*shape)
    P = proj or H
    hs = [(D * L, P), (D * L, H)] if kind == "LSTM" else [(D * L, H)]
    if not unbatched:
        hs = [(s[0], B, s[1]) for s in hs]
    states = [np.random.randn(*s) for s in hs] if init else None
    xt = torch.tensor(xn, requires_grad=True)
    xm = mg.tensor(xn, requires_grad=True)
    if states:
        st = [torch.tensor(s, requires_grad=True) for s in states]
        sm = [mg.tensor(s, requires_grad=True) for s in states]
        targ_t = tuple(st) if kind == "LSTM" else st[0]
        targ_m = tuple(sm) if kind == "LSTM" else sm[0]
    else:
        st = sm = []
        targ_t = targ_m = None
    ot, ht = tm(xt, targ_t)
    om, hm = mm(xm, targ_m)
    ht = ht if isinstance(ht, tuple) else (ht,)
    hm = hm if isinstance(hm, tuple) else (hm,)
    ws = [np.random.randn(*o.shape) for o in (ot, *ht)]
    lt = sum((o * torch.tensor(w)).sum() for o, w in zip((ot, *ht), ws))
    lm = None
    for o, w in zip((om, *hm), ws):
        term = (o * w).sum()
        lm = term if lm is None else lm + term
    lt.backward()
    lm.backward()
    d = {
        "out": np.abs(ot.detach().numpy() - om.data).max(),
        "states": max(np.abs(a.detach().numpy() - b.data).max() for a, b in zip(ht, hm)),
    }
    gd = [np.abs(xt.grad.numpy() - xm.grad).max()]
    gd += [np.abs(a.grad.numpy() - b.grad).max() for a, b in zip(st, sm)]
    mp = dict(mm.named_parameters())
    gd += [np.abs(p.grad.numpy() - mp[n].grad).max() for n, p in tm.named_parameters()]
    d["grads"] = max(gd)
    for k, v in d.items():
        worst[k] = max(worst.get(k, 0), v)
    return d


n = 0
for kind in ["RNN_tanh", "RNN_relu", "GRU", "LSTM"]:
    for L, bidir, bf, bias, init in itertools.product(
        [1, 2, 3], [False, True], [False, True], [False, True], [False, True]
    ):
        run(kind, L, bidir, bf, bias, init)
        n += 1
    for L, bidir, init in itertools.product([1, 2], [False, True], [False, True]):
        run(kind, L, bidir, False, True, init, unbatched=True)
        n += 1
for L, bidir, init in itertools.product([1, 2, 3], [False, True], [False, True]):
    run("LSTM", L, bidir, False, True, init, proj=2)
    n += 1
for kind in ["RNN_tanh", "GRU", "LSTM"]:
    run(kind, 2, True, True, True, True, T=150)
    n += 1
run("LSTM", 2, True, False, True, True, proj=3, T=130)
n += 1
# cells
for cls, tcls in [
    (mg.nn.RNNCell, torch.nn.RNNCell),
    (mg.nn.GRUCell, torch.nn.GRUCell),
    (mg.nn.LSTMCell, torch.nn.LSTMCell),
]:
    for bias, unb, init in itertools.product([True, False], [False, True], [False, True]):
        tc = tcls(3, 4, bias=bias)
        mc = cls(3, 4, bias=bias, dtype=np.float64)
        mc.load_state_dict({k: v.detach().numpy() for k, v in tc.state_dict().items()})
        xn = np.random.randn(3) if unb else np.random.randn(2, 3)
        hs = [np.random.randn(*((4,) if unb else (2, 4))) for _ in range(2 if cls is mg.nn.LSTMCell else 1)]
        xt = torch.tensor(xn, requires_grad=True)
        xm = mg.tensor(xn, requires_grad=True)
        st = [torch.tensor(h, requires_grad=True) for h in hs]
        sm = [mg.tensor(h, requires_grad=True) for h in hs]
        if cls is mg.nn.LSTMCell:
            ot = tc(xt, tuple(st) if init else None)
            om = mc(xm, tuple(sm) if init else None)
        else:
            ot = (tc(xt, st[0] if init else None),)
            om = (mc(xm, sm[0] if init else None),)
        ws = [np.random.randn(*o.shape) for o in ot]
        sum((o * torch.tensor(w)).sum() for o, w in zip(ot, ws)).backward()
        lm = None
        for o, w in zip(om, ws):
            term = (o * w).sum()
            lm = term if lm is None else lm + term
        lm.backward()
        dd = max(np.abs(a.detach().numpy() - b.data).max() for a, b in zip(ot, om))
        gg = [np.abs(xt.grad.numpy() - xm.grad).max()]
        if init:
            gg += [np.abs(a.grad.numpy() - b.grad).max() for a, b in zip(st, sm)]
        mp = dict(mc.named_parameters())
        gg += [np.abs(p.grad.numpy() - mp[k].grad).max() for k, p in tc.named_parameters()]
        worst["cell_out"] = max(worst.get("cell_out", 0), dd)
        worst["cell_grads"] = max(worst.get("cell_grads", 0), max(gg))
        n += 1
print(n, "configurations; worst absolute differences:", {k: f"{v:.2e}" for k, v in worst.items()})
sys.exit(0 if max(worst.values()) <= 1e-9 else 1)
