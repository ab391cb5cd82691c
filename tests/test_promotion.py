"""PyTorch's type promotion, row by row against a table generated from torch and committed.

tests/data/promotion_table.json comes from tests/parity/make_promotion_table.py (torch 2.x):
for every pair of supported dtypes, 0-d tensors and Python scalars, the dtype each binary op
returns, and for every dtype the dtype of the unary ops; "error" where PyTorch refuses.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import dtypes

TABLE = json.loads((Path(__file__).parent / "data" / "promotion_table.json").read_text())["rows"]
SCALARS = {"py bool": True, "py int": 2, "py float": 2.5}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "eq": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
    "maximum": mg.maximum,
    "minimum": mg.minimum,
    "where": lambda a, b: mg.where(np.array([True, False]), a, b),
}
UNARY = {
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "sqrt": lambda x: x.sqrt(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "neg": lambda x: -x,
    "abs": lambda x: x.abs(),
    "relu": lambda x: x.relu(),
    "sum": lambda x: x.sum(),
    "mean": lambda x: x.mean(),
    "max": lambda x: x.max(),
    "min": lambda x: x.min(),
    "cumsum": lambda x: x.cumsum(0),
    "logsumexp": lambda x: x.logsumexp(0),
    "var": lambda x: x.var(),
    "clip": lambda x: x.clip(0, 1),
    "clip float": lambda x: x.clip(0.5),
    "argmax": lambda x: x.argmax(),
    "flip": lambda x: x.flip(0),
    "softplus": lambda x: mg.nn.functional.softplus(x),
    "gelu": lambda x: mg.nn.functional.gelu(x),
}


def operand(spec: str):
    if spec in SCALARS:
        return SCALARS[spec]
    name, _, zero_d = spec.partition(" ")
    values = np.array([True, False] if name == "bool" else [1, 2], dtype=name)
    return mg.tensor(values[1] if zero_d else values)


def outcome(fn, *args) -> str:
    try:
        with np.errstate(all="ignore"):  # 1/0 and log(0) on the table's values: only dtypes matter
            out = fn(*args)
    except (TypeError, ValueError):
        return "error"
    return str(out.dtype)


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_ops_promote_like_pytorch(op):
    rows = [row for row in TABLE if row[0] == op]
    assert len(rows) >= 81
    wrong = [
        (left, right, expected, got)
        for _, left, right, expected in rows
        if (got := outcome(BINARY[op], operand(left), operand(right))) != expected
    ]
    assert not wrong, (
        f"{op}: {len(wrong)} of {len(rows)} differ from PyTorch, e.g. (left, right, torch, ours) {wrong[:5]}"
    )


@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_ops_on_every_dtype_like_pytorch(op):
    rows = [row for row in TABLE if row[0] == op]
    assert len(rows) == len(dtypes.SUPPORTED)
    wrong = [
        (dtype, expected, got)
        for _, dtype, _, expected in rows
        if (got := outcome(UNARY[op], operand(dtype))) != expected
    ]
    assert not wrong, f"{op}: differs from PyTorch for (dtype, torch, ours) {wrong}"


def test_table_covers_every_op_we_replay():
    assert {row[0] for row in TABLE} == set(BINARY) | set(UNARY)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (np.float32, np.float64, np.float64),
        (np.int64, np.float16, np.float16),
        (np.uint8, np.int8, np.int16),
        (np.bool_, np.int32, np.int32),
        (np.bool_, np.bool_, np.bool_),
        (np.int32, np.int64, np.int64),
    ],
)
def test_promote_types(a, b, expected):
    assert mg.promote_types(a, b) == np.dtype(expected)
    assert mg.promote_types(b, a) == np.dtype(expected)


def test_result_type_ranks_tensors_then_zero_d_then_scalars():
    f32 = mg.tensor(np.ones(2, np.float32))
    i32 = mg.tensor(np.ones(2, np.int32))
    assert mg.result_type(f32, 2.5) == np.float32
    assert mg.result_type(f32, mg.tensor(np.float64(1))) == np.float32  # a 0-d tensor does not widen
    assert mg.result_type(i32, mg.tensor(np.int64(1))) == np.int32
    assert mg.result_type(i32, mg.tensor(np.float64(1))) == np.float64  # but it lifts the category
    assert mg.result_type(i32, 2.5) == np.float32  # the default float dtype
    assert mg.result_type(mg.tensor(np.float64(1)), 2) == np.float64
    assert mg.result_type(i32, np.float64(2.0)) == np.float32  # numpy scalars count as scalars


def test_gradients_flow_through_promotion_and_come_back_in_each_input_dtype():
    a = mg.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    b = mg.tensor(np.array([3.0, 4.0], np.float64), requires_grad=True)
    out = a * b
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])
    np.testing.assert_array_equal(b.grad, [1.0, 2.0])


def test_integer_division_gives_float32_like_pytorch():
    i = mg.tensor(np.array([1, 2], np.int64))
    out = i / mg.tensor(np.array([2, 2], np.int64))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, [0.5, 1.0])
    assert (mg.tensor(np.int64(2)).exp()).dtype == np.float32
    assert (mg.tensor(np.int64(1)) + 0.5).dtype == np.float32


def test_result_type_refuses_non_numbers():
    with pytest.raises(TypeError, match="result_type"):
        mg.result_type(mg.tensor([1.0]), "a")
    with pytest.raises(TypeError, match="result_type: needs at least one operand"):
        mg.result_type()
