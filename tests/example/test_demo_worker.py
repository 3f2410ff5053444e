"""The demo's worker outlives a locked SQLite file; django-tasks-db's plain ``db_worker`` does not.

Real processes on a real file: the example project's settings on a throwaway SQLite database, a writer in this
process holding SQLite's write lock longer than the connections' busy timeout, as ``manage.py shell``, the
``sqlite3`` shell or a long migration would while the demo runs.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.processes import Child, started
from tests.support import run_python, wait_for

pytestmark = pytest.mark.slow

TIMEOUT = 1  # seconds a connection waits for the lock (DJANGO_SQLITE_TIMEOUT)
HOLD = 3 * TIMEOUT


@pytest.fixture
def demo_env(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "FLINKS_", "SHOP_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        DJANGO_SQLITE_TIMEOUT=str(TIMEOUT),
        PYTHONUNBUFFERED="1",
    )
    result = run_python("manage.py", "migrate", "--noinput", "--verbosity", "0", env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    return env


def worker(command: str, env: dict[str, str], log: Path) -> AbstractContextManager[Child]:
    return started(
        [
            sys.executable, "manage.py", command, "--interval", "0.1", "--no-startup-delay", "--no-reload",
            "--worker-id", command,
        ],
        log=log, env=env, ready="Starting worker",
    )  # fmt: skip


def hold_write_lock(database: str, seconds: float) -> None:
    """Take SQLite's write lock and keep it, longer than the workers' busy timeout."""
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        connection.execute("COMMIT")
    finally:
        connection.close()


def task_statuses(database: str) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("SELECT status FROM django_tasks_database_dbtaskresult")]


def test_the_demo_worker_outlives_a_locked_database(demo_env: dict[str, str], tmp_path: Path) -> None:
    database = demo_env["DATABASE_URL"].removeprefix("sqlite:///")
    with (
        worker("db_worker", demo_env, tmp_path / "db_worker.log") as plain,
        worker("demo_worker", demo_env, tmp_path / "demo_worker.log") as demo,
    ):
        hold_write_lock(database, HOLD)

        # The control: django-tasks-db's own worker died of the lock.
        assert plain.wait(timeout=10) != 0
        assert "database is locked" in (tmp_path / "db_worker.log").read_text()

        # The demo's worker logged it, is alive, and runs the next task.
        assert demo.poll() is None
        assert "The database stayed locked" in (tmp_path / "demo_worker.log").read_text()
        enqueue = run_python(
            "manage.py", "shell", "-c",
            "from flinks_sessions.webhooks.tasks import reprocess_webhooks_task; reprocess_webhooks_task.enqueue()",
            env=demo_env,
        )  # fmt: skip
        assert enqueue.returncode == 0, enqueue.stderr
        wait_for(
            lambda: task_statuses(database) == ["SUCCESSFUL"], timeout=30, message="the demo worker to run it"
        )
        assert demo.poll() is None


def test_the_demo_database_uses_wal(demo_env: dict[str, str]) -> None:
    """Readers (the shop's pages) never wait for the worker's writes."""
    database = demo_env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
