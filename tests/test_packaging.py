"""Packaging: the distribution installs `minigrad` only (issue 12); models/ and demos/ run from the checkout."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")


def test_setuptools_finds_only_minigrad_packages():
    setuptools = pytest.importorskip("setuptools")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    find = config["tool"]["setuptools"]["packages"]["find"]
    packages = setuptools.find_packages(where=str(ROOT), include=find["include"], exclude=find.get("exclude", ()))
    assert "minigrad" in packages and {"minigrad.nn", "minigrad.viz"} <= set(packages)
    assert all(p == "minigrad" or p.startswith("minigrad.") for p in packages), packages
    assert (
        "package-data" not in config["tool"]["setuptools"]
        or "models" not in config["tool"]["setuptools"]["package-data"]
    )


def test_models_and_demos_still_import_from_the_checkout():
    import demos.char_lm
    import models.char_lm

    assert Path(models.char_lm.__file__).resolve().is_relative_to(ROOT)
    assert Path(demos.char_lm.__file__).resolve().is_relative_to(ROOT)
    assert models.char_lm.DEFAULT_CORPUS.is_file()  # data read relative to the module's own file
