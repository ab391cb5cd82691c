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
        "tensor": mg.tensor([1.0, 2.0]),                     # tensors are saved as their arrays
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
    mg.load(str(path))                                        # str paths too


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
