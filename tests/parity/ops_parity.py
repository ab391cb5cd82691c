"""PyTorch parity of the issue-14 ops and losses, float64 (on demand; needs `pip install torch`).

    python tests/parity/ops_parity.py

Each case runs the same function in minigrad and in PyTorch on the same float64 inputs,
backpropagates the same random weighting of the output, and compares the outputs (values,
dtype, shape) and every input's gradient. Exits 1 if any difference exceeds 1e-9 (relative
to the values' size). Not part of the test suite: torch is no dependency.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as TF  # noqa: N812

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import minigrad as mg  # noqa: E402
from minigrad.nn import functional as F  # noqa: E402, N812

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(0)
TOL = 1e-9
failures: list[str] = []
worst = 0.0


def close(name: str, what: str, ours: np.ndarray, theirs: np.ndarray) -> None:
    global worst
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    if ours.shape != theirs.shape:
        failures.append(f"{name}: {what} shape {ours.shape} != torch {theirs.shape}")
        return
    if ours.dtype != theirs.dtype:
        failures.append(f"{name}: {what} dtype {ours.dtype} != torch {theirs.dtype}")
        return
    if ours.dtype.kind in "biu":
        if not np.array_equal(ours, theirs):
            failures.append(f"{name}: {what} differs: {ours} vs {theirs}")
        return
    if (np.isnan(ours) != np.isnan(theirs)).any() or (np.isinf(ours) != np.isinf(theirs)).any():
        failures.append(f"{name}: {what} NaN/inf differ: {ours.ravel()[:6]} vs torch {theirs.ravel()[:6]}")
        return
    both_nan = np.isnan(ours) & np.isnan(theirs)
    same_inf = np.isinf(ours) & (ours == theirs)
    finite = ~(both_nan | same_inf)
    with np.errstate(invalid="ignore"):
        err = np.abs(ours - theirs)[finite] / (1.0 + np.abs(theirs)[finite]) if finite.any() else np.zeros(1)
    if not np.isfinite(err).all() or (err.size and err.max() > TOL):
        failures.append(f"{name}: {what} differs by {np.nanmax(err) if err.size else np.nan:.3g}")
    else:
        worst = max(worst, float(err.max()) if err.size else 0.0)


def case(name: str, ours: Callable, theirs: Callable, *arrays: np.ndarray, grad: bool = True) -> None:
    """Run ``ours`` on minigrad tensors and ``theirs`` on torch tensors; compare values and gradients."""
    differentiable = [grad and a.dtype.kind == "f" for a in arrays]
    mts = [mg.tensor(a, requires_grad=d) for a, d in zip(arrays, differentiable)]
    tts = [torch.tensor(a, requires_grad=d) for a, d in zip(arrays, differentiable)]
    try:
        mo, to = ours(*mts), theirs(*tts)
    except Exception as err:  # a crash is a failure with its message
        failures.append(f"{name}: raised {type(err).__name__}: {err}")
        return
    mo_list = list(mo) if isinstance(mo, tuple) else [mo]
    to_list = list(to) if isinstance(to, tuple) else [to]
    for i, (m, t) in enumerate(zip(mo_list, to_list)):
        close(name, f"output {i}", m.data, t.detach().numpy())
    if not any(differentiable):
        return
    m0, t0 = mo_list[0], to_list[0]
    if not t0.requires_grad:
        return
    v = rng.standard_normal(t0.shape)
    (m0 * mg.tensor(v)).sum().backward()
    (t0 * torch.tensor(v)).sum().backward()
    for i, (m, t, d) in enumerate(zip(mts, tts, differentiable)):
        if d:
            close(
                name,
                f"grad of input {i}",
                np.zeros_like(m.data) if m.grad is None else m.grad,
                np.zeros_like(t.detach().numpy()) if t.grad is None else t.grad.numpy(),
            )


def randn(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


x34, y34 = randn(3, 4), randn(3, 4)
ties = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, 5.0, 0.0, 5.0]])

# Comparisons and indices (no gradient).
for op in ["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"]:
    a = np.round(x34)
    b = np.round(y34)
    case(op, lambda s, t, op=op: getattr(s, op)(t), lambda s, t, op=op: getattr(s, op)(t), a, b, grad=False)
    case(op + " scalar", lambda s, op=op: getattr(s, op)(0.0), lambda s, op=op: getattr(s, op)(0.0), a, grad=False)
for fn in ["argmax", "argmin"]:
    for axis in [None, 0, 1, -1]:
        for keep in [False, True]:
            if axis is None and keep:
                continue
            case(
                f"{fn}({axis}, keepdims={keep})",
                lambda s, fn=fn, a=axis, k=keep: getattr(s, fn)(a, k),
                lambda s, fn=fn, a=axis, k=keep: getattr(s, fn)(a, keepdim=k),
                ties,
                grad=False,
            )

# Reductions with ties split like max.
for axis in [None, 0, 1]:
    kw = {} if axis is None else {"dim": axis}
    case(f"min({axis})", lambda s, a=axis: s.min(a), lambda s, kw=kw: torch.amin(s, **kw) if kw else torch.min(s), ties)
    case(f"max({axis})", lambda s, a=axis: s.max(a), lambda s, kw=kw: torch.amax(s, **kw) if kw else torch.max(s), ties)
    case(
        f"logsumexp({axis})",
        lambda s, a=axis: s.logsumexp(a),
        lambda s, a=axis: torch.logsumexp(s, dim=(0, 1) if a is None else a),
        x34 * 10,
    )
    for corr in [0, 1, 2]:
        case(
            f"var({axis}, correction={corr})",
            lambda s, a=axis, c=corr: s.var(a, correction=c),
            lambda s, a=axis, c=corr: torch.var(s, dim=a, correction=c),
            x34,
        )
        case(
            f"std({axis}, correction={corr})",
            lambda s, a=axis, c=corr: s.std(a, correction=c, keepdims=True),
            lambda s, a=axis, c=corr: torch.std(s, dim=a, correction=c, keepdim=True),
            x34,
        )
case(
    "logsumexp(-inf row)",
    lambda s: s.logsumexp(1),
    lambda s: torch.logsumexp(s, 1),
    np.array([[-np.inf, -np.inf], [1.0, -np.inf]]),
)
case("maximum ties", lambda a, b: mg.maximum(a, b), torch.maximum, np.round(x34), np.round(y34))
case("minimum ties", lambda a, b: mg.minimum(a, b), torch.minimum, np.round(x34), np.round(y34))
case("maximum broadcast", lambda a, b: a.maximum(b), torch.maximum, x34, randn(4))
# addmm: input + mat1 @ mat2 as one op (a bias broadcast over the rows, or a full term).
case("addmm bias", mg.addmm, torch.addmm, randn(4), randn(3, 5), randn(5, 4))
case("addmm full", mg.addmm, torch.addmm, randn(3, 4), randn(3, 5), randn(5, 4))
case("addmm row", lambda c, a, b: c.addmm(a, b), lambda c, a, b: c.addmm(a, b), randn(1, 4), randn(3, 5), randn(5, 4))
case(
    "addmm batched mat1",  # torch.addmm is 2-d only: the same maths as c + a @ b
    mg.addmm,
    lambda c, a, b: c + a @ b,
    randn(4),
    randn(2, 3, 5),
    randn(5, 4),
)
for axis in [0, 1, -1]:
    case(f"cumsum({axis})", lambda s, a=axis: s.cumsum(a), lambda s, a=axis: torch.cumsum(s, a), x34)

# Indexing and shapes.
index = rng.integers(0, 3, (2, 4))
case("gather(0)", lambda s: s.gather(0, index), lambda s: torch.gather(s, 0, torch.tensor(index)), x34)
index1 = rng.integers(0, 4, (3, 6))
case("gather(1)", lambda s: s.gather(1, index1), lambda s: torch.gather(s, 1, torch.tensor(index1)), x34)
small = rng.integers(0, 4, (2, 2))
case("gather(1) smaller", lambda s: s.gather(1, small), lambda s: torch.gather(s, 1, torch.tensor(small)), x34)
case("one_hot", lambda s: F.one_hot(s.long()), lambda s: TF.one_hot(s.long()), np.array([0.0, 3.0, 1.0]), grad=False)
case(
    "one_hot(5)",
    lambda s: F.one_hot(s.long(), 5),
    lambda s: TF.one_hot(s.long(), 5),
    np.array([[0.0, 3.0], [1.0, 4.0]]),
    grad=False,
)
x1 = randn(3, 1, 4, 1)
case("squeeze()", lambda s: s.squeeze(), lambda s: s.squeeze(), x1)
case("squeeze(1)", lambda s: s.squeeze(1), lambda s: s.squeeze(1), x1)
case("squeeze(0)", lambda s: s.squeeze(0), lambda s: s.squeeze(0), x1)
case("squeeze((1, 3))", lambda s: s.squeeze((1, 3)), lambda s: s.squeeze((1, 3)), x1)
for d in [0, 2, -1]:
    case(f"unsqueeze({d})", lambda s, d=d: s.unsqueeze(d), lambda s, d=d: s.unsqueeze(d), x34)
case("flatten()", lambda s: s.flatten(), lambda s: s.flatten(), x1)
case("flatten(1, 2)", lambda s: s.flatten(1, 2), lambda s: s.flatten(1, 2), x1)
case("flatten 0-d", lambda s: s.flatten(), lambda s: s.flatten(), np.array(2.0))
case("expand", lambda s: s.expand(2, 3, 4, 5), lambda s: s.expand(2, 3, 4, 5), randn(3, 1, 5))
case("expand -1", lambda s: s.expand(-1, 4, -1), lambda s: s.expand(-1, 4, -1), randn(3, 1, 5))
case("repeat", lambda s: s.repeat(2, 1, 3), lambda s: s.repeat(2, 1, 3), x34)
case("repeat same rank", lambda s: s.repeat(2, 2), lambda s: s.repeat(2, 2), x34)
case("flip(0)", lambda s: s.flip(0), lambda s: s.flip(0), x34)
case("flip((0, 1))", lambda s: s.flip((0, 1)), lambda s: s.flip((0, 1)), x34)
for k in [-1, 0, 2]:
    case(f"tril({k})", lambda s, k=k: s.tril(k), lambda s, k=k: s.tril(k), randn(2, 3, 4))
    case(f"triu({k})", lambda s, k=k: s.triu(k), lambda s, k=k: s.triu(k), randn(2, 3, 4))
case("sort", lambda s: s.sort(1), lambda s: torch.sort(s, dim=1, stable=True), ties)
case(
    "sort descending",
    lambda s: s.sort(0, descending=True),
    lambda s: torch.sort(s, dim=0, descending=True, stable=True),
    ties,
)
case("sort NaN", lambda s: s.sort(), lambda s: torch.sort(s, stable=True), np.array([2.0, np.nan, -1.0]), grad=False)
case(
    "sort NaN desc",
    lambda s: s.sort(descending=True),
    lambda s: torch.sort(s, descending=True, stable=True),
    np.array([2.0, np.nan, -1.0]),
    grad=False,
)
case("topk", lambda s: s.topk(2), lambda s: torch.topk(s, 2), x34)
case("topk smallest", lambda s: s.topk(3, axis=0, largest=False), lambda s: torch.topk(s, 3, dim=0, largest=False), x34)
mask = x34 > 0.3
case("masked_fill", lambda s: s.masked_fill(mask, -1.5), lambda s: s.masked_fill(torch.tensor(mask), -1.5), x34)
case(
    "masked_fill broadcast",
    lambda s: s.masked_fill(mask[0], 2.0),
    lambda s: s.masked_fill(torch.tensor(mask[0]), 2.0),
    x34,
)

# Activations.
wide = np.concatenate([np.linspace(-30, 30, 61), randn(20) * 3, [0.0]])
case("softplus", lambda s: F.softplus(s), TF.softplus, wide)
case("softplus beta threshold", lambda s: F.softplus(s, 2.0, 5.0), lambda s: TF.softplus(s, 2.0, 5.0), wide)
case("gelu", lambda s: F.gelu(s), TF.gelu, wide)
case("gelu tanh", lambda s: F.gelu(s, "tanh"), lambda s: TF.gelu(s, approximate="tanh"), wide)
case("silu", lambda s: F.silu(s), TF.silu, wide)
case("elu", lambda s: F.elu(s), TF.elu, wide)
case("elu alpha", lambda s: F.elu(s, 0.3), lambda s: TF.elu(s, 0.3), wide)
case("leaky_relu", lambda s: F.leaky_relu(s), TF.leaky_relu, wide)
case("leaky_relu slope", lambda s: F.leaky_relu(s, 0.2), lambda s: TF.leaky_relu(s, 0.2), wide)

# Losses.
p = rng.uniform(0.01, 0.99, (4, 3))
t = rng.uniform(0, 1, (4, 3))
w43 = rng.uniform(0.5, 2, (4, 3))
for red in ["mean", "sum", "none"]:
    case(
        f"bce {red}",
        lambda a, b, r=red: F.binary_cross_entropy(a, b, reduction=r),
        lambda a, b, r=red: TF.binary_cross_entropy(a, b, reduction=r),
        p,
        t,
    )
    case(
        f"bce weight {red}",
        lambda a, b, r=red: F.binary_cross_entropy(a, b, weight=w43, reduction=r),
        lambda a, b, r=red: TF.binary_cross_entropy(a, b, weight=torch.tensor(w43), reduction=r),
        p,
        t,
    )
    logits = randn(4, 3) * 5
    pw = rng.uniform(0.5, 3, 3)
    case(
        f"bce_logits {red}",
        lambda a, b, r=red: F.binary_cross_entropy_with_logits(a, b, reduction=r),
        lambda a, b, r=red: TF.binary_cross_entropy_with_logits(a, b, reduction=r),
        logits,
        t,
    )
    case(
        f"bce_logits pos_weight weight {red}",
        lambda a, b, r=red, pw=pw: F.binary_cross_entropy_with_logits(a, b, weight=w43, pos_weight=pw, reduction=r),
        lambda a, b, r=red, pw=pw: TF.binary_cross_entropy_with_logits(
            a, b, weight=torch.tensor(w43), pos_weight=torch.tensor(pw), reduction=r
        ),
        logits,
        t,
    )
case(
    "bce at 0 and 1",
    lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
    lambda a, b: TF.binary_cross_entropy(a, b, reduction="none"),
    np.array([0.0, 1.0, 0.0, 1.0]),
    np.array([0.0, 0.0, 1.0, 1.0]),
)
case(
    "bce_logits large",
    lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"),
    lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction="none"),
    np.array([-800.0, 800.0, 40.0]),
    np.array([1.0, 0.0, 1.0]),
)

scores = randn(5, 4)
labels = np.array([0, 3, 1, 1, 2])
labels_ign = np.array([0, -100, 1, 1, -100])
cw = rng.uniform(0.2, 2.0, 4)
probs = rng.dirichlet(np.ones(4), 5)
for red in ["mean", "sum", "none"]:
    for eps in [0.0, 0.1]:
        for w in [None, cw]:
            tw = None if w is None else torch.tensor(w)
            for lab, lname in [(labels, "idx"), (labels_ign, "idx ignore")]:
                case(
                    f"cross_entropy {lname} {red} eps={eps} weight={w is not None}",
                    lambda a, r=red, e=eps, w=w, lab=lab: F.cross_entropy(
                        a, lab, weight=w, reduction=r, label_smoothing=e
                    ),
                    lambda a, r=red, e=eps, tw=tw, lab=lab: TF.cross_entropy(
                        a, torch.tensor(lab), weight=tw, reduction=r, label_smoothing=e
                    ),
                    scores,
                )
            case(
                f"cross_entropy probs {red} eps={eps} weight={w is not None}",
                lambda a, r=red, e=eps, w=w: F.cross_entropy(a, probs, weight=w, reduction=r, label_smoothing=e),
                lambda a, r=red, e=eps, tw=tw: TF.cross_entropy(
                    a, torch.tensor(probs), weight=tw, reduction=r, label_smoothing=e
                ),
                scores,
            )
        case(
            f"nll_loss weight {red}",
            lambda a, r=red: F.nll_loss(a.log_softmax(1), labels_ign, weight=cw, reduction=r),
            lambda a, r=red: TF.nll_loss(
                a.log_softmax(1), torch.tensor(labels_ign), weight=torch.tensor(cw), reduction=r
            ),
            scores,
        )
scores3 = randn(2, 4, 3)
labels3 = rng.integers(0, 4, (2, 3))
case(
    "cross_entropy (N, C, d) weight eps",
    lambda a: F.cross_entropy(a, labels3, weight=cw, label_smoothing=0.2),
    lambda a: TF.cross_entropy(a, torch.tensor(labels3), weight=torch.tensor(cw), label_smoothing=0.2),
    scores3,
)

# LayerNorm.
ln_in = randn(2, 3, 4)
for shape in [(4,), (3, 4)]:
    lw, lb = randn(*shape), randn(*shape)
    case(
        f"layer_norm {shape}",
        lambda a, w, b, s=shape: F.layer_norm(a, s, w, b),
        lambda a, w, b, s=shape: TF.layer_norm(a, s, w, b),
        ln_in,
        lw,
        lb,
    )
mod = mg.nn.LayerNorm(4, dtype=np.float64)
case("LayerNorm module", lambda a: mod(a), lambda a: torch.nn.LayerNorm(4)(a), ln_in)

# Bugs of issue 14.
case("0-d sum(0)", lambda s: s.sum(0), lambda s: s.sum(0), np.array(2.5))
case("0-d mean(-1)", lambda s: s.mean(-1), lambda s: s.mean(-1), np.array(2.5))
case(
    "pow exponent grad at base 0",
    lambda a, b: a**b,
    lambda a, b: a**b,
    np.array([0.0, 0.0, 0.0, 2.0]),
    np.array([-1.5, 0.0, 2.0, -1.0]),
)

if failures:
    print("\n".join(failures))
    print(f"FAILED: {len(failures)} mismatches")
    sys.exit(1)
print(f"all ops agree with PyTorch in float64 (worst relative difference {worst:.2e})")
