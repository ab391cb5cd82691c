"""The notebooks are tests: every numbered notebook in demos/notebooks/ runs top to bottom without an
error cell, the committed files carry no outputs, and the learner's exercise copies hold stubs
(never the solutions) that stop at the first grader with ``NotImplementedError("write <name>")``.

The kernel is the running interpreter's own (ipykernel from the test extra, spec written into a
temporary folder), so the notebooks import this checkout and whatever this Python has installed;
no ``jupyter kernelspec install`` is needed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from demos import notebooks as nbs
from demos.notebooks import __main__ as cli
from models import dinosaurus as dino
from models import rnn_step_by_step as sbs
from models.exercises import EXERCISES as GRADED

nbformat = pytest.importorskip("nbformat", reason="the test extra installs nbformat")
nbclient = pytest.importorskip("nbclient", reason="the test extra installs nbclient")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = nbs.notebooks()
EXERCISES = {
    "02_rnn_step_by_step.ipynb": [
        "rnn_cell_forward",
        "rnn_forward",
        "lstm_cell_forward",
        "lstm_forward",
        "rnn_cell_backward",
        "rnn_backward",
        "lstm_cell_backward",
        "lstm_backward",
    ],
    "05_dinosaurus_island.ipynb": ["clip", "sample", "optimize", "model"],
}
# model has no grader (the notebook compares it with the reference loop): a tiny corpus to call it on
MODEL_ARGS = (["ab", "ba"], {0: "\n", 1: "a", 2: "b"}, {"\n": 0, "a": 1, "b": 2}, 3, 5, 2, 3)


@pytest.fixture(scope="session")
def kernel(tmp_path_factory):
    """A kernel manager factory for this interpreter, with the checkout on PYTHONPATH and one BLAS thread."""
    from ipykernel.kernelspec import write_kernel_spec
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    kernels = tmp_path_factory.mktemp("jupyter") / "kernels"
    write_kernel_spec(kernels / "minigrad-test")
    specs = KernelSpecManager(kernel_dirs=[str(kernels)])
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "OPENBLAS_NUM_THREADS", "MPLBACKEND")}
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), saved["PYTHONPATH"]]))
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # two cores shared by the whole suite
    os.environ.pop("MPLBACKEND", None)  # the kernel picks its inline backend
    yield lambda: KernelManager(kernel_name="minigrad-test", kernel_spec_manager=specs)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def execute(path: Path, kernel, timeout: int = 300):
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, km=kernel(), timeout=timeout, resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    return notebook


def test_the_path_is_all_there():
    names = [p.name for p in NOTEBOOKS]
    for expected in (
        "01_autograd_from_scratch",
        "02_rnn_step_by_step",
        "03_seeing_bptt",
        "04_vanishing_gradients",
        "05_dinosaurus_island",
        "06_music_lstm",
        "07_architectures",
    ):
        assert f"{expected}.ipynb" in names, names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_error(path, kernel):
    notebook = execute(path, kernel)  # raises CellExecutionError on the first failing cell
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert outputs, f"{path.name} printed and showed nothing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_has_no_outputs(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{path.name} cell {index} has outputs: strip them before committing"
            assert cell["execution_count"] is None, f"{path.name} cell {index} has an execution count"
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))


# ---- the learner's copies ------------------------------------------------------------------------


def test_exercise_copies_hold_stubs_not_solutions(tmp_path):
    written = nbs.write_exercises(tmp_path)
    assert sorted(p.name for p in written) == [p.name for p in NOTEBOOKS]
    for name, functions in EXERCISES.items():
        assert written[tmp_path / name] == functions
        original = json.loads((nbs.FOLDER / name).read_text(encoding="utf-8"))
        copy = json.loads((tmp_path / name).read_text(encoding="utf-8"))
        text = "".join("".join(c["source"]) for c in copy["cells"])
        assert nbs.BEGIN not in text and nbs.END not in text
        for function in functions:
            assert f'raise NotImplementedError("write {function}")' in text
        # not one line of a solution survives (unless the given code has the same line elsewhere)
        given = set(text.replace(nbs.BEGIN, "").splitlines())
        solutions, given_in_original = [], set()
        for cell in original["cells"]:
            parts = "".join(cell["source"]).split(nbs.BEGIN)
            given_in_original.update(parts[0].splitlines())
            for part in parts[1:]:
                solution, rest = part.split(nbs.END)
                solutions += solution.splitlines()
                given_in_original.update(rest.splitlines())
        assert solutions
        for line in solutions:
            if line.strip() and line not in given_in_original:
                assert line not in given, f"solution line {line!r} left in {name}"


def test_each_stub_raises_not_implemented_naming_its_function(tmp_path):
    nbs.write_exercises(tmp_path)
    for name, functions in EXERCISES.items():
        copy = json.loads((tmp_path / name).read_text(encoding="utf-8"))
        namespace: dict = {**vars(sbs), **vars(dino)}  # what the notebooks import (numpy, the course's helpers)
        for cell in copy["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and "NotImplementedError" in source:
                exec(compile(source, name, "exec"), namespace)
        for function in functions:
            # the course's example, as the grader passes it
            args = GRADED[function].cases()[0].args if function in GRADED else MODEL_ARGS
            with pytest.raises(NotImplementedError, match=f"^write {function}$"):
                namespace[function](*args)


def test_stubbed_notebook_stops_at_the_first_grader(tmp_path, kernel):
    nbs.write_exercises(tmp_path)
    with pytest.raises(nbclient.exceptions.CellExecutionError) as info:
        execute(tmp_path / "02_rnn_step_by_step.ipynb", kernel)
    assert info.value.ename == "NotImplementedError"
    assert "write rnn_cell_forward" in info.value.evalue


def test_exercises_never_overwrite_a_learners_work(tmp_path):
    nbs.write_exercises(tmp_path)
    mine = tmp_path / "02_rnn_step_by_step.ipynb"
    mine.write_text('{"my": "work"}', encoding="utf-8")
    with pytest.raises(FileExistsError, match="may hold your work.*--force"):
        nbs.write_exercises(tmp_path)
    assert mine.read_text(encoding="utf-8") == '{"my": "work"}'
    nbs.write_exercises(tmp_path, force=True)
    assert "NotImplementedError" in mine.read_text(encoding="utf-8")
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        nbs.write_exercises(mine)


def test_solution_markers_are_checked():
    with pytest.raises(nbs.ExerciseMarkupError, match="outside a function"):
        nbs.stub_source(f"x = 1\n{nbs.BEGIN}\nx = 2\n{nbs.END}\n", "nb, cell 3")
    with pytest.raises(nbs.ExerciseMarkupError, match="nb, cell 3: .* without a matching"):
        nbs.stub_source(f"def f():\n    {nbs.BEGIN}\n    return 1\n", "nb, cell 3")
    with pytest.raises(nbs.ExerciseMarkupError, match="line 1: ### END SOLUTION without"):
        nbs.stub_source(f"{nbs.END}\n", "nb, cell 3")
    source, names = nbs.stub_source(
        f"def f(a):\n    b = a\n    {nbs.BEGIN}\n    b = 2 * a\n    {nbs.END}\n    return b\n"
    )
    assert names == ["f"]
    assert source == 'def f(a):\n    b = a\n    raise NotImplementedError("write f")\n    return b\n'


# ---- python -m demos.notebooks ---------------------------------------------------------------------


def test_cli_writes_exercises_and_lists(tmp_path, capsys):
    assert cli.main(["--exercises", str(tmp_path / "mine")]) == 0
    out = capsys.readouterr().out
    assert "02_rnn_step_by_step.ipynb  (8 exercises: rnn_cell_forward" in out
    assert f"python -m demos.notebooks {tmp_path / 'mine'}" in out
    assert cli.main(["--exercises", str(tmp_path / "mine")]) == 2
    assert "--force" in capsys.readouterr().err
    assert cli.main(["--list"]) == 0
    assert "demos/notebooks/01_autograd_from_scratch.ipynb" in capsys.readouterr().out.replace(os.sep, "/")


def test_cli_says_what_to_install_when_jupyter_is_missing(monkeypatch, capsys):
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(cli.subprocess, "call", lambda *a, **k: pytest.fail("must not launch anything"))
    assert cli.main([]) == 2
    assert 'pip install -e ".[notebooks]"' in capsys.readouterr().err


def test_cli_opens_jupyter_with_the_checkout_importable(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: object() if name == "jupyterlab" else None)
    monkeypatch.setattr(cli.subprocess, "call", lambda command, env: calls.append((command, env)) or 0)
    assert cli.main([str(tmp_path)]) == 0
    ((command, env),) = calls
    assert command[1:] == ["-m", "jupyterlab", str(tmp_path)]
    assert str(REPO) in env["PYTHONPATH"].split(os.pathsep)
    assert cli.main([str(tmp_path / "nowhere")]) == 2
