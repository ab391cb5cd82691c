"""nn.RNN takes PyTorch's positional order: (input_size, hidden_size, num_layers, nonlinearity, bias, ...)."""

import numpy as np
import pytest

import minigrad as mg


def test_nonlinearity_is_the_fourth_positional_argument():
    rnn = mg.nn.RNN(3, 4, 2, "relu", False, True)
    assert rnn.nonlinearity == "relu" and all(cell.nonlinearity == "relu" for cell in rnn.cells)
    assert rnn.batch_first and not any("bias" in name for name, _ in rnn.named_parameters())
    out, _ = rnn(np.ones((2, 5, 3), dtype=np.float32))
    assert out.shape == (2, 5, 4) and (out.numpy() >= 0).all()      # relu outputs are never negative


def test_a_wrong_nonlinearity_names_it():
    with pytest.raises(ValueError, match="nonlinearity"):
        mg.nn.RNN(3, 4, 1, "sigmoid")
