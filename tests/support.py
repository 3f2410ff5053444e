"""Helpers for tests: ``db_worker`` processes and gunicorn sharing the test database, task-backend switching.

A test that uses these must see committed data from other processes: mark it ``django_db(transaction=True)``.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.db import connection

from tests.processes import ROOT, Child, started, started_all


def reset_task_backends() -> None:
    """Forget the configured task backends so a changed ``TASKS`` setting takes effect."""
    try:
        from django.tasks import task_backends
    except ImportError:  # Django 5.2
        from django_tasks import task_backends
    task_backends.__dict__.pop("settings", None)
    task_backends._settings = None
    from asgiref.local import Local  # Local itself: asgiref forbids instantiating its subclasses

    task_backends._connections = Local(task_backends.thread_critical)


def database_tasks_settings() -> dict[str, Any]:
    return {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}


def subprocess_env(sandbox_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment for a child process that must share this test run's database and sandbox."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
        FLINKS_TEST_DB_NAME=str(connection.settings_dict["NAME"]),
        FLINKS_TEST_TASKS="database",
        PYTHONUNBUFFERED="1",
    )
    if sandbox_url:
        env["FLINKS_TEST_SANDBOX_URL"] = sandbox_url
    env.update(extra)
    return env


def run_python(
    *args: str, env: dict[str, str], timeout: float = 60, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run this interpreter with ``args`` to completion, output captured as text; the caller checks the result."""
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def db_workers(
    count: int = 1,
    *,
    sandbox_url: str | None = None,
    interval: float = 0.05,
    log_dir: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[list[Child]]:
    """Start ``count`` real ``db_worker`` processes, returned once each is polling; stopped on exit.

    Worker ``index`` runs with ``--worker-id test-worker-{index}`` (see :func:`worker_id`), which django-tasks-db
    records on every task it runs. ``env`` adds to the child environment (e.g. another ``DJANGO_SETTINGS_MODULE``).
    """
    log_dir = log_dir or ROOT / "var"
    commands = [
        [
            sys.executable, "-m", "django", "db_worker",
            "--interval", str(interval), "--no-startup-delay", "--worker-id", worker_id(index),
        ]
        for index in range(count)
    ]  # fmt: skip
    logs = [log_dir / f"db_worker-{os.getpid()}-{index}.log" for index in range(count)]
    env = subprocess_env(sandbox_url, **(env or {}))
    with started_all(commands, logs=logs, env=env, ready="Starting worker") as workers:
        yield workers


@dataclass(frozen=True)
class Server:
    """A running server: its URL, and its process (``kill()`` takes every worker down with the master)."""

    process: Child
    url: str

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 0)

    def kill(self) -> None:
        """``kill -9`` of the whole server, as the OOM killer or a host failure would do it."""
        self.process.kill()


@contextmanager
def gunicorn(
    app: str, log: Path, *, workers: int = 1, options: Sequence[str] = (), **env: str
) -> Iterator[Server]:
    """gunicorn serving ``app`` on a free loopback port, sharing the test database; ready once every worker booted.

    ``env`` adds to the child environment (``DJANGO_SETTINGS_MODULE`` is ``tests.settings`` unless given).
    """
    command = [
        sys.executable, "-m", "gunicorn", app, "--bind", "127.0.0.1:0", "--workers", str(workers), *options,
    ]  # fmt: skip

    def listening(text: str) -> str | None:
        found = re.search(r"Listening at: (http://\S+)", text)
        return found[1] if found and len(re.findall("Booting worker", text)) >= workers else None

    with started(command, log=log, env=subprocess_env(**env), ready=listening, group=True) as process:
        yield Server(process, process.ready)


def stop_processes(processes: list[subprocess.Popen[bytes]], kill: Any = None) -> None:
    """SIGTERM every process still running; after 10 s, ``kill`` (default: SIGKILL) any that is still up."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            if kill is not None:
                kill(process)
            else:
                process.kill()
                process.wait()


def worker_id(index: int) -> str:
    """The ``--worker-id`` of the ``index``-th worker started by :func:`db_workers`."""
    return f"test-worker-{index}"


def wait_for(
    predicate: Any, *, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``message`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def error_report_of(send: Callable[[], Any]) -> tuple[Any, list[str]]:
    """``send()``'s response and, rendered as text and as HTML, the report ``AdminEmailHandler`` mails for the 500
    it answered (``django.request``'s record of the unhandled exception). The caller sets ``DEBUG``."""
    from django.views.debug import ExceptionReporter

    handler = _Records()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        response = send()
    finally:
        logger.removeHandler(handler)
    [record] = [record for record in handler.records if record.exc_info]
    assert record.exc_info is not None
    reporter = ExceptionReporter(getattr(record, "request", None), *record.exc_info)
    return response, [reporter.get_traceback_text(), reporter.get_traceback_html()]
