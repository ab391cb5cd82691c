"""Train a character-level language model on names, then make up new ones.

    python -m demos.char_lm                                   # ~1 min: an LSTM on 5,163 US Census first names
    python -m demos.char_lm --preset course --data dinos.txt          # the course's Dinosaurus Island, as printed
    python -m demos.char_lm --preset min-char-rnn --data any.txt      # Karpathy's min-char-rnn, step for step
    python -m demos.char_lm --load runs/char_lm/char_lm.npz --sample 20 --temperature 0.7

Training prints a progress bar with the smoothed loss (per character, in nats; log(V) = a
uniform guess) and 7 sampled names every --sample-every iterations. It writes, under --out:
char_lm.npz (weights + vocabulary + config, no pickle), loss.png and samples.txt.

The presets 'course' and 'min-char-rnn' are not settings of this trainer: they run the two
programs themselves (models/dinosaurus.py, models/min_char_rnn.py) and print what they print;
they take --data, --iterations, --hidden, --lr, --sample-every, --out (course: also --sample,
--engine; min-char-rnn: also --seq-len, --max-len, --seed) and refuse the others.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import minigrad as mg
from demos import _cli
from demos._interrupt import GracefulStop, TrainingInterruptedError
from demos._progress import Progress
from models import char_lm as lm
from models import dinosaurus as dino
from models.min_char_rnn import MinCharRNNTrainer

# Each preset fills in defaults; flags given on the command line still win.
PRESETS: dict[str, dict[str, Any]] = {
    # The headline demo: plausible names in about a minute on a 2-core CPU.
    "default": dict(
        mode="lines",
        cell="lstm",
        hidden=64,
        layers=1,
        embedding_dim=0,
        batch_size=32,
        optimizer="adam",
        lr=0.01,
        clip_value=5.0,
        clip_norm=0,
        reduction="mean",
        iterations=10000,
        sample_every=2000,
        max_len=50,
    ),
}

# The two programs, run as written (not through CharLM/Trainer): their defaults, then the flags they take.
PROGRAMS: dict[str, dict[str, Any]] = {
    # Sequence Models, week 1, "Dinosaurus Island": the notebook's call, model(..., 22001, verbose=True).
    "course": dict(iterations=22001, hidden=50, lr=0.01, sample=7, sample_every=2000, engine="numpy"),
    # Karpathy's min-char-rnn.py: hidden 100, windows of 25, Adagrad lr 0.1, 200-character samples every 100.
    "min-char-rnn": dict(iterations=20000, hidden=100, lr=0.1, seq_len=25, sample_every=100, max_len=200, seed=0),
}
PROGRAM_FLAGS = {
    "course": {"data", "iterations", "hidden", "lr", "sample", "sample_every", "engine", "out"},
    "min-char-rnn": {"data", "iterations", "hidden", "lr", "seq_len", "sample_every", "max_len", "seed", "out"},
}


def build_parser() -> argparse.ArgumentParser:
    presets = "\n".join(
        f"  {name:13s}" + " ".join(f"--{k.replace('_', '-')}={v}" for k, v in values.items())
        for name, values in {**PRESETS, **PROGRAMS}.items()
    )
    parser = _cli.parser(
        __doc__, "python -m demos.char_lm", epilog_extra="\npresets (flags on the command line win):\n" + presets
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"text file: one name per line (--mode lines) or free text (--mode window); "
        f"default {lm.DEFAULT_CORPUS.relative_to(lm.DEFAULT_CORPUS.parents[2])}",
    )
    data.add_argument(
        "--mode",
        choices=lm.MODES,
        help="lines: one item per example, padded batches (the course); window: fixed windows of a "
        "continuous text, hidden state carried across them (truncated BPTT, min-char-rnn)",
    )
    data.add_argument("--keep-case", action="store_true", help="do not lower-case the text (the course lower-cases)")
    data.add_argument(
        "--preset",
        choices=sorted([*PRESETS, *PROGRAMS]),
        default="default",
        help="'default': this trainer's defaults; 'course' and 'min-char-rnn' run those two programs "
        "as written (see below)",
    )

    model = parser.add_argument_group("model")
    model.add_argument("--cell", choices=lm.CELLS)
    model.add_argument("--hidden", type=int, help="hidden units")
    model.add_argument("--layers", type=int, help="stacked recurrent layers")
    model.add_argument("--embedding-dim", type=int, help="0 = one-hot inputs (the course); else an Embedding")

    train = parser.add_argument_group("training")
    train.add_argument("--iterations", type=int, help="optimisation steps")
    train.add_argument("--batch-size", type=int, help="names per step (lines) or parallel streams (window)")
    train.add_argument("--seq-len", type=int, help="window length for --mode window (default 25)")
    train.add_argument("--optimizer", choices=lm.OPTIMIZERS)
    train.add_argument("--lr", type=float, help="learning rate")
    train.add_argument(
        "--clip-value", type=float, help="clip every gradient element to [-v, v] (the course: 5); 0 turns it off"
    )
    train.add_argument("--clip-norm", type=float, help="rescale all gradients to this joint L2 norm at most; 0 = off")
    train.add_argument(
        "--reduction",
        choices=lm.REDUCTIONS,
        help="mean: loss per character; sum: per name/window, as the course and min-char-rnn",
    )
    train.add_argument("--seed", type=int, help="seeds weights, batch order and samples (default 0)")
    train.add_argument(
        "--engine",
        choices=dino.ENGINES,
        help="--preset course only: 'numpy', the course's hand-written backward (default), or "
        "'minigrad', the same loop with the gradients from autograd",
    )

    out = parser.add_argument_group("sampling and output")
    out.add_argument("--sample", type=int, metavar="N", help="names per sample print (default 7)")
    out.add_argument("--sample-every", type=int, help="print samples every this many iterations")
    out.add_argument("--temperature", type=float, help="sampling temperature; 0 = greedy (default 1)")
    out.add_argument("--max-len", type=int, help="longest sample, in characters (the course: 50)")
    out.add_argument("--prefix", help="start every sample with these characters")
    out.add_argument("--out", type=Path, default=Path("runs/char_lm"), help="output folder (default runs/char_lm)")
    out.add_argument(
        "--load",
        type=Path,
        metavar="CHECKPOINT",
        help="skip training: load this checkpoint and print --sample N names (with --data, also its loss on that file)",
    )
    return parser


# Defaults every preset shares (flags given on the command line win).
COMMON_DEFAULTS: dict[str, Any] = dict(seq_len=25, seed=0, sample=7, temperature=1.0, prefix="")


def given_flags(argv: list[str] | None) -> set[str]:
    """The ``dest`` of every option the command line actually gave (defaults not counted)."""
    parser = build_parser()
    for action in parser._actions:  # argparse's public way has no "was it given?": parse once without defaults
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.given = given_flags(argv)
    if args.preset in PROGRAMS:
        refused = sorted(args.given - PROGRAM_FLAGS[args.preset] - {"preset"})
        if refused:
            flags = ", ".join("--" + name.replace("_", "-") for name in refused)
            takes = ", ".join("--" + name.replace("_", "-") for name in sorted(PROGRAM_FLAGS[args.preset]))
            parser.error(
                f"--preset {args.preset} runs that program as written; it does not take {flags} (it takes {takes})"
            )
        defaults = PROGRAMS[args.preset]
    else:
        if args.engine is not None:
            parser.error("--engine applies to --preset course only (the course's own functions)")
        defaults = PRESETS[args.preset]
    for key, value in {**COMMON_DEFAULTS, **defaults}.items():
        if key == "keep_case":
            args.keep_case = args.keep_case or value
        elif getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.preset in PROGRAMS:
        for name in ("iterations", "hidden", "sample_every", "seq_len", "max_len"):
            if getattr(args, name, None) is not None and getattr(args, name) < 1:
                parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
        if args.sample < 0:
            parser.error(f"--sample must be >= 0, got {args.sample}")
        if not (args.lr > 0 and math.isfinite(args.lr)):
            parser.error(f"--lr must be a finite number > 0, got {args.lr}")
        if args.seed < 0:
            parser.error(f"--seed must be a non-negative integer, got {args.seed}")
        checkpoint = "dinosaurus.npz" if args.preset == "course" else "min_char_rnn.npz"
        _cli.check_output_folder(parser, args.out, [checkpoint])
        return args
    for name in ("iterations", "batch_size", "seq_len", "hidden", "layers", "sample", "sample_every", "max_len"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.embedding_dim < 0:
        parser.error(f"--embedding-dim must be >= 0 (0 = one-hot), got {args.embedding_dim}")
    if not (args.temperature >= 0 and math.isfinite(args.temperature)):
        parser.error(f"--temperature must be a finite number >= 0, got {args.temperature}")
    if args.seed < 0:
        parser.error(f"--seed must be a non-negative integer, got {args.seed}")
    if args.load is None:  # training writes there: a bad --out fails now, not after the last iteration
        _cli.check_output_folder(parser, args.out, ["char_lm.npz", "loss.png", "samples.txt"])
    return args


def show(names: list[str], known: set[str] | None) -> str:
    """Names on one line; a trailing * marks a name that is already in the training data."""
    return ", ".join(f"{n}*" if known and n in known else n for n in names)


def checked_prefix(prefix: str, vocab: lm.Vocab, lowercase: bool) -> str:
    """``--prefix`` as the model sees it: lower-cased when the data were, every character known."""
    if lowercase:
        prefix = prefix.lower()
    unknown = sorted(set(prefix) - set(vocab.chars))
    if unknown:
        raise ValueError(
            f"--prefix {prefix!r}: {''.join(unknown)!r} not in the model's vocabulary {''.join(vocab.chars)!r}"
        )
    if lm.STOP in prefix:
        raise ValueError("--prefix must not contain a line break (it would end the name)")
    return prefix


def sample_only(args: argparse.Namespace) -> None:
    model, vocab, meta = lm.load_checkpoint(args.load)
    train, run = meta.get("train") or {}, meta.get("run") or {}
    print(
        f"loaded {args.load}: CharLM({model.extra_repr()}, hidden {model.hidden_size}), "
        f"{model.num_parameters():,} parameters, trained {run.get('iterations', '?')} iterations "
        f"on {run.get('data', '?')}"
    )
    known = None
    if args.data is not None:
        text = lm.read_text(args.data, lowercase=train.get("lowercase", True))
        data_vocab = lm.Vocab.from_text(text)
        unknown = sorted(set(data_vocab.chars) - set(vocab.chars))
        if unknown:
            raise lm.CorpusError(
                f"char_lm: {args.data} has characters the checkpoint never saw: {''.join(unknown)!r} "
                f"(checkpoint vocabulary {''.join(vocab.chars)!r})"
            )
        mode = train.get("mode", "lines")
        loss = lm.evaluate(model, vocab, text, mode=mode)
        print(f"loss on {args.data}: {loss:.4f} nats/char (a uniform guess: {math.log(vocab.size):.4f})")
        known = set(lm.split_lines(text)) if mode == "lines" else None
    prefix = checked_prefix(args.prefix, vocab, lowercase=train.get("lowercase", True))
    names = lm.sample(
        model, vocab, args.sample, seed=args.seed, temperature=args.temperature, max_len=args.max_len, prefix=prefix
    )
    print("\n".join(f"{n}*" if known and n in known else n for n in names))


def save_loss_curve(trainer: lm.Trainer, path: Path, title: str) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print('matplotlib is not installed (pip install -e ".[demos]"): no loss curve', file=sys.stderr)
        return None
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    steps = range(1, len(trainer.losses) + 1)
    ax.plot(steps, trainer.losses, color="tab:blue", alpha=0.25, linewidth=0.7, label="loss of each batch")
    ax.plot(steps, trainer.smoothed, color="tab:blue", linewidth=2, label="smoothed (0.999)")
    ax.axhline(
        math.log(trainer.vocab.size),
        color="gray",
        linestyle="--",
        linewidth=1,
        label=f"uniform guess, log {trainer.vocab.size}",
    )
    ax.set_xlabel("iteration")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def train(args: argparse.Namespace) -> int:
    data = args.data if args.data is not None else lm.DEFAULT_CORPUS
    text = lm.read_text(data, lowercase=not args.keep_case)
    vocab = lm.Vocab.from_text(text)
    config = lm.TrainConfig(
        mode=args.mode,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        optimizer=args.optimizer,
        lr=args.lr,
        clip_value=args.clip_value or None,
        clip_norm=args.clip_norm or None,
        reduction=args.reduction,
        lowercase=not args.keep_case,
        seed=args.seed,
    )
    mg.manual_seed(args.seed)
    model = lm.CharLM(vocab.size, args.hidden, args.cell, args.layers, args.embedding_dim or None)
    trainer = lm.Trainer(model, vocab, text, config)
    items = lm.split_lines(text)
    known = set(items) if args.mode == "lines" else None
    size = f"{len(items):,} lines" if args.mode == "lines" else f"{len(text):,} characters"
    symbols = "".join(vocab.chars).replace("\n", "\\n")
    print(f"data: {data} ({size}, vocabulary of {vocab.size}: {symbols})")
    print(
        f"model: CharLM({model.extra_repr()}, hidden {args.hidden}, layers {args.layers}), "
        f"{model.num_parameters():,} parameters; {args.optimizer} lr {args.lr}, "
        f"{args.mode} mode, batch {args.batch_size}, {args.iterations} iterations"
    )
    if known:
        print("(* marks a sample that is already in the training data)")

    prefix = checked_prefix(args.prefix, vocab, lowercase=not args.keep_case)

    def samples(seed: int) -> list[str]:
        return lm.sample(
            model, vocab, args.sample, seed=seed, temperature=args.temperature, max_len=args.max_len, prefix=prefix
        )

    log: list[str] = []
    start = time.perf_counter()
    interrupted = None
    # Ctrl-C / SIGTERM stop between two steps: the weights of the last finished step are saved below.
    with GracefulStop() as stop, Progress(args.iterations, "train") as bar:
        try:
            for i in range(1, args.iterations + 1):
                trainer.step()
                bar.update(1, loss=trainer.smooth_loss)
                if i % args.sample_every == 0 or i == args.iterations:
                    names = samples(args.seed + i)
                    log.append(f"iteration {i}, smoothed loss {trainer.smooth_loss:.4f}: {', '.join(names)}")
                    bar.write(f"iter {i:6d}  loss {trainer.smooth_loss:.3f}  {show(names, known)}")
                stop.check()
        except TrainingInterruptedError as signalled:
            interrupted = signalled
    elapsed = time.perf_counter() - start

    run = {
        "iterations": trainer.iteration,
        "data": str(data),
        "smoothed_loss": trainer.smooth_loss,
        "seconds": round(elapsed, 1),
        "preset": args.preset,
    }
    if interrupted is not None:
        run["interrupted"] = interrupted.name
        checkpoint = lm.save_checkpoint(args.out / "char_lm.npz", model, vocab, config, run=run)
        print(
            interrupted.message(
                f"saved {checkpoint} after {trainer.iteration} of {args.iterations} "
                f"iterations (smoothed loss {trainer.smooth_loss:.3f})"
            ),
            file=sys.stderr,
        )
        return interrupted.exit_code
    checkpoint = lm.save_checkpoint(args.out / "char_lm.npz", model, vocab, config, run=run)
    title = (
        f"{args.cell.upper()} {args.hidden} on {Path(data).name}: {args.mode} mode, {args.optimizer} "
        f"lr {args.lr}, {args.iterations} iterations"
    )
    curve = save_loss_curve(trainer, args.out / "loss.png", title)
    final = samples(args.seed)
    (args.out / "samples.txt").write_text("\n".join(log + ["final:"] + final) + "\n", encoding="utf-8")
    print(
        f"trained {args.iterations} iterations in {elapsed:.1f} s ({1000 * elapsed / args.iterations:.1f} ms each);"
        f" smoothed loss {trainer.smooth_loss:.3f} nats/char (uniform guess {math.log(vocab.size):.3f})"
    )
    print(f"samples: {show(final, known)}")
    written = [checkpoint, args.out / "samples.txt"] + ([curve] if curve else [])
    print("wrote " + ", ".join(str(p) for p in written))
    print(f"sample again: python -m demos.char_lm --load {checkpoint} --sample 20 --temperature 0.8")
    return 0


def run_course(args: argparse.Namespace) -> int:
    """The course's Dinosaurus Island notebook: its preprocessing, then ``model(...)`` as it calls it."""
    if args.data is None:
        raise FileNotFoundError(
            "--preset course trains on the course's dinos.txt, which minigrad does not ship: "
            f"get it from {dino.DINOS_SOURCE}, then pass --data dinos.txt (docs/course.md)"
        )
    data_x, ix_to_char, char_to_ix = dino.load_dinos(args.data)
    data = "\n".join(data_x)
    print(
        "There are %d total characters and %d unique characters in your data."  # noqa: UP031 - the notebook's
        % (len(data), len(char_to_ix))
    )
    path = args.out / "dinosaurus.npz"
    latest: dict[str, Any] = {}

    def after_iteration(j: int, loss: float, smoothed: float, parameters: dict) -> None:
        latest.update(j=j, smoothed=smoothed, parameters=parameters)
        stop.check()  # Ctrl-C / SIGTERM: stop between two iterations, weights whole

    start = time.perf_counter()
    with GracefulStop() as stop:
        try:
            parameters, _ = dino.model(
                data_x,
                ix_to_char,
                char_to_ix,
                args.iterations,
                n_a=args.hidden,
                dino_names=args.sample,
                vocab_size=len(char_to_ix),
                verbose=True,
                learning_rate=args.lr,
                engine=args.engine,
                print_every=args.sample_every,
                callback=after_iteration,
            )
        except TrainingInterruptedError as interrupted:
            mg.save(latest["parameters"], path)
            print(
                interrupted.message(
                    f"saved {path} after {latest['j'] + 1} of {args.iterations} iterations "
                    f"(smoothed loss {latest['smoothed']:.3f})"
                ),
                file=sys.stderr,
            )
            return interrupted.exit_code
    elapsed = time.perf_counter() - start
    mg.save(parameters, path)
    print(
        f"trained {args.iterations} iterations in {elapsed:.1f} s ({args.engine} backward); "
        f"wrote {path} (the course's parameters dict: {', '.join(dino.PARAMETER_KEYS)})"
    )
    return 0


def run_min_char_rnn(args: argparse.Namespace) -> int:
    """Karpathy's min-char-rnn on ``--data`` (default: the names corpus), printing what it prints."""
    data_path = args.data if args.data is not None else lm.DEFAULT_CORPUS
    text = lm.read_text(data_path, lowercase=False)  # min-char-rnn reads the file as it is
    trainer = MinCharRNNTrainer(
        text,
        hidden_size=args.hidden,
        seq_length=args.seq_len,
        learning_rate=args.lr,
        seed=args.seed,
        sample_every=args.sample_every,
        sample_length=args.max_len,
    )
    print("data has %d characters, %d unique." % (len(text), trainer.vocab_size))  # noqa: UP031
    path = args.out / "min_char_rnn.npz"
    start = time.perf_counter()
    with GracefulStop() as stop:
        try:
            for _ in range(args.iterations):
                trainer.run(1)  # one iteration of min-char-rnn's loop, with its prints
                stop.check()  # Ctrl-C / SIGTERM: stop between two iterations, weights whole
        except TrainingInterruptedError as interrupted:
            mg.save(trainer.model.state_dict(), path)
            print(
                interrupted.message(
                    f"saved {path} after {trainer.n} of {args.iterations} iterations "
                    f"(smooth_loss {trainer.smooth_loss:.3f})"
                ),
                file=sys.stderr,
            )
            return interrupted.exit_code
    elapsed = time.perf_counter() - start
    mg.save(trainer.model.state_dict(), path)
    print(f"trained {args.iterations} iterations in {elapsed:.1f} s; wrote {path} (Wxh, Whh, Why, bh, by)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.preset == "course":
            return run_course(args)
        if args.preset == "min-char-rnn":
            return run_min_char_rnn(args)
        if args.load is not None:
            sample_only(args)
            return 0
        return train(args)
    except (OSError, FloatingPointError, ValueError) as err:  # CorpusError is a ValueError
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before or after the training loop: nothing half-done to keep
        print("interrupted (SIGINT)", file=sys.stderr)
        return 130
    except MemoryError as err:
        print(f"error: out of memory ({err}); try a smaller --hidden, --layers or --batch-size", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
