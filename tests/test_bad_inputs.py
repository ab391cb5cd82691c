"""A catalogue of bad inputs: each gets the exception a user would expect and a message that names
what is wrong (the argument, the op, the file or the flag), never a numpy internal or a silent result.

Each row reads: what is fed in, the exception, a pattern the message must contain. Where PyTorch
accepts an input (an empty batch, a reduction of a 0-d tensor), the second table checks that we
accept it too, with PyTorch's result.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional

F32, F64 = np.float32, np.float64


def leaf(*shape: int, dtype: Any = F32) -> mg.Tensor:
    return mg.tensor(np.arange(1, 1 + int(np.prod(shape)), dtype=dtype).reshape(shape) / 10, requires_grad=True)


def backward_with_hook(value: Any) -> None:
    x = leaf(2)
    y = x * 2
    y.register_hook(lambda g: value)
    y.sum().backward()


def assign_grad(param: mg.Tensor, value: Any) -> None:
    param.grad = value


def optimizer_step_with_grad(opt_cls: Callable, grad: np.ndarray) -> None:
    p = nn.Parameter(np.zeros((2, 3), dtype=F32))
    opt = opt_cls([p], lr=0.1)
    p.grad = grad
    opt.step()


def linear_f32() -> nn.Linear:
    return nn.Linear(3, 2)


def backward_twice() -> None:
    x = leaf(3)
    y = (x.exp() * 2).sum()
    y.backward()
    y.backward()


def modify_then_backward() -> None:
    x = leaf(3)
    h = x * 1.0
    y = (h * h).sum()
    h.data[...] = 0
    h.add_(1.0) if hasattr(h, "add_") else None
    y.backward()


# --------------------------------------------------------------------------------------
# Errors: (id, what is fed in, exception, the message must match)
# --------------------------------------------------------------------------------------

CASES: list[tuple[str, Callable[[], Any], type[BaseException], str]] = [
    # ---- tensors -----------------------------------------------------------------------
    ("tensor of a str", lambda: mg.tensor("abc"), TypeError, r"tensor: data must be numeric"),
    ("tensor of None", lambda: mg.tensor(None), TypeError, r"tensor: data must be numeric"),
    ("tensor of a dict", lambda: mg.tensor({"a": 1}), TypeError, r"tensor: data must be numeric"),
    ("tensor of ragged rows", lambda: mg.tensor([[1.0], [1.0, 2.0]]), ValueError, r"tensor: .*equal-length rows"),
    ("tensor of objects", lambda: mg.tensor(np.array([object()])), TypeError, r"tensor: .*dtype object"),
    (
        "requires_grad on ints",
        lambda: mg.tensor([1, 2], dtype=np.int64, requires_grad=True),
        TypeError,
        r"requires_grad: only floating-point",
    ),
    ("item of a vector", lambda: mg.tensor([1.0, 2.0]).item(), ValueError, r"item"),
    ("len of a 0-d tensor", lambda: len(mg.tensor(1.0)), TypeError, r"len\(\) of a 0-d tensor"),
    (
        "grad of shape (3,) on (2, 3)",
        lambda: assign_grad(nn.Parameter(np.zeros((2, 3), F32)), np.zeros(3, F32)),
        RuntimeError,
        r"grad: assigned a gradient of shape \(3,\) to a tensor of shape \(2, 3\)",
    ),
    (
        "grad float64 on float32",
        lambda: assign_grad(nn.Parameter(np.zeros((2, 3), F32)), np.zeros((2, 3))),
        TypeError,
        r"grad: assigned a gradient of dtype float64 to a tensor of dtype float32",
    ),
    (
        "grad as a list",
        lambda: assign_grad(nn.Parameter(np.zeros(2, F32)), [0.0, 0.0]),
        TypeError,
        r"grad: expected an np.ndarray \(or a Tensor\) or None, got list",
    ),
    (
        "grad as a str",
        lambda: assign_grad(nn.Parameter(np.zeros(2, F32)), "zeros"),
        TypeError,
        r"grad: expected an np.ndarray .* got str",
    ),
    (
        "grad of shape (2, 3) on (3,)",
        lambda: assign_grad(nn.Parameter(np.zeros(3, F32)), np.zeros((2, 3), F32)),
        ValueError,
        r"grad: .*shape \(2, 3\) to a tensor of shape \(3,\)",
    ),
    (
        "retain_grad without grad",
        lambda: mg.tensor([1.0]).retain_grad(),
        RuntimeError,
        r"retain_grad: this tensor does not require grad",
    ),
    (
        "register_hook without grad",
        lambda: mg.tensor([1.0]).register_hook(print),
        RuntimeError,
        r"register_hook: this tensor does not require grad",
    ),
    # ---- ops ---------------------------------------------------------------------------
    ("tensor + str", lambda: mg.tensor([1.0]) + "x", TypeError, r"add: unsupported operand of type str"),
    ("str + tensor", lambda: "x" + mg.tensor([1.0]), TypeError, r"add: unsupported operand of type str"),
    ("tensor * None", lambda: mg.tensor([1.0]) * None, TypeError, r"mul: unsupported operand of type NoneType"),
    ("tensor - dict", lambda: mg.tensor([1.0]) - {}, TypeError, r"sub: unsupported operand of type dict"),
    ("tensor / object", lambda: mg.tensor([1.0]) / object(), TypeError, r"div: unsupported operand of type object"),
    (
        "broadcast (2, 3) + (4,)",
        lambda: leaf(2, 3) + leaf(4),
        ValueError,
        r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast",
    ),
    (
        "broadcast (2,) * (3,)",
        lambda: leaf(2) * leaf(3),
        ValueError,
        r"mul: shapes \(2,\) and \(3,\) cannot be broadcast",
    ),
    (
        "matmul (2, 3) @ (2, 3)",
        lambda: leaf(2, 3) @ leaf(2, 3),
        ValueError,
        r"matmul: shapes \(2, 3\) and \(2, 3\) are not aligned",
    ),
    ("matmul of a 0-d", lambda: leaf(2, 3) @ mg.tensor(2.0), ValueError, r"matmul: needs at least 1-d operands"),
    (
        "addmm (4,) + (2, 3) @ (2, 3)",
        lambda: mg.addmm(leaf(4), leaf(2, 3), leaf(2, 3)),
        ValueError,
        r"addmm: mat1 of shape \(2, 3\) and mat2 of shape \(2, 3\) are not aligned: 3 != 2",
    ),
    (
        "addmm with an input of another width",
        lambda: mg.addmm(leaf(3), leaf(2, 3), leaf(3, 4)),
        ValueError,
        r"addmm: input of shape \(3,\) cannot be broadcast to \(2, 4\)",
    ),
    ("addmm with a str", lambda: mg.addmm("b", leaf(2, 3), leaf(3, 4)), TypeError, r"addmm: unsupported operand"),
    (
        "max of an empty tensor",
        lambda: mg.tensor(np.zeros(0, F32)).max(),
        ValueError,
        r"max: cannot reduce over an empty axis of a tensor of shape \(0,\)",
    ),
    (
        "max over an empty axis",
        lambda: mg.tensor(np.zeros((2, 0), F32)).max(axis=1),
        ValueError,
        r"max: cannot reduce over an empty axis of a tensor of shape \(2, 0\)",
    ),
    ("sum over axis (0, 0)", lambda: leaf(2, 3).sum(axis=(0, 0)), ValueError, r"sum: duplicate axis in \(0, 0\)"),
    ("mean over axis (1, -1)", lambda: leaf(2, 3).mean(axis=(1, -1)), ValueError, r"mean: duplicate axis"),
    (
        "sum over axis 2 of a matrix",
        lambda: leaf(2, 3).sum(axis=2),
        ValueError,
        r"sum: axis 2 is out of range for a tensor of shape \(2, 3\)",
    ),
    ("max over axis -3", lambda: leaf(2, 3).max(axis=-3), ValueError, r"max: axis -3 is out of range"),
    ("softmax over axis 5", lambda: leaf(2, 3).softmax(axis=5), ValueError, r"softmax: axis 5 is out of range"),
    (
        "log_softmax over axis 2",
        lambda: leaf(3).log_softmax(axis=2),
        ValueError,
        r"log_softmax: axis 2 is out of range",
    ),
    (
        "reshape (2, 3) to (4,)",
        lambda: leaf(2, 3).reshape(4),
        ValueError,
        r"reshape: cannot reshape a tensor of shape \(2, 3\)",
    ),
    ("transpose with a wrong axis", lambda: leaf(2, 3).transpose(0, 2), ValueError, r"transpose: axes"),
    ("index out of range", lambda: leaf(3)[5], IndexError, r"getitem|index"),
    ("index with a float", lambda: leaf(3)[1.5], IndexError, r"getitem|index"),
    ("concat of mismatched shapes", lambda: mg.concat([leaf(2, 3), leaf(2, 4)], axis=0), ValueError, r"concat"),
    ("concat of nothing", lambda: mg.concat([], axis=0), ValueError, r"concat"),
    ("stack of mismatched shapes", lambda: mg.stack([leaf(2), leaf(3)], axis=0), ValueError, r"stack"),
    ("split on a bad axis", lambda: mg.split(leaf(4), 2, axis=3), ValueError, r"split: axis 3 is out of range"),
    (
        "where with mismatched shapes",
        lambda: mg.where(np.array([True, False]), leaf(3), leaf(3)),
        ValueError,
        r"where: shapes",
    ),
    ("gather index out of range", lambda: mg.gather(leaf(2, 3), 1, np.array([[5], [0]])), IndexError, r"gather"),
    # ---- backward and hooks --------------------------------------------------------------
    (
        "backward of a vector without grad",
        lambda: (leaf(3) * 2).backward(),
        RuntimeError,
        r"backward: grad can be implied only for a scalar output",
    ),
    (
        "backward with grad of strings",
        lambda: (leaf(2) * 2).backward(grad=np.array(["a", "b"])),
        TypeError,
        r"backward: grad must be numeric .* got a ndarray of dtype <U1",
    ),
    (
        "backward with a list of strings",
        lambda: (leaf(2) * 2).backward(grad=["a", "b"]),
        TypeError,
        r"backward: grad must be numeric",
    ),
    (
        "backward with grad of the wrong shape",
        lambda: (leaf(2) * 2).backward(grad=np.ones(3, F32)),
        RuntimeError,
        r"backward: grad has shape \(3,\), expected the output's shape \(2,\)",
    ),
    (
        "backward with grad as a dict",
        lambda: (leaf(2) * 2).backward(grad={"g": 1}),
        TypeError,
        r"backward: grad must be numeric .* got a dict",
    ),
    (
        "backward of a constant",
        lambda: mg.tensor([1.0]).sum().backward(),
        RuntimeError,
        r"backward: this tensor does not require grad",
    ),
    (
        "hook returns a str",
        lambda: backward_with_hook("x"),
        TypeError,
        r"register_hook: the value hook '<lambda>' returned must be numeric .* got a str",
    ),
    ("hook returns a dict", lambda: backward_with_hook({}), TypeError, r"register_hook: .* got a dict"),
    (
        "hook returns the wrong shape",
        lambda: backward_with_hook(np.ones(3, F32)),
        RuntimeError,
        r"register_hook: hook '<lambda>' returned a gradient of shape \(3,\)",
    ),
    (
        "gradcheck of float32 inputs",
        lambda: mg.gradcheck(lambda x: x.sum(), [leaf(3)]),
        (TypeError, ValueError),
        r"gradcheck.*float64",
    ),
    # ---- nn ------------------------------------------------------------------------------
    (
        "Linear on float64",
        lambda: linear_f32()(np.ones((2, 3))),
        TypeError,
        r"Linear: input has dtype float64 but the parameters are float32",
    ),
    (
        "GRU on float64",
        lambda: nn.GRU(3, 2)(np.ones((4, 1, 3))),
        TypeError,
        r"GRU: input has dtype float64 but the parameters are float32",
    ),
    (
        "LSTM on float64",
        lambda: nn.LSTM(3, 2)(np.ones((4, 1, 3))),
        TypeError,
        r"LSTM: input has dtype float64 but the parameters are float32",
    ),
    (
        "RNN on float64",
        lambda: nn.RNN(3, 2)(np.ones((4, 1, 3))),
        TypeError,
        r"RNN: input has dtype float64 but the parameters are float32",
    ),
    (
        "GRUCell on float64",
        lambda: nn.GRUCell(3, 2)(np.ones((1, 3))),
        TypeError,
        r"GRUCell: input has dtype float64 but the parameters are float32",
    ),
    (
        "LSTM h0 of float64",
        lambda: nn.LSTM(3, 2)(np.ones((4, 1, 3), F32), (np.zeros((1, 1, 2)), np.zeros((1, 1, 2)))),
        TypeError,
        r"LSTM: .* has dtype float64 but the parameters are float32",
    ),
    ("Linear on a str", lambda: linear_f32()("abc"), TypeError, r"Linear: input must be a Tensor or a numeric array"),
    (
        "Linear on the wrong width",
        lambda: linear_f32()(np.ones((2, 4), F32)),
        ValueError,
        r"Linear: expected input of shape \(\.\.\., 3\), got \(2, 4\)",
    ),
    (
        "LSTM on the wrong input_size",
        lambda: nn.LSTM(3, 4)(np.ones((5, 2, 2), F32)),
        ValueError,
        r"input_size. Expected 3, got 2",
    ),
    (
        "LSTM on 4-d input",
        lambda: nn.LSTM(3, 4)(np.ones((2, 2, 2, 3), F32)),
        ValueError,
        r"LSTM: Expected input to be 2D or 3D, got 4D",
    ),
    (
        "RNN on a sequence of length 0",
        lambda: nn.RNN(3, 4)(np.ones((0, 2, 3), F32)),
        ValueError,
        r"sequence length to be larger than 0",
    ),
    (
        "LSTM state not a pair",
        lambda: nn.LSTM(3, 4)(np.ones((5, 2, 3), F32), np.ones((1, 2, 4), F32)),
        TypeError,
        r"a pair \(h, c\)",
    ),
    (
        "GRU h0 of the wrong batch",
        lambda: nn.GRU(3, 4)(np.ones((5, 2, 3), F32), np.ones((1, 3, 4), F32)),
        ValueError,
        r"GRU: Expected hidden size \(1, 2, 4\), got \(1, 3, 4\)",
    ),
    ("RNN nonlinearity", lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError, r"nonlinearity"),
    ("LSTM hidden_size 0", lambda: nn.LSTM(3, 0), ValueError, r"hidden_size"),
    ("LSTM num_layers 0", lambda: nn.LSTM(3, 4, num_layers=0), ValueError, r"num_layers"),
    ("LSTM dropout 1.5", lambda: nn.LSTM(3, 4, dropout=1.5), ValueError, r"dropout"),
    ("Linear in_features -1", lambda: nn.Linear(-1, 2), ValueError, r"in_features"),
    ("Linear out_features 2.5", lambda: nn.Linear(3, 2.5), (TypeError, ValueError), r"out_features"),
    ("Embedding index out of range", lambda: nn.Embedding(5, 2)(np.array([7])), IndexError, r"Embedding"),
    ("Embedding float indices", lambda: nn.Embedding(5, 2)(np.array([1.5])), TypeError, r"Embedding"),
    (
        "load_state_dict(None)",
        lambda: linear_f32().load_state_dict(None),
        TypeError,
        r"load_state_dict for Linear: expected a mapping of parameter names to arrays.* got NoneType",
    ),
    (
        "load_state_dict of a list",
        lambda: linear_f32().load_state_dict([np.ones(2)]),
        TypeError,
        r"load_state_dict for Linear: expected a mapping",
    ),
    (
        "load_state_dict missing keys",
        lambda: linear_f32().load_state_dict({"weight": np.zeros((2, 3))}),
        KeyError,
        r"load_state_dict for Linear: missing keys \['bias'\]",
    ),
    (
        "load_state_dict wrong shape",
        lambda: linear_f32().load_state_dict({"weight": np.zeros((3, 2)), "bias": np.zeros(2)}),
        ValueError,
        r"load_state_dict for Linear: 'weight' has shape \(3, 2\) in the state dict but \(2, 3\)",
    ),
    (
        "load_state_dict of strings",
        lambda: linear_f32().load_state_dict({"weight": np.full((2, 3), "a"), "bias": np.zeros(2)}),
        TypeError,
        r"load_state_dict for Linear: 'weight' is not a numeric array",
    ),
    (
        "cross_entropy target out of range",
        lambda: functional.cross_entropy(leaf(2, 3), np.array([0, 3])),
        IndexError,
        r"cross_entropy",
    ),
    (
        "cross_entropy float targets of the wrong shape",
        lambda: functional.cross_entropy(leaf(2, 3), np.array([0.5, 0.5])),
        ValueError,
        r"cross_entropy",
    ),
    (
        "cross_entropy reduction",
        lambda: functional.cross_entropy(leaf(2, 3), np.array([0, 1]), reduction="avg"),
        ValueError,
        r"cross_entropy.*reduction",
    ),
    ("mse_loss shapes", lambda: functional.mse_loss(leaf(2, 3), np.zeros((3, 2), F32)), ValueError, r"mse_loss"),
    ("dropout p=2", lambda: functional.dropout(leaf(3), p=2.0), ValueError, r"dropout.*p"),
    (
        "one_hot of floats",
        lambda: functional.one_hot(np.array([1.5])),
        ValueError,
        r"one_hot: class-index targets must be integers",
    ),
    (
        "clip_grad_norm_ negative",
        lambda: nn.utils.clip_grad_norm_([leaf(2)], -1.0),
        ValueError,
        r"clip_grad_norm_.*max_norm",
    ),
    (
        "clip_grad_value_ negative",
        lambda: nn.utils.clip_grad_value_([leaf(2)], -1.0),
        ValueError,
        r"clip_grad_value_.*clip_value",
    ),
    # ---- optim ---------------------------------------------------------------------------
    ("SGD of no parameters", lambda: mg.optim.SGD([], lr=0.1), ValueError, r"SGD: got an empty parameter list"),
    ("SGD of one tensor", lambda: mg.optim.SGD(leaf(2), lr=0.1), TypeError, r"SGD: params must be an iterable"),
    ("SGD negative lr", lambda: mg.optim.SGD([leaf(2)], lr=-1.0), ValueError, r"SGD.*lr"),
    ("SGD lr as a str", lambda: mg.optim.SGD([leaf(2)], lr="fast"), TypeError, r"SGD: lr must be a number, got str"),
    ("Adam lr None", lambda: mg.optim.Adam([leaf(2)], lr=None), TypeError, r"Adam: lr must be a number, got NoneType"),
    ("Adam betas of one number", lambda: mg.optim.Adam([leaf(2)], betas=0.9), ValueError, r"Adam: betas must be two"),
    (
        "Adagrad eps as a list",
        lambda: mg.optim.Adagrad([leaf(2)], eps=[1e-8]),
        TypeError,
        r"Adagrad: eps must be a number",
    ),
    ("SGD negative momentum", lambda: mg.optim.SGD([leaf(2)], lr=0.1, momentum=-0.5), ValueError, r"SGD.*momentum"),
    ("Adam beta 1.5", lambda: mg.optim.Adam([leaf(2)], betas=(1.5, 0.999)), ValueError, r"Adam.*beta"),
    ("Adam negative eps", lambda: mg.optim.Adam([leaf(2)], eps=-1.0), ValueError, r"Adam.*eps"),
    ("Adagrad negative lr", lambda: mg.optim.Adagrad([leaf(2)], lr=-0.1), ValueError, r"Adagrad.*lr"),
    ("optimizer of a non-tensor", lambda: mg.optim.SGD([np.zeros(2)], lr=0.1), TypeError, r"SGD"),
    (
        "Adam step with a grad set to (3,)",
        lambda: optimizer_step_with_grad(mg.optim.Adam, np.zeros(3, F32)),
        RuntimeError,
        r"grad: assigned a gradient of shape \(3,\) to a tensor of shape \(2, 3\)",
    ),
    (
        "SGD step with a float64 grad",
        lambda: optimizer_step_with_grad(mg.optim.SGD, np.zeros((2, 3))),
        TypeError,
        r"grad: assigned a gradient of dtype float64",
    ),
]


@pytest.mark.parametrize("feed, error, message", [pytest.param(f, e, m, id=i) for i, f, e, m in CASES])
def test_a_bad_input_gets_a_clear_error(feed, error, message):
    with pytest.raises(error, match=message):
        feed()


# --------------------------------------------------------------------------------------
# Files: checkpoints and pictures. Each row builds its bad file under tmp_path first.
# --------------------------------------------------------------------------------------


def zip_with(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".encode("latin1")
    header += b" " * (63 - len(header) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


def graph() -> Any:
    x = leaf(3)
    return mg.viz.draw_graph((x * 2).sum())


FILE_CASES: list[tuple[str, Callable[[Path], Any], type[BaseException], str]] = [
    (
        "save of a list",
        lambda d: mg.save([np.ones(2)], d / "c.npz"),
        TypeError,
        r"save: expected a mapping of names to arrays .*got list",
    ),
    ("save of None", lambda d: mg.save(None, d / "c.npz"), TypeError, r"save: expected a mapping .*got NoneType"),
    (
        "save of an int key",
        lambda d: mg.save({1: np.ones(2)}, d / "c.npz"),
        TypeError,
        r"save: every key must be a str",
    ),
    (
        "save of an object array",
        lambda d: mg.save({"w": np.array([{}])}, d / "c.npz"),
        TypeError,
        r"save: 'w' is not a numeric array",
    ),
    ("save of a str value", lambda d: mg.save({"w": object()}, d / "c.npz"), TypeError, r"save: 'w' is not a numeric"),
    (
        "save into a missing folder",
        lambda d: mg.save({"w": np.ones(1)}, d / "no" / "c.npz"),
        FileNotFoundError,
        r"save: cannot write .*c.npz: the folder .*no does not exist",
    ),
    (
        "save onto a directory",
        lambda d: (d / "c.npz").mkdir() or mg.save({"w": np.ones(1)}, d / "c.npz"),
        IsADirectoryError,
        r"save: .*c.npz is a directory",
    ),
    (
        "load of a missing file",
        lambda d: mg.load(d / "none.npz"),
        FileNotFoundError,
        r"load: no checkpoint at .*none.npz",
    ),
    (
        "load of a directory",
        lambda d: (d / "dir.npz").mkdir() or mg.load(d / "dir.npz"),
        IsADirectoryError,
        r"load: .*dir.npz is a directory",
    ),
    (
        "load of text",
        lambda d: (d / "t.npz").write_text("hello") and mg.load(d / "t.npz"),
        ValueError,
        r"load: .*t.npz is not a valid minigrad checkpoint",
    ),
    (
        "load of an empty file",
        lambda d: (d / "e.npz").write_bytes(b"") or mg.load(d / "e.npz"),
        ValueError,
        r"load: .*e.npz is not a valid minigrad checkpoint",
    ),
    (
        "load of a MIDI file",
        lambda d: (d / "m.mid").write_bytes(b"MThd\x00\x00\x00\x06") and mg.load(d / "m.mid"),
        ValueError,
        r"load: .*m.mid is a MIDI file, not a minigrad checkpoint",
    ),
    (
        "load of one .npy array",
        lambda d: np.save(d / "a.npy", np.ones(2)) or mg.load(d / "a.npy"),
        ValueError,
        r"load: .*a.npy holds a single array, not a state dict",
    ),
    (
        "load of a zip with a text member",
        lambda d: mg.load(zip_with(d / "z.npz", {"notes.txt": b"hi"})),
        ValueError,
        r"member 'notes.txt' is not a .npy array",
    ),
    (
        "load of a header claiming 10^12 elements",
        lambda d: mg.load(zip_with(d / "h.npz", {"w.npy": npy_header((10**12,)) + bytes(64)})),
        ValueError,
        r"member 'w.npy': corrupt checkpoint .*\(1000000000000,\)",
    ),
    (
        "load of a truncated member",
        lambda d: mg.load(zip_with(d / "s.npz", {"w.npy": npy_header((8,)) + bytes(8)})),
        ValueError,
        r"member 'w.npy': corrupt checkpoint",
    ),
    (
        "load of a garbage header",
        lambda d: mg.load(zip_with(d / "g.npz", {"w.npy": b"\x93NUMPY garbage"})),
        ValueError,
        r"member 'w.npy' has no valid .npy header",
    ),
    (
        "load of a pickled member",
        lambda d: np.savez(d / "p.npz", w=np.array([{}], dtype=object)) or mg.load(d / "p.npz"),
        ValueError,
        r"member 'w.npy' holds Python objects .*refused",
    ),
    (
        "viz.save of a non-graph",
        lambda d: mg.viz.save(42, d / "g.svg"),
        TypeError,
        r"save: expected a graphviz graph .* got int",
    ),
    (
        "viz.save without a suffix",
        lambda d: mg.viz.save(graph(), d / "picture"),
        ValueError,
        r"save: cannot tell the format from .*picture",
    ),
    (
        "viz.save with an unknown suffix",
        lambda d: mg.viz.save(graph(), d / "picture.bmp"),
        ValueError,
        r"save: cannot tell the format from .*picture.bmp",
    ),
    (
        "viz.save into a missing folder",
        lambda d: mg.viz.save(graph(), d / "no" / "g.svg"),
        FileNotFoundError,
        r"save: cannot write .*g.svg: the folder .*no does not exist",
    ),
    (
        "viz.save inside a regular file",
        lambda d: (d / "f").write_text("x") and mg.viz.save(graph(), d / "f" / "g.svg"),
        FileNotFoundError,
        r"the folder .*f is not a folder",
    ),
    ("viz.save with dpi 0", lambda d: mg.viz.save(graph(), d / "g.png", dpi=0), ValueError, r"save: dpi must be"),
]


@pytest.mark.parametrize("feed, error, message", [pytest.param(f, e, m, id=i) for i, f, e, m in FILE_CASES])
def test_a_bad_file_gets_a_clear_error(tmp_path, feed, error, message):
    with pytest.raises(error, match=message):
        feed(tmp_path)


RENDERER_CASES: list[tuple[str, Callable[[], Any], type[BaseException], str]] = [
    (
        "draw_graph of None",
        lambda: mg.viz.draw_graph(None),
        TypeError,
        r"draw_graph: expected a Tensor or a list/tuple of Tensors, got NoneType",
    ),
    ("draw_graph of an array", lambda: mg.viz.draw_graph(np.ones(3)), TypeError, r"draw_graph: .*got ndarray"),
    (
        "draw_graph group_by",
        lambda: mg.viz.draw_graph((leaf(2) * 2).sum(), group_by="layer"),
        ValueError,
        r"draw_graph: group_by must be one of",
    ),
    (
        "draw_graph max_timesteps 1",
        lambda: mg.viz.draw_graph((leaf(2) * 2).sum(), max_timesteps=1),
        ValueError,
        r"draw_graph: max_timesteps must be an integer >= 2",
    ),
    (
        "draw_graph params as a str",
        lambda: mg.viz.draw_graph((leaf(2) * 2).sum(), params="model"),
        TypeError,
        r"draw_graph: params must be a Module or a dict",
    ),
]


@pytest.mark.parametrize("feed, error, message", [pytest.param(f, e, m, id=i) for i, f, e, m in RENDERER_CASES])
def test_a_bad_renderer_input_gets_a_clear_error(feed, error, message):
    with pytest.raises(error, match=message):
        feed()


# --------------------------------------------------------------------------------------
# Command lines: (id, module, arguments, the message on stderr). Each must exit with status 2
# before any training, printing no traceback.
# --------------------------------------------------------------------------------------

CLI_CASES: list[tuple[str, str, list[str], str]] = [
    ("char_lm --seed -1", "demos.char_lm", ["--seed", "-1"], r"--seed must be a non-negative integer, got -1"),
    ("char_lm --hidden 0", "demos.char_lm", ["--hidden", "0"], r"--hidden must be >= 1, got 0"),
    ("char_lm --iterations 0", "demos.char_lm", ["--iterations", "0"], r"--iterations must be >= 1"),
    ("char_lm --temperature -1", "demos.char_lm", ["--temperature", "-1"], r"--temperature must be a finite number"),
    ("char_lm --temperature nan", "demos.char_lm", ["--temperature", "nan"], r"--temperature must be a finite"),
    ("char_lm --cell foo", "demos.char_lm", ["--cell", "foo"], r"argument --cell: invalid choice: 'foo'"),
    ("char_lm --hidden abc", "demos.char_lm", ["--hidden", "abc"], r"argument --hidden: invalid int value: 'abc'"),
    (
        "char_lm --out inside a file",
        "demos.char_lm",
        ["--out", "{file}/run"],
        r"--out .*part of that path is a regular file",
    ),
    ("char_lm --out is a file", "demos.char_lm", ["--out", "{file}"], r"--out .*: that is a file"),
    (
        "char_lm --out where the checkpoint is a folder",
        "demos.char_lm",
        ["--out", "{ckpt_dir}"],
        r"--out .*char_lm.npz is a directory",
    ),
    ("music --seed -1", "demos.music", ["--seed", "-1"], r"--seed must be a non-negative integer, got -1"),
    ("music --primer bwv9999", "demos.music", ["--primer", "bwv9999"], r"--primer 'bwv9999': no such chorale"),
    ("music --primer 200:4", "demos.music", ["--primer", "200:4"], r"--primer: .*200:4"),
    ("music --steps 0", "demos.music", ["--steps", "0"], r"--steps must be at least 1, got 0"),
    ("music --bpm 0", "demos.music", ["--bpm", "0"], r"--bpm must be a finite number > 0, got 0"),
    ("music --lr nan", "demos.music", ["--lr", "nan"], r"--lr must be a finite number > 0, got nan"),
    ("music --load of a MIDI file", "demos.music", ["--load", "{midi}"], r"--load: .*is a MIDI file"),
    ("music --load of a missing file", "demos.music", ["--load", "{missing}"], r"--load: load: no checkpoint at"),
    ("music --data missing", "demos.music", ["--data", "{missing}"], r"no token file at"),
    (
        "music --out inside a file",
        "demos.music",
        ["--out", "{file}/run"],
        r"--out .*part of that path is a regular file",
    ),
    ("viz --steps 0", "minigrad.viz", ["--steps", "0"], r"argument --steps: expected a positive integer, got 0"),
    ("viz --steps 10^8", "minigrad.viz", ["--steps", "100000000"], r"argument --steps: expected at most 1000"),
    ("viz --hidden x", "minigrad.viz", ["--hidden", "x"], r"argument --hidden: expected a positive integer, got 'x'"),
    ("viz --cell foo", "minigrad.viz", ["--cell", "foo"], r"argument --cell: invalid choice: 'foo'"),
    (
        "viz --max-timesteps 1",
        "minigrad.viz",
        ["--max-timesteps", "1"],
        r"argument --max-timesteps: expected an integer >= 2",
    ),
]


def fill(arguments: list[str], tmp_path: Path) -> list[str]:
    (tmp_path / "file").write_text("x")
    (tmp_path / "ckpt_dir" / "char_lm.npz").mkdir(parents=True, exist_ok=True)
    (tmp_path / "melody.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0")
    places = {
        "file": tmp_path / "file",
        "ckpt_dir": tmp_path / "ckpt_dir",
        "midi": tmp_path / "melody.mid",
        "missing": tmp_path / "missing.npz",
    }
    return [a.format(**places) for a in arguments]


@pytest.mark.parametrize("module, arguments, message", [pytest.param(m, a, s, id=i) for i, m, a, s in CLI_CASES])
def test_a_bad_flag_stops_before_training_with_a_message_naming_it(tmp_path, capsys, module, arguments, message):
    import importlib
    import re

    main = importlib.import_module(module if module != "minigrad.viz" else "minigrad.viz.__main__").main
    arguments = fill(arguments, tmp_path)
    if module != "minigrad.viz" and "--out" not in arguments:
        arguments += ["--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as stopped:
        code = main(arguments)
        raise SystemExit(code)
    err = capsys.readouterr().err
    assert stopped.value.code == 2, err
    assert re.search(message, err), err
    assert "Traceback" not in err and "train:" not in err


# --------------------------------------------------------------------------------------
# What PyTorch accepts, we accept, with PyTorch's result
# --------------------------------------------------------------------------------------


def test_recurrent_layers_accept_an_empty_batch_with_pytorch_shapes():
    for layer in (nn.RNN(3, 4), nn.GRU(3, 4), nn.LSTM(3, 4, num_layers=2, bidirectional=True)):
        out, state = layer(mg.tensor(np.zeros((5, 0, 3), F32), requires_grad=True))
        h = state[0] if isinstance(state, tuple) else state
        directions = 2 if layer.bidirectional else 1
        assert out.shape == (5, 0, directions * 4)
        assert h.shape == (directions * layer.num_layers, 0, 4)
        out.sum().backward()  # and a backward pass over nothing gives zero gradients
        assert all(p.grad is None or not p.grad.any() for p in layer.parameters())


def test_batch_first_empty_batch():
    out, h = nn.GRU(3, 4, batch_first=True)(np.zeros((0, 5, 3), F32))
    assert out.shape == (0, 5, 4) and h.shape == (1, 0, 4)


def test_cells_accept_an_empty_batch():
    assert nn.GRUCell(3, 4)(np.zeros((0, 3), F32)).shape == (0, 4)
    h, c = nn.LSTMCell(3, 4)(np.zeros((0, 3), F32))
    assert h.shape == c.shape == (0, 4)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_reductions_of_a_0d_tensor_give_the_value(reduce):
    x = mg.tensor(np.float64(2.5), requires_grad=True)
    y = getattr(x, reduce)()
    assert y.shape == () and y.item() == 2.5
    y.backward()
    assert x.grad == 1.0


def test_sum_of_an_empty_tensor_is_zero_and_max_over_a_nonempty_axis_is_empty():
    assert mg.tensor(np.zeros((0, 3), F32)).sum().item() == 0.0
    assert mg.tensor(np.zeros((0, 3), F32)).sum(axis=0).data.tolist() == [0.0, 0.0, 0.0]
    assert mg.tensor(np.zeros((2, 0), F32)).max(axis=0).shape == (0,)


def test_grad_may_be_set_to_an_array_of_the_right_shape_and_dtype_or_none():
    p = nn.Parameter(np.zeros((2, 3), F32))
    p.grad = np.ones((2, 3), F32)
    assert p.grad.sum() == 6
    p.grad = mg.tensor(np.full((2, 3), 2.0, F32))  # a Tensor is stored as its array
    assert isinstance(p.grad, np.ndarray) and p.grad.sum() == 12
    p.grad = None
    assert p.grad is None


def test_layers_take_lists_as_their_own_dtype():
    assert nn.Linear(2, 1)([[1.0, 2.0]]).dtype == F32
    assert nn.Linear(2, 1, dtype=F64)([[1.0, 2.0]]).dtype == F64
