"""Stop a training demo cleanly on Ctrl-C (SIGINT) or ``kill`` (SIGTERM), keeping its work.

The first signal only raises a flag; the training loop looks at it between two optimisation
steps (``stop.check()``), so the model is never saved half-updated. ``check`` then raises
``TrainingInterruptedError``, the demo saves its checkpoint, prints one line and exits with the shell's
code for the signal: 128 + 2 = 130 for SIGINT, 128 + 15 = 143 for SIGTERM. A second signal
before the loop reaches ``check`` ends the process at once (the signal's default action), for
when a step takes too long to wait for::

    with GracefulStop() as stop:
        try:
            for i in range(steps):
                trainer.step()
                stop.check()
        except TrainingInterruptedError as interrupted:
            save(...)
            print(interrupted.message(f"saved {path}"), file=sys.stderr)
            return interrupted.exit_code
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterruptedError(Exception):
    """Training was asked to stop by ``signum``; ``exit_code`` is 128 + signum (130, 143)."""

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        self.name = signal.Signals(self.signum).name
        super().__init__(f"interrupted by {self.name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def message(self, what_was_kept: str) -> str:
        """The one line a demo prints: ``interrupted (SIGINT): <what_was_kept>``."""
        return f"interrupted ({self.name}): {what_was_kept}"


class GracefulStop:
    """Context manager: while inside, SIGINT and SIGTERM set ``requested`` instead of killing.

    Outside the main thread (where Python cannot install signal handlers) it does nothing and
    the signals keep their usual behaviour.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def check(self) -> None:
        """Raise ``TrainingInterruptedError`` if a signal arrived since the last call; call it between steps."""
        if self.signum is not None:
            raise TrainingInterruptedError(self.signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:          # the second signal: stop now, as if we were not here
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        self.signum = signum

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
