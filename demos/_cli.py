"""The demos' command line: one parser whose ``--help`` is the demo's own docstring."""

from __future__ import annotations

import argparse


def parser(doc: str | None, prog: str, epilog_extra: str = "") -> argparse.ArgumentParser:
    """``--help`` shows the docstring's first paragraph as the description and the rest (example
    commands, what the demo writes) as the epilog, laid out as written.

    ``doc`` may be None (``python -OO`` strips docstrings): the demo still runs, with a bare help.
    """
    description, _, epilog = (doc or "").partition("\n\n")
    return argparse.ArgumentParser(prog=prog, description=description, epilog=epilog + epilog_extra,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
