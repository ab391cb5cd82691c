"""The demos' shared parser (demos/_cli.py): help from the docstring, and no crash without one."""

from __future__ import annotations

import argparse

from demos import _cli

DOC = """Train a thing.

    python -m demos.thing --fast      # an example command

Writes thing.png under --out.
"""


def test_help_is_the_docstring_laid_out_as_written():
    parser = _cli.parser(DOC, "python -m demos.thing", epilog_extra="\npresets:\n  quick")
    text = parser.format_help()
    assert text.startswith("usage: python -m demos.thing [-h]")
    assert "\nTrain a thing.\n" in text
    assert "\n    python -m demos.thing --fast      # an example command\n" in text  # indentation kept
    assert text.rstrip().endswith("Writes thing.png under --out.\n\npresets:\n  quick")


def test_a_stripped_docstring_gives_a_bare_help():
    # python -OO sets every __doc__ to None: the demos must still parse their arguments.
    parser = _cli.parser(None, "python -m demos.thing")
    parser.add_argument("--seed", type=int, default=0)
    assert parser.parse_args(["--seed", "3"]) == argparse.Namespace(seed=3)
    assert parser.format_help().startswith("usage: python -m demos.thing [-h] [--seed SEED]")
