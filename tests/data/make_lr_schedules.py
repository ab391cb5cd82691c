"""PyTorch's learning-rate sequences for many scheduler arguments -> tests/data/lr_schedules.json.

    python tests/data/make_lr_schedules.py           # regenerate the table (needs torch)
    python tests/data/make_lr_schedules.py --check   # compare the committed table with this torch

The cases (``CASES``) and the lambdas they name (``LAMBDAS``) are plain Python, importable without
torch: ``tests/test_lr_scheduler.py`` replays every case on minigrad's schedulers and compares
with the recorded rates (and, for OneCycleLR, momenta). torch is not a dependency of minigrad;
it is only needed to run this script.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

TABLE = Path(__file__).with_name("lr_schedules.json")

# LambdaLR / MultiplicativeLR functions, by name (JSON cannot hold functions).
LAMBDAS = {
    "warmup5": lambda epoch: min(1.0, (epoch + 1) / 5),
    "inverse_sqrt": lambda epoch: 1.0 / math.sqrt(epoch + 1),
    "times_0.95": lambda epoch: 0.95,
    "halve_every_3": lambda epoch: 0.5 if epoch % 3 == 0 else 1.0,
}


def plateau_metrics(kind: str, n: int) -> list[float]:
    """Deterministic metric sequences for ReduceLROnPlateau: falls, then stalls, with small wiggles."""
    if kind == "falls_then_stalls":
        return [1.0 / (1 + min(i, 8)) + 0.001 * math.sin(3.0 * i) for i in range(n)]
    if kind == "rises_then_stalls":  # for mode="max"
        return [min(i, 10) / 10 + 0.002 * math.cos(2.0 * i) for i in range(n)]
    if kind == "noisy":
        return [0.5 + 0.05 * math.sin(1.7 * i) + 0.03 * math.cos(0.3 * i * i) for i in range(n)]
    raise ValueError(kind)


def _case(
    name: str,
    scheduler: str,
    kwargs: dict[str, Any],
    steps: int = 40,
    lrs: tuple[float, ...] = (0.1,),
    optimizer: str = "SGD",
    metrics: str | None = None,
    optimizer_kwargs: dict | None = None,
) -> dict:
    return {
        "name": name,
        "scheduler": scheduler,
        "kwargs": kwargs,
        "steps": steps,
        "group_lrs": list(lrs),
        "optimizer": optimizer,
        "optimizer_kwargs": optimizer_kwargs or {},
        "metrics": metrics,
    }


def _cases() -> list[dict]:
    cases = []
    for step_size, gamma in [(1, 0.5), (3, 0.1), (7, 0.9), (10, 2.0)]:
        cases.append(
            _case(f"StepLR step_size={step_size} gamma={gamma}", "StepLR", {"step_size": step_size, "gamma": gamma})
        )
    cases.append(_case("StepLR two groups", "StepLR", {"step_size": 4, "gamma": 0.3}, lrs=(0.1, 0.02)))
    for milestones, gamma in [([5, 10, 20], 0.1), ([3, 3, 8], 0.5), ([25, 2], 0.7), ([0, 1], 0.9)]:
        cases.append(
            _case(f"MultiStepLR {milestones} gamma={gamma}", "MultiStepLR", {"milestones": milestones, "gamma": gamma})
        )
    for gamma in (0.9, 0.5, 0.999, 1.05):
        cases.append(_case(f"ExponentialLR gamma={gamma}", "ExponentialLR", {"gamma": gamma}))
    cases.append(
        _case("ExponentialLR Adam two groups", "ExponentialLR", {"gamma": 0.8}, lrs=(1e-3, 3e-3), optimizer="Adam")
    )
    for T_max, eta_min, steps in [
        (10, 0.0, 45),
        (10, 0.01, 45),
        (1, 0.0, 10),
        (7, 0.001, 60),
        (100, 1e-5, 120),
        (3, 0.05, 30),
    ]:
        cases.append(
            _case(
                f"CosineAnnealingLR T_max={T_max} eta_min={eta_min}",
                "CosineAnnealingLR",
                {"T_max": T_max, "eta_min": eta_min},
                steps=steps,
            )
        )
    cases.append(
        _case(
            "CosineAnnealingLR two groups past T_max",
            "CosineAnnealingLR",
            {"T_max": 8, "eta_min": 0.001},
            steps=40,
            lrs=(0.1, 0.5),
        )
    )
    for name in LAMBDAS:
        cases.append(_case(f"LambdaLR {name}", "LambdaLR", {"lr_lambda": name}))
    cases.append(
        _case("LambdaLR one lambda per group", "LambdaLR", {"lr_lambda": ["warmup5", "inverse_sqrt"]}, lrs=(0.1, 0.05))
    )
    cases.append(_case("MultiplicativeLR times_0.95", "MultiplicativeLR", {"lr_lambda": "times_0.95"}))
    cases.append(_case("MultiplicativeLR halve_every_3", "MultiplicativeLR", {"lr_lambda": "halve_every_3"}))
    for total, pct, strategy, three, div, final in [
        (100, 0.3, "cos", False, 25.0, 1e4),
        (100, 0.3, "linear", False, 25.0, 1e4),
        (50, 0.25, "cos", True, 25.0, 1e4),
        (50, 0.25, "linear", True, 10.0, 100.0),
        (37, 0.5, "cos", False, 5.0, 1e3),
        (10, 0.15, "cos", False, 25.0, 1e4),
        (20, 0.0, "linear", False, 25.0, 1e4),
        (23, 0.4, "linear", True, 25.0, 1e4),
    ]:
        kwargs = {
            "max_lr": 0.5,
            "total_steps": total,
            "pct_start": pct,
            "anneal_strategy": strategy,
            "three_phase": three,
            "div_factor": div,
            "final_div_factor": final,
        }
        label = f"OneCycleLR total={total} pct={pct} {strategy} three_phase={three} div={div}/{final}"
        cases.append(_case(label + " SGD", "OneCycleLR", kwargs, steps=total - 1, optimizer_kwargs={"momentum": 0.9}))
    cases.append(
        _case("OneCycleLR Adam betas", "OneCycleLR", {"max_lr": 0.01, "total_steps": 60}, steps=59, optimizer="Adam")
    )
    cases.append(
        _case(
            "OneCycleLR epochs x steps_per_epoch, two groups, per-group max_lr and momenta",
            "OneCycleLR",
            {
                "max_lr": [0.2, 0.05],
                "epochs": 4,
                "steps_per_epoch": 10,
                "base_momentum": [0.8, 0.85],
                "max_momentum": [0.9, 0.99],
            },
            steps=39,
            lrs=(0.1, 0.1),
            optimizer_kwargs={"momentum": 0.9},
        )
    )
    cases.append(
        _case(
            "OneCycleLR without momentum cycling",
            "OneCycleLR",
            {"max_lr": 0.3, "total_steps": 30, "cycle_momentum": False},
            steps=29,
        )
    )
    for mode, metrics, extra in [
        ("min", "falls_then_stalls", {}),
        ("min", "falls_then_stalls", {"patience": 2, "factor": 0.5}),
        ("min", "falls_then_stalls", {"patience": 1, "factor": 0.5, "cooldown": 3}),
        ("min", "falls_then_stalls", {"patience": 0, "factor": 0.5, "min_lr": 0.01}),
        ("min", "noisy", {"patience": 2, "threshold": 0.05, "threshold_mode": "rel"}),
        ("min", "noisy", {"patience": 2, "threshold": 0.01, "threshold_mode": "abs", "cooldown": 1}),
        ("max", "rises_then_stalls", {"patience": 3, "factor": 0.2}),
        ("max", "noisy", {"patience": 1, "threshold": 0.02, "threshold_mode": "abs", "min_lr": 0.005}),
        ("max", "noisy", {"patience": 1, "threshold": 0.1, "threshold_mode": "rel", "factor": 0.7}),
        ("min", "noisy", {"patience": 0, "factor": 0.5, "min_lr": [0.02, 0.001], "eps": 1e-3}),
    ]:
        kwargs = {"mode": mode, **extra}
        lrs = (0.1, 0.05) if isinstance(extra.get("min_lr"), list) else (0.1,)
        cases.append(
            _case(f"ReduceLROnPlateau {metrics} {kwargs}", "ReduceLROnPlateau", kwargs, metrics=metrics, lrs=lrs)
        )
    for factor, total in [(1 / 3, 5), (0.5, 10), (0.01, 3)]:
        cases.append(
            _case(
                f"ConstantLR factor={factor:.3g} total_iters={total}",
                "ConstantLR",
                {"factor": factor, "total_iters": total},
                steps=20,
            )
        )
    for start, end, total in [(1 / 3, 1.0, 5), (0.1, 1.0, 10), (1.0, 0.0, 20), (0.5, 0.25, 7)]:
        cases.append(
            _case(
                f"LinearLR {start:.3g}->{end} in {total}",
                "LinearLR",
                {"start_factor": start, "end_factor": end, "total_iters": total},
                steps=30,
            )
        )
    for total, power in [(10, 1.0), (10, 2.0), (25, 0.5)]:
        cases.append(
            _case(
                f"PolynomialLR total_iters={total} power={power}",
                "PolynomialLR",
                {"total_iters": total, "power": power},
                steps=30,
            )
        )
    cases.append(
        _case(
            "SequentialLR LinearLR warm-up then CosineAnnealingLR",
            "SequentialLR",
            {
                "schedulers": [
                    {"scheduler": "LinearLR", "kwargs": {"start_factor": 0.1, "total_iters": 5}},
                    {"scheduler": "CosineAnnealingLR", "kwargs": {"T_max": 20, "eta_min": 0.001}},
                ],
                "milestones": [5],
            },
            steps=30,
        )
    )
    cases.append(
        _case(
            "SequentialLR ConstantLR, ExponentialLR, StepLR",
            "SequentialLR",
            {
                "schedulers": [
                    {"scheduler": "ConstantLR", "kwargs": {"factor": 0.5, "total_iters": 3}},
                    {"scheduler": "ExponentialLR", "kwargs": {"gamma": 0.9}},
                    {"scheduler": "StepLR", "kwargs": {"step_size": 4, "gamma": 0.5}},
                ],
                "milestones": [4, 12],
            },
            steps=30,
        )
    )
    cases.append(
        _case(
            "ChainedScheduler ConstantLR and ExponentialLR",
            "ChainedScheduler",
            {
                "schedulers": [
                    {"scheduler": "ConstantLR", "kwargs": {"factor": 0.1, "total_iters": 2}},
                    {"scheduler": "ExponentialLR", "kwargs": {"gamma": 0.9}},
                ]
            },
            steps=20,
        )
    )
    for T_0, T_mult, eta_min in [(5, 1, 0.0), (3, 2, 0.001), (10, 3, 0.01)]:
        cases.append(
            _case(
                f"CosineAnnealingWarmRestarts T_0={T_0} T_mult={T_mult} eta_min={eta_min}",
                "CosineAnnealingWarmRestarts",
                {"T_0": T_0, "T_mult": T_mult, "eta_min": eta_min},
                steps=50,
            )
        )
    for mode, up, down, gamma, optimizer in [
        ("triangular", 4, None, 1.0, "SGD"),
        ("triangular2", 3, 5, 1.0, "SGD"),
        ("exp_range", 5, None, 0.97, "SGD"),
        ("triangular", 6, 2, 1.0, "Adam"),
    ]:
        kwargs = {
            "base_lr": 0.001,
            "max_lr": 0.1,
            "step_size_up": up,
            "step_size_down": down,
            "mode": mode,
            "gamma": gamma,
        }
        cases.append(
            _case(
                f"CyclicLR {mode} up={up} down={down} gamma={gamma} {optimizer}",
                "CyclicLR",
                kwargs,
                steps=40,
                optimizer=optimizer,
                optimizer_kwargs={"momentum": 0.9} if optimizer == "SGD" else {},
            )
        )
    cases.append(
        _case(
            "CyclicLR two groups, no momentum cycling",
            "CyclicLR",
            {"base_lr": [0.01, 0.001], "max_lr": [0.1, 0.05], "step_size_up": 5, "cycle_momentum": False},
            steps=30,
            lrs=(0.1, 0.1),
        )
    )
    return cases


CASES = _cases()


def build(module: Any, optimizer: Any, spec: dict) -> Any:
    """Construct ``spec`` (a case, or a child of SequentialLR/ChainedScheduler) from ``module``'s classes."""
    kwargs = dict(spec["kwargs"])
    if "lr_lambda" in kwargs:
        fn = kwargs["lr_lambda"]
        kwargs["lr_lambda"] = [LAMBDAS[f] for f in fn] if isinstance(fn, list) else LAMBDAS[fn]
    cls = getattr(module, spec["scheduler"])
    if spec["scheduler"] == "ChainedScheduler":
        return cls([build(module, optimizer, child) for child in kwargs["schedulers"]])
    if "schedulers" in kwargs:
        kwargs["schedulers"] = [build(module, optimizer, child) for child in kwargs["schedulers"]]
    return cls(optimizer, **kwargs)


def momenta(optimizer: Any) -> list[float]:
    return [g["betas"][0] if "betas" in g else g.get("momentum", 0.0) for g in optimizer.param_groups]


def run(case: dict, optim_module: Any, scheduler_module: Any, make_param: Any) -> dict[str, list]:
    """Run one case: the rates (and momenta) after construction and after each ``step()``."""
    groups = [{"params": [make_param()], "lr": lr} for lr in case["group_lrs"]]
    optimizer = getattr(optim_module, case["optimizer"])(groups, **case["optimizer_kwargs"])
    scheduler = build(scheduler_module, optimizer, case)
    lrs, moms = [list(scheduler.get_last_lr())], [momenta(optimizer)]
    metrics = plateau_metrics(case["metrics"], case["steps"]) if case["metrics"] else None
    for i in range(case["steps"]):
        optimizer.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[i])
        lrs.append([float(v) for v in scheduler.get_last_lr()])
        moms.append([float(v) for v in momenta(optimizer)])
    return {"lrs": lrs, "momenta": moms}


def main() -> int:
    import torch

    def make_param() -> Any:
        return torch.zeros(1, requires_grad=True)

    table = {"torch_version": torch.__version__, "cases": []}
    for case in CASES:
        table["cases"].append({**case, **run(case, torch.optim, torch.optim.lr_scheduler, make_param)})
    if "--check" in sys.argv:
        committed = json.loads(TABLE.read_text())
        bad = [c["name"] for c, old in zip(table["cases"], committed["cases"]) if c != old]
        if len(committed["cases"]) != len(table["cases"]) or bad:
            print(f"torch {torch.__version__} differs from the committed table ({committed['torch_version']}): {bad}")
            return 1
        print(f"{len(CASES)} cases: torch {torch.__version__} gives the committed table")
        return 0
    rows = ",\n".join(json.dumps(case) for case in table["cases"])  # one case per line: readable diffs
    TABLE.write_text(f'{{"torch_version": "{torch.__version__}", "cases": [\n{rows}\n]}}\n')
    print(f"wrote {TABLE} ({len(CASES)} cases, torch {torch.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
