"""Training pieces against PyTorch (on demand; needs `pip install torch`, which minigrad never imports).

    python tests/parity/training_parity.py

1. Schedulers: the committed table's 62 cases, then randomly drawn arguments for every scheduler,
   stepped side by side with torch.optim.lr_scheduler: rates (and OneCycleLR's momenta) must be equal.
2. The loader: batch sizes, ``len()``, order without shuffling, collated dtypes and shapes,
   ``random_split`` lengths, and the padding collate, against torch.utils.data.
3. The hand-off: an RNN/GRU/LSTM + Linear trained here with DataLoader and a scheduler, saved with
   ``mg.save``, loaded into the same model built from torch.nn with ``load_state_dict``: outputs
   must agree to 1e-6 (float32).

Prints one line per part and exits 1 on any mismatch. Not part of the test suite.
"""

import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "data"))
import make_lr_schedules as table_maker  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad.optim import lr_scheduler as mg_sched  # noqa: E402
from minigrad.utils import data as mg_data  # noqa: E402

failures: list[str] = []


def check(ok: bool, what: str) -> None:
    if not ok:
        failures.append(what)
        print("MISMATCH:", what)


# ---- 1. schedulers --------------------------------------------------------------------------


def run_both(case: dict) -> tuple[dict, dict]:
    theirs = table_maker.run(case, torch.optim, torch.optim.lr_scheduler, lambda: torch.zeros(1, requires_grad=True))
    ours = table_maker.run(case, mg.optim, mg_sched, lambda: mg.nn.Parameter(np.zeros(1, dtype=np.float32)))
    return ours, theirs


def random_case(rng: random.Random, i: int) -> dict:
    kind = rng.choice(
        [
            "StepLR",
            "MultiStepLR",
            "ExponentialLR",
            "CosineAnnealingLR",
            "OneCycleLR",
            "ReduceLROnPlateau",
            "LinearLR",
            "PolynomialLR",
            "LambdaLR",
            "CosineAnnealingWarmRestarts",
            "CyclicLR",
        ]
    )
    steps, metrics, optimizer, opt_kwargs = rng.randint(5, 80), None, rng.choice(["SGD", "Adam"]), {}
    lrs = tuple(round(rng.uniform(1e-4, 1.0), 6) for _ in range(rng.choice([1, 1, 2])))
    if kind == "StepLR":
        kwargs = {"step_size": rng.randint(1, 12), "gamma": round(rng.uniform(0.05, 1.2), 4)}
    elif kind == "MultiStepLR":
        kwargs = {
            "milestones": [rng.randint(0, 60) for _ in range(rng.randint(1, 5))],
            "gamma": round(rng.uniform(0.05, 0.99), 4),
        }
    elif kind == "ExponentialLR":
        kwargs = {"gamma": round(rng.uniform(0.5, 1.05), 5)}
    elif kind == "CosineAnnealingLR":
        kwargs = {"T_max": rng.randint(1, 40), "eta_min": rng.choice([0.0, round(rng.uniform(0, 0.01), 6)])}
    elif kind == "LinearLR":
        kwargs = {
            "start_factor": round(rng.uniform(0.01, 1.0), 4),
            "end_factor": round(rng.uniform(0.0, 1.0), 4),
            "total_iters": rng.randint(1, 30),
        }
    elif kind == "PolynomialLR":
        kwargs = {"total_iters": rng.randint(1, 30), "power": round(rng.uniform(0.2, 3.0), 3)}
    elif kind == "LambdaLR":
        kwargs = {"lr_lambda": rng.choice(sorted(table_maker.LAMBDAS))}
    elif kind == "CosineAnnealingWarmRestarts":
        kwargs = {"T_0": rng.randint(1, 15), "T_mult": rng.randint(1, 3), "eta_min": rng.choice([0.0, 1e-4])}
    elif kind == "CyclicLR":
        kwargs = {
            "base_lr": round(rng.uniform(1e-4, 1e-2), 6),
            "max_lr": round(rng.uniform(0.02, 1.0), 5),
            "step_size_up": rng.randint(1, 10),
            "step_size_down": rng.choice([None, rng.randint(1, 10)]),
            "mode": rng.choice(["triangular", "triangular2", "exp_range"]),
            "gamma": round(rng.uniform(0.9, 1.0), 4),
        }
        opt_kwargs = {"momentum": 0.9} if optimizer == "SGD" else {}
    elif kind == "OneCycleLR":
        total = rng.randint(5, 120)
        pct = round(rng.uniform(0.05, 0.6), 3)
        while pct * total == 1 or 2 * pct * total == 2:
            pct += 0.01
        kwargs = {
            "max_lr": round(rng.uniform(1e-3, 1.0), 5),
            "total_steps": total,
            "pct_start": pct,
            "anneal_strategy": rng.choice(["cos", "linear"]),
            "three_phase": rng.random() < 0.4,
            "div_factor": rng.choice([5.0, 25.0, 100.0]),
            "final_div_factor": rng.choice([10.0, 1e4]),
        }
        steps = total - 1
        opt_kwargs = {"momentum": 0.9} if optimizer == "SGD" else {}
    else:
        kwargs = {
            "mode": rng.choice(["min", "max"]),
            "factor": round(rng.uniform(0.1, 0.9), 3),
            "patience": rng.randint(0, 4),
            "threshold": rng.choice([1e-4, 0.01, 0.05]),
            "threshold_mode": rng.choice(["rel", "abs"]),
            "cooldown": rng.randint(0, 3),
            "min_lr": rng.choice([0, 1e-3]),
        }
        metrics = rng.choice(["falls_then_stalls", "rises_then_stalls", "noisy"])
    return table_maker._case(
        f"random {i} {kind} {kwargs} lrs={lrs} {optimizer}",
        kind,
        kwargs,
        steps=steps,
        lrs=lrs,
        optimizer=optimizer,
        metrics=metrics,
        optimizer_kwargs=opt_kwargs,
    )


def schedulers() -> None:
    table = json.loads(table_maker.TABLE.read_text())["cases"]
    cases = table_maker.CASES + [random_case(random.Random(seed), seed) for seed in range(300)]
    exact = 0
    for case in cases:
        ours, theirs = run_both(case)
        worst = max(
            (abs(a - b) / max(abs(b), 1e-300) for ra, rb in zip(ours["lrs"], theirs["lrs"]) for a, b in zip(ra, rb)),
            default=0.0,
        )
        same_len = len(ours["lrs"]) == len(theirs["lrs"])
        exact += ours == theirs
        check(
            same_len and worst <= 1e-12 and ours["momenta"] == theirs["momenta"] or ours == theirs,
            f"scheduler {case['name']}: worst relative difference {worst:.2e}",
        )
    check(all(c["lrs"] == run_both(c)[1]["lrs"] for c in table), "the committed table differs from this torch")
    print(
        f"schedulers: {len(cases)} cases ({len(table_maker.CASES)} from the table, 300 random), "
        f"{exact} bit for bit equal to torch {torch.__version__}"
    )


# ---- 2. the loader --------------------------------------------------------------------------


def loader() -> None:
    from torch.utils import data as td

    rng = np.random.default_rng(0)
    n_checked = 0
    for n in (1, 7, 10, 33):
        x = rng.standard_normal((n, 3)).astype(np.float32)
        y = rng.integers(0, 5, size=n)
        for batch_size in (1, 3, 10, 40, None):
            for drop_last in (False, True):
                if batch_size is None and drop_last:
                    continue
                ours = mg_data.DataLoader(mg_data.TensorDataset(x, y), batch_size=batch_size, drop_last=drop_last)
                theirs = td.DataLoader(
                    td.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                    batch_size=batch_size,
                    drop_last=drop_last,
                )
                check(len(ours) == len(theirs), f"len(DataLoader) n={n} batch_size={batch_size} drop_last={drop_last}")
                for (ox, oy), (tx, ty) in zip(ours, theirs, strict=True):
                    check(
                        np.array_equal(ox.data, tx.numpy())
                        and np.array_equal(oy.data, ty.numpy())
                        and ox.dtype == tx.numpy().dtype
                        and oy.dtype == ty.numpy().dtype,
                        f"batch n={n} batch_size={batch_size}",
                    )
                shuffled = mg_data.DataLoader(
                    mg_data.TensorDataset(x, y), batch_size=batch_size, drop_last=drop_last, shuffle=True
                )
                t_shuffled = td.DataLoader(
                    td.TensorDataset(torch.from_numpy(x)), batch_size=batch_size, drop_last=drop_last, shuffle=True
                )
                check(
                    [len(b[1]) if batch_size else 1 for b in shuffled]
                    == [len(b[0]) if batch_size else 1 for b in t_shuffled],
                    f"shuffled batch sizes n={n}",
                )
                n_checked += 1
    items = [
        [1.5, 2.5],
        [1, 2],
        [True, False],
        [np.float32(1), np.float32(2)],
        [np.int32(1), np.int32(4)],
        [np.zeros((2, 3), np.float16), np.ones((2, 3), np.float16)],
        ["a", "b"],
        [(np.zeros(2), 1, 0.5), (np.ones(2), 2, 1.5)],
        [{"a": 1, "b": np.zeros(3)}, {"a": 2, "b": np.ones(3)}],
    ]

    def describe(batch):
        if isinstance(batch, (mg.Tensor, torch.Tensor)):
            array = batch.data if isinstance(batch, mg.Tensor) else batch.numpy()
            return ("tensor", array.shape, str(array.dtype), array.tolist())
        if isinstance(batch, dict):
            return {k: describe(v) for k, v in batch.items()}
        if isinstance(batch, (list, tuple)):
            return (type(batch).__name__, [describe(v) for v in batch])
        return batch

    for batch in items:
        ours, theirs = describe(mg_data.default_collate(batch)), describe(td.default_collate(batch))
        check(ours == theirs, f"default_collate({batch!r:.60}): {ours} vs {theirs}")
    for n in (10, 11, 97):
        for fractions in ([0.8, 0.2], [0.33, 0.33, 0.34], [0.5, 0.25, 0.25], [0.1] * 10, [0.7, 0.3], [1.0]):
            ours = [len(s) for s in mg_data.random_split(range(n), fractions, generator=np.random.default_rng(0))]
            theirs = [len(s) for s in td.random_split(range(n), fractions)]
            check(ours == theirs, f"random_split({n}, {fractions}): {ours} vs {theirs}")
    seqs = [rng.standard_normal((k, 2)).astype(np.float32) for k in (3, 1, 4)]
    for batch_first in (False, True):
        padded, lengths = mg_data.PadCollate(batch_first=batch_first)(seqs)
        want = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(s) for s in seqs], batch_first=batch_first)
        check(
            np.array_equal(padded.data, want.numpy()) and lengths.data.tolist() == [3, 1, 4],
            f"PadCollate(batch_first={batch_first}) vs pad_sequence",
        )
    print(
        f"loader: {n_checked} DataLoader configurations, {len(items)} collate cases, 18 random_split cases, "
        "padding: compared with torch.utils.data"
    )


# ---- 3. the hand-off ------------------------------------------------------------------------

# The recipe of docs/training.md: the same model, once in minigrad, once in torch, same attribute names.


class Model(mg.nn.Module):
    def __init__(self, kind: str, num_layers: int, bidirectional: bool) -> None:
        super().__init__()
        self.rnn = getattr(mg.nn, kind)(1, 16, num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
        self.head = mg.nn.Linear(16 * (2 if bidirectional else 1), 1)

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class TorchModel(torch.nn.Module):
    def __init__(self, kind: str, num_layers: int, bidirectional: bool) -> None:
        super().__init__()
        self.rnn = getattr(torch.nn, kind)(1, 16, num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
        self.head = torch.nn.Linear(16 * (2 if bidirectional else 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def handoff() -> None:
    rng = np.random.default_rng(0)
    phase = rng.uniform(0, 2 * np.pi, size=(256, 1))
    wave = np.sin(phase + 0.3 * np.arange(21)).astype(np.float32)
    x, y = wave[:, :20, None], wave[:, 20:]
    worst_overall = 0.0
    for kind in ("RNN", "GRU", "LSTM"):
        for num_layers, bidirectional in ((1, False), (2, True)):
            mg.manual_seed(0)
            model = Model(kind, num_layers, bidirectional)
            loader = mg_data.DataLoader(mg_data.TensorDataset(x, y), batch_size=32, shuffle=True)
            opt = mg.optim.Adam(model.parameters(), lr=1e-2)
            scheduler = mg_sched.OneCycleLR(opt, max_lr=0.02, epochs=3, steps_per_epoch=len(loader))
            for _ in range(3):
                for xb, yb in loader:
                    opt.zero_grad()
                    mg.nn.functional.mse_loss(model(xb), yb).backward()
                    opt.step()
                    scheduler.step()
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "model.npz"
                mg.save(model.state_dict(), path)
                torch_model = TorchModel(kind, num_layers, bidirectional)
                torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in mg.load(path).items()})
            with mg.no_grad():
                ours = model(x).data
            with torch.no_grad():
                theirs = torch_model(torch.from_numpy(x)).numpy()
            worst = float(np.abs(ours - theirs).max())
            worst_overall = max(worst, worst_overall)
            check(
                ours.dtype == theirs.dtype == np.float32 and worst <= 1e-6,
                f"hand-off {kind} layers={num_layers} bidirectional={bidirectional}: max |difference| {worst:.2e}",
            )
    print(
        f"hand-off: RNN, GRU, LSTM (1 layer; 2 layers bidirectional) trained here, loaded into torch.nn: "
        f"outputs agree to {worst_overall:.1e} (limit 1e-6, float32)"
    )


if __name__ == "__main__":
    schedulers()
    loader()
    handoff()
    print("OK" if not failures else f"{len(failures)} mismatches")
    sys.exit(1 if failures else 0)
