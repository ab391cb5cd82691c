"""mg.save / mg.load: .npz checkpoints that round-trip dtypes and never unpickle."""

import zipfile

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def test_round_trip_keeps_values_and_dtypes(tmp_path):
    state = {
        "w32": np.arange(6, dtype=np.float32).reshape(2, 3) / 7,
        "w64": np.random.default_rng(0).standard_normal((3, 1)),
        "steps": np.array([1, 2, 3], dtype=np.int64),
        "mask": np.array([True, False]),
        "scalar": np.float64(2.5),
        "tensor": mg.tensor([1.0, 2.0]),  # tensors are saved as their arrays
    }
    path = tmp_path / "ckpt.npz"
    mg.save(state, path)
    loaded = mg.load(path)
    assert list(loaded) == list(state)
    for name, value in state.items():
        expected = np.asarray(getattr(value, "data", value))
        assert isinstance(loaded[name], np.ndarray)
        assert loaded[name].dtype == expected.dtype and loaded[name].shape == expected.shape
        np.testing.assert_array_equal(loaded[name], expected)
    mg.load(str(path))  # str paths too


def test_model_checkpoint_round_trip(tmp_path):
    mg.manual_seed(0)
    model = nn.Sequential([nn.Linear(3, 4), nn.Linear(4, 2, dtype=np.float64)])
    path = tmp_path / "model.npz"
    mg.save(model.state_dict(), path)
    mg.manual_seed(1)
    other = nn.Sequential([nn.Linear(3, 4), nn.Linear(4, 2, dtype=np.float64)])
    other.load_state_dict(mg.load(path))
    for (name, a), b in zip(model.state_dict().items(), other.state_dict().values()):
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b)


def test_save_adds_the_suffix(tmp_path):
    mg.save({"a": np.ones(2)}, tmp_path / "ckpt")
    np.testing.assert_array_equal(mg.load(tmp_path / "ckpt.npz")["a"], np.ones(2))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="load: no checkpoint at"):
        mg.load(tmp_path / "nope.npz")


def test_object_arrays_are_refused_on_save(tmp_path):
    with pytest.raises(TypeError, match="'bad' is not a numeric array"):
        mg.save({"bad": np.array([{"x": 1}], dtype=object)}, tmp_path / "bad.npz")


def test_hostile_npz_with_a_pickled_array_is_not_unpickled(tmp_path):
    class Boom:
        def __reduce__(self):
            return (pytest.fail, ("unpickled a hostile checkpoint",))

    path = tmp_path / "evil.npz"
    np.savez(path, weight=np.ones(2), payload=np.array([Boom()], dtype=object))
    with pytest.raises(ValueError, match="is not a valid minigrad checkpoint"):
        mg.load(path)


@pytest.mark.parametrize("content", [b"hello, not a checkpoint", b"PK\x03\x04 truncated zip", b""])
def test_a_file_that_is_not_an_npz_is_a_clear_error(tmp_path, content):
    path = tmp_path / "junk.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not a valid minigrad checkpoint"):
        mg.load(path)


def test_npz_with_a_corrupt_member(tmp_path):
    path = tmp_path / "corrupt.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("weight.npy", b"\x93NUMPY garbage header")
    with pytest.raises(ValueError, match="is not a valid minigrad checkpoint"):
        mg.load(path)


def test_load_of_a_single_npy_array_is_a_clear_error(tmp_path):
    path = tmp_path / "one.npy"
    np.save(path, np.ones(2))
    with pytest.raises(ValueError, match="holds a single array, not a state dict"):
        mg.load(path)


def test_load_adds_the_npz_suffix_like_save(tmp_path):
    mg.save({"w": np.arange(3.0)}, tmp_path / "ckpt")
    np.testing.assert_array_equal(mg.load(tmp_path / "ckpt")["w"], np.arange(3.0))


# --------------------------------------------------------------------------------------
# Any string key round-trips; atomic writes; hostile or corrupt archives
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "allow_pickle",
        "file",
        "rnn/weight_ih_l0",
        "a.b.c",
        "../../etc/passwd",
        "",
        "with space",
        "100%",
        "naïve ✓",
        "x.npy",
        "__char_lm__",
    ],
)
def test_any_string_key_round_trips(tmp_path, key):
    state = {key: np.arange(3.0), "other": np.ones((2, 2), dtype=np.float32)}
    mg.save(state, tmp_path / "ckpt.npz")
    loaded = mg.load(tmp_path / "ckpt.npz")
    assert list(loaded) == [key, "other"]
    np.testing.assert_array_equal(loaded[key], np.arange(3.0))
    with zipfile.ZipFile(tmp_path / "ckpt.npz") as archive:  # no member escapes the archive's top level
        assert all("/" not in name and "\\" not in name for name in archive.namelist())


def test_pytorch_style_names_are_stored_as_they_are(tmp_path):
    mg.save({"rnn.weight_ih_l0": np.ones(2)}, tmp_path / "ckpt.npz")
    assert np.load(tmp_path / "ckpt.npz")["rnn.weight_ih_l0"].tolist() == [1.0, 1.0]  # numpy reads it too


def test_a_plain_np_savez_file_loads_with_its_names(tmp_path):
    np.savez(tmp_path / "plain.npz", **{"a%2Fb": np.ones(1), "w": np.zeros(2)})
    assert set(mg.load(tmp_path / "plain.npz")) == {"a%2Fb", "w"}  # not percent-decoded: numpy wrote it


def test_fortran_order_and_compressed_archives_load(tmp_path):
    f = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    np.savez_compressed(tmp_path / "c.npz", f=f)
    np.testing.assert_array_equal(mg.load(tmp_path / "c.npz")["f"], f)


@pytest.mark.parametrize("bad", [[np.ones(2)], None, "weights", np.ones(3)])
def test_save_of_a_non_mapping_names_what_was_expected(tmp_path, bad):
    with pytest.raises(TypeError, match="save: expected a mapping of names to arrays.*got"):
        mg.save(bad, tmp_path / "x.npz")
    assert not list(tmp_path.iterdir())


def test_save_refuses_a_non_string_key(tmp_path):
    with pytest.raises(TypeError, match=r"save: every key must be a str, got 3 \(int\)"):
        mg.save({3: np.ones(1)}, tmp_path / "x.npz")


def test_save_into_a_missing_folder_or_onto_a_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="save: cannot write .*the folder .*nope does not exist"):
        mg.save({"a": np.ones(1)}, tmp_path / "nope" / "x.npz")
    (tmp_path / "d.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="save: .*d.npz is a directory"):
        mg.save({"a": np.ones(1)}, tmp_path / "d.npz")
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileNotFoundError, match="the folder .*file is not a directory"):
        mg.save({"a": np.ones(1)}, tmp_path / "file" / "x.npz")


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    import errno
    import os

    path = tmp_path / "ckpt.npz"
    mg.save({"w": np.arange(4.0)}, path)
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(
        OSError,
        match=r"save: could not write .*ckpt.npz \(No space left on device\); "
        "the previous file there, if any, is unchanged",
    ):
        mg.save({"w": np.zeros(1000)}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]  # the temporary file is gone
    monkeypatch.undo()
    np.testing.assert_array_equal(mg.load(path)["w"], np.arange(4.0))


def test_an_exception_while_converting_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "ckpt.npz"
    mg.save({"w": np.arange(4.0)}, path)
    with pytest.raises(TypeError, match="'bad' is not a numeric array"):
        mg.save({"w": np.zeros(3), "bad": np.array([object()])}, path)
    np.testing.assert_array_equal(mg.load(path)["w"], np.arange(4.0))


_SLOW_SAVER = r"""
import sys, time
import numpy as np
from numpy.lib import format as npy_format
import minigrad as mg

path, marker = sys.argv[1], sys.argv[2]
original = npy_format.write_array
def write_then_hang(member, array, **kwargs):
    original(member, array, **kwargs)        # the first member is on its way to disk ...
    open(marker, "w").close()
    time.sleep(60)                           # ... and the process is killed here, mid-save
npy_format.write_array = write_then_hang
mg.save({"w": np.zeros(1_000_000), "b": np.zeros(10)}, path)
"""


def test_a_save_killed_mid_write_keeps_the_previous_checkpoint(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    path, marker = tmp_path / "ckpt.npz", tmp_path / "writing"
    mg.save({"w": np.arange(5.0)}, path)
    root = os.path.dirname(os.path.dirname(os.path.abspath(mg.__file__)))
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_SAVER, str(path), str(marker)], cwd=root)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "the saving process ended before it started writing"
            assert time.monotonic() < deadline, "the saving process never started writing"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    assert list(mg.load(path)) == ["w"]
    np.testing.assert_array_equal(mg.load(path)["w"], np.arange(5.0))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers and all(name.startswith(".ckpt.npz.") for name in leftovers)  # hidden, beside it


def test_save_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    import os

    path = tmp_path / "ckpt.npz"
    mg.save({"w": np.ones(1)}, path)
    os.chmod(path, 0o640)
    mg.save({"w": np.zeros(1)}, path)
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_save_through_a_symlink_replaces_the_file_it_points_to(tmp_path):
    real, link = tmp_path / "real.npz", tmp_path / "link.npz"
    mg.save({"w": np.ones(1)}, real)
    link.symlink_to(real)
    mg.save({"w": np.zeros(1)}, link)
    assert link.is_symlink()
    np.testing.assert_array_equal(mg.load(real)["w"], np.zeros(1))


def test_a_member_that_is_not_an_array_is_a_value_error_naming_it(tmp_path):
    path = tmp_path / "notes.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", b"hello")
    with pytest.raises(ValueError, match="member 'readme.txt' is not a .npy array"):
        mg.load(path)


def _npy_header(shape, dtype="<f8"):
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape}, }}".encode("latin1")
    header += b" " * (63 - len(header) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


def test_a_header_claiming_a_huge_array_is_a_corrupt_checkpoint_not_a_memory_error(tmp_path):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w.npy", _npy_header((10**12,)) + b"\x00" * 64)
    with pytest.raises(ValueError, match=r"member 'w.npy': corrupt checkpoint .*claims shape \(1000000000000,\)"):
        mg.load(path)


def test_a_truncated_member_is_a_corrupt_checkpoint(tmp_path):
    path = tmp_path / "short.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w.npy", _npy_header((4,)) + b"\x00" * 16)  # 4 float64 = 32 bytes claimed
    with pytest.raises(ValueError, match="member 'w.npy': corrupt checkpoint"):
        mg.load(path)


def test_a_flipped_byte_in_the_data_is_caught(tmp_path):
    path = tmp_path / "ckpt.npz"
    mg.save({"w": np.arange(1000.0)}, path)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="ckpt.npz"):
        mg.load(path)


def test_load_of_a_midi_file_or_a_directory(tmp_path):
    midi = tmp_path / "melody.mid"
    midi.write_bytes(b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0")
    with pytest.raises(ValueError, match="melody.mid is a MIDI file, not a minigrad checkpoint"):
        mg.load(midi)
    (tmp_path / "d.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="d.npz is a directory"):
        mg.load(tmp_path / "d.npz")
