"""``torch.nn.utils`` for minigrad: gradient clipping, and ``rnn`` for variable-length batches."""

from . import rnn
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence, pad_sequence

__all__ = [
    "PackedSequence",
    "clip_grad_norm_",
    "clip_grad_value_",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "rnn",
]
