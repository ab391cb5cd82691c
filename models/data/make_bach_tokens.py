"""Extract the soprano line of the Bach chorales bundled in music21's corpus into a small token file.

    pip install -e ".[data]"                       # music21 (only needed to regenerate the file)
    python -m models.data.make_bach_tokens         # writes models/data/bach_soprano.txt

The output is committed, so the music demo and its tests need numpy alone. Each chorale becomes
one line of ``PITCH:DUR`` tokens (format in the file's header, parsed by
``models.music_lstm.load_tokens``). Every chorale is transposed to C major or A minor (the
smallest shift from music21's key estimate), which the course's jazz model did not need but a
small LSTM trained for a minute benefits from: one key to learn instead of twelve.
"""

from __future__ import annotations

import argparse
from pathlib import Path

OUT = Path(__file__).with_name("bach_soprano.txt")

HEADER = """\
# Bach chorales, soprano line, as (pitch, duration) tokens.
# Source: the J.S. Bach chorales in music21's corpus (music21 {version}), public-domain scores;
# made by models/data/make_bach_tokens.py (python -m models.data.make_bach_tokens, needs the `data` extra).
# {count} chorales, one per line: <corpus name><TAB><tokens separated by single spaces>.
# A token is PITCH:DUR. PITCH is a MIDI note number (60 = middle C, 69 = A 440 Hz) or R for a rest;
# DUR is the length in sixteenth notes (4 = a quarter note, 16 = a whole note).
# Tied notes are merged into one token, and so are consecutive rests (a MIDI file cannot tell them
# apart); leading and trailing rests are dropped; chorales with tuplets, grace notes or chords in
# the soprano are skipped. Each chorale is transposed by the smallest shift (-6..+5 semitones)
# that brings music21's key estimate to C major or A minor.
# Lines starting with # are comments.
"""


def _soprano(score):  # noqa: ANN001, ANN202 - music21 objects, an optional dependency
    for part in score.parts:
        names = f"{part.partName or ''} {part.id or ''}".lower()
        if "soprano" in names:
            return part
    return None


def chorale_tokens(score) -> list[str] | None:  # noqa: ANN001 - a music21 Score
    """The soprano of one chorale as PITCH:DUR tokens in C major / A minor, or None if it cannot be tokenised."""
    part = _soprano(score)
    if part is None:
        return None
    key = score.analyze("key")
    target = 0 if key.mode == "major" else 9  # pitch class of C / A
    shift = (target - key.tonic.pitchClass) % 12
    if shift > 5:
        shift -= 12  # the smaller way round keeps the register
    tokens: list[str] = []
    for el in part.flatten().notesAndRests.stream().stripTies():
        sixteenths = float(el.quarterLength) * 4
        if sixteenths <= 0 or sixteenths != int(sixteenths) or el.isChord:
            return None  # grace note, tuplet or chord: skip the chorale
        if el.isRest and tokens and tokens[-1].startswith("R:"):
            tokens[-1] = f"R:{int(tokens[-1][2:]) + int(sixteenths)}"  # one rest, as a MIDI file would have it
        elif el.isRest:
            tokens.append(f"R:{int(sixteenths)}")
        else:
            tokens.append(f"{el.pitch.midi + shift}:{int(sixteenths)}")
    while tokens and tokens[0].startswith("R:"):
        tokens.pop(0)
    while tokens and tokens[-1].startswith("R:"):
        tokens.pop()
    return tokens or None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"output file (default {OUT})")
    parser.add_argument("--limit", type=int, default=0, help="stop after this many chorales (0: all)")
    args = parser.parse_args(argv)
    try:
        import music21
        from music21 import corpus
    except ImportError as exc:
        raise SystemExit("make_bach_tokens needs music21: pip install -e '.[data]'") from exc

    lines, skipped = [], 0
    paths = sorted(p for p in corpus.getComposer("bach") if p.suffix in (".mxl", ".xml", ".krn"))
    for i, path in enumerate(paths):
        try:
            tokens = chorale_tokens(corpus.parse(path))
        except Exception:  # noqa: BLE001 - a few corpus files are not chorales or do not parse; skip them
            tokens = None
        if tokens is None:
            skipped += 1
        else:
            lines.append(f"{path.stem}\t{' '.join(tokens)}")
        print(f"\r{i + 1}/{len(paths)} scores, {len(lines)} kept", end="", flush=True)
        if args.limit and len(lines) >= args.limit:
            break
    print(f"\n{skipped} skipped (no soprano, tuplets, grace notes or chords)")
    args.out.write_text(HEADER.format(version=music21.__version__, count=len(lines)) + "\n".join(lines) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
