"""Module and Parameter: PyTorch's bookkeeping (names, state dicts, modes) over minigrad tensors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..tensor import Tensor, as_array


def as_layer_input(value: Any, dtype: Any, owner: str, label: str = "input") -> Tensor:
    """The one dtype rule of every layer (as PyTorch): an array or Tensor must have the parameters' dtype.

    A float64 array fed to a float32 layer is an error naming the layer and the argument, never
    a silent cast (which would hide a lost precision, or a model that the user meant to be
    float64). Python numbers and lists carry no dtype of their own: they become ``dtype``.
    """
    if not isinstance(value, (Tensor, np.ndarray, np.generic)):
        try:
            array = np.asarray(value)
        except ValueError as err:
            raise TypeError(f"{owner}: {label} must be a Tensor or a numeric array ({err})") from None
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{owner}: {label} must be a Tensor or a numeric array, got {type(value).__name__}")
        return Tensor(array.astype(dtype))
    data = value.data if isinstance(value, Tensor) else np.asarray(value)
    if data.dtype != dtype:
        fix = f"convert the {label} ({label}.astype(np.{np.dtype(dtype)}))"
        if data.dtype.kind == "f":
            fix += f" or the layer (.to(np.{data.dtype}))"
        raise TypeError(f"{owner}: {label} has dtype {data.dtype} but the parameters are {np.dtype(dtype)}; {fix}")
    return value if isinstance(value, Tensor) else Tensor(data)


class Parameter(Tensor):
    """A leaf tensor that a Module registers and an optimizer updates (``requires_grad=True``).

    Built from an ndarray (copied, dtype kept) or a Tensor (its data, dtype kept).
    """

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(as_array(data, copy=True), requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class: assign Parameters, Modules or lists of Modules as attributes and they are registered.

    Dotted names follow PyTorch (``layers.0.weight``), so ``state_dict`` keys match a
    PyTorch model built the same way.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
            value.name = name
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Module) for v in value):
            value = ModuleList(value)
        if isinstance(value, Module):
            self._modules[name] = value
            # Keep every parameter's .name its dotted path from the outermost module, so the
            # renderer labels nodes "rnn.weight_hh_l0" without being told.
            value.name_parameters(prefix=name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, value: Parameter | None) -> None:
        """Register (or, with None, declare absent) a parameter, e.g. a disabled bias."""
        if value is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, value)

    # ---- the computation --------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---- traversal ----------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, module in self._modules.items():
            yield from module.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "", remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs; a parameter shared by two modules (tied weights) once,
        under its first name, unless ``remove_duplicate=False`` (PyTorch's argument)."""
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                if remove_duplicate and id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self) -> Iterator[Parameter]:
        for _, param in self.named_parameters():
            yield param

    def get_submodule(self, target: str) -> Module:
        """The module at the dotted path ``target`` (``"layers.0"``; ``""`` is this one), as PyTorch."""
        module = self
        for part in target.split(".") if target else ():
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"get_submodule: {type(module).__name__} has no submodule {part!r} ({target!r})")
            module = child
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at the dotted path ``target`` (``"layers.0.weight"``, a ``named_parameters``
        name), as PyTorch."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        param = module._parameters.get(name)
        if param is None:
            raise AttributeError(f"get_parameter: {type(module).__name__} has no parameter {name!r} ({target!r})")
        return param

    def name_parameters(self, prefix: str = "") -> Module:
        """Set each parameter's ``.name`` to its dotted name (the renderer labels nodes with it)."""
        for name, param in self.named_parameters(prefix):
            param.name = name
        return self

    # ---- state ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """``{dotted name: copy of the parameter's array}``, as PyTorch's (converted to numpy)."""
        return {name: param.data.copy() for name, param in self.named_parameters()}

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy values into the existing parameters (their dtype kept). Returns (missing, unexpected).

        With ``strict``, missing or unexpected keys raise, listing them; a shape mismatch always raises.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict for {type(self).__name__}: expected a mapping of parameter names "
                f"to arrays (model.state_dict() or mg.load(path)), got {type(state_dict).__name__}"
            )
        own = dict(self.named_parameters())
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict for {type(self).__name__}: missing keys {missing}, unexpected keys {unexpected}"
            )
        for name, param in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            value = value.data if isinstance(value, Tensor) else np.asarray(value)
            if value.dtype.kind not in "biuf":
                raise TypeError(
                    f"load_state_dict for {type(self).__name__}: '{name}' is not a numeric array "
                    f"(got {type(state_dict[name]).__name__} of dtype {value.dtype})"
                )
            if value.shape != param.shape:
                raise ValueError(
                    f"load_state_dict for {type(self).__name__}: '{name}' has shape "
                    f"{value.shape} in the state dict but {param.shape} in the model"
                )
            param.copy_(value)
        return missing, unexpected

    def zero_grad(self) -> None:
        """Clear every parameter's gradient (set to None, as PyTorch's default)."""
        for param in self.parameters():
            param.grad = None

    def train(self, mode: bool = True) -> Module:
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def to(self, dtype: Any) -> Module:
        """Convert every parameter to ``dtype`` in place (gradients dropped); returns self."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to: parameters must stay floating point, got dtype {dtype}")
        for param in self.parameters():
            if param.dtype != dtype:
                param.data = param.data.astype(dtype)
                param.grad = None
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.parameters()))

    # ---- repr -------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        if len(lines) == 1:
            return lines[0] + ")"
        return "\n".join(lines) + "\n)"


class ModuleList(Module):
    """A list of modules registered as ``0``, ``1``, ... (PyTorch's ``ModuleList``)."""

    def __init__(self, modules: Any = ()) -> None:
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.append: expected a Module, got {type(module).__name__}")
        index = str(len(self._modules))
        self._modules[index] = module
        module.name_parameters(prefix=index)
        return self

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class Sequential(ModuleList):
    """Modules applied in order: ``Sequential(a, b)`` or ``Sequential([a, b])``."""

    def __init__(self, *modules: Any) -> None:
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        super().__init__(modules)

    def forward(self, x: Any) -> Any:
        for module in self:
            x = module(x)
        return x
