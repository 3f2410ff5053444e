"""Reporting a sweep as it runs: a progress bar on a terminal, one line per session in a log."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from django.core.management.base import OutputWrapper

from flinks_sessions.sweeps.summary import ItemResult


class Progress:
    """Reports each finished item: a tqdm bar on a terminal (when tqdm is installed), plain lines otherwise.

    Verbosity 0 reports nothing (the command still prints its summary); 1 shows the bar, or one line per item
    when the output is not a terminal (cron logs keep the ids); 2 also prints every item above the bar.
    """

    def __init__(
        self, total: int, *, stdout: Any, verbosity: int = 1, description: str = "", force_plain: bool = False
    ) -> None:
        self.verbosity = verbosity
        self.stdout = stdout
        self._bar: Any = None
        if verbosity <= 0 or total <= 0 or force_plain or not _isatty(stdout):
            return
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover - tqdm is optional
            return
        self._bar = tqdm(total=total, desc=description, unit="session", file=_raw_stream(stdout), leave=True)

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
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _raw_stream(stdout: Any) -> TextIO:
    """The real stream behind Django's ``OutputWrapper`` (tqdm writes carriage returns, not lines)."""
    return getattr(stdout, "_out", stdout) or sys.stdout


def _isatty(stdout: Any) -> bool:
    try:
        return bool(_raw_stream(stdout).isatty())
    except (AttributeError, ValueError):
        return False
