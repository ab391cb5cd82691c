"""Variable-length batches, as PyTorch's ``torch.nn.utils.rnn``.

A batch of sequences of different lengths travels in one of two forms:

* **padded**: a (T, B, *) tensor (``batch_first``: (B, T, *)) plus the ``lengths`` (B,); the
  steps ``t >= lengths[b]`` of sequence ``b`` are padding. ``rnn(x, h0, lengths=lengths)``
  runs it directly.
* **packed**: a :class:`PackedSequence`, the real steps only, time-major: ``data`` holds
  step 0 of every sequence, then step 1 of every sequence still running, and so on, with
  ``batch_sizes[t]`` sequences at step t (sequences sorted longest first). RNN/GRU/LSTM
  layers take it and return one, as PyTorch's do.

Every conversion here is ONE ``getitem`` with integer index arrays (plus a ``concat`` for the
padding value), so gradients flow back through packing and unpacking like through any slice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ...tensor import Tensor, concat, tensor


class PackedSequence(NamedTuple):
    """PyTorch's ``PackedSequence``: ``data`` (sum(lengths), *), ``batch_sizes`` (T,) int64,
    ``sorted_indices`` (B,) (sorted position -> original index; None if the batch came sorted)
    and ``unsorted_indices`` (original index -> sorted position)."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def lengths(self) -> np.ndarray:
        """Each sequence's length, in the original batch order (int64 array)."""
        sizes = self.batch_sizes.data
        sorted_lengths = (sizes[None, :] > np.arange(sizes[0])[:, None]).sum(axis=1)
        if self.unsorted_indices is None:
            return sorted_lengths
        return sorted_lengths[self.unsorted_indices.data]


def check_lengths(lengths: Any, batch: int, steps: int, fn: str) -> np.ndarray:
    """``lengths`` as an int64 array of shape (batch,), each in [1, steps], or an error naming ``fn``."""
    array = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    if array.dtype.kind == "f" and np.all(array == np.round(array)):
        array = array.astype(np.int64)  # mg.tensor([3, 2]) holds float32
    if array.dtype.kind not in "iu" or array.ndim != 1:
        raise TypeError(
            f"{fn}: lengths must be a 1-D list, array or tensor of integers, got {array.dtype} of shape {array.shape}"
        )
    if array.shape[0] != batch:
        raise ValueError(f"{fn}: expected {batch} lengths, one per sequence in the batch, got {array.shape[0]}")
    if array.size and (array.min() < 1 or array.max() > steps):
        raise ValueError(
            f"{fn}: every length must be between 1 and the padded length {steps}, got lengths {array.tolist()}"
        )
    return array.astype(np.int64, copy=False)


def _time_major(x: Any, batch_first: bool, fn: str) -> Tensor:
    if not isinstance(x, Tensor):
        x = tensor(x)
    if x.ndim < 2:
        raise ValueError(
            f"{fn}: input must have a time and a batch axis, (T, B, *) or (B, T, *) with "
            f"batch_first, got shape {x.shape}"
        )
    return x.transpose(0, 1) if batch_first else x


def pack_padded_sequence(
    input: Any,
    lengths: Any,
    batch_first: bool = False,  # noqa: A002 - PyTorch's name
    enforce_sorted: bool = True,
) -> PackedSequence:
    """Pack a padded batch (T, B, *) [(B, T, *)] whose sequence b has ``lengths[b]`` real steps.

    With ``enforce_sorted`` the lengths must already decrease; otherwise the batch is sorted
    (stably, longest first) and ``sorted_indices``/``unsorted_indices`` remember the order.
    """
    fn = "pack_padded_sequence"
    x = _time_major(input, batch_first, fn)
    steps, batch = x.shape[0], x.shape[1]
    lengths = check_lengths(lengths, batch, steps, fn)
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise ValueError(
                f"{fn}: lengths {lengths.tolist()} must be sorted in decreasing order when "
                "enforce_sorted=True; pass enforce_sorted=False to sort them here"
            )
        order = None
    else:
        order = np.argsort(-lengths, kind="stable")
    return _pack(x, lengths, order)


def _pack(x: Tensor, lengths: np.ndarray, order: np.ndarray | None) -> PackedSequence:
    """Pack time-major ``x`` with sequences taken in ``order`` (None: as they are)."""
    sorted_lengths = lengths if order is None else lengths[order]
    steps = int(sorted_lengths[0])
    batch_sizes = (sorted_lengths[None, :] > np.arange(steps)[:, None]).sum(axis=1)
    # Row-major nonzero of the (T, B) "still running" mask lists (t, b) in packed order.
    t_index, b_index = np.nonzero(np.arange(len(lengths))[None, :] < batch_sizes[:, None])
    source = b_index if order is None else order[b_index]
    data = x[t_index, source]
    if order is None:
        return PackedSequence(data, tensor(batch_sizes.astype(np.int64)), None, None)
    return PackedSequence(
        data,
        tensor(batch_sizes.astype(np.int64)),
        tensor(order.astype(np.int64)),
        tensor(np.argsort(order).astype(np.int64)),
    )


def pack_like(x: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a time-major padded ``x`` (original batch order) with ``like``'s lengths and order
    (what a recurrent layer returns for a packed input)."""
    order = None if like.sorted_indices is None else like.sorted_indices.data
    return _pack(x, like.lengths(), order)


def pad_packed_sequence(
    sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0, total_length: int | None = None
) -> tuple[Tensor, Tensor]:
    """Undo :func:`pack_padded_sequence`: ``(padded, lengths)`` in the original batch order.

    ``padded`` is (T, B, *) [(B, T, *)], with ``T = total_length`` if given (at least the
    longest length) and ``padding_value`` in the padded steps; ``lengths`` is an int64 tensor.
    """
    fn = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{fn}: expects a PackedSequence (from pack_padded_sequence), got {type(sequence).__name__}")
    sizes = sequence.batch_sizes.data
    longest, batch = len(sizes), int(sizes[0])
    steps = longest if total_length is None else int(total_length)
    if steps < longest:
        raise ValueError(f"{fn}: total_length {total_length} is shorter than the longest sequence ({longest})")
    data = sequence.data
    # Position of (t, b) in data, or the extra padding row appended at the end.
    running = np.arange(batch)[None, :] < sizes[:, None]
    where_in_data = np.full((steps, batch), data.shape[0], dtype=np.int64)
    where_in_data[:longest][running] = np.arange(data.shape[0])
    if sequence.unsorted_indices is not None:
        where_in_data = where_in_data[:, sequence.unsorted_indices.data]
    pad_row = tensor(np.full((1,) + data.shape[1:], padding_value, dtype=data.dtype))
    padded = concat([data, pad_row], axis=0)[where_in_data]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, tensor(sequence.lengths().astype(np.int64))


def pad_sequence(
    sequences: Sequence[Any], batch_first: bool = False, padding_value: float = 0.0, padding_side: str = "right"
) -> Tensor:
    """Stack tensors of shapes (L_i, *) into (T, B, *) [(B, T, *)], T = max L_i, padding each
    sequence with ``padding_value`` on the right (or the left with ``padding_side="left"``)."""
    fn = "pad_sequence"
    if isinstance(sequences, Tensor) or not len(sequences):
        raise ValueError(f"{fn}: expects a non-empty list of tensors of shape (L_i, *)")
    if padding_side not in ("right", "left"):
        raise ValueError(f"{fn}: padding_side must be 'right' or 'left', got {padding_side!r}")
    seqs = [s if isinstance(s, Tensor) else tensor(s) for s in sequences]
    trailing = {s.shape[1:] for s in seqs if s.ndim >= 1}
    if any(s.ndim == 0 for s in seqs) or len(trailing) != 1:
        raise ValueError(
            f"{fn}: every sequence needs shape (L_i, *) with the same trailing axes, got shapes "
            f"{[s.shape for s in seqs]}"
        )
    lengths = np.array([s.shape[0] for s in seqs])
    steps = int(lengths.max())
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    total = int(lengths.sum())
    t = np.arange(steps)[:, None]
    offset = t if padding_side == "right" else t - (steps - lengths)[None, :]
    real = (offset >= 0) & (offset < lengths[None, :])
    where_in_data = np.where(real, starts[None, :] + offset, total)  # total: the padding row
    dtype = seqs[0].dtype
    pad_row = tensor(np.full((1,) + seqs[0].shape[1:], padding_value, dtype=dtype))
    padded = concat([*(s.astype(dtype) for s in seqs), pad_row], axis=0)[where_in_data]
    return padded.transpose(0, 1) if batch_first else padded


__all__ = [
    "PackedSequence",
    "check_lengths",
    "pack_like",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
]
