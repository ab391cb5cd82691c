"""Names the renderer reads: scope paths, index attributes, and the names users give tensors.

* A scope path (``t.scope``, recorded by ``mg.scope``) is where a tensor is drawn. ``nn``'s
  recurrent layers open ``<layer>/l<k>/<fwd|bwd>/t<step>``: the part ``t<step>`` makes a
  timestep cluster, the parts before it the chain (layer and direction) it belongs to.
  A hand-written loop that opens the same scopes is drawn the same way.
* ``getitem``'s ``attrs["index"]`` becomes the text under the op (``[3]``, ``[:, 0:8]``).
* ``params=``, ``inputs=``, ``targets=`` name tensors for their labels.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..tensor import Tensor
from .walk import flatten

TIMESTEP = re.compile(r"t(\d+)$")  # a scope part naming a timestep: "t3"
BACKWARD_DIRECTIONS = ("bwd", "reverse", "backward")  # a chain whose last scope part is one of these


@functools.lru_cache(maxsize=65536)
def split_scope(scope: str) -> tuple[tuple[str, ...], tuple[str, ...] | None, int | None]:
    """``"lstm/l0/fwd/t3/gates"`` -> cluster path ``(lstm, l0, fwd, t3)``, chain ``(lstm, l0, fwd)``, 3.

    The innermost ``t<k>`` part is the timestep; a scope without one is its own cluster path,
    with no chain and no timestep."""
    if not scope:
        return (), None, None
    parts = tuple(scope.split("/"))
    for k in range(len(parts) - 1, -1, -1):
        m = TIMESTEP.fullmatch(parts[k])
        if m:
            return parts[: k + 1], parts[:k], int(m.group(1))
    return parts, None, None


def direction_of(chain: tuple[str, ...]) -> str:
    """``"bwd"`` for a chain in a backward-direction scope (``.../bwd``), else ``"fwd"``."""
    return "bwd" if chain and chain[-1] in BACKWARD_DIRECTIONS else "fwd"


def format_index(index: Any) -> str:
    """``getitem``'s index as Python writes it: ``[3]``, ``[:, 0:8]``, ``[<int64 array (2,)>]``."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, slice):
            text = ("" if p.start is None else str(p.start)) + ":" + ("" if p.stop is None else str(p.stop))
            out.append(text + ("" if p.step is None else f":{p.step}"))
        elif p is Ellipsis:
            out.append("...")
        elif p is None:
            out.append("None")
        elif isinstance(p, np.ndarray):
            out.append(f"<{p.dtype} array {p.shape}>")
        else:
            out.append(str(p))
    return "[" + ", ".join(out) + "]"


def index_pattern(index: Any) -> tuple:
    """What an index looks like with its numbers left out (``x[3]`` and ``x[4]`` match): how a
    step's ops are matched with the same ops of another step."""
    parts = index if isinstance(index, tuple) else (index,)
    return tuple(
        ("slice", p.start is None, p.stop is None, p.step is None)
        if isinstance(p, slice)
        else "array"
        if isinstance(p, np.ndarray)
        else "int"
        if isinstance(p, (int, np.integer))
        else type(p).__name__
        for p in parts
    )


def leading_index(index: Any) -> int | None:
    """The first position of a ``getitem`` index (``3`` for ``x[3]`` or ``x[3, :]``), if it is an int."""
    first = index[0] if isinstance(index, tuple) and index else index
    return int(first) if isinstance(first, (int, np.integer)) and not isinstance(first, bool) else None


_DTYPE_NAMES: dict[np.dtype, str] = {}


def dtype_name(dtype: np.dtype) -> str:
    """``str(dtype)``, remembered (called once per drawn tensor)."""
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype)
    return name


def param_names(params: Any) -> dict[int, str]:
    """``params=`` (a Module or ``{name: tensor}``) as ``id(tensor) -> name``."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        items: Iterable = params.named_parameters()
    elif isinstance(params, Mapping):
        items = params.items()
    else:
        raise TypeError(f"draw_graph: params must be a Module or a dict of name -> Tensor, got {type(params).__name__}")
    names = {}
    for name, p in items:
        if not isinstance(p, Tensor):
            raise TypeError(f"draw_graph: params[{name!r}] must be a Tensor, got {type(p).__name__}")
        names[id(p)] = str(name)
    return names


def named_tensors(obj: Any, default: str, what: str) -> dict[int, str]:
    """``inputs=`` / ``targets=`` (tensors, or ``{name: tensor}``) as ``id(tensor) -> name``."""
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return {id(t): str(name) for name, t in obj.items()}
    return {id(t): t.name or default for t in flatten(obj, what)}


def fmt(x: float) -> str:
    """A gradient number on an edge label: ``1.2e-03``, or ``0``."""
    return f"{x:.1e}" if x else "0"
