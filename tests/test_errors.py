"""Bad input gets an error naming the op, the shapes/dtypes it got and what it needed."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


def t(shape, requires_grad=True):
    return mg.tensor(np.ones(shape), requires_grad=requires_grad)


def test_matmul_not_aligned():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned: 3 != 4"):
        t((2, 3)) @ t((4, 5))


def test_matmul_needs_1d_operands():
    with pytest.raises(ValueError, match="matmul: needs at least 1-d"):
        t(()) @ t((2, 2))


def test_addmm_not_aligned_names_op_and_both_matrices():
    with pytest.raises(
        ValueError, match=r"addmm: mat1 of shape \(2, 3\) and mat2 of shape \(4, 5\) are not aligned: 3 != 4"
    ):
        mg.addmm(t((5,)), t((2, 3)), t((4, 5)))


def test_addmm_input_that_does_not_broadcast_names_the_product_shape():
    with pytest.raises(
        ValueError, match=r"addmm: input of shape \(3,\) cannot be broadcast to \(2, 5\), the shape of mat1 @ mat2"
    ):
        t((3,)).addmm(t((2, 4)), t((4, 5)))


def test_addmm_needs_1d_matrices():
    with pytest.raises(ValueError, match=r"addmm: mat1 and mat2 must be at least 1-d, got shapes \(\) and \(2, 2\)"):
        mg.addmm(t((2,)), t(()), t((2, 2)))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_broadcast_failure_names_op_and_shapes(op):
    a, b = t((2, 3)), t((4,))
    fn = {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b, "div": lambda: a / b}[op]
    with pytest.raises(ValueError, match=rf"{op}: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        fn()


def test_reshape_wrong_size():
    with pytest.raises(
        ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\) \(size 6\) into shape \(4,\)"
    ):
        t((2, 3)).reshape(4)


@pytest.mark.parametrize("method", ["sum", "mean", "max", "softmax", "log_softmax"])
def test_axis_out_of_range(method):
    with pytest.raises(ValueError, match=rf"{method}: axis 2 is out of range for a tensor of shape \(2, 3\)"):
        getattr(t((2, 3)), method)(axis=2)


def test_getitem_out_of_range_and_float_index():
    with pytest.raises(IndexError, match=r"getitem: index .* shape \(2, 3\)"):
        t((2, 3))[5]
    with pytest.raises(TypeError, match="getitem: index arrays must hold integers"):
        t((2, 3))[np.array([0.5])]


def test_transpose_bad_axes():
    with pytest.raises(ValueError, match=r"transpose: axes .* shape \(2, 3\)"):
        t((2, 3)).transpose(0, 5)
    with pytest.raises(ValueError, match=r"transpose: axes \(0, 0, 1\) do not fit a tensor of shape \(2, 3\)"):
        t((2, 3)).permute(0, 0, 1)


def test_concat_and_stack_shape_mismatch():
    with pytest.raises(ValueError, match=r"concat: tensors of shapes \(2, 3\), \(2, 4\) cannot be joined along axis 0"):
        mg.concat([t((2, 3)), t((2, 4))], axis=0)
    with pytest.raises(ValueError, match=r"stack: tensors of shapes \(2, 3\), \(3, 2\) cannot be stacked"):
        mg.stack([t((2, 3)), t((3, 2))])
    with pytest.raises(ValueError, match="concat: expects a non-empty list"):
        mg.concat([])


def test_split_bad_sections():
    with pytest.raises(ValueError, match=r"split: sections \[1, 1\] must .* add up to 3"):
        mg.split(t((3, 2)), [1, 1])
    with pytest.raises(ValueError, match="split: split_size must be positive"):
        mg.split(t((3, 2)), 0)


def test_where_needs_boolean_condition_and_broadcastable_shapes():
    with pytest.raises(TypeError, match="where: condition must be boolean, got dtype float"):
        mg.where(np.ones(2), t(2), t(2))
    with pytest.raises(ValueError, match=r"where: shapes \(3,\) and \(2,\) and \(2,\) cannot be broadcast"):
        mg.where(np.ones(3, bool), t(2), t(2))


def test_power_with_unbroadcastable_exponent():
    with pytest.raises(ValueError, match=r"power: shapes \(2,\) and \(3,\) cannot be broadcast"):
        t(2) ** t(3)


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients, got dtype int64"):
        mg.tensor(np.arange(3), requires_grad=True)


def test_backward_errors():
    with pytest.raises(
        mg.GradientError, match=r"backward: grad can be implied only for a scalar output, got shape \(2,\)"
    ):
        (t(2) * 2.0).backward()
    with pytest.raises(mg.GradientError, match="does not require grad"):
        t(2, requires_grad=False).sum().backward()
    with pytest.raises(mg.GradientError, match=r"grad has shape \(3,\), expected the output's shape \(2,\)"):
        (t(2) * 2.0).backward(np.ones(3))


def test_item_and_bool_of_non_scalar():
    with pytest.raises(ValueError, match=r"item: only a one-element tensor .* shape \(2,\)"):
        t(2).item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t(2))


def test_retain_grad_and_hook_need_grad():
    with pytest.raises(RuntimeError, match="retain_grad: this tensor does not require grad"):
        t(2, requires_grad=False).retain_grad()
    with pytest.raises(RuntimeError, match="register_hook"):
        t(2, requires_grad=False).register_hook(print)


def test_copy_shape_mismatch():
    with pytest.raises(ValueError, match=r"copy_: values of shape \(3,\) do not fit a tensor of shape \(2,\)"):
        t(2).copy_(np.ones(3))


def test_scope_name_must_be_a_string():
    with pytest.raises(ValueError, match="scope: name must be a non-empty string"):
        with mg.scope(""):
            pass


def test_hook_returning_the_wrong_shape():
    x = t(3)
    y = x * 2.0
    y.register_hook(lambda g: np.ones(4))
    with pytest.raises(mg.GradientError, match=r"register_hook: .* shape \(4,\) for a tensor of shape \(3,\)"):
        y.sum().backward()


def test_tensor_rejects_non_numeric_and_ragged_data():
    with pytest.raises(TypeError, match="tensor: data must be numeric or boolean, got dtype <U3"):
        mg.tensor("abc")
    with pytest.raises(ValueError, match="tensor: data must be a number, a nested list of equal-length rows"):
        mg.tensor([[1.0, 2.0], [3.0]])
