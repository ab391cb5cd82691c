"""The workloads, the interleaved timer, the checks and the ratio table (``run.py`` starts this).

Two phases. First numpy and minigrad, interleaved, with PyTorch not even imported: the
targets are judged on these ratios. Then PyTorch is imported and its variants are timed
interleaved with minigrad again, for the ratios to PyTorch. The split matters: PyTorch's
own allocations change glibc malloc's thresholds for the whole process, and with them how
often numpy's larger arrays are unmapped and faulted back in. Measured in one process
together with PyTorch, minigrad looked up to 15% better against numpy (W1 batch 32) than it
does in a process of its own, which is where a user runs it.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.util
import itertools
import os
import platform
import pstats
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import threadpoolctl
from mg_models import MinigradCharModel, MinigradLayer, MinigradRawLoop, as_minigrad
from numpy_ref import CourseLSTM, MinCharRNN, NumpyLayer, VectorisedLSTM, VectorisedRNN, init_params, make_batches

torch: Any = None  # imported by load_torch(), for the second phase only

ENGINE = "minigrad"


def load_torch() -> bool:
    """Import PyTorch (if installed), one thread, and re-pin every BLAS now loaded to 1 thread."""
    global torch
    try:
        import torch as module
    except ImportError:  # the ratios to PyTorch are simply left out
        return False
    torch = module
    torch.set_num_threads(1)
    threadpoolctl.threadpool_limits(limits=1)
    return True


@dataclass(frozen=True)
class CharWorkload:
    """One training step of a character model: forward, cross-entropy at every step, BPTT, clip, update."""

    key: str
    label: str
    cell: str
    vocab: int
    hidden: int
    steps: int
    batch: int
    optimizer: str
    lr: float
    clip_value: float | None = None
    max_norm: float | None = None
    target: float = 1.0
    style: str = "layers"  # "layers": nn.RNN/nn.LSTM + Linear; "raw": the op-by-op loop learners write
    compiled: bool = False  # minigrad's step through mg.compile

    def kwargs(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "lr": self.lr, "clip_value": self.clip_value, "max_norm": self.max_norm}


# Targets: issue 15, as same-run ratios of minigrad's median to the course-style numpy floor's.
W1_B1 = CharWorkload(
    "W1b1", "W1 min-char-rnn, batch 1", "rnn", 64, 100, 25, 1, "adagrad", 0.1, clip_value=5.0, target=1.15
)
W1_B32 = CharWorkload(
    "W1b32", "W1 min-char-rnn, batch 32", "rnn", 64, 100, 25, 32, "adagrad", 0.1, clip_value=5.0, target=1.2
)
W2 = CharWorkload("W2", "W2 LSTM char-LM, batch 32", "lstm", 64, 128, 50, 32, "adam", 2e-3, max_norm=5.0, target=1.2)
RAW_B1 = CharWorkload(
    "R1", "raw-op loop, batch 1", "rnn", 64, 100, 25, 1, "adagrad", 0.1, clip_value=5.0, target=2.2, style="raw"
)
RAW_B32 = CharWorkload(
    "R32", "raw-op loop, batch 32", "rnn", 64, 100, 25, 32, "adagrad", 0.1, clip_value=5.0, target=1.7, style="raw"
)
RAW_B1_C = CharWorkload(
    "R1c",
    "raw-op loop, batch 1, compiled",
    "rnn",
    64,
    100,
    25,
    1,
    "adagrad",
    0.1,
    clip_value=5.0,
    target=1.15,
    style="raw",
    compiled=True,
)
RAW_B32_C = CharWorkload(
    "R32c",
    "raw-op loop, batch 32, compiled",
    "rnn",
    64,
    100,
    25,
    32,
    "adagrad",
    0.1,
    clip_value=5.0,
    target=1.3,
    style="raw",
    compiled=True,
)
W2_C = CharWorkload(
    "W2c", "W2 LSTM char-LM, compiled", "lstm", 64, 128, 50, 32, "adam", 2e-3, max_norm=5.0, target=1.1, compiled=True
)
W4_TARGET = 2.3
W4_COMPILED_TARGET = 1.6
W3_FLAT = 1.15  # "flat": cost per timestep at the longest T within 15% of that at T = 100
# W3 memory (issue 15): one step of a 1,000-step LSTM, hidden 128, batch 32, against the course-style floor.
W3M_STEPS, W3M_HIDDEN, W3M_EVERY = 1000, 128, 32
W3M_EAGER_PEAK, W3M_CHECKPOINT_PEAK, W3M_CHECKPOINT_TIME = 3.5, 1.5, 1.4


def w3(steps: int) -> CharWorkload:
    return CharWorkload("W3", f"W3 LSTM T={steps}", "lstm", 64, 64, steps, 32, "adam", 2e-3, max_norm=5.0)


# --------------------------------------------------------------------------------------
# Building the variants of a workload: name -> a callable that runs one step
# --------------------------------------------------------------------------------------


def _cycle(step: Callable[..., Any], batches: list) -> Callable[[], Any]:
    batches = itertools.cycle(batches)
    return lambda: step(*next(batches))


def char_models(
    wl: CharWorkload, engines: dict[str, ModuleType], with_numpy: bool = True, with_torch: bool = False, count: int = 4
) -> dict[str, tuple]:
    """name -> (model, ``count`` batches in that library's types)."""
    params = init_params(wl.cell, wl.vocab, wl.hidden)
    batches = make_batches(wl.vocab, wl.steps, wl.batch, count)
    models: dict[str, tuple] = {}
    if with_numpy:
        floor, vectorised = (MinCharRNN, VectorisedRNN) if wl.cell == "rnn" else (CourseLSTM, VectorisedLSTM)
        options = {"lr": wl.lr, **({"clip": wl.clip_value} if wl.cell == "rnn" else {"max_norm": wl.max_norm})}
        models["numpy"] = (floor(params, wl.batch, **options), batches)
        models["numpy-vec"] = (vectorised(params, wl.batch, **options), batches)
    for name, mg in engines.items():
        try:
            if wl.style == "raw":
                model = MinigradRawLoop(mg, params, wl.batch, wl.lr, wl.clip_value, compiled=wl.compiled)
            else:
                model = MinigradCharModel(mg, wl.cell, params, wl.batch, compiled=wl.compiled, **wl.kwargs())
            models[name] = (model, as_minigrad(mg, batches))
        except (AttributeError, NotImplementedError) as err:  # nn/optim/compile not written yet
            print(f"  ({name} side of {wl.label} unavailable: {err})")
    if torch is not None and with_torch:
        from torch_ref import TorchCharModel, TorchRawLoop, as_torch

        if wl.style == "raw":
            models["torch eager"] = (TorchRawLoop(params, wl.batch, wl.lr, wl.clip_value), as_torch(batches))
        else:
            for name, fused in (("torch eager", False), ("torch fused", True)):
                models[name] = (TorchCharModel(wl.cell, params, wl.batch, fused, **wl.kwargs()), as_torch(batches))
    return models


def layer_models(
    engines: dict[str, ModuleType], with_numpy: bool = True, with_torch: bool = False, compiled: bool = False
) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    x, w, b, g = (rng.standard_normal(s).astype(np.float32) * 0.1 for s in ((1, 100), (100, 100), (100,), (1, 100)))
    models: dict[str, Any] = {"numpy": NumpyLayer(x, w, b, g)} if with_numpy else {}
    for name, mg in engines.items():
        models[name] = MinigradLayer(mg, x, w, b, g, compiled=compiled)
    if torch is not None and with_torch:
        from torch_ref import TorchLayer

        models["torch eager"] = TorchLayer(x, w, b, g)
    return models


# --------------------------------------------------------------------------------------
# Timing: variants interleaved round by round, medians of many repeats
# --------------------------------------------------------------------------------------


@dataclass
class Timing:
    samples: list[float]  # seconds per call

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """Interquartile range over the median: how noisy the machine was."""
        q = np.percentile(self.samples, [25, 75])
        return float(q[1] - q[0]) / self.median


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
CLOCK = "cpu"


def interleaved(
    variants: dict[str, Callable[[], Any]], rounds: int, per_round: int, warmup: int = 3, inner: int = 1
) -> dict[str, Timing]:
    """Run every variant ``per_round`` times per round, rotating their order each round, so a
    noisy neighbour slows them all alike; ``inner`` calls per sample for microsecond work.

    The default clock is this process's CPU time: every library runs on this one thread, so
    on an idle machine it equals wall time, and on a shared one it leaves out the time other
    processes held the core (``--clock wall`` measures wall time)."""
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    names = list(variants)
    samples: dict[str, list[float]] = {n: [] for n in names}
    clock = CLOCKS[CLOCK]
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            fn = variants[name]
            for _ in range(per_round):
                if inner == 1:
                    t0 = clock()
                    fn()
                    samples[name].append(clock() - t0)
                else:
                    t0 = clock()
                    for _ in range(inner):
                        fn()
                    samples[name].append((clock() - t0) / inner)
    return {n: Timing(s) for n, s in samples.items()}


def peak_memory(fn: Callable[[], Any]) -> int:
    """Peak bytes allocated (numpy buffers and Python objects) during one call."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --------------------------------------------------------------------------------------
# The workloads
# --------------------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    unit: str
    times: dict[str, Timing]  # phase 1: numpy and minigrad
    target: float
    torch_times: dict[str, Timing] | None = None  # phase 2: PyTorch and minigrad again


def _scaled(times: dict[str, Timing], scale: float) -> dict[str, Timing]:
    return {n: Timing([s * scale for s in t.samples]) for n, t in times.items()}


def run_char(
    wl: CharWorkload, engines: dict[str, ModuleType], rounds: int, per_round: int, with_torch: bool = False
) -> dict[str, Timing]:
    """Phase 1 (numpy and minigrad) or, ``with_torch``, phase 2 (PyTorch and minigrad): ms per step."""
    models = char_models(wl, engines, with_numpy=not with_torch, with_torch=with_torch)
    variants = {name: _cycle(model.step, batches) for name, (model, batches) in models.items()}
    return _scaled(interleaved(variants, rounds, per_round), 1e3)


def run_layer(
    engines: dict[str, ModuleType], rounds: int, inner: int, with_torch: bool = False, compiled: bool = False
) -> dict[str, Timing]:
    """W4 in either phase: microseconds per forward + backward (``compiled``: minigrad through mg.compile)."""
    models = layer_models(engines, with_numpy=not with_torch, with_torch=with_torch, compiled=compiled)
    return _scaled(interleaved({n: m.step for n, m in models.items()}, rounds, 3, warmup=200, inner=inner), 1e6)


def run_w3(engines: dict[str, ModuleType], lengths: list[int], rounds: int) -> str:
    """Cost per timestep and peak memory as the sequence grows, against the numpy floors.

    Every (length, variant) pair runs once per round, all interleaved, so the machine's
    load drifts over every length alike and the per-timestep figures stay comparable."""
    out = [
        "\nW3: LSTM hidden 64, batch 32, vocab 64, Adam: one training step over T timesteps "
        f"(median of {rounds} interleaved rounds; peak memory of one step, tracemalloc)\n"
    ]
    names = ["numpy", "numpy-vec", *engines]
    variants = {}
    for steps in lengths:
        for name, (model, batches) in char_models(w3(steps), engines, count=2).items():
            variants[steps, name] = _cycle(model.step, batches)
    times = interleaved(variants, rounds=rounds, per_round=1, warmup=1)
    per_ts = {n: [times[T, n].median * 1e6 / T for T in lengths] for n in names}
    cells = [["T"] + [f"{n} us/timestep" for n in names] + [f"{ENGINE}/numpy"] + [f"{n} peak MB" for n in names]]
    for k, steps in enumerate(lengths):
        peaks = [peak_memory(variants[steps, n]) / 2**20 for n in names]
        cells.append(
            [f"{steps:,}"]
            + [f"{per_ts[n][k]:.0f} ±{times[steps, n].spread * 100:.0f}%" for n in names]
            + [f"{per_ts[ENGINE][k] / per_ts['numpy'][k]:.2f}x"]
            + [f"{p:.0f}" for p in peaks]
        )
    out.append(_markdown(cells) + "\n")
    fit = [k for k, steps in enumerate(lengths) if steps >= 100]
    xs = np.array([lengths[k] for k in fit], dtype=float)
    for n in names:
        ys = np.array([per_ts[n][k] for k in fit])
        slope = np.polyfit(xs, ys, 1)[0] * 1000 if len(fit) >= 2 else float("nan")
        growth = ys[-1] / ys[0]
        verdict = "flat" if growth <= W3_FLAT else "GROWS"
        out.append(
            f"  {n}: slope {slope:+.1f} us/timestep per 1,000 more timesteps (least squares over T >= 100); "
            f"cost per timestep at T={lengths[-1]:,} is {growth:.2f}x that at T={lengths[fit[0]]:,}: {verdict}"
        )
    out.append(f"  {lengths[-1]:,} timesteps ran forward and backward in every variant: yes")
    return "\n".join(out)


def run_w3_memory(mg: ModuleType, rounds: int) -> str:
    """Peak memory and time of one step of a 1,000-step LSTM: the course-style floor, minigrad as is,
    and minigrad with ``checkpoint_every`` (memory-efficient BPTT), each ratio beside its target."""
    wl = CharWorkload("W3m", "W3 memory", "lstm", 64, W3M_HIDDEN, W3M_STEPS, 32, "adam", 2e-3, max_norm=5.0)
    params = init_params(wl.cell, wl.vocab, wl.hidden)
    batches = make_batches(wl.vocab, wl.steps, wl.batch, 2)
    models = {
        "numpy": (CourseLSTM(params, wl.batch, lr=wl.lr, max_norm=wl.max_norm), batches),
        ENGINE: (MinigradCharModel(mg, "lstm", params, wl.batch, **wl.kwargs()), as_minigrad(mg, batches)),
        f"checkpoint_every={W3M_EVERY}": (
            MinigradCharModel(mg, "lstm", params, wl.batch, checkpoint_every=W3M_EVERY, **wl.kwargs()),
            as_minigrad(mg, batches),
        ),
    }
    variants = {name: _cycle(model.step, b) for name, (model, b) in models.items()}
    times = interleaved(variants, rounds=rounds, per_round=1, warmup=1)
    peaks = {name: peak_memory(fn) / 2**20 for name, fn in variants.items()}
    ckpt = f"checkpoint_every={W3M_EVERY}"
    floor = peaks["numpy"]
    checks = [
        (f"{ENGINE} peak / numpy peak", peaks[ENGINE] / floor, W3M_EAGER_PEAK),
        (f"{ckpt} peak / numpy peak", peaks[ckpt] / floor, W3M_CHECKPOINT_PEAK),
        (f"{ckpt} time / {ENGINE} time", times[ckpt].median / times[ENGINE].median, W3M_CHECKPOINT_TIME),
    ]
    cells = [["variant", "peak MB (tracemalloc)", "ms per step"]]
    cells += [[n, f"{peaks[n]:.0f}", f"{times[n].median * 1e3:.0f} ±{times[n].spread * 100:.0f}%"] for n in variants]
    verdicts = [["ratio", "measured", "target", "verdict"]]
    verdicts += [
        [label, f"{value:.2f}x", f"<= {target:g}x", "met" if value <= target else "MISS"]
        for label, value, target in checks
    ]
    return (
        f"\nW3 memory: one training step of an LSTM over {W3M_STEPS:,} timesteps, hidden {W3M_HIDDEN}, batch 32 "
        f"(median of {rounds} rounds)\n\n{_markdown(cells)}\n\n{_markdown(verdicts)}\n"
    )


# --------------------------------------------------------------------------------------
# --check: the variants compute the same maths
# --------------------------------------------------------------------------------------


def check(engines: dict[str, ModuleType]) -> bool:
    ok = True
    load_torch()
    print("check: 3 training steps from identical weights and data; differences against the numpy floor")
    for wl in (W1_B1, W1_B32, W2, RAW_B1, RAW_B32_C, W2_C):
        models = char_models(wl, engines, with_torch=True)
        losses, params = {}, {}
        for name, (model, batches) in models.items():
            losses[name] = np.array([model.step(*batches[i]) for i in range(3)])
            params[name] = [p.copy() for p in model.params] if name.startswith("numpy") else model.numpy_params()
        for name in models:
            if name == "numpy":
                continue
            dl = float(np.max(np.abs(losses[name] - losses["numpy"]) / np.abs(losses["numpy"])))
            dp = max(float(np.max(np.abs(a - b))) for a, b in zip(params[name], params["numpy"]))
            good = dl < 1e-4 and dp < 1e-3
            ok &= good
            print(
                f"  {wl.label:<28} {name:<12} losses {np.round(losses[name], 5)}  max rel loss diff {dl:.1e}  "
                f"max param diff {dp:.1e}  {'ok' if good else 'MISMATCH'}"
            )
    layers = layer_models(engines, with_torch=True)
    ref = [np.asarray(a) for a in layers["numpy"].step()]
    compiled = layer_models(engines, with_numpy=False, compiled=True)
    layers |= {f"{name} compiled": model for name, model in compiled.items()}
    for name, model in layers.items():
        if name == "numpy":
            continue
        got = [
            np.asarray(a.detach().numpy() if hasattr(a, "detach") and not isinstance(a, np.ndarray) else a)
            for a in model.step()
        ]
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(got, ref))
        good = diff < 1e-5
        ok &= good
        print(f"  {'W4 tanh(x @ W + b)':<28} {name:<12} max grad diff {diff:.1e}  {'ok' if good else 'MISMATCH'}")
    return ok


# --------------------------------------------------------------------------------------
# --profile: where minigrad's time goes
# --------------------------------------------------------------------------------------


def profile(key: str, mg: ModuleType, steps: int) -> None:
    if key in ("W4", "W4c"):
        model = layer_models({ENGINE: mg}, compiled=key == "W4c")[ENGINE]
        fn, steps = model.step, steps * 100
    else:
        wl = {
            "W1b1": W1_B1,
            "W1b32": W1_B32,
            "W2": W2,
            "W3": w3(1600),
            "R1": RAW_B1,
            "R32": RAW_B32,
            "R1c": RAW_B1_C,
            "R32c": RAW_B32_C,
            "W2c": W2_C,
        }[key]
        model, batches = char_models(wl, {ENGINE: mg}, with_numpy=False)[ENGINE]
        fn = _cycle(model.step, batches)
    for _ in range(5):
        fn()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        fn()
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs()
    print(f"cProfile of {steps} minigrad steps of {key} (times include the profiler's own overhead)")
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(20)


# --------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------


def header(engines: dict[str, ModuleType]) -> None:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpu = platform.processor() or "?"
    if Path("/proc/cpuinfo").exists():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    print(
        f"machine: {cpu}, {os.cpu_count()} cores ({affinity} usable); Python {platform.python_version()}; "
        f"every library pinned to 1 thread; clock: {'process CPU time' if CLOCK == 'cpu' else 'wall time'}"
    )
    print(f"numpy {np.__version__}")
    blas_report()
    unset = os.environ.get("MINIGRAD_BENCH_UNSET")
    present = [f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ]
    if unset:
        print(f"  restarted without {unset} (this process only)")
    elif present:
        print(f"  running WITH {' '.join(present)} (--keep-env): numpy may be slower than it can be")
    for name, mg in engines.items():
        print(f"  {name}: {Path(mg.__file__).parent}")


def blas_report() -> None:
    """Every thread pool now loaded (numpy's BLAS; with PyTorch also its OpenMP), and its kernel."""
    for info in threadpoolctl.threadpool_info():
        print(
            f"  {info.get('user_api')}: {info.get('internal_api')} {info.get('version')}, kernel "
            f"{info.get('architecture', '-')}, {info.get('num_threads')} thread(s)  [{Path(info['filepath']).name}]"
        )


def _ratio(a: Timing | None, b: Timing | None) -> str:
    return f"{a.median / b.median:.2f}x" if a is not None and b is not None else "-"


def _markdown(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) + " |"
        for r in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 1) + ":" if i else "-" * (w + 2) for i, w in enumerate(widths)) + "|")
    return "\n".join(lines)


def table(rows: list[Row], engines: dict[str, ModuleType]) -> None:
    """Two markdown tables: the medians of every variant, then minigrad's ratios and verdicts."""
    cols = ["numpy", "numpy-vec", *engines]
    has_torch = any(r.torch_times for r in rows)
    tcols = [ENGINE, "torch eager", "torch fused"] if has_torch else []
    print(
        "\nMedian time per training step (ms; W4: microseconds per forward+backward), ± interquartile range / "
        "median." + (" The last three columns are the second phase, with PyTorch imported." if has_torch else "") + "\n"
    )

    def cell(times: dict[str, Timing] | None, c: str) -> str:
        t = (times or {}).get(c)
        return f"{t.median:.3g} ±{t.spread * 100:.0f}%" if t else "-"

    cells = [["workload", *cols] + [f"{c} (phase 2)" for c in tcols]]
    for r in rows:
        cells.append(
            [f"{r.label} ({r.unit})"] + [cell(r.times, c) for c in cols] + [cell(r.torch_times, c) for c in tcols]
        )
    print(_markdown(cells))
    print(
        f"\nRatios of {ENGINE}'s median to each other's, each pair measured in the same phase of this run "
        "(numpy: min-char-rnn / course style; numpy-vec: time-vectorised):\n"
    )
    cells = [["workload", "mg/numpy", "target", "mg/numpy-vec", "mg/torch eager", "mg/torch fused", "verdict"]]
    for r in rows:
        mg_t, floor, tt = r.times.get(ENGINE), r.times["numpy"], r.torch_times or {}
        verdict = "minigrad side missing"
        if mg_t is not None:
            ratio = mg_t.median / floor.median
            misses = [f"{(ratio / r.target - 1) * 100:.0f}% over target"] if ratio > r.target else []
            if "torch eager" in tt and tt[ENGINE].median >= tt["torch eager"].median:
                misses.append("slower than torch eager")
            verdict = "MISS: " + ", ".join(misses) if misses else "met"
        cells.append(
            [
                r.label,
                _ratio(mg_t, floor),
                f"<= {r.target:g}x",
                _ratio(mg_t, r.times.get("numpy-vec")),
                _ratio(tt.get(ENGINE), tt.get("torch eager")),
                _ratio(tt.get(ENGINE), tt.get("torch fused")),
                verdict,
            ]
        )
    print(_markdown(cells))
    for extra in engines:
        if extra != ENGINE:
            for r in rows:
                if extra in r.times and ENGINE in r.times:
                    print(f"  {r.label}: {extra} / {ENGINE} = {_ratio(r.times[extra], r.times[ENGINE])}")


def load_engine(root: str, name: str) -> ModuleType:
    """Import ``root/minigrad`` under another module name, beside the repo's own."""
    pkg = Path(root).resolve() / "minigrad"
    spec = importlib.util.spec_from_file_location(name, pkg / "__init__.py", submodule_search_locations=[str(pkg)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats; W3 stops at 1,600 timesteps")
    parser.add_argument(
        "--only",
        default="W1,W2,W3,W4,RAW,COMPILED,MEMORY",
        help="comma-separated subset of W1,W2,W3,W4, RAW (the op-by-op loop), COMPILED (mg.compile "
        "variants), MEMORY (W3 peak memory with and without checkpoint_every)",
    )
    parser.add_argument("--check", action="store_true", help="verify that all variants compute the same maths")
    parser.add_argument(
        "--profile",
        metavar="WORKLOAD",
        help="cProfile minigrad on W1b1, W1b32, W2, W3, W4, R1, R32, R1c, R32c, W2c or W4c",
    )
    parser.add_argument("--steps", type=int, default=50, help="steps to profile (--profile)")
    parser.add_argument(
        "--compare",
        metavar="DIR",
        action="append",
        default=[],
        help="also time DIR/minigrad (an experimental copy), as 'exp1', 'exp2', ...",
    )
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="cpu: this process's CPU time (default; robust on a shared machine); wall: elapsed time",
    )
    parser.add_argument("--keep-env", action="store_true", help="keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = args.clock

    import minigrad

    engines = {ENGINE: minigrad}
    for i, root in enumerate(args.compare, 1):
        engines[f"exp{i}"] = load_engine(root, f"minigrad_exp{i}")
    threadpoolctl.threadpool_limits(limits=1)
    header(engines)

    if args.check:
        sys.exit(0 if check(engines) else 1)
    if args.profile:
        profile(args.profile, engines[ENGINE] if len(engines) == 1 else engines["exp1"], args.steps)
        return

    only = {w.strip().upper() for w in args.only.split(",")}
    scale = 0.25 if args.quick else 1.0

    def rounds(n: int) -> int:
        return max(3, int(n * scale))

    # (label, unit, target, run): run() times phase 1, run(with_torch=True) phase 2
    workloads: list[tuple[str, str, float, Callable[..., dict[str, Timing]]]] = []
    if "W1" in only:
        workloads.append((W1_B1.label, "ms", W1_B1.target, lambda **kw: run_char(W1_B1, engines, rounds(40), 5, **kw)))
        workloads.append(
            (W1_B32.label, "ms", W1_B32.target, lambda **kw: run_char(W1_B32, engines, rounds(30), 4, **kw))
        )
    if "W2" in only:
        workloads.append((W2.label, "ms", W2.target, lambda **kw: run_char(W2, engines, rounds(20), 2, **kw)))
    if "RAW" in only:
        for wl, n in ((RAW_B1, 40), (RAW_B32, 30)):
            workloads.append(
                (wl.label, "ms", wl.target, lambda wl=wl, n=n, **kw: run_char(wl, engines, rounds(n), 4, **kw))
            )
    if "COMPILED" in only:
        for wl, n, per in ((RAW_B1_C, 40, 4), (RAW_B32_C, 30, 4), (W2_C, 20, 2)):
            workloads.append(
                (
                    wl.label,
                    "ms",
                    wl.target,
                    lambda wl=wl, n=n, per=per, **kw: run_char(wl, engines, rounds(n), per, **kw),
                )
            )
    if "W4" in only:
        workloads.append(
            (
                "W4 tanh(x @ W + b) fwd+bwd",
                "us",
                W4_TARGET,
                lambda **kw: run_layer(engines, rounds(40), inner=200, **kw),
            )
        )
    if "COMPILED" in only:
        workloads.append(
            (
                "W4 tanh(x @ W + b), compiled",
                "us",
                W4_COMPILED_TARGET,
                lambda **kw: run_layer(engines, rounds(40), inner=200, compiled=True, **kw),
            )
        )
    rows = [Row(label, unit, run(), target) for label, unit, target, run in workloads]  # phase 1
    w3_report = ""
    if "MEMORY" in only:
        w3_report += run_w3_memory(engines[ENGINE], rounds=3 if args.quick else 5) + "\n"
    if "W3" in only:
        lengths = [25, 100, 400, 1600] + ([] if args.quick else [10000])
        w3_report += run_w3(engines, lengths, rounds=3 if args.quick else 5)
    if rows and load_torch():  # phase 2
        print(f"phase 2: torch {torch.__version__}, {torch.get_num_threads()} thread")
        blas_report()
        for row, (*_, run) in zip(rows, workloads):
            row.torch_times = run(with_torch=True)
    elif rows:
        print("PyTorch is not installed: the columns comparing with it are left out (pip install torch)")
    if rows:
        table(rows, engines)
    if w3_report:
        print(w3_report)
