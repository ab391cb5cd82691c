"""The demos' command line: one parser whose ``--help`` is the demo's own docstring."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path


def parser(doc: str | None, prog: str, epilog_extra: str = "") -> argparse.ArgumentParser:
    """``--help`` shows the docstring's first paragraph as the description and the rest (example
    commands, what the demo writes) as the epilog, laid out as written.

    ``doc`` may be None (``python -OO`` strips docstrings): the demo still runs, with a bare help.
    """
    description, _, epilog = (doc or "").partition("\n\n")
    return argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=epilog + epilog_extra,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def check_output_folder(
    parser: argparse.ArgumentParser, folder: Path, files: Sequence[str] = (), flag: str = "--out"
) -> Path:
    """Create ``folder`` now and make sure ``files`` can be written in it, before any training.

    A bad ``--out`` (a path through a regular file, a checkpoint name that is a directory, a
    read-only folder) is a usage error naming the flag at once, not a crash after the last
    iteration that loses the weights.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        parser.error(f"{flag} {folder}: that is a file; expected a folder to write into")
    except NotADirectoryError:
        parser.error(f"{flag} {folder}: part of that path is a regular file, not a folder")
    except OSError as err:
        parser.error(f"{flag} {folder}: cannot create the folder ({err.strerror or err})")
    if not folder.is_dir():
        parser.error(f"{flag} {folder}: that is a file; expected a folder to write into")
    for name in files:
        if (folder / name).is_dir():
            parser.error(f"{flag} {folder}: {folder / name} is a directory, but the demo writes a file there")
    if not os.access(folder, os.W_OK | os.X_OK):
        parser.error(f"{flag} {folder}: the folder is not writable")
    return folder
