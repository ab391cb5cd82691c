"""Regenerate ``models/data/names_gender.txt``: first names labelled female (f) or male (m).

The many-to-one example of the vanishing-gradient lab (``models/lab``) classifies a first
name, read one character at a time, as female or male. Source: the 1990 US Census lists
``dist.female.first`` (4,275 names) and ``dist.male.first`` (1,219 names) shipped inside the
``names`` package on PyPI (v0.3.0, MIT licence), installed by this project's ``data`` extra::

    pip install -e ".[data]"
    python models/data/make_names_gender.py            # rewrites models/data/names_gender.txt
    python models/data/make_names_gender.py --check    # exit 1 if the committed file differs

Licence status: the lists are a work of the US Census Bureau, so in the public domain
(17 U.S.C. 105); the output holds only names and labels.

Each line of a census list is ``NAME  frequency%  cumulative%  rank``, the frequency being
the share of that sex's sample carrying the name. A name on both lists (331 of them, e.g.
JAMES, MARY, JEAN) gets the label of the list where its share is larger (the two samples were
of similar size); an exact tie is dropped. Output: ``name<TAB>f|m`` lines, lower-case, sorted,
in a ``.txt`` file so that the package-data rule ``data/*.txt`` ships it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from make_names import write_or_check  # the sibling script (run as a script, its folder is on sys.path)

OUTPUT = Path(__file__).resolve().parent / "names_gender.txt"
SOURCES = {"f": "dist.female.first", "m": "dist.male.first"}


def read_list(path: Path) -> dict[str, float]:
    """``{name: frequency%}`` from one census list."""
    shares: dict[str, float] = {}
    for line in path.read_text(encoding="ascii").splitlines():
        fields = line.split()
        if not fields:
            continue
        name = fields[0].lower()
        if len(fields) != 4 or not name.isascii() or not name.isalpha():
            raise SystemExit(f"make_names_gender: unexpected line {line!r} in {path}")
        shares[name] = float(fields[1])
    return shares


def labelled_names() -> list[tuple[str, str]]:
    """Sorted ``(name, "f" | "m")`` pairs from the installed ``names`` package."""
    try:
        import names
    except ImportError:
        raise SystemExit('make_names_gender: the `names` package is not installed: pip install -e ".[data]"') from None
    folder = Path(names.__file__).resolve().parent
    shares = {}
    for label, source in SOURCES.items():
        path = folder / source
        if not path.is_file():
            raise SystemExit(f"make_names_gender: {path} is missing from the installed `names` package")
        shares[label] = read_list(path)
    female, male = shares["f"], shares["m"]
    pairs = []
    for name in sorted(set(female) | set(male)):
        f, m = female.get(name, 0.0), male.get(name, 0.0)
        if f != m:
            pairs.append((name, "f" if f > m else "m"))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write models/data/names_gender.txt from the 1990 US Census lists.")
    parser.add_argument("--out", type=Path, default=OUTPUT, help=f"output file (default {OUTPUT})")
    parser.add_argument(
        "--check", action="store_true", help="only compare with the existing file; exit 1 if it differs"
    )
    args = parser.parse_args(argv)
    text = "".join(f"{name}\t{label}\n" for name, label in labelled_names())
    counts = {label: text.count(f"\t{label}\n") for label in SOURCES}
    return write_or_check(args.out, text, args.check, f"names ({counts['f']} f, {counts['m']} m)")


if __name__ == "__main__":
    sys.exit(main())
