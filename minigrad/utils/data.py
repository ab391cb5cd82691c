"""Datasets and batch loaders with PyTorch's names and semantics (``torch.utils.data``), on numpy.

A training loop written for PyTorch reads the same here::

    from minigrad.utils.data import DataLoader, TensorDataset, random_split

    dataset = TensorDataset(x, y)                       # numpy arrays (or tensors), first axes equal
    train, held_out = random_split(dataset, [0.9, 0.1])
    for xb, yb in DataLoader(train, batch_size=32, shuffle=True):
        ...                                             # xb, yb: minigrad tensors, batch axis first

The pieces, each a small class you can read in one go:

* a **dataset** maps an index to an item: :class:`Dataset` (``__getitem__``, ``__len__``; ``a + b``
  concatenates), :class:`TensorDataset`, :class:`Subset`, :class:`ConcatDataset`, or an
  :class:`IterableDataset` that only yields items;
* a **sampler** yields the indices of one epoch: :class:`SequentialSampler`, :class:`RandomSampler`
  (a new permutation every epoch), :class:`SubsetRandomSampler`, :class:`WeightedRandomSampler`;
  :class:`BatchSampler` groups
  them into lists of ``batch_size``;
* a **collate function** turns a list of items into one batch: :func:`default_collate` stacks
  arrays, tensors and numbers along a new first axis into minigrad tensors, recursing into
  tuples, lists and dicts; :class:`PadCollate` (:func:`pad_collate`) pads variable-length
  sequences and returns their lengths, for the recurrent layers' ``lengths=``;
* :class:`DataLoader` ties them together: ``for batch in loader`` runs one epoch.

Randomness: with ``generator=None`` every shuffle and split draws from minigrad's generator at the
time it runs, so ``mg.manual_seed(n)`` makes a whole run repeat; pass an ``np.random.Generator`` to
give the loader a stream of its own. The permutations are numpy's, not PyTorch's: the same seed
gives a different (equally random) order than in PyTorch.

No worker processes: batches are built in the main process (``num_workers`` must be 0). Items are
numpy slices, and a batch of a :class:`TensorDataset` is one fancy-indexing per array, so loading
costs little next to a forward and backward pass on a laptop CPU.
"""

from __future__ import annotations

import bisect
import collections.abc
import copy
import itertools
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ..random import generator as _global_generator
from ..tensor import Tensor, stack


class CollateError(ValueError, RuntimeError):
    """A batch's items cannot be combined (different shapes, unsupported types).

    Both a ``ValueError`` (bad data) and a ``RuntimeError`` (what PyTorch raises in that case).
    """


# ---- datasets ------------------------------------------------------------------------------


class Dataset:
    """A map-style dataset: ``dataset[i]`` is item ``i``, ``len(dataset)`` the number of items.

    Subclass it and write ``__getitem__`` and ``__len__``; ``a + b`` is ``ConcatDataset([a, b])``.
    (Any object with those two methods, a list of arrays say, works with :class:`DataLoader` too.)
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index)")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__()")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset:
    """A stream of items: subclass it and write ``__iter__`` (e.g. lines read from a large file).

    A :class:`DataLoader` groups consecutive items into batches; it cannot shuffle a stream.
    """

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__()")


def _as_columns(arrays: Sequence[Any], owner: str) -> tuple[Any, ...]:
    columns = []
    for i, array in enumerate(arrays):
        if not isinstance(array, (Tensor, np.ndarray)):
            try:
                array = np.asarray(array)
            except ValueError as err:
                raise ValueError(f"{owner}: argument {i} is not an array ({err})") from None
        if array.ndim == 0:
            raise ValueError(
                f"{owner}: argument {i} is a 0-d array; every argument needs a first axis that indexes the items"
            )
        columns.append(array)
    return tuple(columns)


class TensorDataset(Dataset):
    """Items are rows of equally long arrays: ``dataset[i] == (arrays[0][i], arrays[1][i], ...)``.

    Give numpy arrays (items are numpy rows, the loader makes tensors of the batches), minigrad
    tensors (items are tensors) or lists (made numpy arrays). Their first axes must agree.
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset: give at least one array, e.g. TensorDataset(inputs, targets)")
        self.tensors = _as_columns(arrays, "TensorDataset")
        sizes = [len(a) for a in self.tensors]
        if len(set(sizes)) > 1:
            shapes = ", ".join(f"argument {i}: {tuple(a.shape)}" for i, a in enumerate(self.tensors))
            raise ValueError(f"TensorDataset: the arrays' first axes must agree (one entry per item), got {shapes}")

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return tuple(array[index] for array in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])

    def gather(self, indices: Sequence[int]) -> list[Tensor]:
        """The batch ``default_collate([self[i] for i in indices])``, by one fancy-indexing per array."""
        index = np.asarray(indices, dtype=np.int64)
        batch = []
        for k, array in enumerate(self.tensors):
            if isinstance(array, Tensor):
                if array.requires_grad:  # keep the graph, as stacking the rows would
                    batch.append(stack([array[int(i)] for i in index]))
                    continue
                array = array.data
            if not _is_numeric_array(array):
                raise CollateError(
                    f"default_collate: arrays of dtype {array.dtype} ([{k}]) cannot become "
                    "tensors; give numbers, or a collate_fn that handles them"
                )
            batch.append(_to_tensor(array[index]))
        return batch


class Subset(Dataset):
    """The items of ``dataset`` at ``indices``, in that order (what :func:`random_split` returns)."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: int | list[int]) -> Any:
        if isinstance(index, list):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)

    def gather(self, indices: Sequence[int]) -> list[Tensor]:
        """The collated batch of ``indices``, through the underlying dataset's ``gather``."""
        return self.dataset.gather([self.indices[i] for i in indices])


class ConcatDataset(Dataset):
    """Several datasets one after another: items ``0 .. len(a)-1`` are ``a``'s, then ``b``'s, ..."""

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for i, d in enumerate(self.datasets):
            if isinstance(d, IterableDataset):
                raise TypeError(f"ConcatDataset: dataset {i} is an IterableDataset, which has no indices")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            if -index > len(self):
                raise IndexError(f"ConcatDataset: index {index} is out of range for {len(self)} items")
            index += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        if which == len(self.datasets):
            raise IndexError(f"ConcatDataset: index {index} is out of range for {len(self)} items")
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def random_split(
    dataset: Any, lengths: Sequence[int | float], generator: np.random.Generator | None = None
) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random :class:`Subset` s of the given ``lengths``.

    ``lengths`` are item counts adding up to ``len(dataset)``, or fractions adding up to 1 (as
    PyTorch 2.x: each split gets ``floor(n * fraction)`` items, and the remainder is dealt out one
    by one from the first split on). The permutation comes from ``generator``, else from
    minigrad's generator (``mg.manual_seed`` makes it repeat).
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty; give item counts or fractions, e.g. [0.8, 0.2]")
    for i, length in enumerate(lengths):
        if isinstance(length, bool) or not isinstance(length, (int, float, np.integer, np.floating)):
            raise TypeError(f"random_split: length at index {i} must be a number, got {length!r}")
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        counts = []
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, got {fraction}")
            counts.append(math.floor(n * fraction))
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"random_split: split at index {i} is empty ({lengths[i]} of {n} items)", stacklevel=2)
        lengths = counts
    for i, length in enumerate(lengths):
        if length < 0 or length != int(length):
            raise ValueError(
                f"random_split: length at index {i} must be a non-negative integer "
                f"(or all lengths fractions adding up to 1), got {length}"
            )
    lengths = [int(length) for length in lengths]
    if sum(lengths) != n:
        raise ValueError(f"random_split: the lengths {lengths} add up to {sum(lengths)}, but the dataset has {n} items")
    order = _resolve_generator(generator, "random_split").permutation(n).tolist()
    return [Subset(dataset, order[end - length : end]) for end, length in zip(itertools.accumulate(lengths), lengths)]


# ---- samplers ------------------------------------------------------------------------------


def _resolve_generator(generator: np.random.Generator | None, owner: str) -> np.random.Generator:
    if generator is None:
        return _global_generator()  # looked up now: mg.manual_seed replaces it
    if not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"{owner}: generator must be a numpy Generator (np.random.default_rng(seed)) or None "
            f"(minigrad's generator, seeded by mg.manual_seed), got {type(generator).__name__}"
        )
    return generator


class Sampler:
    """Yields the dataset indices of one epoch; ``len()`` says how many."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh random order every epoch: a permutation, or ``num_samples`` draws with ``replacement``.

    Without replacement and with ``num_samples`` above the dataset's size, whole permutations are
    chained (as PyTorch). Draws come from ``generator``, else minigrad's generator at iteration time.
    """

    def __init__(
        self,
        data_source: Any,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement must be True or False, got {replacement!r}")
        if num_samples is not None and (
            isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0
        ):
            raise ValueError(f"RandomSampler: num_samples must be a positive integer, got {num_samples!r}")
        _resolve_generator(generator, "RandomSampler")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if self.num_samples <= 0:
            raise ValueError(f"RandomSampler: the dataset is empty ({len(data_source)} items): nothing to shuffle")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        rng = _resolve_generator(self.generator, "RandomSampler")
        if n == 0:
            return iter(())
        if self.replacement:
            return iter(rng.integers(0, n, size=self.num_samples).tolist())
        whole, rest = divmod(self.num_samples, n)
        chunks = [rng.permutation(n) for _ in range(whole)]
        if rest:  # (PyTorch draws this partial permutation even when rest is 0; one draw per epoch is enough)
            chunks.append(rng.permutation(n)[:rest])
        return iter(np.concatenate(chunks).tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a fresh random order every epoch."""

    def __init__(self, indices: Sequence[int], generator: np.random.Generator | None = None) -> None:
        _resolve_generator(generator, "SubsetRandomSampler")
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        rng = _resolve_generator(self.generator, "SubsetRandomSampler")
        return (self.indices[i] for i in rng.permutation(len(self.indices)).tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights`` (rebalancing classes).

    With ``replacement=False`` an index is drawn at most once (so ``num_samples`` can be at most the
    number of non-zero weights). Draws come from ``generator``, else minigrad's generator.
    """

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: np.random.Generator | None = None,
    ) -> None:
        owner = "WeightedRandomSampler"
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 1 or not len(weights):
            raise ValueError(f"{owner}: weights must be a non-empty 1-D sequence, got shape {weights.shape}")
        if not np.isfinite(weights).all() or (weights < 0).any() or not weights.sum() > 0:
            raise ValueError(f"{owner}: weights must be finite, non-negative and not all zero")
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples <= 0:
            raise ValueError(f"{owner}: num_samples must be a positive integer, got {num_samples!r}")
        if not isinstance(replacement, bool):
            raise TypeError(f"{owner}: replacement must be True or False, got {replacement!r}")
        if not replacement and num_samples > np.count_nonzero(weights):
            raise ValueError(
                f"{owner}: cannot draw {num_samples} distinct indices without replacement from "
                f"{np.count_nonzero(weights)} non-zero weights"
            )
        _resolve_generator(generator, owner)
        self.weights = weights
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        rng = _resolve_generator(self.generator, "WeightedRandomSampler")
        p = self.weights / self.weights.sum()
        return iter(rng.choice(len(p), size=self.num_samples, replace=self.replacement, p=p).tolist())

    def __len__(self) -> int:
        return self.num_samples


def _check_batch_size(batch_size: Any, owner: str) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(
            f"{owner}: batch_size must be a positive integer (or None for no batching), got {batch_size!r}"
        )
    return int(batch_size)


class BatchSampler(Sampler):
    """Groups ``sampler``'s indices into lists of ``batch_size``; the last may be short unless ``drop_last``."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        self.batch_size = _check_batch_size(batch_size, "BatchSampler")
        if not isinstance(drop_last, bool):
            raise TypeError(f"BatchSampler: drop_last must be True or False, got {drop_last!r}")
        self.sampler = sampler
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        indices = iter(self.sampler)
        while batch := list(itertools.islice(indices, self.batch_size)):
            if len(batch) < self.batch_size and self.drop_last:
                return
            yield batch

    def __len__(self) -> int:
        whole, rest = divmod(len(self.sampler), self.batch_size)
        return whole + (1 if rest and not self.drop_last else 0)


# ---- collate: a list of items -> one batch -------------------------------------------------


def _to_tensor(array: np.ndarray) -> Tensor:
    return Tensor(array)


def _is_numeric_array(array: np.ndarray) -> bool:
    return array.dtype.kind in "biufc"


def _describe(where: str) -> str:
    return f" ({where})" if where else ""


def _collate(batch: Sequence[Any], where: str) -> Any:
    first = batch[0]
    if isinstance(first, Tensor) or (isinstance(first, np.ndarray) and _is_numeric_array(first)):
        shapes = [tuple(np.shape(item)) for item in batch]
        for i, shape in enumerate(shapes):
            if shape != shapes[0]:
                raise CollateError(
                    f"default_collate: the items of a batch must have equal shapes to be stacked{_describe(where)}, "
                    f"but item 0 has shape {shapes[0]} and item {i} has shape {shape}; for variable-length "
                    "sequences use DataLoader(..., collate_fn=mg.utils.data.pad_collate), which pads them and "
                    "returns their lengths, or write your own collate_fn"
                )
        if isinstance(first, Tensor) and any(isinstance(item, Tensor) and item.requires_grad for item in batch):
            return stack(list(batch))  # keeps the graph, as torch.stack
        try:
            return _to_tensor(np.stack([np.asarray(getattr(item, "data", item)) for item in batch]))
        except TypeError as err:
            raise CollateError(f"default_collate: cannot stack the batch's arrays{_describe(where)}: {err}") from None
    if isinstance(first, np.ndarray):
        raise CollateError(
            f"default_collate: arrays of dtype {first.dtype}{_describe(where)} cannot become "
            "tensors; give numbers, or a collate_fn that handles them"
        )
    if isinstance(first, (np.bool_, np.number)):
        return _to_tensor(np.asarray(batch))
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, bool):
        return _to_tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(first, float):  # as PyTorch: Python floats become float64
        return _to_tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(first, int):  # ... and Python ints int64
        return _to_tensor(np.asarray(batch, dtype=np.int64))
    if isinstance(first, collections.abc.Mapping):
        for i, item in enumerate(batch):
            if not isinstance(item, collections.abc.Mapping) or set(item) != set(first):
                raise CollateError(
                    f"default_collate: item {i}{_describe(where)} has keys "
                    f"{sorted(item) if isinstance(item, collections.abc.Mapping) else type(item)}, "
                    f"item 0 {sorted(first)}"
                )
        collated = {key: _collate([item[key] for item in batch], f"{where}[{key!r}]") for key in first}
        try:
            clone = copy.copy(first)
            clone.update(collated)
            return clone
        except (TypeError, AttributeError):
            return collated
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # a namedtuple keeps its type
        return type(first)(*(_collate(column, f"{where}.{name}") for name, column in zip(first._fields, zip(*batch))))
    if isinstance(first, collections.abc.Sequence):
        for i, item in enumerate(batch):
            if len(item) != len(first):
                raise CollateError(
                    f"default_collate: every item must have the same number of fields, but item 0 "
                    f"has {len(first)} and item {i} has {len(item)}{_describe(where)}"
                )
        columns = [_collate(column, f"{where}[{k}]") for k, column in enumerate(zip(*batch))]
        if isinstance(first, tuple):
            return columns  # a list, as PyTorch's default_collate
        try:
            return type(first)(columns)
        except TypeError:
            return columns
    raise CollateError(
        f"default_collate: items of type {type(first).__name__}{_describe(where)} cannot be batched; "
        "items may be numpy arrays, minigrad tensors, numbers, strings, and tuples, lists or dicts "
        "of those (or pass a collate_fn)"
    )


def default_collate(batch: Sequence[Any]) -> Any:
    """Combine a list of items into one batch, as PyTorch's ``default_collate``.

    Numeric numpy arrays and tensors are stacked along a new first axis (equal shapes required),
    numpy scalars too; Python floats become a float64 tensor and ints an int64 one (as PyTorch);
    strings stay a list; a tuple of fields gives a *list* of batched fields, a dict a dict, a
    namedtuple the same namedtuple. Arrays keep their dtype: make float32 data ``astype(np.float32)``
    to feed the float32 layers.
    """
    if not isinstance(batch, collections.abc.Sequence) or isinstance(batch, (str, bytes)) or not len(batch):
        raise CollateError(
            f"default_collate: expected a non-empty list of items, got {type(batch).__name__}"
            + (" of length 0" if isinstance(batch, collections.abc.Sized) else "")
        )
    return _collate(batch, "")


def default_convert(item: Any) -> Any:
    """One item made tensors without a batch axis (what ``DataLoader(batch_size=None)`` yields).

    Numeric numpy arrays and numpy scalars become tensors; tuples, lists and dicts are converted
    inside; everything else (Python numbers, strings, tensors) is returned as it is, as PyTorch.
    """
    if isinstance(item, (np.ndarray, np.bool_, np.number)):
        return _to_tensor(np.asarray(item)) if _is_numeric_array(np.asarray(item)) else item
    if isinstance(item, collections.abc.Mapping):
        converted = {key: default_convert(value) for key, value in item.items()}
        try:
            return type(item)(converted)
        except TypeError:
            return converted
    if isinstance(item, tuple) and hasattr(item, "_fields"):
        return type(item)(*(default_convert(value) for value in item))
    if isinstance(item, tuple):
        return [default_convert(value) for value in item]
    if isinstance(item, list):
        return [default_convert(value) for value in item]
    return item


class PadCollate:
    """Batch variable-length sequences: pad them to the longest and return their lengths.

    Items are a sequence ``x_i`` of shape ``(L_i, *features)`` (an array, a tensor or a list), or a
    *tuple* ``(x_i, *others)`` (what :class:`TensorDataset` and most ``__getitem__`` return).
    Returns ``(padded, lengths)`` or ``(padded, lengths, *others)`` where

    * ``padded`` is ``(T, B, *features)`` with ``T = max L_i`` (``(B, T, *features)`` when
      ``batch_first``), steps past ``L_i`` filled with ``padding_value``: the layout the recurrent
      layers take, ``layer(padded, lengths=lengths)``;
    * ``lengths`` is an int64 tensor of the ``L_i``, in batch order (not sorted);
    * ``others`` are batched by :func:`default_collate` (one label per sequence, say), or, with
      ``pad_targets=True``, padded in the same layout with ``target_padding_value`` (per-step
      targets; the default -100 is ``cross_entropy``'s ``ignore_index``, so padding costs nothing).

    Sequences may be numpy arrays, tensors without gradients, or lists of numbers (made float32).
    """

    def __init__(
        self,
        batch_first: bool = False,
        padding_value: float = 0.0,
        pad_targets: bool = False,
        target_padding_value: float = -100,
    ) -> None:
        self.batch_first = bool(batch_first)
        self.padding_value = padding_value
        self.pad_targets = bool(pad_targets)
        self.target_padding_value = target_padding_value

    def __repr__(self) -> str:
        return (
            f"PadCollate(batch_first={self.batch_first}, padding_value={self.padding_value}, "
            f"pad_targets={self.pad_targets}, target_padding_value={self.target_padding_value})"
        )

    def __call__(self, batch: Sequence[Any]) -> tuple[Any, ...]:
        if not isinstance(batch, collections.abc.Sequence) or not len(batch):
            raise CollateError(f"pad_collate: expected a non-empty list of items, got {type(batch).__name__}")
        if not isinstance(batch[0], tuple):  # a tuple holds fields; anything else is one sequence
            padded, lengths = self.pad(
                [_as_sequence(item, i, "") for i, item in enumerate(batch)], self.padding_value, ""
            )
            return padded, lengths
        width = len(batch[0])
        for i, item in enumerate(batch):
            if not isinstance(item, tuple) or len(item) != width:
                raise CollateError(
                    f"pad_collate: every item must be a tuple of {width} fields like item 0, "
                    f"but item {i} is {type(item).__name__}" + (f" of {len(item)}" if isinstance(item, tuple) else "")
                )
        columns = list(zip(*batch))
        sequences = [_as_sequence(item, i, "[0]") for i, item in enumerate(columns[0])]
        lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
        plan = self._scatter_plan(lengths)
        padded, lengths = self.pad(sequences, self.padding_value, "[0]", plan)
        others = []
        for k, column in enumerate(columns[1:], start=1):
            if self.pad_targets:
                targets = [_as_sequence(item, i, f"[{k}]") for i, item in enumerate(column)]
                others.append(self.pad(targets, self.target_padding_value, f"[{k}]", plan)[0])
            else:
                others.append(_collate(column, f"field [{k}]; pad_targets=True pads per-step targets"))
        return (padded, lengths, *others)

    def pad(
        self, sequences: Sequence[np.ndarray], value: float, where: str = "", _plan: tuple | None = None
    ) -> tuple[Tensor, Tensor]:
        """Pad ``(L_i, *features)`` arrays into one ``(T, B, *features)`` tensor (or batch-first) and lengths."""
        features = sequences[0].shape[1:]
        for i, seq in enumerate(sequences):
            if seq.shape[1:] != features:
                raise CollateError(
                    f"pad_collate: sequences may differ in length only, but item {i}{where} has shape "
                    f"{seq.shape} and item 0{where} {sequences[0].shape} (features {seq.shape[1:]} "
                    f"vs {features})"
                )
        lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
        if _plan is None or not np.array_equal(_plan[0], lengths):
            _plan = self._scatter_plan(lengths)
        _, index, shape = _plan
        values = np.concatenate(sequences)  # every step of every sequence, one after another (dtypes promoted)
        out = np.full((*shape, *features), value, dtype=values.dtype)
        out[index] = values  # one scatter: step t of sequence b lands at [t, b] (or [b, t] batch-first)
        return _to_tensor(out), _to_tensor(lengths)

    def _scatter_plan(self, lengths: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], tuple]:
        """Where each step of the concatenated sequences goes, for :meth:`pad` (shared by equal-length fields)."""
        batch_index = np.repeat(np.arange(len(lengths)), lengths)
        time_index = np.arange(batch_index.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        steps = int(lengths.max(initial=0))
        if self.batch_first:
            return lengths, (batch_index, time_index), (len(lengths), steps)
        return lengths, (time_index, batch_index), (steps, len(lengths))


def _as_sequence(item: Any, i: int, where: str) -> np.ndarray:
    if type(item) is np.ndarray and item.ndim and item.dtype.kind in "biuf":
        return item  # the common case, checked first
    if isinstance(item, Tensor):
        if item.requires_grad:
            raise CollateError(
                f"pad_collate: item {i}{where} requires grad; padding copies values and would cut "
                "its graph (give data, or collate it yourself with mg.concat)"
            )
        item = item.data
    array = np.asarray(item) if isinstance(item, np.ndarray) else np.asarray(item, dtype=None)
    if not isinstance(item, np.ndarray) and array.dtype.kind == "f":
        array = array.astype(np.float32)  # Python numbers: float32, as mg.tensor
    if array.ndim == 0 or array.dtype.kind not in "biuf":
        raise CollateError(
            f"pad_collate: item {i}{where} must be a numeric sequence with a time axis first "
            f"(shape (L, *features)), got {type(item).__name__} with shape {array.shape} "
            f"and dtype {array.dtype}"
        )
    return array


pad_collate = PadCollate()
"""``PadCollate()`` with its defaults: time-major ``(T, B, *features)`` padding with 0; other fields stacked."""


# ---- the loader ----------------------------------------------------------------------------


class DataLoader:
    """Iterate over a dataset in batches, as PyTorch's ``DataLoader`` (one process, no workers).

    ``for batch in DataLoader(dataset, batch_size=32, shuffle=True)`` runs one epoch: a new order
    each time when ``shuffle`` (from ``generator``, else minigrad's generator at the epoch's
    start), the last batch short unless ``drop_last``. Each batch is
    ``collate_fn([dataset[i] for i in indices])`` (:func:`default_collate` unless given).
    ``len(loader)`` is the number of batches. ``batch_size=None`` yields single items, converted to
    tensors by :func:`default_convert` (or passed through ``collate_fn``). ``sampler`` (an
    iterable of indices) or ``batch_sampler`` (of index lists) replace the built-in ordering.
    An :class:`IterableDataset` is batched as it streams (no shuffling, no samplers).

    ``num_workers`` must be 0: no worker processes (batching numpy arrays is cheap next to the
    forward and backward passes). ``pin_memory`` is accepted and does nothing (there is no GPU).
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Iterable[int] | None = None,
        batch_sampler: Iterable[list[int]] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: np.random.Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
    ) -> None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers != 0:
            raise ValueError(
                f"DataLoader: num_workers must be 0, got {num_workers!r}: minigrad builds every batch "
                "in the main process (no worker processes)"
            )
        for name, value, default in (
            ("timeout", timeout, 0),
            ("worker_init_fn", worker_init_fn, None),
            ("multiprocessing_context", multiprocessing_context, None),
            ("prefetch_factor", prefetch_factor, None),
            ("persistent_workers", persistent_workers, False),
        ):
            if value != default:
                raise ValueError(
                    f"DataLoader: {name}={value!r} needs worker processes, which minigrad does not "
                    f"use (num_workers must be 0); leave {name} at {default!r}"
                )
        if not isinstance(dataset, IterableDataset) and not (
            hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")
        ):
            if hasattr(dataset, "__iter__"):
                raise TypeError(
                    f"DataLoader: dataset is a {type(dataset).__name__} without __getitem__/__len__; "
                    "wrap a stream in a subclass of mg.utils.data.IterableDataset"
                )
            raise TypeError(
                f"DataLoader: dataset must be a Dataset (with __getitem__ and __len__) or an "
                f"IterableDataset, got {type(dataset).__name__}"
            )
        if batch_size is not None:
            batch_size = _check_batch_size(batch_size, "DataLoader")
        if not isinstance(drop_last, bool):
            raise TypeError(f"DataLoader: drop_last must be True or False, got {drop_last!r}")
        if shuffle not in (None, True, False):
            raise TypeError(f"DataLoader: shuffle must be True or False, got {shuffle!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(
                f"DataLoader: collate_fn must be callable (a list of items -> a batch), got {type(collate_fn).__name__}"
            )
        _resolve_generator(generator, "DataLoader")
        for name, value in (("sampler", sampler), ("batch_sampler", batch_sampler)):
            if value is not None and not hasattr(value, "__iter__"):
                raise TypeError(
                    f"DataLoader: {name} must be an iterable of "
                    f"{'indices' if name == 'sampler' else 'index lists'}, got {type(value).__name__}"
                )

        if isinstance(dataset, IterableDataset):
            if shuffle:
                raise ValueError(
                    "DataLoader: shuffle=True needs indices, but an IterableDataset only streams "
                    "items; shuffle the stream inside the dataset"
                )
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader: an IterableDataset takes no sampler or batch_sampler")
        elif batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler is mutually exclusive with batch_size, shuffle, sampler and drop_last"
                )
            batch_size, drop_last = None, False
        elif sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler is mutually exclusive with shuffle (the sampler sets the order)")
        if batch_size is None and drop_last:
            raise ValueError("DataLoader: drop_last=True needs a batch_size (batch_size=None yields single items)")

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.num_workers = 0  # PyTorch's worker attributes, at the only values they can take here
        self.timeout, self.worker_init_fn, self.multiprocessing_context = 0, None, None
        self.prefetch_factor, self.persistent_workers = None, False
        self.pin_memory = bool(pin_memory)
        self.generator = generator
        self.collate_fn = (
            collate_fn
            if collate_fn is not None
            else (default_collate if batch_size is not None or batch_sampler is not None else default_convert)
        )
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            self.sampler = self.batch_sampler = None
            return
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler

    def __iter__(self) -> Iterator[Any]:
        if self._iterable:
            return self._stream()
        if self.batch_sampler is None:
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        return (self._fetch(indices) for indices in self.batch_sampler)

    def _fetch(self, indices: list[int]) -> Any:
        if (
            self.collate_fn is default_collate
            and isinstance(self.dataset, (TensorDataset, Subset))
            and _gathers(self.dataset)
        ):
            return self.dataset.gather(indices)  # same batch as collating the rows, one indexing per array
        getitems = getattr(self.dataset, "__getitems__", None)  # PyTorch's batched-fetch protocol
        items = getitems(indices) if getitems is not None else [self.dataset[i] for i in indices]
        return self.collate_fn(items)

    def _stream(self) -> Iterator[Any]:
        items = iter(self.dataset)
        if self.batch_size is None:
            yield from (self.collate_fn(item) for item in items)
            return
        while batch := list(itertools.islice(items, self.batch_size)):
            if len(batch) < self.batch_size and self.drop_last:
                return
            yield self.collate_fn(batch)

    def __len__(self) -> int:
        if self._iterable:
            if not hasattr(self.dataset, "__len__"):
                raise TypeError(
                    f"DataLoader: the {type(self.dataset).__name__} stream has no length "
                    "(give it __len__ to know the number of batches)"
                )
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            whole, rest = divmod(n, self.batch_size)
            return whole + (1 if rest and not self.drop_last else 0)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def __repr__(self) -> str:
        size = len(self.dataset) if hasattr(self.dataset, "__len__") else "?"
        return (
            f"DataLoader({type(self.dataset).__name__} of {size} items, "
            f"batch_size={self.batch_size}, drop_last={self.drop_last}, "
            f"sampler={type(self.sampler).__name__})"
        )


def _gathers(dataset: Any) -> bool:
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return isinstance(dataset, TensorDataset)


__all__ = [
    "BatchSampler",
    "CollateError",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "IterableDataset",
    "PadCollate",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "default_collate",
    "default_convert",
    "pad_collate",
    "random_split",
]
