"""LSTM music generation (models/music_lstm.py, demos/music.py): tokens, MIDI, WAV, piano roll, model.

MIDI files are checked with mido, an independent parser (the `test` extra), as well as read back
with the module's own reader; WAV files with the stdlib `wave` module and an FFT.
"""

from __future__ import annotations

import wave

import mido
import numpy as np
import pytest

import minigrad as mg
from models import music_lstm as music

TWINKLE = "60:4 60:4 67:4 67:4 69:4 69:4 67:8 65:4 65:4 64:4 64:4 62:4 62:4 60:8".split()


@pytest.fixture(scope="module")
def pieces():
    return music.load_tokens()


# ---- tokens and the committed data ---------------------------------------------------------


def test_tokens_parse_and_format():
    assert music.parse_token("67:4") == (67, 4)
    assert music.parse_token("R:2") == (None, 2)
    for token in ("60:1", "R:16", "127:3", "0:64"):
        assert music.format_token(music.parse_token(token)) == token
    for bad in ("67", "x:4", "67:0", "128:4", "67:-1", "R:", "67:4.5"):
        with pytest.raises(ValueError, match="parse_token"):
            music.parse_token(bad)


def test_committed_bach_file(pieces):
    text = music.DEFAULT_DATA.read_text()
    assert text.startswith("# Bach chorales") and "PITCH:DUR" in text  # the header documents the format
    assert music.DEFAULT_DATA.stat().st_size < 300_000
    assert len(pieces) > 300 and "bwv1.6" in pieces
    notes = [music.parse_token(t) for piece in pieces.values() for t in piece]
    pitches = [p for p, _ in notes if p is not None]
    assert 50 <= min(pitches) and max(pitches) <= 90  # a soprano line
    assert np.mean([d == 4 for _, d in notes]) > 0.5  # mostly quarter notes
    for piece in pieces.values():  # canonical: rests merged, trimmed
        assert not piece[0].startswith("R") and not piece[-1].startswith("R")
        assert not any(a.startswith("R") and b.startswith("R") for a, b in zip(piece, piece[1:]))


def test_load_tokens_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load_tokens: no token file at .*nowhere\.txt"):
        music.load_tokens(tmp_path / "nowhere.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n   \n")
    with pytest.raises(ValueError, match="load_tokens: .*empty.txt holds no melodies"):
        music.load_tokens(empty)
    bad = tmp_path / "bad.txt"
    bad.write_text("# header\nok\t60:4 62:4\nbroken\t60:4 sixty:4\n")
    with pytest.raises(ValueError, match=r"bad.txt, line 3: parse_token: 'sixty:4'"):
        music.load_tokens(bad)
    plain = tmp_path / "plain.txt"
    plain.write_text("60:4 62:4\n64:8\n")  # names are optional
    assert music.load_tokens(plain) == {"line1": ["60:4", "62:4"], "line2": ["64:8"]}


def test_vocab_and_batches(pieces):
    vocab = music.Vocab.from_pieces(pieces)
    assert vocab.tokens[0] == music.START and len(vocab) == len(set(vocab.tokens))
    ids = vocab.encode(pieces["bwv1.6"])
    assert vocab.decode(ids) == pieces["bwv1.6"]
    with pytest.raises(ValueError, match=r"Vocab.encode: token\(s\) \['20:4'\] are not in the vocabulary"):
        vocab.encode(["60:4", "20:4"])
    stream = music.token_stream(pieces, vocab)
    assert (stream == 0).sum() == len(pieces) and stream[0] == 0
    x, y = music.batches(stream, 16, 5, np.random.default_rng(0))
    assert x.shape == y.shape == (16, 5)
    np.testing.assert_array_equal(x[1:], y[:-1])  # y is x shifted by one step
    with pytest.raises(ValueError, match="batches: the token stream has 3 tokens, need at least"):
        music.batches(stream[:3], 16, 5, np.random.default_rng(0))


# ---- MIDI ----------------------------------------------------------------------------------


def test_midi_round_trip_every_chorale(tmp_path, pieces):
    path = tmp_path / "m.mid"
    for name, tokens in pieces.items():
        music.write_midi(tokens, path)
        assert [music.format_token(n) for n in music.read_midi(path)] == tokens, name


def test_midi_round_trip_rests_and_durations(tmp_path):
    tokens = ["R:3", "60:1", "61:2", "R:1", "62:3", "127:64", "0:5", "R:7"]
    path = music.write_midi(tokens, tmp_path / "edge.mid", bpm=123)
    assert [music.format_token(n) for n in music.read_midi(path)] == tokens
    # consecutive rests come back as one: MIDI has delays, not rest events
    path = music.write_midi(["60:4", "R:2", "R:2", "62:4"], tmp_path / "rests.mid")
    assert music.read_midi(path) == music.merge_rests(["60:4", "R:2", "R:2", "62:4"]) == [(60, 4), (None, 4), (62, 4)]


def test_midi_file_is_valid_for_mido(tmp_path):
    path = music.write_midi(TWINKLE, tmp_path / "twinkle.mid", bpm=120, program=19)
    mid = mido.MidiFile(path)
    assert mid.type == 0 and len(mid.tracks) == 1 and mid.ticks_per_beat == music.TICKS_PER_QUARTER
    msgs = list(mid.tracks[0])
    assert msgs[-1].type == "end_of_track"
    assert [m.tempo for m in msgs if m.type == "set_tempo"] == [mido.bpm2tempo(120)]
    assert [m.program for m in msgs if m.type == "program_change"] == [19]
    ons = [m.note for m in msgs if m.type == "note_on" and m.velocity > 0]
    offs = [m.note for m in msgs if m.type == "note_off"]
    assert ons == offs == [music.parse_token(t)[0] for t in TWINKLE]
    sixteenths = sum(music.parse_token(t)[1] for t in TWINKLE)
    assert mid.length == pytest.approx(sixteenths * 15 / 120)  # seconds at 120 bpm


def test_read_midi_errors(tmp_path):
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"RIFF....not midi")
    with pytest.raises(ValueError, match="read_midi: .*junk.mid is not a standard MIDI file"):
        music.read_midi(junk)
    good = music.write_midi(TWINKLE, tmp_path / "good.mid").read_bytes()
    cut = tmp_path / "cut.mid"
    cut.write_bytes(good[:40])
    with pytest.raises(ValueError, match="read_midi: .*cut.mid: a track chunk runs past the end"):
        music.read_midi(cut)
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(good[:14] + b"MTrk" + (3).to_bytes(4, "big") + b"\x00\x90\x3c")  # note-on, no velocity
    with pytest.raises(ValueError, match="read_midi: .*corrupt.mid: truncated or corrupt event data"):
        music.read_midi(corrupt)


def test_write_midi_rejects_bad_notes(tmp_path):
    with pytest.raises(ValueError, match=r"write_midi: note 1 is \(200, 4\); pitch must be an int 0..127"):
        music.write_midi([(60, 4), (200, 4)], tmp_path / "x.mid")
    with pytest.raises(ValueError, match=r"write_midi: note 0 is \(60, 0\)"):
        music.write_midi([(60, 0)], tmp_path / "x.mid")
    with pytest.raises(TypeError, match="write_midi: note 0 is 60, expected"):
        music.write_midi([60], tmp_path / "x.mid")
    with pytest.raises(ValueError, match="write_midi: program must be 0..127"):
        music.write_midi(TWINKLE, tmp_path / "x.mid", program=300)


# ---- WAV and piano roll --------------------------------------------------------------------


def test_wav_is_valid_and_in_tune(tmp_path):
    path = music.write_wav(["69:8", "R:4", "72:4"], tmp_path / "a.wav", bpm=60, sample_rate=8000)
    with wave.open(str(path)) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (1, 2, 8000)
        samples = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.float64)
    assert len(samples) == pytest.approx(4 * 8000, abs=2)  # 16 sixteenths at 60 bpm = 4 s
    assert 0.7 * 32767 < np.abs(samples).max() <= 0.81 * 32767  # normalised, no clipping
    a4 = samples[: 2 * 8000]  # the half note A4
    spectrum = np.abs(np.fft.rfft(a4 * np.hanning(len(a4))))
    assert np.fft.rfftfreq(len(a4), 1 / 8000)[spectrum.argmax()] == pytest.approx(440, abs=1)
    assert np.abs(samples[int(2.1 * 8000) : int(2.9 * 8000)]).max() == 0  # the rest is silent


def test_pianoroll_png(tmp_path):
    import matplotlib.image as mpimg

    path = music.plot_pianoroll(TWINKLE, tmp_path / "roll.png", primer_len=4)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] == 400 and image.shape[1] >= 600


# ---- the model -----------------------------------------------------------------------------


def test_small_model_overfits_a_short_melody():
    pieces = {"twinkle": TWINKLE}
    vocab = music.Vocab.from_pieces(pieces)
    stream = music.token_stream(pieces, vocab)
    mg.manual_seed(0)
    model = music.MusicLSTM(len(vocab), embedding_dim=8, hidden_size=32)
    losses = music.train(model, stream, steps=150, seq_len=len(TWINKLE), batch_size=2, lr=0.02)
    assert losses[0] > 1.5 and losses[-1] < 0.05
    # fed back its own choices from START, the greedy inference loop plays the melody again
    assert music.generate(model, vocab, len(TWINKLE), temperature=0) == TWINKLE
    assert music.generate(model, vocab, 6, temperature=0, primer=TWINKLE[:8]) == TWINKLE[8:14]


def test_generation_is_seeded_valid_midi_and_in_range(tmp_path, pieces):
    vocab = music.Vocab.from_pieces(pieces)
    mg.manual_seed(1)
    model = music.MusicLSTM(len(vocab), embedding_dim=8, hidden_size=16)
    music.train(model, music.token_stream(pieces, vocab), steps=5, seq_len=16, batch_size=4)
    a = music.generate(model, vocab, 40, temperature=1.0, seed=3)
    assert a == music.generate(model, vocab, 40, temperature=1.0, seed=3)
    assert a != music.generate(model, vocab, 40, temperature=1.0, seed=4)
    assert len(a) == 40 and music.START not in a and set(a) <= set(vocab.tokens)
    assert model.training  # generate() leaves the caller's mode as it found it
    model.eval()
    assert music.generate(model, vocab, 40, temperature=1.0, seed=3) == a and not model.training

    notes = music.merge_rests(a)
    path = music.write_midi(notes, tmp_path / "gen.mid")
    assert music.read_midi(path) == notes
    mid = mido.MidiFile(path)
    played = [m.note for m in mid.tracks[0] if m.type == "note_on"]
    low, high = (int(p) for p in vocab.pitch_range().split(".."))
    assert played and all(low <= p <= high for p in played)
    assert mid.length == pytest.approx(sum(d for _, d in notes) * 15 / 90)


def test_generate_errors(pieces):
    vocab = music.Vocab.from_pieces(pieces)
    model = music.MusicLSTM(len(vocab), embedding_dim=4, hidden_size=4)
    with pytest.raises(ValueError, match="generate: temperature must be >= 0"):
        music.generate(model, vocab, 4, temperature=-1)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        music.generate(model, vocab, 4, primer=["20:4"])
    with pytest.raises(ValueError, match="generate: the model predicts 5 tokens but the vocabulary has"):
        music.generate(music.MusicLSTM(5, 4, 4), vocab, 4)


# ---- the demo ------------------------------------------------------------------------------


def test_demo_writes_the_three_files(tmp_path, capsys):
    from demos import music as demo

    result = demo.main(
        [
            "--out",
            str(tmp_path / "out"),
            "--steps",
            "3",
            "--hidden",
            "8",
            "--embedding",
            "4",
            "--length",
            "12",
            "--primer",
            "bwv1.6",
            "--primer-len",
            "4",
            "--seed",
            "2",
        ]
    )
    midi, wav, png = result["files"]
    assert midi.name == "melody.mid" and wav.name == "melody.wav" and png.name == "pianoroll.png"
    assert all(p.parent == tmp_path / "out" and p.stat().st_size > 0 for p in (midi, wav, png))
    assert music.read_midi(midi)[:4] == [music.parse_token(t) for t in music.load_tokens()["bwv1.6"][:4]]
    out = capsys.readouterr().out
    assert "melodies" in out and "generated:" in out and "wrote" in out


def test_demo_reports_bad_data(tmp_path, capsys):
    from demos import music as demo

    with pytest.raises(SystemExit):
        demo.main(["--data", str(tmp_path / "missing.txt"), "--out", str(tmp_path)])
    assert "no token file at" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(SystemExit):
        demo.main(["--data", str(empty), "--out", str(tmp_path)])
    assert "holds no melodies" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        demo.main(["--primer", "61:3 20:4", "--out", str(tmp_path)])
    assert "--primer: Vocab.encode" in capsys.readouterr().err


# ---- the course's djmodel (--preset course) ------------------------------------------------


def test_keras_lstm_cell_is_an_lstm_cell_with_one_bias():
    cell = music.KerasLSTMCell(5, 3, np.random.default_rng(1), dtype=np.float64)
    assert [name for name, _ in cell.named_parameters()] == ["kernel", "recurrent_kernel", "bias"]
    np.testing.assert_array_equal(cell.bias.numpy(), [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])  # unit_forget_bias
    u = cell.recurrent_kernel.numpy()
    np.testing.assert_allclose(u @ u.T, np.eye(3), atol=1e-12)  # orthogonal rows
    limit = np.sqrt(6 / (5 + 12))
    assert np.abs(cell.kernel.numpy()).max() <= limit  # glorot-uniform
    # Same maths as PyTorch's LSTMCell (gates i, f, g, o) with weight = kernel^T, bias_ih = bias, bias_hh = 0.
    torch_like = mg.nn.LSTMCell(5, 3, dtype=np.float64)
    torch_like.load_state_dict(
        {"weight_ih": cell.kernel.numpy().T, "weight_hh": u.T, "bias_ih": cell.bias.numpy(), "bias_hh": np.zeros(12)}
    )
    rng = np.random.default_rng(2)
    x, a, c = rng.standard_normal((4, 5)), rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    a1, c1 = cell(mg.tensor(x), (mg.tensor(a), mg.tensor(c)))
    a2, c2 = torch_like(mg.tensor(x), (mg.tensor(a), mg.tensor(c)))
    np.testing.assert_allclose(a1.numpy(), a2.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c1.numpy(), c2.numpy(), rtol=1e-12, atol=1e-14)


def test_course_data_is_the_notebooks_data_processing():
    stream = np.arange(100) % 7
    X, Y = music.course_data(stream, 7, m=5, Tx=6, seed=0)
    assert X.shape == (5, 6, 7) and Y.shape == (6, 5, 7)
    assert not X[:, 0].any() and not Y[-1].any()  # x<1> = 0; the last output has no target
    np.testing.assert_array_equal(Y[:-1], np.swapaxes(X[:, 1:], 0, 1))  # y<t> = x<t+1>
    first = np.random.RandomState(0).choice(100 - 6)  # the course: np.random.seed(0); choice(...)
    assert X[0, 1:].argmax(axis=1).tolist() == stream[first + 1 : first + 6].tolist()
    with pytest.raises(ValueError, match="windows of Tx=6 need more"):
        music.course_data(stream[:6], 7, Tx=6)


def test_categorical_crossentropy_sums_outputs_and_ignores_empty_targets():
    rng = np.random.default_rng(0)
    scores = [mg.tensor(rng.standard_normal((2, 4))) for _ in range(3)]
    Y = np.zeros((3, 2, 4))
    Y[0, 0, 1] = Y[0, 1, 3] = Y[1, 0, 2] = 1  # step 1 of example 1 and step 2 are empty
    log_p = [s.numpy() - np.log(np.exp(s.numpy()).sum(axis=1, keepdims=True)) for s in scores]
    expected = -(log_p[0][0, 1] + log_p[0][1, 3]) / 2 - log_p[1][0, 2] / 2
    assert music.categorical_crossentropy(scores, Y).item() == pytest.approx(expected, rel=1e-12)


def test_train_course_is_keras_adam_with_decay(pieces):
    vocab = music.Vocab.from_pieces(pieces)
    X, Y = music.course_data(music.token_stream(pieces, vocab), len(vocab), m=8, Tx=5)
    model = music.DJModel(len(vocab), n_a=6, seed=3, dtype=np.float64)
    twin = music.DJModel(len(vocab), n_a=6, seed=3, dtype=np.float64)
    music.train_course(model, X, Y, epochs=3, batch_size=8)  # one batch per epoch: 3 updates
    params = list(twin.parameters())
    m_t = [np.zeros_like(p.numpy()) for p in params]
    v_t = [np.zeros_like(p.numpy()) for p in params]
    for k in range(3):  # Keras 2's Adam, written out
        for p in params:
            p.grad = None
        music.categorical_crossentropy(twin(X), Y).backward()
        lr_k = 0.01 / (1 + 0.01 * k)
        t = k + 1
        for p, m_, v_ in zip(params, m_t, v_t):
            g = np.asarray(p.grad)
            m_[...] = 0.9 * m_ + 0.1 * g
            v_[...] = 0.999 * v_ + 0.001 * g * g
            p.add_(-lr_k * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m_ / (np.sqrt(v_) + 1e-7))
    for (name, p), q in zip(model.named_parameters(), params):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_course_model_learns_and_plays_greedily(pieces):
    vocab = music.Vocab.from_pieces(pieces)
    X, Y = music.course_data(music.token_stream(pieces, vocab), len(vocab), m=4, Tx=8)
    model = music.DJModel(len(vocab), n_a=16, seed=0)
    losses = music.train_course(model, X, Y, epochs=40, batch_size=4)  # four windows: learnt by heart
    assert losses[-1] < 0.6 * losses[0]
    played = music.course_inference(model, Ty=12)
    assert played == music.course_inference(model, Ty=12)  # argmax: no randomness
    with mg.no_grad():  # step 1 from x = 0 and zero states
        a, _ = model.lstm_cell(mg.tensor(np.zeros((1, len(vocab)), dtype=np.float32)), model.zero_state(1))
        assert played[0] == int(model.densor(a).numpy().argmax())
    with pytest.raises(ValueError, match="Ty must be >= 1"):
        music.course_inference(model, Ty=0)
    with pytest.raises(ValueError, match=r"X must be one-hot of shape \(m, Tx, n_values="):
        model(np.zeros((2, 3, 5)))


def test_demo_course_preset_writes_the_files_and_refuses_other_flags(tmp_path, capsys):
    from demos import music as demo

    result = demo.main(
        ["--preset", "course", "--epochs", "2", "--hidden", "8", "--length", "10", "--out", str(tmp_path)]
    )
    assert len(result["losses"]) == 2 and len(result["tokens"]) == 10
    assert all(p.stat().st_size > 0 for p in result["files"]) and (tmp_path / "djmodel.npz").is_file()
    out = capsys.readouterr().out
    assert "X (60, 30, " in out and "greedy argmax" in out and "decay 0.01" in out
    with pytest.raises(SystemExit):
        demo.main(["--preset", "course", "--primer", "bwv1.6"])
    assert "--preset course is the notebook's model; it does not take --primer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        demo.main(["--epochs", "3"])
    assert "--epochs belongs to --preset course" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        demo.main(["--preset", "course", "--lr", "nan"])
    assert "--lr and --bpm must be finite numbers > 0" in capsys.readouterr().err
