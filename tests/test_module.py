"""nn.Module and Parameter: registration, PyTorch dotted names, state dicts, modes, dtypes, repr."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3, 4)
        self.scale = nn.Parameter(np.ones(4, dtype=np.float32))
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.proj(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 3)
        self.blocks = [Block(), Block()]  # a plain list of modules registers too
        self.head = nn.Linear(4, 2, bias=False)
        self.not_a_param = np.zeros(3)  # plain attributes are not registered

    def forward(self, idx):
        x = self.embed(idx)
        for block in self.blocks:
            x = block(x)[..., :3]
        return x


NAMES = [
    "embed.weight",
    "blocks.0.scale",
    "blocks.0.proj.weight",
    "blocks.0.proj.bias",
    "blocks.1.scale",
    "blocks.1.proj.weight",
    "blocks.1.proj.bias",
    "head.weight",
]


# ---- Parameter ------------------------------------------------------------------------------------


def test_parameter_from_array_and_tensor():
    array = np.arange(3.0)
    p = nn.Parameter(array)
    assert p.requires_grad and p.is_leaf and p.dtype == np.float64
    array[0] = 5.0
    assert p.data[0] == 0.0  # copied
    q = nn.Parameter(mg.tensor([1.0, 2.0]))
    assert q.dtype == np.float32 and isinstance(q, mg.Tensor)
    assert repr(q).startswith("Parameter containing:\ntensor(")
    with pytest.raises(TypeError, match="floating-point"):
        nn.Parameter(np.arange(3))


# ---- registration and names -------------------------------------------------------------------------


def test_dotted_names_of_nested_modules_and_lists():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == NAMES
    assert list(net.state_dict()) == NAMES
    assert len(list(net.parameters())) == len(NAMES)
    assert isinstance(net.blocks, nn.ModuleList) and len(net.blocks) == 2
    assert [name for name, _ in net.named_modules()][:4] == ["", "embed", "blocks", "blocks.0"]
    assert net.num_parameters() == 30 + 2 * (4 + 12 + 4) + 8


def test_shared_parameter_is_listed_once():
    net = Net()
    net.head.weight = net.blocks[0].scale
    names = [name for name, _ in net.named_parameters()]
    assert names.count("head.weight") == 0 and len(names) == len(NAMES) - 1


def test_name_parameters_labels_tensors():
    net = Net().name_parameters()
    assert net.blocks[1].proj.bias.name == "blocks.1.proj.bias"


def test_register_parameter_none_declares_an_absent_parameter():
    layer = nn.Linear(2, 2, bias=False)
    assert layer.bias is None and "bias" not in layer.state_dict()


def test_setattr_before_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(2))

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()


def test_reassigning_a_parameter_to_a_plain_value_unregisters_it():
    layer = nn.Linear(2, 2)
    layer.bias = np.zeros(2)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]


def test_sequential_and_module_list():
    mg.manual_seed(0)
    seq = nn.Sequential([nn.Linear(3, 4, dtype=np.float64), nn.Linear(4, 2, dtype=np.float64)])
    x = np.random.default_rng(0).standard_normal((5, 3))
    w0, b0, w1, b1 = (p.data for p in seq.parameters())
    np.testing.assert_allclose(seq(mg.tensor(x)).data, (x @ w0.T + b0) @ w1.T + b1, atol=1e-12)
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert isinstance(seq[1], nn.Linear) and len(seq) == 2
    with pytest.raises(TypeError, match="expected a Module"):
        nn.ModuleList([nn.Linear(1, 1)]).append("not a module")


# ---- state dicts ----------------------------------------------------------------------------------


def test_state_dict_is_a_copy_of_plain_arrays():
    net = Net()
    state = net.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    state["head.weight"][...] = 42.0
    assert not np.any(net.head.weight.data == 42.0)


def test_load_state_dict_round_trip_keeps_dtype_and_bumps_version():
    mg.manual_seed(1)
    src = Net()
    mg.manual_seed(2)
    dst = Net()
    weight = dst.head.weight
    version = weight.version
    state = {k: v.astype(np.float64) for k, v in src.state_dict().items()}  # e.g. from a float64 model
    missing, unexpected = dst.load_state_dict(state)
    assert missing == [] and unexpected == []
    assert dst.head.weight is weight and weight.version > version  # copied into, in place
    for name, value in dst.state_dict().items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, src.state_dict()[name])
    dst.load_state_dict({k: mg.tensor(v) for k, v in src.state_dict().items()})  # tensors work too


def test_load_state_dict_strict_names_missing_and_unexpected_keys():
    net = Net()
    state = net.state_dict()
    del state["blocks.1.proj.bias"]
    state["blocks.2.proj.bias"] = np.zeros(4, dtype=np.float32)
    with pytest.raises(KeyError) as info:
        net.load_state_dict(state)
    message = str(info.value)
    assert "missing keys ['blocks.1.proj.bias']" in message
    assert "unexpected keys ['blocks.2.proj.bias']" in message
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert missing == ["blocks.1.proj.bias"] and unexpected == ["blocks.2.proj.bias"]


def test_load_state_dict_shape_mismatch_names_the_key():
    net = Net()
    state = net.state_dict()
    state["head.weight"] = np.zeros((4, 2), dtype=np.float32)
    with pytest.raises(ValueError, match=r"'head.weight' has shape \(4, 2\) in the state dict but \(2, 4\)"):
        net.load_state_dict(state)
    with pytest.raises(ValueError, match="head.weight"):
        net.load_state_dict(state, strict=False)


# ---- modes, dtypes, gradients, repr -------------------------------------------------------------------


def test_train_eval_propagate_to_every_submodule():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    assert not net.blocks[1].drop.training
    net.train()
    assert all(m.training for m in net.modules())


def test_to_double_float_convert_and_return_self():
    net = Net()
    net.head.weight.grad = np.ones((2, 4), dtype=np.float32)
    assert net.double() is net
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.head.weight.grad is None  # gradients of the old dtype are dropped
    values = net.state_dict()
    assert net.float() is net
    assert all(p.dtype == np.float32 for p in net.parameters())
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, values[name].astype(np.float32))
    assert net.to(np.float64) is net and net.blocks[0].scale.dtype == np.float64


def test_zero_grad_clears_every_gradient():
    net = Net()
    out = net(np.array([[1, 2], [3, 4]]))
    out.sum().backward()
    assert all(p.grad is not None for name, p in net.named_parameters() if name != "head.weight")
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_repr_shows_the_tree():
    text = repr(Net())
    assert text.startswith("Net(\n  (embed): Embedding(10, 3)\n  (blocks): ModuleList(\n    (0): Block(\n")
    assert "      (proj): Linear(in_features=3, out_features=4, bias=True)\n" in text
    assert "      (drop): Dropout(p=0.5)\n" in text
    assert text.endswith("  (head): Linear(in_features=4, out_features=2, bias=False)\n)")


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="must define forward"):
        nn.Module()(1)


def test_sequential_takes_modules_or_a_list():
    a, b = nn.Linear(2, 3), nn.Linear(3, 1)
    assert list(nn.Sequential(a, b)) == [a, b] == list(nn.Sequential([a, b]))
    assert nn.Sequential(a, b)(mg.tensor(np.ones((4, 2), np.float32))).shape == (4, 1)


def test_module_to_an_integer_dtype_is_refused():
    with pytest.raises(TypeError, match="Linear.to: parameters must stay floating point, got dtype int32"):
        nn.Linear(2, 2).to(np.int32)


def test_parameters_know_their_dotted_names():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(3, 4, num_layers=2)
            self.heads = [nn.Linear(4, 2), nn.Linear(4, 1)]

    net = Net()
    for name, param in net.named_parameters():
        assert param.name == name
    assert net.rnn.weight_hh_l1.name == "rnn.weight_hh_l1" and net.heads[1].bias.name == "heads.1.bias"


def test_get_parameter_and_get_submodule_follow_dotted_names_as_pytorch():
    from minigrad import nn

    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    for name, param in model.named_parameters():
        assert model.get_parameter(name) is param
    assert model.get_submodule("2") is model[2]
    assert model.get_submodule("") is model
    with pytest.raises(AttributeError, match="get_parameter: Linear has no parameter 'gain'"):
        model.get_parameter("0.gain")
    with pytest.raises(AttributeError, match="get_submodule: Sequential has no submodule '7'"):
        model.get_parameter("7.weight")
