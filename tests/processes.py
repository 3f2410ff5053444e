"""Real processes for tests: start one (or several), wait for its ready line, stop it however the test ended.

Servers and workers (gunicorn, ``db_worker``, the sandbox's command line, the demo script) all go through
:func:`started`: output to a log file the failure message quotes, a ready line (a regular expression, or a
predicate on the log) awaited with a timeout that also notices an early exit, then SIGTERM and, past a grace
period, SIGKILL. :class:`Child` is a ``Popen``, so a test can still ``poll``, ``wait`` or signal it itself.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# A regular expression searched in the log (the match is returned), or a predicate on the log's text.
Ready = str | Callable[[str], Any]


class Child(subprocess.Popen[bytes]):
    """A process whose output (stdout and stderr) goes to ``log``; ``group=True`` gives it a session of its own,
    so that :meth:`kill` reaches every process it started, as a host failure or the OOM killer would."""

    def __init__(
        self, command: Sequence[str], *, log: Path, env: dict[str, str], cwd: Path = ROOT, group: bool = False
    ) -> None:
        self.log = log
        self.group = group
        self.ready: Any = None  # what the ready line said, once it was seen
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as output:
            super().__init__(
                list(command),
                cwd=cwd,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=group,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, ready: Ready, *, timeout: float = 30.0) -> Any:
        """What ``ready`` found in the log; fails, quoting the log, if the process exits or time runs out first."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.output()
            found = re.search(ready, text, re.MULTILINE) if isinstance(ready, str) else ready(text)
            if found:
                self.ready = found
                return found
            if self.poll() is not None:
                raise AssertionError(
                    f"{self.args[0]} exited with {self.returncode} before it was ready:\n{text}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.args[0]} was not ready after {timeout}s:\n{text}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, to the whole process group when it has one; then reap it."""
        if self.group:
            with suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        else:
            super().kill()
        self.wait()

    def stop(self, *, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; the exit code."""
        stop_all([self], timeout=timeout)
        return self.wait()


def stop_all(children: Sequence[Child], *, timeout: float = 10.0) -> None:
    """SIGTERM to every child still running at once, then SIGKILL to any that outlives ``timeout`` seconds."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


@contextmanager
def started_all(
    commands: Sequence[Sequence[str]],
    *,
    logs: Sequence[Path],
    env: dict[str, str],
    ready: Ready | None = None,
    timeout: float = 30.0,
    cwd: Path = ROOT,
    group: bool = False,
) -> Iterator[list[Child]]:
    """Start every command (``logs[i]`` for the i-th), wait until each is ``ready``; stop them all on exit."""
    children: list[Child] = []
    try:
        for command, log in zip(commands, logs, strict=True):
            children.append(Child(command, log=log, env=env, cwd=cwd, group=group))
        if ready is not None:
            for child in children:
                child.wait_ready(ready, timeout=timeout)
        yield children
    finally:
        stop_all(children)


@contextmanager
def started(
    command: Sequence[str],
    *,
    log: Path,
    env: dict[str, str],
    ready: Ready | None = None,
    timeout: float = 30.0,
    cwd: Path = ROOT,
    group: bool = False,
) -> Iterator[Child]:
    """One process, :func:`started_all` for a single command."""
    with started_all(
        [command], logs=[log], env=env, ready=ready, timeout=timeout, cwd=cwd, group=group
    ) as children:
        yield children[0]
