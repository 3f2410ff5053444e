"""The pieces under the sweeps: durations and the progress report."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest

from flinks_sessions.sweeps.progress import Progress
from flinks_sessions.sweeps.selection import parse_duration
from flinks_sessions.sweeps.summary import ItemResult


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
