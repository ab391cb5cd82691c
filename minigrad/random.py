"""One generator behind every random initialisation and dropout mask: ``manual_seed(n)`` resets it."""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Seed minigrad's generator (weights' initialisation, dropout, sampling helpers)."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def generator() -> np.random.Generator:
    """The current generator (read it at call time: ``manual_seed`` replaces it)."""
    return _generator
