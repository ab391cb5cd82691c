"""demos/_progress.py: the demos' progress bar is tqdm (tqdm.auto) with the demos' defaults."""

from __future__ import annotations

import io

import pytest
from tqdm.auto import tqdm

from demos._progress import Progress


def test_progress_is_a_tqdm_bar_that_redraws_every_tenth_when_piped(capsys):
    stream = io.StringIO()
    with Progress(50, "train", stream=stream) as bar:
        assert isinstance(bar, tqdm)
        for _ in range(50):
            bar.update(1, loss=1.23456, step=3)
        bar.desc = "done"
        bar.write("hello")  # above the bar, on stdout (the samples a demo prints)
    frames = [f for f in stream.getvalue().split("\r") if f.strip()]
    assert 11 <= len(frames) <= 13  # the start, each tenth, and the redraw after write
    assert frames[1].startswith("train:  10%") and "5/50" in frames[1]
    assert "50/50" in frames[-1] and "loss=1.235" in frames[-1] and "step=3" in frames[-1]
    assert frames[-1].startswith("done")
    assert capsys.readouterr().out == "hello\n"


def test_progress_refuses_an_empty_total():
    with pytest.raises(ValueError, match="Progress: total must be positive, got 0"):
        Progress(0)
