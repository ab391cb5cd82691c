"""Linear, Embedding, Dropout and nn.init: shapes, PyTorch initialisation, numpy references, gradcheck."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import init

rng = np.random.default_rng(0)


# ---- Linear -----------------------------------------------------------------------------------


def test_linear_parameters_and_pytorch_init():
    mg.manual_seed(0)
    layer = nn.Linear(400, 300)
    assert layer.weight.shape == (300, 400) and layer.bias.shape == (300,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    bound = 1 / np.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.95 * bound
    # U(-b, b) has standard deviation b / sqrt(3)
    assert abs(layer.weight.data.std() - bound / np.sqrt(3)) < 0.01 * bound


def test_linear_init_follows_manual_seed_across_dtypes():
    mg.manual_seed(5)
    a = nn.Linear(3, 4)
    mg.manual_seed(5)
    b = nn.Linear(3, 4, dtype=np.float64)
    assert b.weight.dtype == np.float64
    np.testing.assert_array_equal(a.weight.data, b.weight.data.astype(np.float32))
    c = nn.Linear(3, 4)
    assert not np.array_equal(a.weight.data, c.weight.data)


@pytest.mark.parametrize("shape", [(3,), (5, 3), (2, 4, 3)])
def test_linear_forward_matches_numpy_and_gradcheck(shape):
    layer = nn.Linear(3, 2, dtype=np.float64)
    x = mg.tensor(rng.standard_normal(shape), requires_grad=True)
    w, b = layer.weight.data, layer.bias.data
    expected = np.einsum("...i,oi->...o", x.data, w) + b
    np.testing.assert_allclose(layer(x).data, expected, rtol=0, atol=1e-12)
    assert mg.gradcheck(lambda x, w, b: layer(x), [x, layer.weight, layer.bias])


def test_linear_gradients_written_out():
    layer = nn.Linear(3, 2, dtype=np.float64)
    x = rng.standard_normal((5, 3))
    g = rng.standard_normal((5, 2))
    layer(mg.tensor(x)).backward(g)
    np.testing.assert_allclose(layer.weight.grad, g.T @ x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, g.sum(axis=0), rtol=0, atol=1e-12)


def test_linear_without_bias():
    layer = nn.Linear(3, 2, bias=False, dtype=np.float64)
    assert layer.bias is None
    assert list(layer.state_dict()) == ["weight"]
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(layer(mg.tensor(x)).data, x @ layer.weight.data.T, rtol=0, atol=1e-12)
    assert repr(layer) == "Linear(in_features=3, out_features=2, bias=False)"


def test_linear_errors():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"Linear: expected input of shape \(\.\.\., 3\), got \(4, 5\)"):
        layer(mg.tensor(np.zeros((4, 5), dtype=np.float32)))
    with pytest.raises(TypeError, match="Linear: input has dtype float64 but the parameters are float32"):
        layer(mg.tensor(np.zeros((4, 3))))
    with pytest.raises(ValueError, match="in_features must be an integer"):
        nn.Linear(-1, 2)
    with pytest.raises(ValueError, match="out_features must be an integer"):
        nn.Linear(2, 2.5)
    with pytest.raises(TypeError, match="floating-point"):
        nn.Linear(2, 2, dtype=np.int32)


def test_linear_repr():
    assert repr(nn.Linear(3, 2)) == "Linear(in_features=3, out_features=2, bias=True)"


# ---- Embedding --------------------------------------------------------------------------------


def test_embedding_init_and_lookup():
    mg.manual_seed(1)
    emb = nn.Embedding(1000, 16)
    assert emb.weight.shape == (1000, 16) and emb.weight.dtype == np.float32
    assert abs(emb.weight.data.mean()) < 0.02 and abs(emb.weight.data.std() - 1) < 0.02  # N(0, 1)
    idx = np.array([[3, 1, 3], [999, 0, 7]])
    out = emb(idx)
    assert out.shape == (2, 3, 16)
    np.testing.assert_array_equal(out.data, emb.weight.data[idx])
    np.testing.assert_array_equal(emb(mg.tensor(idx, dtype=np.int64)).data, out.data)
    np.testing.assert_array_equal(emb([3, 1]).data, emb.weight.data[[3, 1]])


def test_embedding_gradient_accumulates_repeated_indices():
    emb = nn.Embedding(5, 3, dtype=np.float64)
    idx = np.array([[1, 4, 1], [1, 0, 4]])
    g = rng.standard_normal((2, 3, 3))
    emb(idx).backward(g)
    expected = np.zeros((5, 3))
    for pos in np.ndindex(idx.shape):
        expected[idx[pos]] += g[pos]
    np.testing.assert_allclose(emb.weight.grad, expected, rtol=0, atol=1e-12)
    assert mg.gradcheck(lambda w: emb(idx), [emb.weight])


@pytest.mark.parametrize("padding_idx,row", [(2, 2), (-1, 3)])
def test_embedding_padding_idx(padding_idx, row):
    emb = nn.Embedding(4, 3, padding_idx=padding_idx, dtype=np.float64)
    assert emb.padding_idx == row
    np.testing.assert_array_equal(emb.weight.data[row], 0)
    assert repr(emb) == f"Embedding(4, 3, padding_idx={row})"
    # a non-zero padding row is still looked up, but receives no gradient (PyTorch)
    values = rng.standard_normal((4, 3))
    emb.load_state_dict({"weight": values})
    idx = np.array([row, 0, row, 1])
    out = emb(idx)
    np.testing.assert_array_equal(out.data, values[idx])
    out.backward(np.ones((4, 3)))
    np.testing.assert_array_equal(emb.weight.grad[row], 0)
    np.testing.assert_array_equal(emb.weight.grad[0], 1)


def test_embedding_errors():
    emb = nn.Embedding(4, 3)
    with pytest.raises(TypeError, match="Embedding: indices must be integers, got dtype float32"):
        emb(mg.tensor([1, 2]))
    with pytest.raises(IndexError, match="index 4 is out of range for 4 embeddings"):
        emb(np.array([0, 4]))
    with pytest.raises(IndexError, match="index -1 is out of range"):
        emb(np.array([-1, 0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(4, 3, padding_idx=4)
    with pytest.raises(ValueError, match="embedding_dim"):
        nn.Embedding(4, -3)
    assert repr(emb) == "Embedding(4, 3)"


# ---- Dropout ------------------------------------------------------------------------------------


def test_dropout_module_train_and_eval():
    drop = nn.Dropout(0.25)
    assert repr(drop) == "Dropout(p=0.25)"
    x = mg.tensor(np.ones((50, 40)))
    mg.manual_seed(2)
    out = drop(x)
    assert set(np.unique(out.data)) == {0.0, 1 / 0.75}
    drop.eval()
    assert drop(x) is x
    drop.train()
    assert not np.array_equal(drop(x).data, x.data)


def test_dropout_module_errors():
    for p in (-0.5, 1.01, "0.5"):
        with pytest.raises(ValueError, match=r"Dropout: probability p must be in \[0, 1\]"):
            nn.Dropout(p)


# ---- init -----------------------------------------------------------------------------------------


def test_init_functions_fill_in_place_and_bump_version():
    t = mg.nn.Parameter(np.zeros((200, 100), dtype=np.float32))
    version = t.version
    assert init.uniform_(t, -0.5, 2.0) is t
    assert t.version > version and t.dtype == np.float32
    assert t.data.min() >= -0.5 and t.data.max() < 2.0 and t.data.min() < -0.45 and t.data.max() > 1.95
    init.normal_(t, 3.0, 0.5)
    assert abs(t.data.mean() - 3.0) < 0.01 and abs(t.data.std() - 0.5) < 0.01
    init.zeros_(t)
    assert not t.data.any()
    init.ones_(t)
    assert np.all(t.data == 1)
    init.constant_(t, 0.25)
    assert np.all(t.data == 0.25)


def test_uniform_fan_in():
    w = mg.nn.Parameter(np.zeros((50, 64)))
    init.uniform_fan_in_(w)
    assert np.abs(w.data).max() <= 1 / 8 and np.abs(w.data).max() > 0.9 / 8
    b = mg.nn.Parameter(np.zeros(1000))
    init.uniform_fan_in_(b, fan=16)  # an RNN bias: bound 1/sqrt(hidden)
    assert np.abs(b.data).max() <= 0.25 and np.abs(b.data).max() > 0.24
    init.uniform_fan_in_(b, fan=0)
    assert not b.data.any()
    with pytest.raises(ValueError, match="fan"):
        init.uniform_fan_in_(b)


def test_init_follows_manual_seed_and_errors():
    t = mg.nn.Parameter(np.zeros(5))
    mg.manual_seed(11)
    first = init.normal_(t).data.copy()
    mg.manual_seed(11)
    np.testing.assert_array_equal(init.normal_(t).data, first)
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(t, 1.0, 0.0)
    with pytest.raises(ValueError, match="std >= 0"):
        init.normal_(t, 0.0, -1.0)
    with pytest.raises(TypeError, match="floating-point"):
        init.zeros_(mg.tensor(np.zeros(3, dtype=np.int64)))
    with pytest.raises(TypeError, match="minigrad Tensor"):
        init.zeros_(np.zeros(3))
