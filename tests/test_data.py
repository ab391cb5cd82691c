"""mg.utils.data: datasets, samplers, collate functions and the DataLoader (PyTorch semantics)."""

import collections
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn.functional import cross_entropy
from minigrad.utils.data import (
    BatchSampler,
    CollateError,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    PadCollate,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
    default_convert,
    pad_collate,
    random_split,
)


def make_dataset(n=10):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)
    return x, y, TensorDataset(x, y)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.float32(i * i)

    def __len__(self):
        return self.n


# ---- datasets ---------------------------------------------------------------------------------


def test_tensor_dataset_items_are_rows_of_each_array():
    x, y, ds = make_dataset()
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi, x[3])
    assert yi == 3
    t = mg.tensor(x)
    (ti,) = TensorDataset(t)[2]
    assert isinstance(ti, mg.Tensor) and ti.shape == (2,)
    np.testing.assert_array_equal(ti.data, x[2])


def test_tensor_dataset_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"first axes must agree.*\(10, 2\).*\(9,\)"):
        TensorDataset(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(np.float32(3.0))


def test_concat_dataset_and_plus():
    both = Squares(3) + Squares(2)
    assert isinstance(both, ConcatDataset) and len(both) == 5
    assert [float(both[i]) for i in range(5)] == [0, 1, 4, 0, 1]
    assert float(both[-1]) == 1 and float(both[-5]) == 0
    with pytest.raises(IndexError):
        both[5]
    with pytest.raises(IndexError):
        both[-6]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])


def test_subset_maps_indices():
    sub = Subset(Squares(5), [4, 0])
    assert len(sub) == 2 and float(sub[0]) == 16 and float(sub[1]) == 0


def test_base_dataset_says_what_to_implement():
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]


# ---- random_split -----------------------------------------------------------------------------


def test_random_split_counts_are_a_partition():
    _, _, ds = make_dataset(10)
    mg.manual_seed(0)
    parts = random_split(ds, [3, 7])
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))


@pytest.mark.parametrize(
    "n, fractions, expected",
    [
        (10, [0.33, 0.33, 0.34], [4, 3, 3]),  # floors 3, 3, 3; the remainder goes to the first split
        (10, [0.5, 0.5], [5, 5]),
        (7, [0.1, 0.2, 0.7], [1, 2, 4]),  # floors 0, 1, 4; remainders 1, 1 -> first two splits
        (5, [1.0], [5]),
    ],
)
def test_random_split_fractions_follow_pytorch(n, fractions, expected):
    parts = random_split(Squares(n), fractions, generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == expected
    assert sorted(i for p in parts for i in p.indices) == list(range(n))


def test_random_split_is_reproducible():
    _, _, ds = make_dataset(20)
    mg.manual_seed(3)
    a = random_split(ds, [0.8, 0.2])[1].indices
    mg.manual_seed(3)
    b = random_split(ds, [0.8, 0.2])[1].indices
    c = random_split(ds, [0.8, 0.2], generator=np.random.default_rng(5))[1].indices
    d = random_split(ds, [0.8, 0.2], generator=np.random.default_rng(5))[1].indices
    assert a == b and c == d


def test_random_split_errors():
    _, _, ds = make_dataset(10)
    with pytest.raises(ValueError, match=r"add up to 9, but the dataset has 10"):
        random_split(ds, [4, 5])
    with pytest.raises(ValueError, match="non-negative integer"):
        random_split(ds, [12, -2])
    with pytest.raises(ValueError, match="not between 0 and 1"):
        random_split(ds, [1.5, -0.5])
    with pytest.raises(TypeError, match="numpy Generator"):
        random_split(ds, [5, 5], generator=42)
    with pytest.warns(UserWarning, match="split at index 1 is empty"):
        random_split(Squares(2), [0.9, 0.1])


# ---- the loader -------------------------------------------------------------------------------


def test_loader_without_shuffle_keeps_order_and_len():
    x, y, ds = make_dataset(10)
    loader = DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    assert isinstance(batches[0], list) and isinstance(batches[0][0], mg.Tensor)
    np.testing.assert_array_equal(np.concatenate([b[0].data for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1].data for b in batches]), y)
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64


def test_drop_last():
    _, _, ds = make_dataset(10)
    loader = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(loader) == 2 and [b[1].shape for b in loader] == [(4,), (4,)]
    assert len(DataLoader(ds, batch_size=5, drop_last=True)) == 2


def test_shuffle_visits_every_item_once_in_a_new_order_each_epoch():
    _, y, ds = make_dataset(50)
    mg.manual_seed(0)
    loader = DataLoader(ds, batch_size=8, shuffle=True)
    epochs = [np.concatenate([b[1].data for b in loader]) for _ in range(3)]
    for order in epochs:
        assert sorted(order.tolist()) == list(range(50))
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[0], y)


def test_shuffle_is_reproducible_with_manual_seed_and_with_a_generator():
    _, _, ds = make_dataset(30)

    def first_epoch(**kwargs):
        return np.concatenate([b[1].data for b in DataLoader(ds, batch_size=7, shuffle=True, **kwargs)])

    mg.manual_seed(1)
    a = first_epoch()
    mg.manual_seed(1)
    b = first_epoch()
    np.testing.assert_array_equal(a, b)
    c = first_epoch(generator=np.random.default_rng(9))
    d = first_epoch(generator=np.random.default_rng(9))
    np.testing.assert_array_equal(c, d)
    mg.manual_seed(1)
    state = mg.random.generator().bit_generator.state
    first_epoch(generator=np.random.default_rng(9))  # its own stream: the global one is untouched
    assert mg.random.generator().bit_generator.state == state


def test_fast_path_equals_collating_the_rows():
    x, y, ds = make_dataset(13)
    rows = [ds[i] for i in range(13)]  # a plain list is a map-style dataset too
    for dataset in (ds, Subset(ds, list(range(12, -1, -1)))):
        items = [dataset[i] for i in range(len(dataset))]
        fast = list(DataLoader(dataset, batch_size=5))
        slow = list(DataLoader(items, batch_size=5))
        for f, s in zip(fast, slow):
            for a, b in zip(f, s):
                assert a.dtype == b.dtype and a.shape == b.shape
                np.testing.assert_array_equal(a.data, b.data)
    assert len(list(DataLoader(rows, batch_size=5))) == 3


def test_batch_size_none_yields_single_converted_items():
    _, _, ds = make_dataset(4)
    items = list(DataLoader(ds, batch_size=None))
    assert len(items) == 4 and isinstance(items[0], list)
    assert items[2][0].shape == (2,) and isinstance(items[2][1], mg.Tensor) and items[2][1].item() == 2
    assert len(DataLoader(ds, batch_size=None)) == 4


def test_samplers():
    assert list(SequentialSampler(range(3))) == [0, 1, 2]
    batches = list(BatchSampler(SequentialSampler(range(7)), 3, drop_last=False))
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(BatchSampler(range(7), 3, drop_last=True)) == 2
    with_replacement = list(
        RandomSampler(range(4), replacement=True, num_samples=100, generator=np.random.default_rng(0))
    )
    assert len(with_replacement) == 100 and set(with_replacement) <= {0, 1, 2, 3}
    chained = list(RandomSampler(range(4), num_samples=10, generator=np.random.default_rng(0)))
    assert sorted(chained[:4]) == sorted(chained[4:8]) == [0, 1, 2, 3] and len(chained) == 10
    subset = list(SubsetRandomSampler([10, 20, 30], generator=np.random.default_rng(0)))
    assert sorted(subset) == [10, 20, 30]


def test_custom_sampler_and_batch_sampler():
    _, _, ds = make_dataset(6)
    loader = DataLoader(ds, batch_size=2, sampler=[5, 4, 3, 2, 1, 0])
    assert [b[1].data.tolist() for b in loader] == [[5, 4], [3, 2], [1, 0]]
    loader = DataLoader(ds, batch_sampler=[[0], [1, 2, 3], [4, 5]])
    assert [b[1].data.tolist() for b in loader] == [[0], [1, 2, 3], [4, 5]] and len(loader) == 3


class Countdown(IterableDataset):
    def __init__(self, n, sized=True):
        self.n, self.sized = n, sized

    def __iter__(self):
        return iter(np.arange(self.n, 0, -1))

    def __len__(self):
        if not self.sized:
            raise TypeError("no length")
        return self.n


def test_iterable_dataset_is_batched_as_it_streams():
    loader = DataLoader(Countdown(5), batch_size=2)
    assert [b.data.tolist() for b in loader] == [[5, 4], [3, 2], [1]] and len(loader) == 3
    assert [b.data.tolist() for b in DataLoader(Countdown(5), batch_size=2, drop_last=True)] == [[5, 4], [3, 2]]
    with pytest.raises(ValueError, match="IterableDataset only streams"):
        DataLoader(Countdown(5), shuffle=True)
    with pytest.raises(ValueError, match="no sampler"):
        DataLoader(Countdown(5), sampler=[0, 1])


def test_training_loop_with_a_loader_learns():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)
    mg.manual_seed(0)
    train, held_out = random_split(TensorDataset(x, y), [0.75, 0.25])
    model = mg.nn.Linear(3, 1)
    opt = mg.optim.Adam(model.parameters(), lr=0.05)

    def held_out_loss():
        with mg.no_grad():
            return np.mean(
                [mg.nn.functional.mse_loss(model(xb), yb).item() for xb, yb in DataLoader(held_out, batch_size=64)]
            )

    before = held_out_loss()
    for _ in range(20):
        for xb, yb in DataLoader(train, batch_size=32, shuffle=True):
            opt.zero_grad()
            mg.nn.functional.mse_loss(model(xb), yb).backward()
            opt.step()
    assert held_out_loss() < before / 100


# ---- default_collate --------------------------------------------------------------------------


def test_default_collate_types_follow_pytorch():
    floats, ints, bools = default_collate([1.5, 2.5]), default_collate([1, 2]), default_collate([True, False])
    assert floats.dtype == np.float64 and ints.dtype == np.int64 and bools.dtype == np.bool_
    scalars = default_collate([np.float32(1), np.float32(2)])
    assert scalars.dtype == np.float32 and scalars.shape == (2,)
    assert default_collate(["a", "b"]) == ["a", "b"]
    batch = default_collate([(np.zeros(3, np.float32), 1), (np.ones(3, np.float32), 2)])
    assert isinstance(batch, list) and batch[0].shape == (2, 3) and batch[1].data.tolist() == [1, 2]
    as_dict = default_collate([{"x": np.zeros(2), "n": 1}, {"x": np.ones(2), "n": 2}])
    assert set(as_dict) == {"x", "n"} and as_dict["x"].shape == (2, 2) and as_dict["x"].dtype == np.float64
    Point = collections.namedtuple("Point", "x y")
    point = default_collate([Point(1.0, 2), Point(3.0, 4)])
    assert isinstance(point, Point) and point.x.data.tolist() == [1.0, 3.0]
    nested = default_collate([[np.zeros(2), (1, "a")], [np.ones(2), (2, "b")]])
    assert isinstance(nested, list) and nested[1][1] == ["a", "b"]


def test_default_collate_stacks_tensors_and_keeps_their_graph():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    batch = default_collate([w * 2, w * 3])
    assert batch.shape == (2, 2)
    batch.sum().backward()
    np.testing.assert_allclose(w.grad, [5.0, 5.0])


def test_different_shapes_name_them_and_suggest_the_padding_collate():
    seqs = [(np.zeros((3, 2)), 0), (np.zeros((5, 2)), 1)]
    with pytest.raises(CollateError, match=r"\(3, 2\).*\(5, 2\).*pad_collate") as info:
        next(iter(DataLoader(seqs, batch_size=2)))
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, ValueError)
    assert "[0]" in str(info.value)  # which field of the items
    with pytest.raises(CollateError, match="same number of fields"):
        default_collate([(1, 2), (1, 2, 3)])
    with pytest.raises(CollateError, match="cannot be batched"):
        default_collate([object(), object()])
    with pytest.raises(CollateError, match="dtype"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(CollateError, match="non-empty list"):
        default_collate([])


def test_default_convert():
    converted = default_convert((np.zeros(2), 3, "s", {"a": np.float32(1)}))
    assert isinstance(converted, list) and isinstance(converted[0], mg.Tensor)
    assert converted[1] == 3 and converted[2] == "s" and isinstance(converted[3]["a"], mg.Tensor)


# ---- padding variable-length sequences --------------------------------------------------------


def sequences():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((n, 3)).astype(np.float32) for n in (2, 5, 3)]


def test_pad_collate_time_major_with_lengths():
    seqs = sequences()
    padded, lengths = pad_collate(seqs)
    assert padded.shape == (5, 3, 3) and padded.dtype == np.float32
    assert lengths.dtype == np.int64 and lengths.data.tolist() == [2, 5, 3]
    for b, seq in enumerate(seqs):
        np.testing.assert_array_equal(padded.data[: len(seq), b], seq)
        assert not padded.data[len(seq) :, b].any()


def test_pad_collate_batch_first_value_and_other_fields():
    seqs = sequences()
    items = [(s, label) for s, label in zip(seqs, (0, 1, 0))]
    padded, lengths, labels = PadCollate(batch_first=True, padding_value=-1.0)(items)
    assert padded.shape == (3, 5, 3) and labels.data.tolist() == [0, 1, 0]
    assert (padded.data[0, 2:] == -1).all() and lengths.data.tolist() == [2, 5, 3]


def test_pad_targets_are_ignored_by_cross_entropy():
    rng = np.random.default_rng(1)
    seqs = [rng.integers(0, 4, size=n) for n in (3, 1, 4)]
    items = [(np.eye(4, dtype=np.float32)[s[:-1]], s[1:]) for s in seqs]
    x, lengths, targets = DataLoader(items, batch_size=3, collate_fn=PadCollate(pad_targets=True)).__iter__().__next__()
    assert x.shape == (3, 3, 4) and targets.shape == (3, 3) and lengths.data.tolist() == [2, 0, 3]
    assert (targets.data[2:, 0] == -100).all() and (targets.data[:, 1] == -100).all()
    logits = mg.tensor(rng.standard_normal((3, 3, 4)).astype(np.float32))
    loss = cross_entropy(logits.reshape(9, 4), targets.reshape(9)).item()
    valid = targets.data.reshape(9) != -100
    rows = logits.data.reshape(9, 4)[valid]
    expected = np.mean(np.log(np.exp(rows).sum(1)) - rows[np.arange(len(rows)), targets.data.reshape(9)[valid]])
    assert loss == pytest.approx(expected, rel=1e-5)


def test_pad_collate_errors():
    with pytest.raises(CollateError, match=r"differ in length only.*\(4, 2\)"):
        pad_collate([np.zeros((3, 3)), np.zeros((4, 2))])
    with pytest.raises(CollateError, match="requires grad"):
        pad_collate([mg.tensor(np.zeros((2, 1)), requires_grad=True)])
    with pytest.raises(CollateError, match="time axis"):
        pad_collate([np.float32(1), np.float32(2)])
    with pytest.raises(CollateError, match="tuple of 2 fields"):
        pad_collate([(np.zeros(2), 1), np.zeros(3)])
    with pytest.raises(CollateError, match="pad_targets=True"):
        pad_collate([(np.zeros(2), np.zeros(2)), (np.zeros(3), np.zeros(3))])


# ---- bad arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "4"])
def test_bad_batch_size(batch_size):
    _, _, ds = make_dataset()
    with pytest.raises(ValueError, match=r"DataLoader: batch_size must be a positive integer"):
        DataLoader(ds, batch_size=batch_size)


def test_bad_loader_arguments():
    _, _, ds = make_dataset()
    with pytest.raises(ValueError, match="num_workers must be 0.*no worker processes"):
        DataLoader(ds, num_workers=2)
    with pytest.raises(ValueError, match="persistent_workers"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(TypeError, match="numpy Generator"):
        DataLoader(ds, shuffle=True, generator=0)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler is mutually exclusive"):
        DataLoader(ds, batch_size=4, batch_sampler=[[0, 1]])
    with pytest.raises(ValueError, match="drop_last=True needs a batch_size"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(TypeError, match="dataset must be a Dataset"):
        DataLoader(3)
    with pytest.raises(TypeError, match="IterableDataset"):
        DataLoader(iter([1, 2, 3]))
    with pytest.raises(TypeError, match="sampler must be an iterable of indices"):
        DataLoader(ds, sampler=5)
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        DataLoader(ds, collate_fn="pad")
    with pytest.raises(TypeError, match="no length"):
        len(DataLoader(Countdown(3, sized=False)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(DataLoader(ds, pin_memory=True)) == 10  # accepted; there is no device memory to pin


def test_the_examples_in_docs_training_run(tmp_path, monkeypatch, capsys):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "training.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "import torch" not in b]
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        exec(compile(block, "docs/training.md", "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    first, last = (float(re.search(r"MSE ([\d.]+)", line).group(1)) for line in (printed[0], printed[-1]))
    assert last < first / 2 and (tmp_path / "forecaster.npz").exists()
    assert namespace["padded"].shape == (7, 3, 8) and namespace["lengths"].data.tolist() == [5, 3, 7]
    assert namespace["labels"].data.tolist() == [0, 1, 0]


def test_getitems_protocol_and_empty_shuffle():
    class Batched(Squares):
        calls = 0

        def __getitems__(self, indices):
            Batched.calls += 1
            return [np.float32(i * i) for i in indices]

    batches = [b.data.tolist() for b in DataLoader(Batched(5), batch_size=2)]
    assert batches == [[0, 1], [4, 9], [16]] and Batched.calls == 3
    with pytest.raises(ValueError, match="empty.*nothing to shuffle"):
        DataLoader(Squares(0), shuffle=True)
    assert list(DataLoader(Squares(0), batch_size=4)) == []


def test_padded_batch_through_a_gru_equals_each_sequence_alone():
    seqs = sequences()  # lengths 2, 5, 3, features 3
    mg.manual_seed(0)
    gru = mg.nn.GRU(3, 4)
    padded, lengths = pad_collate(seqs)
    with mg.no_grad():
        out, _ = gru(padded)  # (T, B, H); steps past a sequence's end are padding
        for b, seq in enumerate(seqs):
            alone, h_n = gru(seq[:, None])
            np.testing.assert_allclose(out.data[: lengths.data[b], b], alone.data[:, 0], rtol=1e-6, atol=1e-7)
            # the state after the last real step, where lengths= points the layers
            np.testing.assert_allclose(out.data[lengths.data[b] - 1, b], h_n.data[0, 0], rtol=1e-6, atol=1e-7)


def test_weighted_random_sampler_follows_the_weights():
    from minigrad.utils.data import WeightedRandomSampler

    drawn = list(WeightedRandomSampler([1.0, 0.0, 3.0], 4000, generator=np.random.default_rng(0)))
    counts = np.bincount(drawn, minlength=3)
    assert len(drawn) == 4000 and counts[1] == 0 and 2.7 < counts[2] / counts[0] < 3.3
    distinct = list(WeightedRandomSampler([1, 1, 1, 1], 4, replacement=False, generator=np.random.default_rng(0)))
    assert sorted(distinct) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="cannot draw 3 distinct"):
        WeightedRandomSampler([1, 0, 1], 3, replacement=False)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1, -1], 2)
    with pytest.raises(ValueError, match="num_samples must be a positive integer"):
        WeightedRandomSampler([1, 1], 0)


def test_pad_collate_agrees_with_nn_utils_rnn():
    from minigrad.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

    seqs = sequences()
    for batch_first in (False, True):
        padded, lengths = PadCollate(batch_first=batch_first, padding_value=-2.0)(seqs)
        reference = pad_sequence([mg.tensor(s) for s in seqs], batch_first=batch_first, padding_value=-2.0)
        np.testing.assert_array_equal(padded.data, reference.data)
        packed = pack_padded_sequence(padded, lengths, batch_first=batch_first, enforce_sorted=False)
        unpacked, unpacked_lengths = pad_packed_sequence(packed, batch_first=batch_first, padding_value=-2.0)
        np.testing.assert_array_equal(unpacked.data, padded.data)
        assert np.asarray(getattr(unpacked_lengths, "data", unpacked_lengths)).tolist() == [2, 5, 3]
