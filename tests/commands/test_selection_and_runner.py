"""The pieces under the commands: durations, the open-session selection, and the bounded runner."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from io import StringIO

import pytest

from flinks_sessions.runner import BoundedRunner, ItemResult, Progress
from flinks_sessions.selection import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("45s", timedelta(seconds=45)),
        ("2w", timedelta(weeks=2)),
        ("1.5h", timedelta(minutes=90)),
        (" 2H ", timedelta(hours=2)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "h", "2 hours", "-1h", "1y", "1h30m"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_runner_is_bounded_and_counts_every_outcome() -> None:
    lock = threading.Lock()
    running = 0
    peak = 0

    def work(item: int) -> ItemResult:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        if item % 5 == 0:
            raise RuntimeError("boom")  # unexpected: counted as a failure, the run goes on
        return ItemResult("odd" if item % 2 else "even", label=str(item))

    seen: list[ItemResult] = []
    summary = BoundedRunner(work, concurrency=4, on_result=seen.append).run(range(1, 41))

    assert peak <= 4
    assert summary.total == summary.done == len(seen) == 40
    assert summary.failed == 8
    assert summary.counts == {"odd": 16, "even": 16, "failed": 8}
    assert summary.first_error.endswith("RuntimeError: boom")
    assert not summary.interrupted


def test_runner_stop_starts_nothing_new() -> None:
    started: list[int] = []
    runner: BoundedRunner[int] = BoundedRunner(lambda item: ItemResult("done"), concurrency=2)

    def work(item: int) -> ItemResult:
        started.append(item)
        if item == 3:
            runner.stop.set()
        time.sleep(0.01)
        return ItemResult("done")

    runner.work = work
    summary = runner.run(range(1, 100))
    assert summary.done == len(started) < 10
    assert summary.not_started == 99 - len(started)


def test_progress_writes_plain_lines_when_not_a_terminal() -> None:
    out = StringIO()
    progress = Progress(2, stdout=out, verbosity=1)
    progress.update(ItemResult("cancelled", label="a"))
    progress.update(ItemResult("failed", label="b", error="Flinks answered 503", failed=True))
    progress.close()
    assert out.getvalue() == "a cancelled\nb failed: Flinks answered 503\n"

    quiet = StringIO()
    silent = Progress(1, stdout=quiet, verbosity=0)
    silent.update(ItemResult("cancelled", label="a"))
    assert quiet.getvalue() == ""


def test_progress_uses_tqdm_on_a_terminal() -> None:
    class Terminal(StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    progress = Progress(2, stdout=out, verbosity=1, description="Cancelling")
    progress.update(ItemResult("cancelled", label="a"))
    progress.update(ItemResult("failed", label="b", error="boom", failed=True))
    progress.close()
    text = out.getvalue()
    assert "Cancelling" in text
    assert "2/2" in text
    assert "b failed: boom" in text  # failures are printed above the bar
    assert "a cancelled" not in text  # successes only move the bar at verbosity 1
