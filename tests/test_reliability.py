"""Nothing lost: training demos keep their checkpoint on Ctrl-C and SIGTERM; bad flags fail before training.

The interrupt tests start a real demo in a subprocess, send it a real signal once it is
training, and check the exit status (128 + signal), the single line it prints and the
checkpoint it leaves.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from demos import char_lm as char_lm_demo
from models import char_lm as lm

ROOT = Path(__file__).resolve().parents[1]


def start_demo(module: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def interrupt_when_training(proc: subprocess.Popen, started: str, signum: int, settle: float = 1.0) -> tuple[str, str]:
    """Wait for the line that starts with ``started`` on stdout, let it train a moment, send ``signum``."""
    seen = []
    deadline = time.monotonic() + 120
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.startswith(started):
                break
            assert time.monotonic() < deadline, "the demo never started training"
        else:
            pytest.fail(f"the demo ended before training: {''.join(seen)} {proc.stderr.read()}")
        time.sleep(settle)
        assert proc.poll() is None, "the demo finished before it could be interrupted"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return "".join(seen) + out, err


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_char_lm_keeps_its_checkpoint_when_interrupted(tmp_path, signum, code):
    proc = start_demo("demos.char_lm", "--iterations", "1000000", "--hidden", "8", "--batch-size", "4",
                      "--sample-every", "1000000", "--out", str(tmp_path))
    out, err = interrupt_when_training(proc, "model:", signum)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("train:")]  # not the bar
    name = signal.Signals(signum).name
    assert len(lines) == 1 and lines[0].startswith(f"interrupted ({name}): saved {tmp_path / 'char_lm.npz'} after ")
    model, vocab, meta = lm.load_checkpoint(tmp_path / "char_lm.npz")
    assert meta["run"]["interrupted"] == name
    done = meta["run"]["iterations"]
    assert done > 0 and f"after {done} of 1000000 iterations" in lines[0]
    assert lm.sample(model, vocab, 3, seed=0)                                  # the saved model samples
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]     # no half-written file left


def test_graceful_stop_raises_between_steps_and_restores_handlers():
    from demos._interrupt import GracefulStop, TrainingInterruptedError

    before = signal.getsignal(signal.SIGTERM)
    with GracefulStop() as stop:
        stop.check()                                  # nothing asked yet: no exception
        os.kill(os.getpid(), signal.SIGTERM)          # the handler only raises the flag ...
        for _ in range(100):
            if stop.requested:
                break
            time.sleep(0.01)
        with pytest.raises(TrainingInterruptedError, match="interrupted by SIGTERM") as caught:
            stop.check()                              # ... the loop raises at its next step boundary
        assert caught.value.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) == before


# --------------------------------------------------------------------------------------
# --out, --seed, --prefix and checkpoints checked before any training
# --------------------------------------------------------------------------------------

def test_out_whose_checkpoint_name_is_a_directory_fails_before_training(tmp_path, capsys):
    (tmp_path / "char_lm.npz").mkdir()
    with pytest.raises(SystemExit) as exit_:
        char_lm_demo.main(["--out", str(tmp_path), "--iterations", "1"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"--out {tmp_path}: {tmp_path / 'char_lm.npz'} is a directory" in err
    assert "train:" not in err


def test_out_inside_a_regular_file_fails_before_training(tmp_path, capsys):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(SystemExit):
        char_lm_demo.main(["--out", str(tmp_path / "plain" / "run"), "--iterations", "1"])
    assert f"--out {tmp_path / 'plain' / 'run'}: part of that path is a regular file" in capsys.readouterr().err


def test_out_that_is_a_file(tmp_path, capsys):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(SystemExit):
        char_lm_demo.main(["--out", str(tmp_path / "plain"), "--iterations", "1"])
    assert f"--out {tmp_path / 'plain'}: that is a file" in capsys.readouterr().err


def test_negative_seed_names_the_flag(capsys):
    with pytest.raises(SystemExit):
        char_lm_demo.parse_args(["--seed", "-1"])
    assert "--seed must be a non-negative integer, got -1" in capsys.readouterr().err


def small_checkpoint(path: Path, lowercase: bool = True) -> Path:
    text = "anna\nbob\nmaria\nmark\n"
    vocab = lm.Vocab.from_text(text)
    mg.manual_seed(0)
    model = lm.CharLM(vocab.size, 8, "rnn")
    return lm.save_checkpoint(path, model, vocab, lm.TrainConfig(lowercase=lowercase))


def test_prefix_in_capitals_works_when_the_data_were_lower_cased(tmp_path, capsys):
    ckpt = small_checkpoint(tmp_path / "c.npz")
    assert char_lm_demo.main(["--load", str(ckpt), "--prefix", "MA", "--sample", "3"]) == 0
    names = capsys.readouterr().out.splitlines()[-3:]
    assert all(name.startswith("ma") for name in names)


def test_prefix_with_unknown_characters_names_the_flag(tmp_path, capsys):
    ckpt = small_checkpoint(tmp_path / "c.npz", lowercase=False)
    assert char_lm_demo.main(["--load", str(ckpt), "--prefix", "MQ"]) == 2
    assert "--prefix 'MQ': 'MQ' not in the model's vocabulary" in capsys.readouterr().err


def test_load_of_nan_weights_refuses(tmp_path, capsys):
    ckpt = small_checkpoint(tmp_path / "c.npz")
    state = mg.load(ckpt)
    state["head.weight"][0, 0] = np.nan
    mg.save(state, ckpt)
    assert char_lm_demo.main(["--load", str(ckpt)]) == 2
    assert "holds non-finite weights (head.weight has 1 NaN/inf values)" in capsys.readouterr().err


def rewrite_settings(ckpt: Path, change) -> None:
    import json

    state = mg.load(ckpt)
    meta = json.loads(str(state["__char_lm__"]))
    change(meta["model"])
    state["__char_lm__"] = np.array(json.dumps(meta))
    mg.save(state, ckpt)


def test_load_with_an_unknown_settings_key_is_one_line(tmp_path, capsys):
    ckpt = small_checkpoint(tmp_path / "c.npz")
    rewrite_settings(ckpt, lambda model: model.update(colour="red"))
    assert char_lm_demo.main(["--load", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown model settings ['colour']" in err


def test_load_with_an_absurd_hidden_size_fails_before_allocating(tmp_path, capsys):
    ckpt = small_checkpoint(tmp_path / "c.npz")
    rewrite_settings(ckpt, lambda model: model.update(hidden_size=10**9))
    assert char_lm_demo.main(["--load", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "settings say hidden_size=1000000000 but its weights have hidden_size=8" in err


def test_load_of_a_midi_file_says_it_is_not_a_checkpoint(tmp_path, capsys):
    midi = tmp_path / "melody.mid"
    midi.write_bytes(b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk\x00\x00\x00\x00")
    assert char_lm_demo.main(["--load", str(midi)]) == 2
    assert "melody.mid is a MIDI file, not a minigrad checkpoint" in capsys.readouterr().err


def test_lines_mode_refuses_a_very_long_line_and_names_window_mode(tmp_path, capsys):
    data = tmp_path / "one_line.txt"
    data.write_text("abcdefghij" * 30_000 + "\n", encoding="utf-8")
    assert char_lm_demo.main(["--data", str(data), "--out", str(tmp_path / "out"), "--iterations", "2"]) == 2
    err = capsys.readouterr().err
    assert "line 1 has 300,000 characters" in err and "--mode window" in err
    assert not (tmp_path / "out" / "char_lm.npz").exists()


def test_window_mode_trains_on_the_same_long_line(tmp_path):
    data = tmp_path / "one_line.txt"
    data.write_text("abcdefghij" * 300 + "\n", encoding="utf-8")
    assert char_lm_demo.main(["--data", str(data), "--mode", "window", "--out", str(tmp_path / "out"),
                              "--iterations", "2", "--hidden", "4", "--sample", "1"]) == 0
    assert (tmp_path / "out" / "char_lm.npz").exists()


# --------------------------------------------------------------------------------------
# The music demo: saves its model, --load samples again without training
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_music_keeps_its_model_when_interrupted(tmp_path, signum, code):
    from models import music_lstm as music

    proc = start_demo("demos.music", "--steps", "1000000", "--hidden", "8", "--embedding", "4", "--seq-len", "8",
                      "--batch-size", "4", "--out", str(tmp_path))
    out, err = interrupt_when_training(proc, f"{len(music.load_tokens())} melodies", signum)
    assert proc.returncode == code, err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("train:")]
    name = signal.Signals(signum).name
    assert len(lines) == 1 and lines[0].startswith(f"interrupted ({name}): saved {tmp_path / 'model.npz'} after ")
    model, vocab, meta = music.load_checkpoint(tmp_path / "model.npz")
    assert meta["run"]["interrupted"] == name and meta["run"]["steps"] > 0
    assert len(music.generate(model, vocab, 5, seed=0)) == 5


def test_music_saves_its_model_and_load_samples_without_training(tmp_path, capsys):
    from demos import music as demo
    from models import music_lstm as music

    trained = demo.main(["--out", str(tmp_path / "a"), "--steps", "3", "--hidden", "8", "--embedding", "4",
                         "--length", "16", "--seed", "1", "--temperature", "0"])
    assert trained["checkpoint"] == tmp_path / "a" / "model.npz" and len(trained["losses"]) == 3
    capsys.readouterr()
    again = demo.main(["--load", str(tmp_path / "a" / "model.npz"), "--out", str(tmp_path / "b"),
                       "--length", "16", "--seed", "1", "--temperature", "0"])
    captured = capsys.readouterr()
    assert again["losses"] == [] and "train:" not in captured.err        # no training at all
    assert again["tokens"] == trained["tokens"]                            # the same model: the same greedy melody
    assert not (tmp_path / "b" / "model.npz").exists()
    model, _, _ = music.load_checkpoint(tmp_path / "a" / "model.npz")
    assert model.hidden_size == 8 and model.embedding_dim == 4


def test_music_load_of_a_midi_file_says_it_is_not_a_checkpoint(tmp_path, capsys):
    from demos import music as demo
    from models import music_lstm as music

    midi = music.write_midi(["60:4", "62:4"], tmp_path / "melody.mid")
    with pytest.raises(SystemExit):
        demo.main(["--load", str(midi), "--out", str(tmp_path)])
    assert "melody.mid is a MIDI file, not a minigrad checkpoint" in capsys.readouterr().err


def test_music_load_of_nan_weights_refuses(tmp_path, capsys):
    from demos import music as demo
    from models import music_lstm as music

    model = music.MusicLSTM(4, 2, 3)
    vocab = music.Vocab(["60:4", "62:4", "64:4"])
    ckpt = music.save_checkpoint(tmp_path / "m.npz", model, vocab)
    state = mg.load(ckpt)
    state["lstm.weight_hh_l0"][:] = np.nan
    mg.save(state, ckpt)
    with pytest.raises(SystemExit):
        demo.main(["--load", str(ckpt), "--out", str(tmp_path)])
    assert "holds non-finite weights (lstm.weight_hh_l0)" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--primer", "bwv9999"], "--primer 'bwv9999': no such chorale in the data"),
    (["--seed", "-1"], "--seed must be a non-negative integer, got -1"),
    (["--temperature", "nan"], "--temperature must be a finite number >= 0, got nan"),
    (["--lr", "inf"], "--lr must be a finite number > 0, got inf"),
])
def test_music_flags_are_checked_before_training(tmp_path, capsys, argv, message):
    from demos import music as demo

    with pytest.raises(SystemExit) as exit_:
        demo.main([*argv, "--out", str(tmp_path), "--steps", "1"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "train:" not in err
