"""Small helpers the lab's demos share: markdown tables, number formatting, matplotlib on demand."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

# One colour per cell (models.lab.models.CELLS), the same in every plot of the lab.
CELL_COLORS = {
    "rnn": "tab:red",
    "gru": "tab:blue",
    "gru-reset-before": "tab:cyan",
    "gru-minimal": "tab:purple",
    "lstm": "tab:green",
    "lstm-peephole": "tab:olive",
}


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """A GitHub markdown table. ``align``: one letter per column, ``l`` or ``r`` (default: the
    first column left, the others, numbers, right)."""
    align = align or "l" + "r" * (len(header) - 1)
    if len(align) != len(header) or set(align) - set("lr"):
        raise ValueError(f"markdown_table: align needs one of 'l'/'r' per column ({len(header)}), got {align!r}")
    if any(len(row) != len(header) for row in rows):
        raise ValueError(f"markdown_table: every row needs {len(header)} cells")
    lines = [
        "| " + " | ".join(str(h) for h in header) + " |",
        "|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def fmt(value: float, digits: int = 3) -> str:
    """``0.000123`` -> ``1.23e-04``, ``0.1667`` -> ``0.167``, nan -> ``nan``."""
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value != 0 and abs(value) < 10 ** -(digits - 1):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}" if abs(value) >= 1000 else f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, or None (with a note) when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print('matplotlib is not installed (pip install -e ".[demos]"): no plots', file=sys.stderr)
        return None
    return plt


def save_figure(fig: Any, path: Any) -> Any:
    """Lay out, write and close a matplotlib figure; returns ``path``."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
