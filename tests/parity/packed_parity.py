"""PyTorch parity of variable-length batches, float64 (on demand; needs `pip install torch`).

    python tests/parity/packed_parity.py

For RNN (tanh, relu), GRU and LSTM, 1 to 3 layers, one or two directions, batch_first or not,
with and without initial states, sorted or unsorted lengths: PyTorch runs the packed batch
(pack_padded_sequence -> layer -> pad_packed_sequence); minigrad runs both the padded batch with
``lengths=`` and its own PackedSequence. Outputs, final states and every gradient (input,
initial states, parameters) must agree to 1e-9. Exits 1 otherwise.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import torch
from torch.nn.utils import rnn as trnn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import minigrad as mg  # noqa: E402
from minigrad.nn.utils import rnn as mrnn  # noqa: E402

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(0)
TOL = 1e-9
worst = 0.0
failures: list[str] = []


def compare(label: str, ours: np.ndarray, theirs: np.ndarray) -> None:
    global worst
    err = float(np.max(np.abs(np.asarray(ours) - np.asarray(theirs)))) if np.size(theirs) else 0.0
    worst = max(worst, err)
    if not err <= TOL:
        failures.append(f"{label}: max difference {err:.3g}")


def run(kind: str, layers: int, bidir: bool, batch_first: bool, init: bool, lengths: list[int], packed: bool) -> None:
    I, H = 3, 4  # noqa: E741 - input and hidden size, as PyTorch names them
    B, T, D = len(lengths), max(lengths) + 1, 2 if bidir else 1  # one extra padded step at the end
    opts = dict(num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    if kind.startswith("RNN"):
        tm = torch.nn.RNN(I, H, nonlinearity=kind[4:], **opts)
        mm = mg.nn.RNN(I, H, nonlinearity=kind[4:], dtype=np.float64, **opts)
    else:
        tm = getattr(torch.nn, kind)(I, H, **opts)
        mm = getattr(mg.nn, kind)(I, H, dtype=np.float64, **opts)
    mm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I))
    n_states = 2 if kind == "LSTM" else 1
    states = [rng.standard_normal((D * layers, B, H)) for _ in range(n_states)] if init else []
    label = f"{kind} L={layers} bidir={bidir} bf={batch_first} h0={init} lengths={lengths} packed={packed}"

    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states]
    packed_t = trnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
    h0_t = (tuple(st) if kind == "LSTM" else st[0]) if init else None
    out_pt, fin_t = tm(packed_t, h0_t)
    out_t, _ = trnn.pad_packed_sequence(out_pt, batch_first=batch_first, total_length=T)
    finals_t = list(fin_t) if kind == "LSTM" else [fin_t]

    xm = mg.tensor(x, requires_grad=True)
    sm = [mg.tensor(s, requires_grad=True) for s in states]
    h0_m = (tuple(sm) if kind == "LSTM" else sm[0]) if init else None
    if packed:
        packed_m = mrnn.pack_padded_sequence(xm, lengths, batch_first=batch_first, enforce_sorted=False)
        out_pm, fin_m = mm(packed_m, h0_m)
        out_m, _ = mrnn.pad_packed_sequence(out_pm, batch_first=batch_first, total_length=T)
    else:
        out_m, fin_m = mm(xm, h0_m, lengths=lengths)
    finals_m = list(fin_m) if kind == "LSTM" else [fin_m]

    compare(f"{label} output", out_m.data, out_t.detach().numpy())
    for k, (a, b) in enumerate(zip(finals_m, finals_t)):
        compare(f"{label} final state {k}", a.data, b.detach().numpy())
    v = rng.standard_normal(out_t.shape)
    ws = [rng.standard_normal(f.shape) for f in finals_t]
    loss_t = (out_t * torch.tensor(v)).sum() + sum((f * torch.tensor(w)).sum() for f, w in zip(finals_t, ws))
    loss_t.backward()
    loss_m = (out_m * mg.tensor(v)).sum()
    for f, w in zip(finals_m, ws):
        loss_m = loss_m + (f * mg.tensor(w)).sum()
    loss_m.backward()
    compare(f"{label} d input", xm.grad, xt.grad.numpy())
    for k, (a, b) in enumerate(zip(sm, st)):
        compare(f"{label} d initial state {k}", a.grad, b.grad.numpy())
    tgrads = dict(tm.named_parameters())
    for name, p in mm.named_parameters():
        compare(f"{label} d {name}", p.grad, tgrads[name].grad.numpy())


count = 0
for kind, layers, bidir, bf, init, lengths, packed in itertools.product(
    ["RNN_tanh", "RNN_relu", "GRU", "LSTM"],
    [1, 2, 3],
    [False, True],
    [False, True],
    [False, True],
    [[5, 3, 3, 1], [2, 5, 1, 4]],
    [False, True],
):
    run(kind, layers, bidir, bf, init, lengths, packed)
    count += 1

if failures:
    print("\n".join(failures[:40]))
    print(f"FAILED: {len(failures)} mismatches in {count} configurations")
    sys.exit(1)
print(
    f"{count} configurations agree with PyTorch's packed sequences in float64 "
    f"(worst absolute difference {worst:.2e}, tolerance {TOL:g})"
)
