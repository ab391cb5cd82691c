"""The path to PyTorch, without torch: a model trained here saves PyTorch's parameter names and shapes.

The same model in PyTorch (``torch.nn.LSTM``/``GRU``/``RNN`` + ``torch.nn.Linear`` under the same
attribute names) then takes the file with ``load_state_dict``; tests/parity/training_parity.py
checks that its outputs agree to 1e-6 when torch is installed. Here the names, shapes and dtypes
are checked against PyTorch's documented layout: ``weight_ih_l{k}{_reverse}`` is ``(G*H, I_k)``,
``weight_hh_l{k}`` ``(G*H, H)``, the biases ``(G*H,)``, with G = 4 (LSTM), 3 (GRU), 1 (RNN) and
``I_k`` the input size for layer 0, else ``D*H``; ``Linear.weight`` is ``(out, in)``.
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad.optim.lr_scheduler import OneCycleLR
from minigrad.utils.data import DataLoader, TensorDataset

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


class SequenceRegressor(mg.nn.Module):
    """A recurrent layer reads (B, T, I); a Linear maps its last output to one number."""

    def __init__(self, kind, input_size, hidden_size, num_layers=1, bidirectional=False):
        super().__init__()
        self.rnn = getattr(mg.nn, kind)(
            input_size, hidden_size, num_layers=num_layers, bidirectional=bidirectional, batch_first=True
        )
        self.head = mg.nn.Linear(hidden_size * (2 if bidirectional else 1), 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def pytorch_names_and_shapes(kind, input_size, hidden_size, num_layers, bidirectional):
    gates, directions = GATES[kind], 2 if bidirectional else 1
    expected = {}
    for layer in range(num_layers):
        layer_input = input_size if layer == 0 else directions * hidden_size
        for suffix in ("", "_reverse")[:directions]:
            expected[f"rnn.weight_ih_l{layer}{suffix}"] = (gates * hidden_size, layer_input)
            expected[f"rnn.weight_hh_l{layer}{suffix}"] = (gates * hidden_size, hidden_size)
            expected[f"rnn.bias_ih_l{layer}{suffix}"] = (gates * hidden_size,)
            expected[f"rnn.bias_hh_l{layer}{suffix}"] = (gates * hidden_size,)
    expected["head.weight"] = (1, directions * hidden_size)
    expected["head.bias"] = (1,)
    return expected


def sine_windows(n=96, steps=12, seed=0):
    """Windows of a noisy sine (B, T, 1) and the value that follows each (B, 1), float32."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    t = np.arange(steps + 1) * 0.3
    wave = np.sin(phase + t) + 0.05 * rng.standard_normal((n, steps + 1))
    return wave[:, :steps, None].astype(np.float32), wave[:, steps:].astype(np.float32)


def train(model, epochs=3):
    x, y = sine_windows()
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    opt = mg.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = OneCycleLR(opt, max_lr=0.02, epochs=epochs, steps_per_epoch=len(loader))
    losses = []
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = mg.nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            opt.step()
            scheduler.step()
            losses.append(loss.item())
    return losses


@pytest.mark.parametrize(
    "kind, num_layers, bidirectional",
    [
        ("LSTM", 1, False),
        ("GRU", 1, False),
        ("RNN", 1, False),
        ("LSTM", 2, True),
        ("GRU", 2, False),
    ],
)
def test_saved_file_has_pytorchs_names_and_shapes(tmp_path, kind, num_layers, bidirectional):
    mg.manual_seed(0)
    model = SequenceRegressor(kind, 1, 8, num_layers, bidirectional)
    losses = train(model)
    assert np.mean(losses[-6:]) < np.mean(losses[:6])
    path = tmp_path / "model.npz"
    mg.save(model.state_dict(), path)
    saved = mg.load(path)
    expected = pytorch_names_and_shapes(kind, 1, 8, num_layers, bidirectional)
    assert list(saved) == list(expected)  # PyTorch's order too
    assert {k: v.shape for k, v in saved.items()} == expected
    assert all(v.dtype == np.float32 for v in saved.values())
    # The file is the trained model: a fresh one loading it computes the same outputs.
    x, _ = sine_windows(n=4, seed=1)
    fresh = SequenceRegressor(kind, 1, 8, num_layers, bidirectional)
    fresh.load_state_dict(saved)
    with mg.no_grad():
        np.testing.assert_array_equal(fresh(x).data, model(x).data)
