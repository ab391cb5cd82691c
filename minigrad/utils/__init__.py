"""Utilities around the engine, named as in PyTorch: :mod:`minigrad.utils.data` (datasets and loaders)."""

from __future__ import annotations

from . import data

__all__ = ["data"]
