"""A text progress bar for the demos (no tqdm): ``[#####.....] 512/2000 26% 0:12<0:35 loss 2.113``.

On a terminal the bar redraws in place (at most 10 times a second); piped into a file it
prints a plain line every tenth of the way, so logs stay short.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """``with Progress(total, "train") as bar: ... bar.update(1, loss=2.1) ... bar.write("text")``."""

    def __init__(self, total: int, desc: str = "", width: int = 24, stream: TextIO | None = None) -> None:
        if total <= 0:
            raise ValueError(f"Progress: total must be positive, got {total}")
        self.total, self.desc, self.width = total, desc, width
        self.stream = stream if stream is not None else sys.stderr
        # Text from write() goes to stdout (so `> file` keeps the samples), or to a given stream.
        self.out = stream if stream is not None else sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.count = 0
        self.postfix = ""
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._last_tenth = -1
        self._shown = False

    def update(self, n: int = 1, **postfix: Any) -> None:
        """Advance by ``n``; keyword values are shown after the bar (floats with 3 decimals)."""
        self.count = min(self.count + n, self.total)
        if postfix:
            self.postfix = "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in postfix.items())
        now = time.perf_counter()
        if self.tty:
            if now - self._last_draw >= 0.1 or self.count == self.total:
                self._last_draw = now
                self._draw("\r")
        else:
            tenth = 10 * self.count // self.total
            if tenth != self._last_tenth:
                self._last_tenth = tenth
                self._draw("")

    def line(self) -> str:
        """The bar as text (what ``update`` draws)."""
        elapsed = time.perf_counter() - self.start
        done = self.count / self.total
        filled = int(round(self.width * done))
        eta = elapsed / self.count * (self.total - self.count) if self.count else 0.0
        head = f"{self.desc} " if self.desc else ""
        return (f"{head}[{'#' * filled}{'.' * (self.width - filled)}] {self.count}/{self.total} "
                f"{100 * done:3.0f}% {_clock(elapsed)}<{_clock(eta)}  {self.postfix}").rstrip()

    def _draw(self, prefix: str) -> None:
        end = "" if self.tty else "\n"
        self.stream.write(f"{prefix}{self.line()}\x1b[K{end}" if self.tty else f"{self.line()}{end}")
        self.stream.flush()
        self._shown = True

    def write(self, text: str) -> None:
        """Print ``text`` above the bar without breaking it."""
        if self.tty and self._shown:
            self.stream.write("\r\x1b[K")
        print(text, file=self.out, flush=True)
        if self.tty and self._shown:
            self._draw("")

    def close(self) -> None:
        if self.tty and self._shown:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
