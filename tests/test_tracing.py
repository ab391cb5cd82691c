"""The tracer: records in execution order, with op names, shapes, dtypes and scope paths."""

from __future__ import annotations

import numpy as np

import minigrad as mg


def test_trace_records_every_op_in_order():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    w = mg.tensor(np.ones((3, 4)))
    with mg.trace() as tape:
        y = (x @ w).tanh()
        z = y.sum()
    assert [r.op for r in tape.records] == ["matmul", "tanh", "sum"]
    assert len(tape.records) == 3 == len(tape)
    first = tape.records[0]
    assert first.inputs[0] is x and first.inputs[1] is w and first.output is tape.records[1].inputs[0]
    assert first.input_shapes == [(2, 3), (3, 4)] and first.output_shape == (2, 4)
    assert first.dtype == np.float64
    assert tape.records[-1].output is z


def test_nothing_recorded_outside_a_trace():
    x = mg.tensor([1.0, 2.0])
    with mg.trace() as tape:
        pass
    _ = x * 2.0
    assert tape.records == []


def test_scopes_nest_and_are_stored_on_records_and_nodes():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x
    with mg.trace() as tape, mg.scope("lstm"), mg.scope("l0"), mg.scope("fwd"):
        for step in range(3):
            with mg.scope(f"t{step}"):
                h = (h * 2.0).tanh()
        out = h.sum()
    scopes = [r.scope for r in tape.records]
    assert scopes == ["lstm/l0/fwd/t0"] * 2 + ["lstm/l0/fwd/t1"] * 2 + ["lstm/l0/fwd/t2"] * 2 + ["lstm/l0/fwd"]
    assert tape.records[2].scope_parts == ["lstm", "l0", "fwd", "t1"]
    assert h.scope == "lstm/l0/fwd/t2" and out.scope == "lstm/l0/fwd"
    assert len(tape.in_scope("lstm/l0/fwd/t1")) == 2
    assert mg.tracing.scope is mg.scope and (x * 1.0).scope == ""


def test_trace_records_under_no_grad_but_builds_no_graph():
    x = mg.tensor([1.0], requires_grad=True)
    with mg.trace() as tape, mg.no_grad():
        y = x.exp()
    assert tape.ops() == ["exp"] and not y.requires_grad


def test_nested_traces_both_see_inner_ops():
    x = mg.tensor([1.0])
    with mg.trace() as outer:
        _ = x + 1.0
        with mg.trace() as inner:
            _ = x * 2.0
    assert outer.ops() == ["add", "mul"] and inner.ops() == ["mul"]


def test_record_kwargs_keep_static_arguments():
    x = mg.tensor(np.ones((2, 3)))
    with mg.trace() as tape:
        x.sum(axis=1, keepdims=True)
    assert tape.records[0].kwargs == {"axis": 1, "keepdims": True}
