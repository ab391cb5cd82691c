"""The learning path: numbered Jupyter notebooks through week 1 of the Sequence Models course.

    python -m demos.notebooks                      # open the path in Jupyter
    python -m demos.notebooks --exercises DIR      # write your own copies, stubs in place of the solutions
    python -m demos.notebooks DIR                  # open those copies

The committed notebooks run the reference solutions (the test suite executes every one of them);
each solution sits between two marker lines inside the function it completes::

    def rnn_cell_forward(xt, a_prev, parameters):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

:func:`exercise_copy` replaces each such region by ``raise NotImplementedError("write rnn_cell_forward")``
(same indentation), so the learner's copy runs until the first grader cell
(``models.exercises.check``) and says which function to write. Only the JSON of the ``.ipynb``
files is touched (no Jupyter needed to make the copies).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

__all__ = [
    "BEGIN",
    "END",
    "FOLDER",
    "ExerciseMarkupError",
    "exercise_copy",
    "notebooks",
    "stub_source",
    "write_exercises",
]

FOLDER = Path(__file__).resolve().parent
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_DEF = re.compile(r"^\s*def\s+(\w+)\s*\(")
_NOTE = (
    "**Your exercise copy.** Each function marked `NotImplementedError` is yours to write; "
    "the grader cell after it (`check(...)`) tells you what is wrong until it prints `True`. "
    "The original notebooks, with the solutions, are in `demos/notebooks/` of the minigrad repository."
)


class ExerciseMarkupError(ValueError):
    """A notebook's solution markers are unbalanced or sit outside a function."""


def notebooks(folder: Path | str = FOLDER) -> list[Path]:
    """The numbered notebooks of ``folder`` (``01_...ipynb``, ``02_...``), in order."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))


def _lines(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def stub_source(source: str, where: str = "cell") -> tuple[str, list[str]]:
    """``source`` with every solution region replaced by a stub; also the names of the stubbed functions.

    A region starts at a line that is exactly ``### BEGIN SOLUTION`` (indented like the code it
    replaces) and ends at ``### END SOLUTION``; it must sit inside a ``def`` (the stub names it).
    """
    out, names = [], []
    function, inside = None, None
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        stripped = line.strip()
        if inside is None:
            match = _DEF.match(line)
            if match:
                function = match.group(1)
            if stripped == BEGIN:
                if function is None:
                    raise ExerciseMarkupError(
                        f"{where}, line {number}: {BEGIN} outside a function (the stub "
                        f"must say which function to write)"
                    )
                inside = line[: len(line) - len(line.lstrip())]
                out.append(f'{inside}raise NotImplementedError("write {function}")\n')
                names.append(function)
            elif stripped == END:
                raise ExerciseMarkupError(f"{where}, line {number}: {END} without a {BEGIN} before it")
            else:
                out.append(line)
        elif stripped == END:
            inside = None
        elif stripped == BEGIN:
            raise ExerciseMarkupError(f"{where}, line {number}: {BEGIN} inside another solution region")
    if inside is not None:
        raise ExerciseMarkupError(f"{where}: {BEGIN} without a matching {END}")
    return "".join(out), names


def exercise_copy(notebook: dict[str, Any], name: str = "notebook") -> tuple[dict[str, Any], list[str]]:
    """A learner's copy of a notebook (its JSON as a dict): solutions stubbed, outputs cleared, and a
    note on top when it has exercises. Returns the copy and the stubbed function names."""
    result = copy.deepcopy(notebook)
    stubbed = []
    for index, cell in enumerate(result.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        source, names = stub_source(_lines(cell.get("source", "")), f"{name}, cell {index}")
        cell["source"] = source
        cell["outputs"], cell["execution_count"] = [], None
        stubbed += names
    if stubbed:
        result["cells"].insert(
            0, {"cell_type": "markdown", "id": "exercise-copy-note", "metadata": {}, "source": _NOTE}
        )
    return result, stubbed


def write_exercises(target: Path | str, *, force: bool = False, folder: Path | str = FOLDER) -> dict[Path, list[str]]:
    """Write a learner's copy of every numbered notebook of ``folder`` into ``target``.

    Refuses to overwrite a notebook already there (it may hold the learner's work) unless ``force``.
    Returns ``{written path: stubbed function names}``.
    """
    target = Path(target)
    sources = notebooks(folder)
    if not sources:
        raise FileNotFoundError(f"write_exercises: no numbered notebooks (NN_name.ipynb) in {folder}")
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"write_exercises: {target} exists and is not a folder")
    existing = [target / src.name for src in sources if (target / src.name).exists()]
    if existing and not force:
        raise FileExistsError(
            f"write_exercises: {len(existing)} notebook(s) already in {target} "
            f"({', '.join(p.name for p in existing)}); they may hold your work: "
            "choose another folder, or pass --force to overwrite them"
        )
    copies = {}
    for src in sources:
        try:
            notebook = json.loads(src.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"write_exercises: {src} is not a notebook (invalid JSON: {exc})") from None
        copies[target / src.name] = exercise_copy(notebook, src.name)
    target.mkdir(parents=True, exist_ok=True)
    written = {}
    for path, (notebook, names) in copies.items():
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written[path] = names
    return written
