"""Real processes for tests: a ``db_worker`` (or several) sharing the test database, and task-backend switching.

A test that uses these must see committed data from other processes: mark it ``django_db(transaction=True)``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


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
    ready: bool = False,
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start ``count`` real ``db_worker`` processes; stop them (SIGTERM, then SIGKILL) on exit.

    ``ready=True`` returns only once every worker has started polling: a test that gives a task a few seconds
    must not spend them on a worker still importing Django on a crowded machine.

    Worker ``index`` runs with ``--worker-id test-worker-{index}`` (see :func:`worker_id`), which django-tasks-db
    records on every task it runs. ``env`` adds to the child environment (e.g. another ``DJANGO_SETTINGS_MODULE``).
    """
    child_env = subprocess_env(sandbox_url, **(env or {}))
    processes: list[subprocess.Popen[bytes]] = []
    log_dir = log_dir or ROOT / "var"
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        for index in range(count):
            log = (log_dir / f"db_worker-{os.getpid()}-{index}.log").open("wb")
            processes.append(
                subprocess.Popen(  # noqa: S603 - our own interpreter and manage command
                    [
                        sys.executable, "-m", "django", "db_worker",
                        "--interval", str(interval), "--no-startup-delay", "--worker-id", worker_id(index),
                    ],
                    cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT,
                )
            )  # fmt: skip
        if ready:
            logs = [log_dir / f"db_worker-{os.getpid()}-{index}.log" for index in range(count)]

            def all_polling() -> bool:
                for process in processes:
                    if process.poll() is not None:
                        text = "\n".join(path.read_text() for path in logs)
                        raise AssertionError(f"a db_worker exited with {process.returncode}:\n{text}")
                return all("Starting worker" in path.read_text() for path in logs)

            wait_for(all_polling, timeout=60, interval=0.1, message="every db_worker to start")
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def gunicorn_url(log: Path, process: subprocess.Popen[bytes], *, workers: int = 1) -> str:
    """The URL of a gunicorn started with ``--bind 127.0.0.1:0``, once its workers have booted and one answers.

    gunicorn picks the port itself and logs it: a port chosen beforehand (bind, close, pass it on) could be taken
    by another process before gunicorn binds it, which tests running side by side on xdist workers make likely.
    A worker loads the application after it boots; the first answer (whatever its status) shows it has.
    """

    def listening() -> str | None:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        text = log.read_text()
        found = re.search(r"Listening at: (http://\S+)", text)
        booted = len(re.findall(r"Booting worker", text)) >= workers
        return found[1] if found and booted else None

    def answers(url: str) -> bool:
        listening()  # fails at once if gunicorn died meanwhile
        try:
            requests.head(url, timeout=5)
        except requests.RequestException:
            return False
        return True

    url = str(wait_for(listening, timeout=60, interval=0.1, message="gunicorn to listen"))
    wait_for(lambda: answers(url), timeout=60, interval=0.2, message="a gunicorn worker to answer")
    return url


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
