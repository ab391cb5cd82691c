"""Checkpoints as ``.npz``: plain arrays only, never unpickled."""

from __future__ import annotations

import os
import zipfile
from typing import Any

import numpy as np


def save(state_dict: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``{name: array}`` to ``path`` (an ``.npz``; the suffix is added if missing)."""
    arrays = {}
    for name, value in state_dict.items():
        array = np.asarray(getattr(value, "data", value))
        if array.dtype == object:
            raise TypeError(f"save: '{name}' is not a numeric array (dtype object)")
        arrays[name] = array
    np.savez(path, **arrays)


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a checkpoint written by ``save`` (or ``np.savez``) as ``{name: ndarray}``.

    As ``save`` does, a path without a suffix means ``path.npz``.
    """
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no checkpoint at {path}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"load: {path} is not a valid minigrad checkpoint (.npz of plain arrays): {err}") from err
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"load: {path} holds a single array, not a state dict (.npz of named arrays)")
    try:
        with archive:
            return {name: archive[name] for name in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"load: {path} is not a valid minigrad checkpoint (.npz of plain arrays): {err}") from err
