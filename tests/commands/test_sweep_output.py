"""What an operator sees from a sweep when the site logs to the console (as the example project does).

Without a terminal each session is reported once (the command's line; the log's INFO records about the session
stay off the console); on a terminal the log lines are written above the progress bar, never into it.
"""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from flinks_sessions.sweeps.progress import Progress
from flinks_sessions.sweeps.summary import ItemResult
from tests.cancel_helpers import make_sessions
from tests.extras import import_or_missing

pytestmark = pytest.mark.django_db


@pytest.fixture
def console_logging() -> Iterator[Callable[[], logging.Handler]]:
    """The example project's LOGGING: a StreamHandler on stderr for ``flinks_sessions`` at INFO.

    Made when the test calls it, so that its stream is the ``sys.stderr`` capsys has put in place.
    """
    logger = logging.getLogger("flinks_sessions")
    level = logger.level
    made: list[logging.Handler] = []

    def make() -> logging.Handler:
        handler = logging.StreamHandler()  # sys.stderr, as logging.config makes it
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        made.append(handler)
        return handler

    yield make
    for handler in made:
        logger.removeHandler(handler)
    logger.setLevel(level)


def test_without_a_terminal_each_session_is_reported_once(
    sandbox: Any, console_logging: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    sessions = make_sessions(sandbox, 3)
    console_logging()
    out = io.StringIO()
    call_command("flinks_cancel_sessions", *(str(s.session_id) for s in sessions), stdout=out)
    err = capsys.readouterr().err
    for session in sessions:
        assert out.getvalue().count(str(session.session_id)) == 1
        assert err.count(str(session.session_id)) == 0
    assert "Cancelled 3 of 3" in out.getvalue()
    # The filter is gone with the sweep: the console logs sessions again.
    logging.getLogger("flinks_sessions.services").info(
        "after the sweep", extra={"session_id": str(sessions[0].session_id)}
    )
    assert "after the sweep" in capsys.readouterr().err


def test_a_warning_about_a_session_still_reaches_the_console(
    sandbox: Any, console_logging: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    [session] = make_sessions(sandbox, 1)
    console_logging()
    sandbox.faults.paths = ["/cancel"]
    sandbox.faults.error_rates = {503: 1.0}
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("flinks_cancel_sessions", str(session.session_id), stdout=out)
    err = capsys.readouterr().err
    assert f"{session.session_id} failed" in out.getvalue()
    assert "WARNING flinks_sessions.services: Cancel of Flinks session" in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def visible_lines(text: str) -> list[str]:
    """What a terminal shows of each line: the text after its last carriage return, trailing spaces dropped."""
    return [line.rsplit("\r", 1)[-1].rstrip() for line in text.split("\n")]


def test_on_a_terminal_log_lines_are_written_above_the_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    import_or_missing("tqdm", "the progress bar needs tqdm (the test extra)")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    handler = logging.StreamHandler(sys.stdout)  # a console handler on the bar's own stream
    logger = logging.getLogger("flinks_sessions")
    logger.addHandler(handler)
    try:
        progress = Progress(2, stdout=terminal, verbosity=1, description="Cancelling")
        progress.update(ItemResult("cancelled", label="first"))
        logging.getLogger("flinks_sessions.client").warning("Flinks is slow today")
        progress.update(ItemResult("cancelled", label="second"))
        progress.close()
        restored = list(logger.handlers)  # the site's own handlers are back once the bar is gone
    finally:
        logger.removeHandler(handler)
    lines = visible_lines(terminal.getvalue())
    assert "Flinks is slow today" in lines  # a line of its own, not glued to the bar
    assert not any(re.search(r"session.*Flinks is slow", line) for line in lines)
    assert handler in restored
    assert not any(type(h).__name__ == "_TqdmLoggingHandler" for h in restored)
