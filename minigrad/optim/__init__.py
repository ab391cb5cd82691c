"""Optimizers with PyTorch's update rules, step for step: SGD, Adam, Adagrad.

Learning-rate schedules that adjust them as training goes live in :mod:`.lr_scheduler`
(``mg.optim.lr_scheduler.StepLR`` ...): they write ``group["lr"]`` (and OneCycleLR the momentum)
of each parameter group, and the next ``step()`` reads it.

A step reads each parameter's ``.grad`` and writes the parameter in place through the
versioned ``Tensor.add_`` (so a stale graph that still needs the old values refuses to
run backward). State lives in numpy arrays of the parameter's dtype: a float32 model
stays float32 end to end. Parameters whose ``grad`` is None are skipped, as PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..autograd import enable_grad
from ..tensor import Tensor

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


def _floats(owner: str, **options: Any) -> dict[str, float]:
    """Each hyperparameter as a float; a str, None or list is a TypeError naming the option."""
    converted = {}
    for key, value in options.items():
        is_number = isinstance(value, (int, float, np.integer, np.floating)) or (
            isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf"
        )
        if isinstance(value, bool) or not is_number:
            raise TypeError(f"{owner}: {key} must be a number, got {type(value).__name__} ({value!r:.40})")
        converted[key] = float(value)
    return converted


class Optimizer:
    """Holds parameter groups (``[{"params": [...], "lr": ..., ...}]``) and per-parameter state.

    ``params`` is an iterable of tensors, or of dicts with a ``"params"`` list and options that
    override the defaults for that group (PyTorch's per-group options).
    """

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, (Tensor, dict)):
            raise TypeError(
                f"{name}: params must be an iterable of tensors or of dicts, got a single "
                f"{type(params).__name__} (wrap it in a list)"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.defaults = defaults
        self.step_count = 0  # calls of step(): a scheduler checks that one came before its own
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' list, got {group!r:.80}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize tensors, got {type(p).__name__}")
            if p.dtype.kind != "f":
                raise TypeError(f"{name}: can only optimize floating-point tensors, got dtype {p.dtype}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf tensor (op {p.op}); pass parameters/leaves")
            if id(p) in seen:
                raise ValueError(
                    f"{name}: a parameter (shape {p.shape}) appears in the parameter groups more than once"
                )
            seen.add(id(p))
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise TypeError(
                f"{name}: unknown options {sorted(unknown)} in a parameter group; known: {sorted(self.defaults)}"
            )
        full = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}}
        self._check_options(full)
        self.param_groups.append({"params": params, **full})

    def _check_options(self, options: dict[str, Any]) -> None:
        name = type(self).__name__
        for key in ("lr", "weight_decay", "momentum", "dampening", "eps", "lr_decay", "initial_accumulator_value"):
            if key in options and not float(options[key]) >= 0.0:
                raise ValueError(f"{name}: {key} must be >= 0, got {options[key]}")
        if "betas" in options:
            betas = tuple(options["betas"])
            if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
                raise ValueError(f"{name}: betas must be two numbers in [0, 1), got {options['betas']}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients: set them to None (PyTorch's default), or fill them with 0."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; ``closure`` (optional) recomputes the loss first."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self.step_count += 1
        for group in self.param_groups:
            # The update rule's own options only: schedulers keep their bookkeeping in the group too
            # (initial_lr, max_lr, ...), as in PyTorch.
            options = {k: group[k] for k in self.defaults}
            for p in group["params"]:
                if p.grad is not None:
                    state = self.state.get(p)
                    if state is None:
                        state = self.state[p] = self._init_state(p, options)
                    self._update(p, p.grad, state, **options)
        return loss

    def _init_state(self, p: Tensor, options: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], **options: Any) -> None:
        raise NotImplementedError

    # ---- checkpoints, in PyTorch's layout: parameters are numbered in group order ----------
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {name: array or step}}, "param_groups": [{options..., "params": [indices]}]}``."""
        index, state, groups = 0, {}, []
        for group in self.param_groups:
            indices = []
            for p in group["params"]:
                if p in self.state:
                    state[index] = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in self.state[p].items()}
                indices.append(index)
                index += 1
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": indices})
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore options and state saved by ``state_dict`` (arrays cast to each parameter's dtype)."""
        name = type(self).__name__
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)
        ):
            raise ValueError(
                f"{name}.load_state_dict: the saved groups hold "
                f"{[len(g['params']) for g in groups]} parameters, this optimizer's "
                f"{[len(g['params']) for g in self.param_groups]}"
            )
        saved_state = state_dict["state"]
        new_state: dict[Tensor, dict[str, Any]] = {}
        for saved, own in zip(groups, self.param_groups):
            for index, p in zip(saved["params"], own["params"]):
                if index not in saved_state:
                    continue
                entry = {}
                for key, value in saved_state[index].items():
                    if isinstance(value, np.ndarray) or hasattr(value, "shape"):
                        value = np.array(value, dtype=p.dtype)
                        if value.shape != p.shape:
                            raise ValueError(
                                f"{name}.load_state_dict: state '{key}' of parameter {index} has "
                                f"shape {value.shape}, the parameter {p.shape}"
                            )
                    entry[key] = value
                new_state[p] = entry
        for saved, own in zip(groups, self.param_groups):
            own.update({k: v for k, v in saved.items() if k != "params"})
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, as PyTorch::

    g = grad + weight_decay * p
    b = g                                   (first step)
    b = momentum * b + (1 - dampening) * g  (later steps)
    g = g + momentum * b if nesterov else b  (when momentum != 0)
    p = p - lr * g
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"SGD: nesterov momentum needs momentum > 0 and dampening = 0, "
                f"got momentum={momentum}, dampening={dampening}"
            )
        super().__init__(
            params,
            {
                **_floats("SGD", lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay),
                "nesterov": bool(nesterov),
            },
        )

    def _init_state(self, p: Tensor, options: dict[str, Any]) -> dict[str, Any]:
        return {"momentum_buffer": None}

    def _update(
        self,
        p: Tensor,
        grad: np.ndarray,
        state: dict[str, Any],
        lr: float,
        momentum: float,
        dampening: float,
        weight_decay: float,
        nesterov: bool,
    ) -> None:
        if weight_decay != 0:
            grad = grad + weight_decay * p.data
        if momentum != 0:
            buf = state["momentum_buffer"]
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= momentum
                buf += (1 - dampening) * grad if dampening else grad
            grad = grad + momentum * buf if nesterov else buf
        p.add_(grad, alpha=-lr)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with PyTorch's bias corrections and eps placement::

    g = grad + weight_decay * p                  (L2 penalty, not AdamW)
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g^2
    v_max = max(v_max, v)                        (amsgrad: use v_max below instead of v)
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be two numbers in [0, 1), got {betas!r}")
        super().__init__(
            params,
            {
                **_floats("Adam", lr=lr, eps=eps, weight_decay=weight_decay),
                "betas": tuple(_floats("Adam", beta1=betas[0], beta2=betas[1]).values()),
                "amsgrad": bool(amsgrad),
            },
        )

    def _init_state(self, p: Tensor, options: dict[str, Any]) -> dict[str, Any]:
        state = {"step": 0, "exp_avg": np.zeros_like(p.data), "exp_avg_sq": np.zeros_like(p.data)}
        if options["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(p.data)
        return state

    def _update(
        self,
        p: Tensor,
        grad: np.ndarray,
        state: dict[str, Any],
        lr: float,
        betas: tuple[float, float],
        eps: float,
        weight_decay: float,
        amsgrad: bool,
    ) -> None:
        beta1, beta2 = betas
        state["step"] += 1
        step = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        if weight_decay != 0:
            grad = grad + weight_decay * p.data
        # m += (1 - beta1) * (g - m): PyTorch's lerp, equal to beta1 * m + (1 - beta1) * g.
        buf = np.subtract(grad, m)
        buf *= 1 - beta1
        m += buf
        np.multiply(grad, grad, out=buf)
        buf *= 1 - beta2
        v *= beta2
        v += buf
        if amsgrad:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        step_size = lr / (1 - beta1**step)
        # buf becomes the denominator, then the update itself: no further allocation.
        np.sqrt(v, out=buf)
        buf /= math.sqrt(1 - beta2**step)
        buf += eps
        np.divide(m, buf, out=buf)
        buf *= -step_size
        p.add_(buf)


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011) as PyTorch::

    g = grad + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)
    s = s + g^2                   (s starts at initial_accumulator_value)
    p = p - clr * g / (sqrt(s) + eps)
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(
            params,
            _floats(
                "Adagrad",
                lr=lr,
                lr_decay=lr_decay,
                weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value,
                eps=eps,
            ),
        )

    def _init_state(self, p: Tensor, options: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "sum": np.full_like(p.data, options["initial_accumulator_value"])}

    def _update(
        self,
        p: Tensor,
        grad: np.ndarray,
        state: dict[str, Any],
        lr: float,
        lr_decay: float,
        weight_decay: float,
        initial_accumulator_value: float,
        eps: float,
    ) -> None:
        state["step"] += 1
        if weight_decay != 0:
            grad = grad + weight_decay * p.data
        clr = lr / (1 + (state["step"] - 1) * lr_decay)
        s = state["sum"]
        buf = np.multiply(grad, grad)
        s += buf
        np.sqrt(s, out=buf)
        buf += eps
        np.divide(grad, buf, out=buf)
        buf *= -clr
        p.add_(buf)


from . import lr_scheduler  # noqa: E402  (mg.optim.lr_scheduler, as torch.optim.lr_scheduler)

__all__ = ["Adagrad", "Adam", "Optimizer", "SGD", "lr_scheduler"]
