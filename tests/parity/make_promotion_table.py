"""Write tests/data/promotion_table.json: the dtype PyTorch gives each op on each pair of dtypes.

    python tests/parity/make_promotion_table.py      (needs torch; the table is committed)

Rows are ``[op, left operand, right operand, result]``: an operand is ``"<dtype>"`` (a 1-d tensor),
``"<dtype> 0-d"`` (a 0-d tensor) or ``"bool"``/``"int"``/``"float"`` preceded by ``py`` (a Python
scalar: ``"py int"``); unary rows have ``""`` as the right operand. ``result`` is a numpy dtype
name, or ``"error"`` where PyTorch refuses the op. tests/test_promotion.py replays every row on
minigrad without torch.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

DTYPES = {
    "bool": torch.bool,
    "uint8": torch.uint8,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "float16": torch.float16,
    "float32": torch.float32,
    "float64": torch.float64,
}
SCALARS = {"py bool": True, "py int": 2, "py float": 2.5}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "eq": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
    "maximum": lambda a, b: torch.maximum(a, b),
    "minimum": lambda a, b: torch.minimum(a, b),
    "where": lambda a, b: torch.where(torch.tensor([True, False]), a, b),
}
UNARY = {
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "neg": torch.neg,
    "abs": torch.abs,
    "relu": torch.relu,
    "sum": torch.sum,
    "mean": torch.mean,
    "max": torch.amax,
    "min": torch.amin,
    "cumsum": lambda x: torch.cumsum(x, 0),
    "logsumexp": lambda x: torch.logsumexp(x, 0),
    "var": torch.var,
    "clip": lambda x: torch.clamp(x, 0, 1),
    "clip float": lambda x: torch.clamp(x, 0.5),
    "argmax": torch.argmax,
    "flip": lambda x: torch.flip(x, (0,)),
    "softplus": torch.nn.functional.softplus,
    "gelu": torch.nn.functional.gelu,
}


def operand(spec: str) -> object:
    if spec in SCALARS:
        return SCALARS[spec]
    name, _, zero_d = spec.partition(" ")
    values = [True, False] if name == "bool" else [1, 2]
    t = torch.tensor(values, dtype=DTYPES[name])
    return t[1] if zero_d else t


def result(fn, *args) -> str:
    try:
        out = fn(*args)
    except (RuntimeError, TypeError):
        return "error"
    return str(out.dtype).replace("torch.", "")


def main() -> None:
    rows = []
    tensors = list(DTYPES)
    for op, fn in BINARY.items():
        for left in tensors:
            for right in tensors + [f"{d} 0-d" for d in tensors] + list(SCALARS):
                if op in ("maximum", "minimum") and right in SCALARS:
                    continue  # torch.maximum takes two tensors
                rows.append([op, left, right, result(fn, operand(left), operand(right))])
            if op not in ("maximum", "minimum", "where"):
                for scalar in SCALARS:  # reflected: 2.5 - t
                    rows.append([op, scalar, left, result(fn, operand(scalar), operand(left))])
    for op, fn in UNARY.items():
        for dtype in tensors:
            rows.append([op, dtype, "", result(fn, operand(dtype))])
    path = Path(__file__).resolve().parents[1] / "data" / "promotion_table.json"
    lines = ",\n".join(json.dumps(row) for row in rows)  # one row a line: diffs stay readable
    path.write_text(f'{{"torch": "{torch.__version__}",\n"rows": [\n{lines}\n]}}\n')
    print(f"wrote {len(rows)} rows to {path}")


if __name__ == "__main__":
    main()
