"""Progress bars for the demos: tqdm (``tqdm.auto``), with the demos' defaults.

``tqdm.auto`` draws a widget in a notebook and a text bar in a terminal. Piped into a file (not a
terminal), the bar is redrawn only every tenth of the way, so logs stay short.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from tqdm.auto import tqdm


class Progress(tqdm):
    """``with Progress(total, "train") as bar: ... bar.update(1, loss=2.1) ... bar.write("text")``.

    A ``tqdm`` bar on stderr; ``update`` also takes keyword values to show after the bar (tqdm's
    ``set_postfix``). ``bar.desc = ...`` and ``bar.write(text)`` (printed on stdout, above the bar)
    are tqdm's own.
    """

    def __init__(self, total: int, desc: str = "", stream: TextIO | None = None, **options: Any) -> None:
        if total <= 0:
            raise ValueError(f"Progress: total must be positive, got {total}")
        stream = stream if stream is not None else sys.stderr
        if not getattr(stream, "isatty", lambda: False)():
            options = {"miniters": max(1, total // 10), "mininterval": 0, **options}  # a line per tenth
        super().__init__(total=total, desc=desc, file=stream, dynamic_ncols=True, **options)

    def update(self, n: float = 1, **postfix: Any) -> bool | None:
        """Advance by ``n``; keyword values are shown after the bar (floats with 3 decimals)."""
        if postfix:
            self.set_postfix({k: f"{v:.3f}" if isinstance(v, float) else v for k, v in postfix.items()}, refresh=False)
        return super().update(n)
