"""min-char-rnn on minigrad against a numpy transcription of Karpathy's original, step for step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from demos import char_lm as demo
from models.min_char_rnn import MinCharRNN, MinCharRNNTrainer

ROOT = Path(__file__).resolve().parents[1]
# Short enough that the pointer rule resets the state about every 80 windows.
TEXT = (ROOT / "models" / "data" / "names.txt").read_text(encoding="utf-8")[:2000]


class OriginalMinCharRNN:
    """Karpathy's min-char-rnn.py (2015), transcribed: the same statements in the same order.

    Only the vocabulary order (sorted) and the random stream (a RandomState instead of the
    global one) are pinned, as the program under test does.
    """

    def __init__(
        self, data: str, hidden_size: int = 100, seq_length: int = 25, learning_rate: float = 1e-1, seed: int = 0
    ) -> None:
        self.data = data
        chars = sorted(set(data))
        self.vocab_size = len(chars)
        self.char_to_ix = {ch: i for i, ch in enumerate(chars)}
        self.ix_to_char = {i: ch for i, ch in enumerate(chars)}
        self.hidden_size, self.seq_length, self.learning_rate = hidden_size, seq_length, learning_rate
        self.random = np.random.RandomState(seed)
        self.Wxh = self.random.randn(hidden_size, self.vocab_size) * 0.01
        self.Whh = self.random.randn(hidden_size, hidden_size) * 0.01
        self.Why = self.random.randn(self.vocab_size, hidden_size) * 0.01
        self.bh = np.zeros((hidden_size, 1))
        self.by = np.zeros((self.vocab_size, 1))
        self.mem = [np.zeros_like(w) for w in (self.Wxh, self.Whh, self.Why, self.bh, self.by)]
        self.n, self.p = 0, 0
        self.smooth_loss = -np.log(1.0 / self.vocab_size) * seq_length
        self.hprev = None

    def params(self) -> list[np.ndarray]:
        return [self.Wxh, self.Whh, self.Why, self.bh, self.by]

    def lossFun(self, inputs, targets, hprev):
        Wxh, Whh, Why, bh, by = self.params()
        xs, hs, ys, ps = {}, {}, {}, {}
        hs[-1] = np.copy(hprev)
        loss = 0
        for t in range(len(inputs)):
            xs[t] = np.zeros((self.vocab_size, 1))
            xs[t][inputs[t]] = 1
            hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
            ys[t] = np.dot(Why, hs[t]) + by
            ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
            loss += -np.log(ps[t][targets[t], 0])
        dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
        dbh, dby = np.zeros_like(bh), np.zeros_like(by)
        dhnext = np.zeros_like(hs[0])
        for t in reversed(range(len(inputs))):
            dy = np.copy(ps[t])
            dy[targets[t]] -= 1
            dWhy += np.dot(dy, hs[t].T)
            dby += dy
            dh = np.dot(Why.T, dy) + dhnext
            dhraw = (1 - hs[t] * hs[t]) * dh
            dbh += dhraw
            dWxh += np.dot(dhraw, xs[t].T)
            dWhh += np.dot(dhraw, hs[t - 1].T)
            dhnext = np.dot(Whh.T, dhraw)
        for dparam in [dWxh, dWhh, dWhy, dbh, dby]:
            np.clip(dparam, -5, 5, out=dparam)
        return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]

    def sample(self, h, seed_ix, n):
        Wxh, Whh, Why, bh, by = self.params()
        x = np.zeros((self.vocab_size, 1))
        x[seed_ix] = 1
        ixes = []
        for _ in range(n):
            h = np.tanh(np.dot(Wxh, x) + np.dot(Whh, h) + bh)
            y = np.dot(Why, h) + by
            p = np.exp(y) / np.sum(np.exp(y))
            ix = self.random.choice(range(self.vocab_size), p=p.ravel())
            x = np.zeros((self.vocab_size, 1))
            x[ix] = 1
            ixes.append(ix)
        return ixes

    def iteration(self):
        """One pass of the original's ``while True`` body; returns (loss, sample text or None)."""
        seq_length, data = self.seq_length, self.data
        if self.p + seq_length + 1 >= len(data) or self.n == 0:
            self.hprev = np.zeros((self.hidden_size, 1))
            self.p = 0
        inputs = [self.char_to_ix[ch] for ch in data[self.p : self.p + seq_length]]
        targets = [self.char_to_ix[ch] for ch in data[self.p + 1 : self.p + seq_length + 1]]
        txt = None
        if self.n % 100 == 0:
            sample_ix = self.sample(self.hprev, inputs[0], 200)
            txt = "".join(self.ix_to_char[ix] for ix in sample_ix)
        loss, dWxh, dWhh, dWhy, dbh, dby, self.hprev = self.lossFun(inputs, targets, self.hprev)
        self.smooth_loss = self.smooth_loss * 0.999 + loss * 0.001
        for param, dparam, mem in zip(self.params(), [dWxh, dWhh, dWhy, dbh, dby], self.mem):
            mem += dparam * dparam
            param += -self.learning_rate * dparam / np.sqrt(mem + 1e-8)
        self.p += seq_length
        self.n += 1
        return loss, txt


def relative(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / ||b|| (0 when both are 0)."""
    scale = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / scale) if scale else float(np.linalg.norm(a))


def test_min_char_rnn_preset_matches_the_original_step_for_step():
    original = OriginalMinCharRNN(TEXT, seed=3)
    ours = MinCharRNNTrainer(TEXT, seed=3)
    names = ("Wxh", "Whh", "Why", "bh", "by")
    ours_params = [getattr(ours.model, name) for name in names]
    for before, after in zip(original.params(), ours_params):
        np.testing.assert_array_equal(after.numpy(), before)  # same start weights
    worst_loss = worst_param = worst_update = 0.0
    resets = 0
    for step in range(1000):
        old_ours = [p.numpy().copy() for p in ours_params]
        old_original = [p.copy() for p in original.params()]
        resets += original.p + original.seq_length + 1 >= len(TEXT)
        loss, text = original.iteration()
        result = ours.step()
        assert result.n == step
        worst_loss = max(worst_loss, abs(result.loss - loss) / abs(loss))
        assert result.smooth_loss == pytest.approx(original.smooth_loss, rel=1e-12)
        assert (result.sample is None) == (text is None)
        if text is not None:
            assert result.sample == text, f"the samples differ at iteration {step}"
        for name, mine, theirs, mine_old, theirs_old in zip(
            names, ours_params, original.params(), old_ours, old_original
        ):
            worst_param = max(worst_param, relative(mine.numpy(), theirs))
            worst_update = max(worst_update, relative(mine.numpy() - mine_old, theirs - theirs_old))
            assert worst_update < 1e-12, f"{name}'s update differs at iteration {step}: {worst_update:.2e}"
        np.testing.assert_allclose(ours.hprev, original.hprev, rtol=0, atol=1e-12)
    assert resets >= 10  # the pointer rule was exercised
    assert worst_loss < 1e-12 and worst_param < 1e-12, (worst_loss, worst_param)


def test_one_hidden_bias_and_min_char_rnns_adagrad():
    trainer = MinCharRNNTrainer(TEXT, hidden_size=8, seed=0)
    assert [name for name, _ in trainer.model.named_parameters()] == ["Wxh", "Whh", "Why", "bh", "by"]
    assert trainer.smooth_loss == pytest.approx(-np.log(1 / trainer.vocab_size) * 25)
    old = trainer.model.bh.numpy().copy()
    trainer.step()
    # First Adagrad step: mem = g^2, update = -lr * g / sqrt(g^2 + 1e-8): about -lr * sign(g) where |g| >> 1e-4.
    update = trainer.model.bh.numpy() - old
    g = np.asarray(trainer.model.bh.grad)
    np.testing.assert_allclose(update, -0.1 * g / np.sqrt(g * g + 1e-8), rtol=1e-12, atol=1e-15)


def test_run_prints_what_min_char_rnn_prints():
    printed = []
    trainer = MinCharRNNTrainer(TEXT, hidden_size=16, seed=0, sample_every=2, sample_length=30)
    smooth = trainer.run(3, out=printed.append)
    twin = MinCharRNNTrainer(TEXT, hidden_size=16, seed=0, sample_every=2, sample_length=30)
    steps = [twin.step() for _ in range(3)]
    assert printed == [
        f"----\n {steps[0].sample} \n----",
        f"iter 0, loss: {steps[0].smooth_loss:f}",
        f"----\n {steps[2].sample} \n----",
        f"iter 2, loss: {steps[2].smooth_loss:f}",
    ]
    assert len(steps[0].sample) == 30 and steps[1].sample is None
    assert smooth == trainer.smooth_loss == steps[2].smooth_loss


def test_demo_preset_prints_what_the_original_prints(tmp_path, capsys):
    data = tmp_path / "input.txt"
    data.write_text(TEXT[:1200], encoding="utf-8")
    argv = [
        "--preset",
        "min-char-rnn",
        "--data",
        str(data),
        "--iterations",
        "201",
        "--hidden",
        "20",
        "--seed",
        "4",
        "--out",
        str(tmp_path / "run"),
    ]
    assert demo.main(argv) == 0
    printed = capsys.readouterr().out.split("\n")
    original = OriginalMinCharRNN(TEXT[:1200], hidden_size=20, seed=4)
    expected = [f"data has {len(TEXT[:1200])} characters, {original.vocab_size} unique."]
    for _ in range(201):
        n = original.n
        _, text = original.iteration()
        if text is not None:
            expected.append(f"----\n {text} \n----")  # the original's print('----\n %s \n----' % (txt, ))
        if n % 100 == 0:
            expected.append(f"iter {n}, loss: {original.smooth_loss:f}")
    expected = "\n".join(expected).split("\n")
    assert sum(line.startswith("iter ") for line in expected) == 3
    assert printed[: len(expected)] == expected
    assert printed[len(expected)].startswith("trained 201 iterations")
    saved = mg.load(tmp_path / "run" / "min_char_rnn.npz")
    for name, value in zip(("Wxh", "Whh", "Why", "bh", "by"), original.params()):
        np.testing.assert_allclose(saved[name], value, rtol=1e-12, atol=1e-15)


def test_errors_name_what_was_expected():
    with pytest.raises(ValueError, match="needs at least seq_length \\+ 2 = 27"):
        MinCharRNNTrainer("abc")
    with pytest.raises(ValueError, match="one distinct character"):
        MinCharRNNTrainer("a" * 100)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        MinCharRNNTrainer(TEXT, learning_rate=0)
    with pytest.raises(ValueError, match="seq_length must be an integer >= 1"):
        MinCharRNNTrainer(TEXT, seq_length=0)
    with pytest.raises(ValueError, match="hidden_size must be an integer >= 1"):
        MinCharRNN(27, 0)
    with pytest.raises(TypeError, match="data must be the text"):
        MinCharRNNTrainer(b"abc" * 20)
