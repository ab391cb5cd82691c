"""Generate a Bach-like melody with an LSTM: train, sample, and write MIDI, WAV and a piano roll.

    python -m demos.music                                  # ~1 minute on a laptop CPU
    python -m demos.music --temperature 0.7 --length 96    # safer (more quoting) and longer
    python -m demos.music --primer bwv1.6 --primer-len 8   # continue the opening of BWV 1.6
    python -m demos.music --primer "72:4 71:4 69:8"        # or your own notes (PITCH:DUR tokens)
    python -m demos.music --load runs/music/model.npz --temperature 0.7   # sample again, no retraining
    python -m demos.music --preset course                  # the course's djmodel, as the notebook builds it

The course's jazz model on the soprano lines of Bach's chorales (models/data/bach_soprano.txt):
an LSTM learns to predict each next (pitch, duration) token from the ones before (many-to-many),
then an inference loop samples a token, feeds it back, and repeats (one-to-many). Writes
model.npz (the trained model, for --load), melody.mid, melody.wav (numpy additive synth: listen
with any player) and pianoroll.png to --out. Ctrl-C (or SIGTERM) during training saves model.npz
and exits with status 130 (143).

--preset course is the notebook's own model and recipe (djmodel: a Keras-style LSTM with one bias,
n_a = 64, Tx = 30, one-hot values in, softmax out; m = 60 windows, 100 epochs of Adam lr 0.01 with
Keras's decay 0.01; greedy argmax inference for Ty = 50 values) on the same Bach tokens. It takes
--hidden (n_a), --seq-len (Tx), --epochs, --batch-size, --lr, --length (Ty), --seed, --data, --out,
--bpm; the other flags belong to the default model and are refused.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

import minigrad as mg
from demos import _cli
from demos._interrupt import GracefulStop, TrainingInterruptedError
from demos._progress import Progress
from models import music_lstm as music


def _primer(text: str, length: int, pieces: dict[str, list[str]]) -> list[str]:
    """``--primer``: the first ``length`` tokens of a named chorale, or PITCH:DUR tokens as given."""
    if not text:
        return []
    if text in pieces:
        return pieces[text][:length]
    if ":" not in text:  # a name, not notes: say which names there are
        names = list(pieces)
        raise ValueError(
            f"--primer {text!r}: no such chorale in the data (it has {len(names)}: "
            f"{', '.join(names[:4])}, ...); or give PITCH:DUR tokens such as '72:4 71:4 69:8'"
        )
    return text.split()


# --preset course: the notebook's values, and the flags it takes (the others belong to the default model).
COURSE_DEFAULTS = {
    "hidden": music.COURSE["n_a"],
    "seq_len": music.COURSE["Tx"],
    "epochs": music.COURSE["epochs"],
    "batch_size": music.COURSE["batch_size"],
    "lr": music.COURSE["lr"],
    "length": music.COURSE["Ty"],
}
COURSE_FLAGS = {"preset", "data", "out", "hidden", "seq_len", "epochs", "batch_size", "lr", "length", "seed", "bpm"}


def _given(parser: argparse.ArgumentParser, argv: list[str] | None) -> set[str]:
    """The ``dest`` of every option the command line actually gave (defaults not counted)."""
    defaults = {action.dest: action.default for action in parser._actions}
    for action in parser._actions:  # argparse has no public "was it given?": parse once without defaults
        action.default = argparse.SUPPRESS
    try:
        return set(vars(parser.parse_args(argv)))
    finally:
        for action in parser._actions:
            action.default = defaults[action.dest]


def run_course(args: argparse.Namespace) -> dict[str, object]:
    """The notebook's djmodel, trained and played as the notebook does (see models/music_lstm.py)."""
    pieces = music.load_tokens(args.data)
    vocab = music.Vocab.from_pieces(pieces)
    stream = music.token_stream(pieces, vocab)
    X, Y = music.course_data(stream, len(vocab), m=music.COURSE["m"], Tx=args.seq_len)
    print(
        f"{len(pieces)} melodies, {len(stream)} tokens; n_values = {len(vocab)}; X {X.shape}, Y {Y.shape} "
        f"(m = {X.shape[0]} windows of Tx = {args.seq_len}, x<1> = 0)"
    )
    model = music.DJModel(len(vocab), n_a=args.hidden, seed=args.seed)
    print(
        f"djmodel: LSTM_cell n_a = {args.hidden} (one bias, Keras init), densor {len(vocab)} + softmax; "
        f"{model.num_parameters():,} parameters; Adam lr {args.lr}, beta1 0.9, beta2 0.999, decay 0.01"
    )
    checkpoint = args.out / "djmodel.npz"

    epochs_done = []

    def after_epoch(epoch: int, loss: float) -> None:
        epochs_done.append(epoch)
        bar.update(1, loss=loss)
        stop.check()  # Ctrl-C / SIGTERM: stop between two epochs, weights whole

    with GracefulStop() as stop, Progress(args.epochs, "epochs") as bar:
        try:
            losses = music.train_course(
                model,
                X,
                Y,
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                seed=args.seed,
                on_epoch=after_epoch,
            )
        except TrainingInterruptedError as interrupted:
            mg.save(model.state_dict(), checkpoint)
            print(
                interrupted.message(f"saved {checkpoint} after {len(epochs_done)} of {args.epochs} epochs"),
                file=sys.stderr,
            )
            raise SystemExit(interrupted.exit_code) from None
    print(
        f"loss (summed over the {args.seq_len} outputs): {losses[0]:.3f} after epoch 1, "
        f"{losses[-1]:.3f} after epoch {len(losses)}"
    )
    indices = music.course_inference(model, Ty=args.length)
    values = vocab.decode(indices)
    print("generated (greedy argmax, fed back): " + " ".join(values))
    played = [v for v in values if v != music.START]
    if len(played) < len(values):
        print(f"({len(values) - len(played)} chorale-start markers {music.START} left out of the melody)")
    if not played:
        raise SystemExit("error: the model generated only chorale-start markers; train longer (--epochs)")
    notes = music.merge_rests(played)
    args.out.mkdir(parents=True, exist_ok=True)
    midi = music.write_midi(notes, args.out / "melody.mid", bpm=args.bpm)
    wav = music.write_wav(notes, args.out / "melody.wav", bpm=args.bpm)
    png = music.plot_pianoroll(
        notes, args.out / "pianoroll.png", title=f"the course's djmodel on Bach chorales, {len(losses)} epochs, greedy"
    )
    mg.save(model.state_dict(), checkpoint)
    seconds = sum(d for _, d in notes) * 15 / args.bpm
    print(
        f"wrote {midi} ({len(notes)} notes, {seconds:.0f} s at {args.bpm:g} bpm), {wav}, {png}, "
        f"{args.out / 'djmodel.npz'}"
    )
    return {"losses": losses, "tokens": values, "notes": notes, "files": (midi, wav, png)}


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = _cli.parser(__doc__, "python -m demos.music")
    parser.add_argument(
        "--preset",
        choices=("default", "course"),
        default="default",
        help="'course': the notebook's djmodel and training recipe (see above)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        help=f"--preset course only: passes over the m = 60 windows (default {music.COURSE['epochs']})",
    )
    parser.add_argument(
        "--data", type=Path, default=music.DEFAULT_DATA, help="token file (default: the committed Bach soprano lines)"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/music"), help="output folder (default runs/music)")
    parser.add_argument("--steps", type=int, default=2000, help="training steps (default 2000)")
    parser.add_argument("--hidden", type=int, default=128, help="LSTM hidden size n_a (default 128)")
    parser.add_argument("--embedding", type=int, default=32, help="token embedding size (default 32)")
    parser.add_argument("--seq-len", type=int, default=32, help="training window, in tokens (default 32)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (default 0.01)")
    parser.add_argument("--length", type=int, default=64, help="notes to generate (default 64)")
    parser.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="sampling temperature: 0 = always the likeliest note, 1 = the model's own odds",
    )
    parser.add_argument(
        "--primer", default="", help="a chorale name from the data (e.g. bwv1.6) or PITCH:DUR tokens to continue"
    )
    parser.add_argument("--primer-len", type=int, default=8, help="tokens taken from a named chorale (default 8)")
    parser.add_argument("--bpm", type=float, default=90, help="tempo of the MIDI and WAV (default 90)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights, the batches and the sampling")
    parser.add_argument(
        "--load",
        type=Path,
        metavar="CHECKPOINT",
        help="skip training: sample from this model.npz (written by an earlier run)",
    )
    args = parser.parse_args(argv)
    if args.preset == "course":
        refused = sorted(_given(parser, argv) - COURSE_FLAGS)
        if refused:
            parser.error(
                f"--preset course is the notebook's model; it does not take "
                f"{', '.join('--' + r.replace('_', '-') for r in refused)} (it takes "
                f"{', '.join('--' + f.replace('_', '-') for f in sorted(COURSE_FLAGS - {'preset'}))})"
            )
        given = _given(parser, argv)
        for key, value in COURSE_DEFAULTS.items():
            if key not in given:
                setattr(args, key, value)
        for name in ("hidden", "seq_len", "epochs", "batch_size", "length"):
            if getattr(args, name) < (2 if name == "seq_len" else 1):
                parser.error(
                    f"--{name.replace('_', '-')} must be at least {2 if name == 'seq_len' else 1}, "
                    f"got {getattr(args, name)}"
                )
        if not all(value > 0 and math.isfinite(value) for value in (args.lr, args.bpm)):
            parser.error(f"--lr and --bpm must be finite numbers > 0, got {args.lr} and {args.bpm}")
        _cli.check_output_folder(parser, args.out, ["djmodel.npz", "melody.mid", "melody.wav", "pianoroll.png"])
        try:
            return run_course(args)
        except (FileNotFoundError, ValueError, FloatingPointError) as err:
            parser.error(str(err))
    if args.epochs is not None:
        parser.error("--epochs belongs to --preset course (the default model counts --steps)")
    for name in ("steps", "hidden", "embedding", "seq_len", "batch_size", "length", "primer_len"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    for flag, value, ok in (
        ("--temperature", args.temperature, args.temperature >= 0),
        ("--bpm", args.bpm, args.bpm > 0),
        ("--lr", args.lr, args.lr > 0),
    ):
        if not (ok and math.isfinite(value)):
            parser.error(f"{flag} must be a finite number {'>= 0' if flag == '--temperature' else '> 0'}, got {value}")
    if args.seed < 0:
        parser.error(f"--seed must be a non-negative integer, got {args.seed}")
    _cli.check_output_folder(parser, args.out, ["model.npz", "melody.mid", "melody.wav", "pianoroll.png"])

    try:
        pieces = music.load_tokens(args.data)
    except (FileNotFoundError, ValueError) as err:
        parser.error(str(err))
    if args.load is not None:
        try:
            model, vocab, _ = music.load_checkpoint(args.load)
        except (OSError, ValueError) as err:
            parser.error(f"--load: {err}")
        print(f"loaded {args.load}: MusicLSTM(hidden {model.hidden_size}), vocabulary of {len(vocab)} tokens")
    else:
        vocab = music.Vocab.from_pieces(pieces)
    try:
        primer = _primer(args.primer, args.primer_len, pieces)
        vocab.encode(primer)
    except ValueError as err:
        parser.error(f"--primer: {err}" if not str(err).startswith("--primer") else str(err))
    checkpoint = args.out / "model.npz"
    losses: list[float] = []
    if args.load is None:
        stream = music.token_stream(pieces, vocab)
        print(
            f"{len(pieces)} melodies, {len(stream)} tokens, vocabulary of {len(vocab)} (pitch, duration) "
            f"tokens, pitches {vocab.pitch_range()}"
        )
        mg.manual_seed(args.seed)
        try:
            model = music.MusicLSTM(len(vocab), args.embedding, args.hidden)
        except MemoryError as err:
            parser.error(f"--hidden {args.hidden} / --embedding {args.embedding}: too large to allocate ({err})")
        smoothed: list[float] = []
        # Ctrl-C / SIGTERM stop between two steps; the model of the last finished step is saved.
        with GracefulStop() as stop, Progress(args.steps, "train") as bar:

            def on_step(step: int, loss: float) -> None:
                smoothed.append(loss if not smoothed else 0.95 * smoothed[-1] + 0.05 * loss)
                losses.append(loss)
                bar.update(1, loss=smoothed[-1])
                stop.check()

            try:
                music.train(
                    model,
                    stream,
                    steps=args.steps,
                    seq_len=args.seq_len,
                    batch_size=args.batch_size,
                    lr=args.lr,
                    seed=args.seed,
                    on_step=on_step,
                )
            except TrainingInterruptedError as interrupted:
                stopped = interrupted
            else:
                stopped = None
        run = {"steps": len(losses), "data": str(args.data), "seed": args.seed}
        if stopped is not None:
            music.save_checkpoint(checkpoint, model, vocab, run={**run, "interrupted": stopped.name})
            print(stopped.message(f"saved {checkpoint} after {len(losses)} of {args.steps} steps"), file=sys.stderr)
            raise SystemExit(stopped.exit_code)
        music.save_checkpoint(checkpoint, model, vocab, run=run)
        print(
            f"loss: {losses[0]:.3f} at the start, {smoothed[-1]:.3f} (smoothed) at the end "
            f"(uniform guessing: {np.log(len(vocab)):.3f})"
        )

    new = music.generate(model, vocab, args.length, temperature=args.temperature, primer=primer, seed=args.seed)
    notes = music.merge_rests(primer + new)
    print(("primer: " + " ".join(primer) + "\n" if primer else "") + "generated: " + " ".join(new))
    quote, source = music.longest_quote(new, pieces)
    print(
        f"longest stretch copied note for note from one training melody: {quote} of {len(new)} tokens"
        + (f" ({source})" if quote else "")
    )

    midi = music.write_midi(notes, args.out / "melody.mid", bpm=args.bpm)
    wav = music.write_wav(notes, args.out / "melody.wav", bpm=args.bpm)
    png = music.plot_pianoroll(
        notes,
        args.out / "pianoroll.png",
        primer_len=len(music.merge_rests(primer)),
        title=f"LSTM on Bach chorales, temperature {args.temperature}",
    )
    seconds = sum(d for _, d in notes) * 15 / args.bpm
    print(f"wrote {midi} ({len(notes)} notes, {seconds:.0f} s at {args.bpm:g} bpm), {wav}, {png}")
    if args.load is None:
        print(f"model: {checkpoint} (sample again: python -m demos.music --load {checkpoint} --temperature 0.7)")
    return {
        "losses": losses,
        "tokens": new,
        "notes": notes,
        "files": (midi, wav, png),
        "checkpoint": args.load if args.load is not None else checkpoint,
    }


if __name__ == "__main__":
    main()
