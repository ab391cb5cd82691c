"""Open the learning path in Jupyter, or write your exercise copies.

    python -m demos.notebooks                      # open demos/notebooks/ in JupyterLab (or Notebook)
    python -m demos.notebooks --exercises DIR      # write copies with stubs in place of the solutions
    python -m demos.notebooks DIR                  # open a folder (e.g. your copies) in Jupyter
    python -m demos.notebooks --list               # the notebooks, in order

Jupyter comes with the notebooks extra: pip install -e ".[notebooks]".
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from demos.notebooks import FOLDER, ExerciseMarkupError, notebooks, write_exercises

REPO = FOLDER.parents[1]
INSTALL = 'pip install -e ".[notebooks]"'


class JupyterMissingError(RuntimeError):
    """Neither JupyterLab nor the classic Notebook is installed."""


def jupyter_command(path: Path) -> list[str]:
    """The command that opens ``path`` in JupyterLab, else in Jupyter Notebook."""
    for module in ("jupyterlab", "notebook"):
        if importlib.util.find_spec(module) is not None:
            return [sys.executable, "-m", module, str(path)]
    raise JupyterMissingError(
        f"Jupyter is not installed in this Python ({sys.executable}). Install what the "
        f"notebooks need with:\n    {INSTALL}\n(from the repository root, {REPO}), "
        f"then run python -m demos.notebooks again."
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m demos.notebooks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=FOLDER,
        help="folder or notebook to open (default: the learning path, demos/notebooks)",
    )
    parser.add_argument(
        "--exercises",
        type=Path,
        metavar="DIR",
        help="write a copy of every notebook into DIR, each solution replaced by a stub",
    )
    parser.add_argument("--force", action="store_true", help="with --exercises: overwrite notebooks already in DIR")
    parser.add_argument("--list", action="store_true", help="list the notebooks and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        for path in notebooks():
            print(path.relative_to(REPO))
        return 0
    if args.exercises is not None:
        try:
            written = write_exercises(args.exercises, force=args.force)
        except (FileExistsError, NotADirectoryError, FileNotFoundError, ValueError, ExerciseMarkupError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for path, names in written.items():
            print(
                f"{path}  ({len(names)} exercise{'s' if len(names) != 1 else ''}"
                f"{': ' + ', '.join(names) if names else ''})"
            )
        print(f"\nopen them with: python -m demos.notebooks {args.exercises}")
        return 0
    if not args.path.exists():
        print(f"error: {args.path} does not exist", file=sys.stderr)
        return 2
    try:
        command = jupyter_command(args.path)
    except JupyterMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The notebooks import minigrad and models from this checkout even when it is not pip-installed.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
