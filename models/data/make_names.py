"""Regenerate ``models/data/names.txt``: the default corpus of the character-level language model.

Source: the 1990 US Census "frequently occurring first names" lists (``dist.male.first``,
``dist.female.first``), as shipped inside the ``names`` package on PyPI (v0.3.0, MIT licence,
Trey Hunner), installed by this project's ``data`` extra::

    pip install -e ".[data]"
    python models/data/make_names.py            # rewrites models/data/names.txt
    python models/data/make_names.py --check    # exit 1 if the committed file differs

Licence status: the name lists are a work of the US Census Bureau, a US federal agency,
and so in the public domain (17 U.S.C. 105); the ``names`` package only redistributes them.
The output holds nothing but the names, so the repository may ship it.

Output: one name per line, lower-cased, deduplicated (a name listed as both male and female
appears once), sorted alphabetically like the course's ``dinos.txt``; letters a-z only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent / "names.txt"
SOURCES = ("dist.male.first", "dist.female.first")


def census_first_names() -> list[str]:
    """The census first names from the installed ``names`` package: sorted, lower-case, unique."""
    try:
        import names
    except ImportError:
        raise SystemExit('make_names: the `names` package is not installed: pip install -e ".[data]"') from None
    folder = Path(names.__file__).resolve().parent
    found: set[str] = set()
    for source in SOURCES:
        path = folder / source
        if not path.is_file():
            raise SystemExit(f"make_names: {path} is missing from the installed `names` package")
        # Each line: NAME  frequency%  cumulative%  rank
        for line in path.read_text(encoding="ascii").splitlines():
            fields = line.split()
            if not fields:
                continue
            name = fields[0].lower()
            if not name.isascii() or not name.isalpha():
                raise SystemExit(f"make_names: unexpected entry {fields[0]!r} in {path}")
            found.add(name)
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write models/data/names.txt from the 1990 US Census first names.")
    parser.add_argument("--out", type=Path, default=OUTPUT, help=f"output file (default {OUTPUT})")
    parser.add_argument(
        "--check", action="store_true", help="only compare with the existing file; exit 1 if it differs"
    )
    args = parser.parse_args(argv)
    text = "\n".join(census_first_names()) + "\n"
    return write_or_check(args.out, text, args.check, "names")


def write_or_check(out: Path, text: str, check: bool, what: str) -> int:
    """Write ``text`` to ``out``, or with ``check`` only compare (exit status 1 if it differs)."""
    if check:
        same = out.is_file() and out.read_text(encoding="ascii") == text
        print(f"{out}: {'up to date' if same else 'DIFFERS from the census lists'}")
        return 0 if same else 1
    out.write_text(text, encoding="ascii")
    print(f"wrote {text.count(chr(10))} {what} to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
