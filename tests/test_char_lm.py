"""The character-level language model: vocabulary, batches, training, sampling, clipping, checkpoints, errors."""

from __future__ import annotations

import importlib.util
import math
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from demos import char_lm as demo
from minigrad.random import generator
from models import char_lm as lm

ROOT = Path(__file__).resolve().parents[1]
DINOS = ROOT / "../shared/data/dinos.txt"
ASCII_VOCAB = "\nabcdefghijklmnopqrstuvwxyz"


def write(tmp_path: Path, text: str, name: str = "corpus.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def model_and_trainer(text: str, cell: str = "lstm", hidden: int = 16, **config) -> tuple[lm.CharLM, lm.Trainer]:
    vocab = lm.Vocab.from_text(text)
    mg.manual_seed(config.pop("init_seed", 0))
    model = lm.CharLM(vocab.size, hidden, cell, embedding_dim=config.pop("embedding_dim", None))
    return model, lm.Trainer(model, vocab, text, lm.TrainConfig(**config))


# ---- vocabulary and data ----------------------------------------------------------------------


def test_course_vocabulary_on_dinos_and_on_the_shipped_names():
    # The course: data.lower(), chars = sorted(set(data)) -> 27 symbols, char_to_ix['\n'] = 0, 'a' = 1 ... 'z' = 26.
    corpora = [lm.DEFAULT_CORPUS]
    if DINOS.is_file():
        corpora.append(DINOS)
    elif os.environ.get("CI"):
        pytest.fail(f"the course's dinosaur list is missing: {DINOS.resolve()} (CI must provide ../shared/data)")
    # Outside CI a fresh clone has no ../shared: the committed names corpus has the same 27 symbols.
    for path in corpora:
        text = lm.read_text(path)
        vocab = lm.Vocab.from_text(text)
        assert vocab.size == 27
        assert "".join(vocab.chars) == ASCII_VOCAB
        assert vocab.char_to_ix == {c: i for i, c in enumerate(ASCII_VOCAB)}
        assert vocab.ix_to_char[0] == "\n" and vocab.stop == 0
        items = lm.split_lines(text)
        assert vocab.decode(vocab.encode(items[0])) == items[0]
    if DINOS.is_file():
        text = lm.read_text(DINOS)  # the course prints: 19909 total characters and 27 unique characters
        assert len(text) == 19909 and len(set(text)) == 27
        dinos = lm.split_lines(text)
        assert len(dinos) == 1536 and dinos[0] == "aachenosaurus"


def test_shipped_names_corpus_is_clean():
    names = lm.DEFAULT_CORPUS.read_text(encoding="ascii").splitlines()
    assert len(names) > 5000
    assert names == sorted(set(names))
    assert all(n.isalpha() and n.islower() and n.isascii() for n in names)


def test_make_names_reads_census_lists(tmp_path, monkeypatch):
    # A stand-in for the `names` package: the script must parse its files, lower-case and deduplicate.
    (tmp_path / "dist.male.first").write_text("JAMES          3.318  3.318      1\nJEAN   0.1 3.4 2\n")
    (tmp_path / "dist.female.first").write_text("MARY           2.629  2.629      1\nJEAN  0.2 2.8 2\n\n")
    fake = types.ModuleType("names")
    fake.__file__ = str(tmp_path / "__init__.py")
    monkeypatch.setitem(sys.modules, "names", fake)
    spec = importlib.util.spec_from_file_location("make_names", ROOT / "models/data/make_names.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.census_first_names() == ["james", "jean", "mary"]
    out = tmp_path / "out.txt"
    assert script.main(["--out", str(out)]) == 0
    assert out.read_text() == "james\njean\nmary\n"
    assert script.main(["--out", str(out), "--check"]) == 0
    out.write_text("james\n")
    assert script.main(["--out", str(out), "--check"]) == 1


def test_pad_names_is_the_course_x_and_y():
    vocab = lm.Vocab.from_text("ab\nabc\n")
    names = [vocab.encode("ab"), vocab.encode("cab")]
    inputs, targets = lm.pad_names(names, vocab.stop)
    # Course: X = [None] + ids (we feed '\n' for None), Y = ids + ['\n']; padding targets are ignored.
    np.testing.assert_array_equal(inputs[:, 0], vocab.encode("\nab\n"))
    np.testing.assert_array_equal(targets[:, 0], list(vocab.encode("ab\n")) + [lm.IGNORE_INDEX])
    np.testing.assert_array_equal(inputs[:, 1], vocab.encode("\ncab"))
    np.testing.assert_array_equal(targets[:, 1], vocab.encode("cab\n"))


def test_padding_does_not_change_the_loss():
    text = "ab\nabcba\nc\n"
    model, trainer = model_and_trainer(text)
    vocab = trainer.vocab
    names = [vocab.encode(n) for n in lm.split_lines(text)]
    with mg.no_grad():
        together, _ = trainer.loss(*lm.pad_names(names, vocab.stop))
        alone = [trainer.loss(*lm.pad_names([n], vocab.stop))[0].item() for n in names]
    counts = [len(n) + 1 for n in names]
    expected = sum(c * loss for c, loss in zip(counts, alone)) / sum(counts)
    assert together.item() == pytest.approx(expected, rel=1e-5)


def test_window_batches_are_parallel_streams_with_shifted_targets():
    ids = np.arange(23)
    windows = lm.WindowBatches(ids, batch_size=2, seq_len=4)  # streams of (23 - 1) // 2 = 11, 2 windows each
    x0, y0, reset0 = next(windows)
    np.testing.assert_array_equal(x0, [[0, 11], [1, 12], [2, 13], [3, 14]])
    np.testing.assert_array_equal(y0, x0 + 1)
    x1, y1, reset1 = next(windows)
    np.testing.assert_array_equal(x1[:, 1], [15, 16, 17, 18])
    assert reset0 and not reset1
    x2, _, reset2 = next(windows)  # back to the top: state reset
    assert reset2 and windows.epoch == 2
    np.testing.assert_array_equal(x2, x0)


def test_name_batches_cover_every_name_each_epoch():
    items = [f"n{'a' * i}" for i in range(1, 8)]
    vocab = lm.Vocab.from_text("\n".join(items))
    batches = lm.NameBatches(items, vocab, batch_size=3, rng=np.random.default_rng(0))
    seen = []
    for _ in range(2):  # 7 names in batches of 3: 2 batches per epoch, 1 left over
        inputs, targets, reset = next(batches)
        assert reset and inputs.shape[1] == 3
        seen += [vocab.decode(col[1:][col[1:] != vocab.stop]) for col in inputs.T]
    assert len(set(seen)) == 6 and set(seen) <= set(items)


# ---- training ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_tiny_corpus_is_memorised(cell):
    names = ["anna", "bob", "carlo"]
    text = "\n".join(names) + "\n"
    model, trainer = model_and_trainer(text, cell, hidden=24, batch_size=3, lr=0.05, embedding_dim=8)
    for _ in range(250):
        trainer.step()
    # All that stays uncertain is the first letter (1 in 3): the best possible loss per character is
    # 3 log 3 / (number of predicted characters).
    floor = 3 * math.log(3) / sum(len(n) + 1 for n in names)
    assert trainer.losses[-1] < floor + 0.03
    assert trainer.smooth_loss < math.log(trainer.vocab.size)  # smoothing started at log V and fell
    for name in names:  # greedy from the first letter: the name
        assert lm.sample(model, trainer.vocab, 1, temperature=0, prefix=name[0]) == [name]
    drawn = lm.sample(model, trainer.vocab, 30, seed=3, temperature=0.5)
    assert set(drawn) <= set(names) and len(set(drawn)) == 3


def test_window_mode_learns_a_repeating_text_with_carried_state():
    text = "the cat sat.\n" * 40
    model, trainer = model_and_trainer(text, "gru", hidden=32, mode="window", batch_size=4, seq_len=8, lr=0.02)
    trainer.step()
    h = trainer.state
    assert h is not None and h.shape == (1, 4, 32)
    cut = lm.detach_state(h)
    assert cut.is_leaf and not cut.requires_grad
    np.testing.assert_array_equal(cut.data, h.data)
    for _ in range(150):
        trainer.step()
    assert trainer.losses[-1] < 0.1
    assert lm.sample(model, trainer.vocab, 2, temperature=0, max_len=30) == ["the cat sat."] * 2


def test_sum_reduction_scales_the_gradient_by_characters_per_name():
    text = "abc\nbcab\n"
    grads = {}
    for reduction in ("mean", "sum"):
        _, trainer = model_and_trainer(text, "rnn", batch_size=2, reduction=reduction, clip_value=None)
        trainer.step()
        grads[reduction] = trainer.model.head.bias.grad.copy()
    chars_per_name = (4 + 5) / 2
    np.testing.assert_allclose(grads["sum"], chars_per_name * grads["mean"], rtol=1e-5, atol=1e-7)


def test_clipping_bounds_every_gradient():
    text = "\n".join(["ada", "bea", "cyd", "dot", "eve"]) + "\n"

    def grads(**clip) -> list[np.ndarray]:
        _, trainer = model_and_trainer(text, "lstm", batch_size=5, lr=1e-6, **clip)
        trainer.step()
        return [p.grad.copy() for p in trainer.params]

    raw = grads(clip_value=None, clip_norm=None)
    limit = 0.5 * max(np.abs(g).max() for g in raw)  # so that clipping has something to do
    by_value = grads(clip_value=limit, clip_norm=None)
    assert all(np.abs(g).max() <= limit for g in by_value)
    for g, r in zip(by_value, raw):
        np.testing.assert_allclose(g, np.clip(r, -limit, limit), rtol=1e-6)

    total = math.sqrt(sum(float((r.astype(np.float64) ** 2).sum()) for r in raw))
    max_norm = total / 4
    by_norm = grads(clip_value=None, clip_norm=max_norm)
    clipped = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in by_norm))
    assert clipped <= max_norm * (1 + 1e-5) and total > max_norm
    for g, r in zip(by_norm, raw):  # same direction, scaled by max_norm / total
        np.testing.assert_allclose(g, r * (max_norm / total), rtol=1e-4, atol=1e-9)


# ---- sampling ---------------------------------------------------------------------------------


def test_sampling_is_deterministic_under_a_seed_and_leaves_the_global_generator_alone():
    model, trainer = model_and_trainer("kate\nkim\nlou\nmax\n")
    before = generator().bit_generator.state
    a = lm.sample(model, trainer.vocab, 7, seed=11)
    b = lm.sample(model, trainer.vocab, 7, seed=11)
    c = lm.sample(model, trainer.vocab, 7, seed=12)
    assert a == b and a != c
    assert generator().bit_generator.state == before
    assert model.training  # sample() puts the mode back


def test_sampling_takes_a_generator_and_advances_it():
    model, trainer = model_and_trainer("kate\nkim\nlou\nmax\n")
    rng = np.random.default_rng(11)
    first = lm.sample(model, trainer.vocab, 7, seed=rng)
    second = lm.sample(model, trainer.vocab, 7, seed=rng)  # the generator moved on: new names
    assert first == lm.sample(model, trainer.vocab, 7, seed=11)  # an int seed is a fresh generator of that seed
    assert second != first
    replay = np.random.default_rng(11)
    assert [lm.sample(model, trainer.vocab, 7, seed=replay) for _ in range(2)] == [first, second]
    global_state = np.random.get_state()[1].copy()
    lm.sample(model, trainer.vocab, 3, seed=None)
    np.testing.assert_array_equal(np.random.get_state()[1], global_state)
    with pytest.raises(TypeError, match="seed must be an int, None or a np.random.Generator, got float"):
        lm.sample(model, trainer.vocab, 1, seed=1.5)
    with pytest.raises(TypeError, match="got RandomState"):
        lm.sample(model, trainer.vocab, 1, seed=np.random.RandomState(0))


def test_sampled_first_letters_follow_softmax_over_temperature():
    model, trainer = model_and_trainer("ab\nbc\nca\nabc\n", hidden=8)
    vocab = trainer.vocab
    with mg.no_grad():
        logits, _ = model(np.array([[vocab.stop]]))
    scores = logits.data[0, 0].astype(np.float64)
    for temperature in (1.0, 0.5):
        p = np.exp(scores / temperature)
        p /= p.sum()
        n = 4000
        firsts = [s[:1] or "\n" for s in lm.sample(model, vocab, n, seed=5, temperature=temperature, max_len=1)]
        freq = np.array([firsts.count(c) for c in vocab.chars]) / n
        assert np.all(np.abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / n) + 1e-3), (temperature, freq, p)
    greedy = lm.sample(model, vocab, 3, temperature=0, max_len=1)
    assert greedy == [vocab.chars[int(scores.argmax())].strip()] * 3


def test_sampling_respects_the_length_cap_and_prefix():
    model, trainer = model_and_trainer("aaaaaaaaab\nb\n", hidden=8)
    with mg.no_grad():  # make '\n' impossible: every sample runs to the cap
        model.head.bias.data[trainer.vocab.stop] = -1e4
    names = lm.sample(model, trainer.vocab, 5, seed=0, max_len=50)
    assert [len(n) for n in names] == [50] * 5
    names = lm.sample(model, trainer.vocab, 3, seed=0, max_len=12, prefix="ba")
    assert all(len(n) == 12 and n.startswith("ba") for n in names)


# ---- checkpoints ------------------------------------------------------------------------------


@pytest.mark.parametrize("cell, embedding_dim", [("lstm", None), ("gru", 6)])
def test_checkpoint_round_trip(tmp_path, cell, embedding_dim):
    model, trainer = model_and_trainer(
        "ann\nbo\ncyd\n", cell, hidden=12, embedding_dim=embedding_dim, optimizer="adagrad", lr=0.1
    )
    for _ in range(5):
        trainer.step()
    path = lm.save_checkpoint(tmp_path / "ckpt", model, trainer.vocab, trainer.config, run={"iterations": 5})
    assert path.suffix == ".npz"
    loaded, vocab, meta = lm.load_checkpoint(path)
    assert vocab == trainer.vocab and loaded.config() == model.config()
    assert meta["train"]["optimizer"] == "adagrad" and meta["run"] == {"iterations": 5}
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], value)
    assert lm.sample(loaded, vocab, 7, seed=4) == lm.sample(model, trainer.vocab, 7, seed=4)
    with np.load(path, allow_pickle=False) as archive:  # plain arrays: loads without pickle
        assert "__char_lm__" in archive.files


# ---- bad input --------------------------------------------------------------------------------


def test_corpus_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no corpus file at .*missing.txt"):
        lm.read_text(tmp_path / "missing.txt")
    with pytest.raises(lm.CorpusError, match="empty"):
        lm.read_text(write(tmp_path, "  \n\n \n"))
    with pytest.raises(lm.CorpusError, match="not UTF-8"):
        (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00abc")
        lm.read_text(tmp_path / "bin.txt")
    with pytest.raises(lm.CorpusError, match="1 distinct character.*'a'.*at least two"):
        lm.Vocab.from_text(lm.read_text(write(tmp_path, "aaa\naa\na\n")))
    with pytest.raises(lm.CorpusError, match="too few"):
        _, _ = model_and_trainer("abcdef", mode="window", batch_size=2, seq_len=25)
    vocab = lm.Vocab.from_text("abc\n")
    with pytest.raises(ValueError, match="character 'z' is not in the vocabulary"):
        vocab.encode("abz")


def test_checkpoint_errors(tmp_path):
    model, trainer = model_and_trainer("ann\nbo\n", hidden=8)
    path = lm.save_checkpoint(tmp_path / "ok.npz", model, trainer.vocab)
    other = lm.Vocab.from_text("xyz\n")
    with pytest.raises(ValueError, match="another vocabulary.*never saw: 'xyz'"):
        lm.load_checkpoint(path, vocab=other)
    mg.save({"weight": np.zeros(3)}, tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="not a char_lm checkpoint .*weight"):
        lm.load_checkpoint(tmp_path / "plain.npz")
    state = mg.load(path)  # weights of an LSTM, metadata of a GRU
    state["__char_lm__"] = np.array(str(state["__char_lm__"]).replace('"lstm"', '"gru"'))
    mg.save(state, tmp_path / "mixed.npz")
    with pytest.raises(ValueError, match="do not fit a CharLM"):
        lm.load_checkpoint(tmp_path / "mixed.npz")
    with pytest.raises(FileNotFoundError):
        lm.load_checkpoint(tmp_path / "nowhere.npz")
    with pytest.raises(ValueError, match="vocabulary has 27 characters but the model predicts"):
        lm.sample(model, lm.Vocab(tuple(ASCII_VOCAB)), 1)


def test_bad_settings():
    with pytest.raises(ValueError, match="cell must be one of"):
        lm.CharLM(27, 8, "transformer")
    with pytest.raises(ValueError, match="mode must be one of"):
        lm.TrainConfig(mode="chars")
    with pytest.raises(ValueError, match="clip_value must be > 0"):
        lm.TrainConfig(clip_value=-1.0)
    model, trainer = model_and_trainer("ab\nba\n", hidden=4)
    with pytest.raises(ValueError, match="temperature"):
        lm.sample(model, trainer.vocab, 1, temperature=-1)
    with pytest.raises(ValueError, match=r"shape \(T, B\)"):
        model(np.zeros(3, dtype=np.int64))


def test_a_non_finite_loss_stops_before_the_update():
    model, trainer = model_and_trainer("ab\nba\n", hidden=4, optimizer="sgd", lr=0.1)
    trainer.step()
    model.head.bias.copy_(np.full(model.head.bias.shape, np.nan))  # poisoned: every logit is NaN
    before = {name: value.copy() for name, value in model.state_dict().items()}
    with pytest.raises(FloatingPointError, match="Trainer.step: the loss became nan at iteration 2"):
        trainer.step()
    after = model.state_dict()
    for name, value in before.items():  # no parameter was moved by a NaN gradient
        np.testing.assert_array_equal(after[name], value, err_msg=name)
    assert trainer.iteration == 1 and len(trainer.losses) == 1


# ---- the demo ---------------------------------------------------------------------------------


def test_demo_trains_writes_files_and_reloads(tmp_path, capsys):
    data = write(tmp_path, "ann\nbob\ncyd\ndot\n")
    out = tmp_path / "run"
    argv = [
        "--data",
        str(data),
        "--iterations",
        "12",
        "--sample-every",
        "6",
        "--hidden",
        "8",
        "--batch-size",
        "2",
        "--out",
        str(out),
        "--sample",
        "3",
    ]
    assert demo.main(argv) == 0
    printed = capsys.readouterr().out
    assert "iter      6" in printed and "iter     12" in printed and "trained 12 iterations" in printed
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "samples.txt").read_text().count("iteration") == 2
    assert demo.main(["--load", str(out / "char_lm.npz"), "--sample", "4", "--data", str(data)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert "loss on" in printed[1] and len(printed) == 2 + 4


def test_demo_reports_bad_input(tmp_path, capsys):
    assert demo.main(["--data", str(tmp_path / "nope.txt")]) == 2
    assert "error: char_lm: no corpus file" in capsys.readouterr().err
    assert demo.main(["--data", str(write(tmp_path, "zzzz\nzz\n"))]) == 2
    assert "distinct character" in capsys.readouterr().err
    mg.save({"w": np.ones(2)}, tmp_path / "other.npz")
    assert demo.main(["--load", str(tmp_path / "other.npz")]) == 2
    assert "not a char_lm checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        demo.main(["--iterations", "0"])


def dinos_or_skip() -> Path:
    if not DINOS.is_file():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the course's dinosaur list is missing: {DINOS.resolve()} (CI must provide ../shared/data)")
        pytest.skip(f"the course's dinos.txt is not at {DINOS.resolve()} (see docs/course.md)")
    return DINOS


def test_course_preset_prints_the_notebooks_lines(tmp_path, capsys):
    data = dinos_or_skip()
    assert demo.main(["--preset", "course", "--data", str(data), "--iterations", "2001", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert lines[0] == "There are 19909 total characters and 27 unique characters in your data."
    start = lines.index("Iteration: 0, Loss: 23.087336")
    assert lines[start + 2 : start + 9] == [
        "Nkzxwtdmfqoeyhsqwasjkjvu",
        "Kneb",
        "Kzxwtdmfqoeyhsqwasjkjvu",
        "Neb",
        "Zxwtdmfqoeyhsqwasjkjvu",
        "Eb",
        "Xwtdmfqoeyhsqwasjkjvu",
    ]
    assert "Iteration: 2000, Loss: 27.884160" in lines
    saved = mg.load(tmp_path / "dinosaurus.npz")
    assert {k: v.shape for k, v in saved.items()} == {
        "Wax": (50, 27),
        "Waa": (50, 50),
        "Wya": (27, 50),
        "b": (50, 1),
        "by": (27, 1),
    }


def test_course_preset_with_the_minigrad_engine_prints_the_same(tmp_path, capsys):
    data = dinos_or_skip()
    argv = ["--preset", "course", "--data", str(data), "--iterations", "150", "--sample-every", "50", "--sample", "3"]
    assert demo.main([*argv, "--out", str(tmp_path / "a")]) == 0
    by_hand = capsys.readouterr().out.split("\n")[:-2]  # the last line names the engine and the time
    assert demo.main([*argv, "--engine", "minigrad", "--out", str(tmp_path / "b")]) == 0
    assert capsys.readouterr().out.split("\n")[:-2] == by_hand
    assert sum(line.startswith("Iteration: ") for line in by_hand) == 3


def test_program_presets_refuse_flags_they_do_not_take(tmp_path, capsys):
    with pytest.raises(SystemExit):
        demo.main(["--preset", "course", "--cell", "lstm"])
    assert "--preset course runs that program as written; it does not take --cell" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        demo.main(["--preset", "min-char-rnn", "--batch-size", "4", "--optimizer", "adam"])
    assert "does not take --batch-size, --optimizer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        demo.main(["--engine", "minigrad"])
    assert "--engine applies to --preset course only" in capsys.readouterr().err
    for bad_lr in ("0", "inf", "nan"):
        with pytest.raises(SystemExit):
            demo.main(["--preset", "course", "--lr", bad_lr])
        assert "--lr must be a finite number > 0" in capsys.readouterr().err
    assert demo.main(["--preset", "course", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "minigrad does not ship" in err and "then pass --data dinos.txt" in err
    assert demo.main(["--preset", "course", "--data", str(tmp_path / "dinos.txt")]) == 2
    assert "load_dinos: no file at" in capsys.readouterr().err
