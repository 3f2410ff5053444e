"""Reporting a sweep as it runs: a progress bar on a terminal, one line per session in a log."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from django.core.management.base import OutputWrapper

from flinks_sessions.sweeps.summary import ItemResult


class Progress:
    """Reports each finished item: a tqdm bar on a terminal (when tqdm is installed), plain lines otherwise.

    Verbosity 0 reports nothing (the command still prints its summary); 1 shows the bar, or one line per item
    when the output is not a terminal (cron logs keep the ids); 2 also prints every item above the bar.

    While it reports items, the console's log lines are kept from doubling it or breaking it: INFO records
    about a session (they carry ``session_id``) are left off the console handlers, since each session gets
    its line here; warnings and errors still show, written above the bar through tqdm on a terminal. Other
    handlers (a log file, a JSON shipper) get every record.
    """

    def __init__(
        self, total: int, *, stdout: Any, verbosity: int = 1, description: str = "", force_plain: bool = False
    ) -> None:
        self.verbosity = verbosity
        self.stdout = stdout
        self._bar: Any = None
        self._logging = contextlib.ExitStack()
        if verbosity <= 0 or total <= 0:
            return
        self._logging.enter_context(_console_without_session_info())
        if force_plain or not _isatty(stdout):
            return
        try:
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm
        except ImportError:  # pragma: no cover - tqdm is optional
            return
        self._bar = tqdm(total=total, desc=description, unit="session", file=_raw_stream(stdout), leave=True)
        self._logging.enter_context(logging_redirect_tqdm(loggers=_console_loggers()))

    def update(self, result: ItemResult) -> None:
        if self.verbosity <= 0:
            return
        line = f"{result.label} {result.key}" + (f": {result.error}" if result.error else "")
        if self._bar is None:
            # Django's OutputWrapper ends the line itself; a plain stream needs the newline.
            self.stdout.write(line if isinstance(self.stdout, OutputWrapper) else line + "\n")
            return
        if result.failed or self.verbosity >= 2:
            self._bar.write(line, file=_raw_stream(self.stdout))
        self._bar.update(1)

    def close(self) -> None:
        self._logging.close()
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _console_loggers() -> list[logging.Logger]:
    """Where a site's console handlers hang: the root logger, or ours (as the example project does)."""
    return [logging.getLogger(), logging.getLogger("flinks_sessions")]


def _drop_session_info(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or not getattr(record, "session_id", "")


@contextlib.contextmanager
def _console_without_session_info() -> Iterator[None]:
    """Keep INFO records about a session off the console handlers (stdout or stderr) while a sweep reports."""
    consoles = [
        handler
        for logger in _console_loggers()
        for handler in logger.handlers
        if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.stderr)
    ]
    for handler in consoles:
        handler.addFilter(_drop_session_info)
    try:
        yield
    finally:
        for handler in consoles:
            handler.removeFilter(_drop_session_info)


def _raw_stream(stdout: Any) -> TextIO:
    """The real stream behind Django's ``OutputWrapper`` (tqdm writes carriage returns, not lines)."""
    return getattr(stdout, "_out", stdout) or sys.stdout


def _isatty(stdout: Any) -> bool:
    try:
        return bool(_raw_stream(stdout).isatty())
    except (AttributeError, ValueError):
        return False
