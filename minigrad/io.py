"""Checkpoints as ``.npz``: plain arrays only, never unpickled, written atomically.

``save`` never leaves a half-written checkpoint behind: it writes a temporary file in the
same folder, flushes and fsyncs it, then ``os.replace``\\ s it over the target. A full disk,
an exception or a ``kill -9`` in the middle of a save leaves the previous file at ``path``
exactly as it was (at worst a stray ``.<name>.*.tmp`` file next to it).

An ``.npz`` is a zip of ``<name>.npy`` members. ``np.savez`` takes the names as keyword
arguments, so some names cannot be written with it (``file``, ``allow_pickle``) and a name
with ``/`` becomes a folder inside the zip. ``save`` writes the zip itself and stores every
name percent-encoded (``urllib.parse.quote``: ``a/b`` -> ``a%2Fb.npy``; letters, digits and
``._-~`` stay as they are, so PyTorch-style names like ``rnn.weight_ih_l0`` are unchanged),
and marks the archive with a zip comment so that ``load`` decodes the names again. Archives
without that mark (``np.savez`` files) are read with their member names as they are.

``load`` reads each member's ``.npy`` header before touching its data: object (pickled)
arrays, members that are not ``.npy`` arrays and headers that claim more bytes than the
member holds are refused with a ``ValueError`` that names the file and the member.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

import numpy as np
from numpy.lib import format as npy_format

# Written as the zip comment of every checkpoint `save` makes: its member names are percent-encoded.
_MARK = b"minigrad checkpoint 1: member names are percent-encoded (urllib.parse.quote)"
# A deflated member cannot expand more than ~1032 times; anything claiming more is corrupt.
_MAX_DEFLATE_RATIO = 1100


def _target(path: str | os.PathLike) -> str:
    """``path`` with ``.npz`` added if missing (as ``np.savez`` does)."""
    path = os.fspath(path)
    if not isinstance(path, str):
        path = os.fsdecode(path)
    return path if path.endswith(".npz") else path + ".npz"


def _arrays_of(state_dict: Any) -> dict[str, np.ndarray]:
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"save: expected a mapping of names to arrays (e.g. model.state_dict()), got {type(state_dict).__name__}"
        )
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(f"save: every key must be a str, got {name!r} ({type(name).__name__})")
        try:
            array = np.asarray(getattr(value, "data", value))
        except (TypeError, ValueError) as err:
            raise TypeError(f"save: '{name}' is not a numeric array: {err}") from None
        if array.dtype.hasobject:
            raise TypeError(f"save: '{name}' is not a numeric array (dtype object)")
        arrays[name] = array
    return arrays


def save(state_dict: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write ``{name: array}`` to ``path`` (an ``.npz``; the suffix is added if missing), atomically.

    Values may be numpy arrays, numbers or tensors (their ``.data`` is saved). Any ``str``
    name round-trips. If anything fails, the file previously at ``path`` is untouched and the
    error names ``path``.
    """
    arrays = _arrays_of(state_dict)
    target = os.path.realpath(_target(path))  # through a symlink to the file it names
    folder = os.path.dirname(target)
    if os.path.isdir(target):
        raise IsADirectoryError(f"save: {target} is a directory, not a checkpoint file")
    if not os.path.isdir(folder):
        what = "is not a directory" if os.path.exists(folder) else "does not exist"
        raise FileNotFoundError(f"save: cannot write {target}: the folder {folder} {what}")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise type(err)(err.errno, f"save: cannot write {target}: {err.strerror}") from err
    try:
        with os.fdopen(fd, "wb") as file:
            with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                archive.comment = _MARK
                for name, array in arrays.items():
                    with archive.open(quote(name, safe="") + ".npy", "w", force_zip64=True) as member:
                        npy_format.write_array(member, array, allow_pickle=False)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        os.chmod(temporary, _mode_for(target))
        os.replace(temporary, target)
    except BaseException as err:  # also KeyboardInterrupt: never leave the temporary behind
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(err, OSError) and not isinstance(err, FileNotFoundError):
            raise type(err)(
                err.errno,
                f"save: could not write {target} ({err.strerror or err}); "
                "the previous file there, if any, is unchanged",
            ) from err
        raise
    _fsync_folder(folder)


def _mode_for(target: str) -> int:
    """Keep an existing checkpoint's permissions; a new one gets the usual 0o666 minus the umask."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX); harmless where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a checkpoint written by ``save`` (or ``np.savez``) as ``{name: ndarray}``.

    As ``save`` does, a path without a suffix means ``path.npz``. Never unpickles: a file that
    is not an ``.npz`` of plain arrays is a ``ValueError`` naming the file (and the member).
    """
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no checkpoint at {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"load: {path} is a directory, not a checkpoint file")
    with open(path, "rb") as file:
        head = file.read(8)
    if head.startswith(npy_format.MAGIC_PREFIX):
        raise ValueError(f"load: {path} holds a single array, not a state dict (.npz of named arrays)")
    if head.startswith(b"MThd"):
        raise ValueError(f"load: {path} is a MIDI file, not a minigrad checkpoint (.npz of plain arrays)")
    try:
        with zipfile.ZipFile(path) as archive:
            encoded = archive.comment == _MARK
            size = os.path.getsize(path)
            state = {}
            for info in archive.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else None
                if name is None or info.is_dir():
                    raise ValueError(
                        f"load: {path} is not a valid minigrad checkpoint (.npz of plain arrays): "
                        f"member '{info.filename}' is not a .npy array"
                    )
                key = unquote(name) if encoded else name
                state[key] = _read_member(archive, info, path, size)
            return state
    except zipfile.BadZipFile as err:
        raise ValueError(f"load: {path} is not a valid minigrad checkpoint (.npz of plain arrays): {err}") from err
    except (OSError, EOFError) as err:
        raise ValueError(f"load: {path} is a corrupt checkpoint (.npz of plain arrays): {err}") from err


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, file_size: int) -> np.ndarray:
    """One ``.npy`` member, its header checked against the member's size before any allocation."""
    where = f"load: {path} member '{info.filename}'"
    if info.compress_type == zipfile.ZIP_STORED and info.file_size > file_size:
        raise ValueError(f"{where}: corrupt checkpoint (claims {info.file_size} bytes in a file of {file_size})")
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > _MAX_DEFLATE_RATIO * max(info.compress_size, 1):
        raise ValueError(
            f"{where}: corrupt checkpoint (claims {info.file_size} bytes from {info.compress_size} compressed)"
        )
    with archive.open(info) as member:
        try:
            version = npy_format.read_magic(member)
            # Versions 2.0 and 3.0 differ only in the header's text encoding; 1.0 has a shorter length field.
            read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            shape, _, dtype = read_header(member)
        except ValueError as err:
            raise ValueError(
                f"load: {path} is not a valid minigrad checkpoint (.npz of plain arrays): "
                f"member '{info.filename}' has no valid .npy header: {err}"
            ) from None
        if dtype.hasobject:
            raise ValueError(
                f"load: {path} is not a valid minigrad checkpoint (.npz of plain arrays): member "
                f"'{info.filename}' holds Python objects (it would need unpickling; refused)"
            )
        claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
        available = info.file_size - member.tell()
        if claimed > available:
            raise ValueError(
                f"{where}: corrupt checkpoint (its header claims shape {shape} of {dtype}, "
                f"{claimed} bytes, but the member holds {available})"
            )
    with archive.open(info) as member:  # the header is sound: now let numpy read the array
        try:
            array = npy_format.read_array(member, allow_pickle=False)
        except ValueError as err:
            raise ValueError(f"{where}: corrupt checkpoint ({err})") from None
        member.read()  # to the end, so that zipfile checks the CRC (flipped bytes)
    return array
