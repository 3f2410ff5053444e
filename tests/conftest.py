"""Shared fixtures: a sandbox on a free loopback port with the app pointed at it, and the CI switches.

``FLINKS_REQUIRE=postgres,browser,redis`` (set by .ci/run) makes a test that needs an extra fail instead of skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

pytest_plugins = ["flinks_sessions.testing", "tests.servers"]

REQUIRED = {item.strip() for item in os.environ.get("FLINKS_REQUIRE", "").split(",") if item.strip()}


def _missing(extra: str, why: str) -> None:
    if extra in REQUIRED:
        pytest.fail(f"{why} (FLINKS_REQUIRE={','.join(sorted(REQUIRED))} makes this a failure)")
    pytest.skip(why)


@pytest.fixture(autouse=True)
def _extras(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _missing("postgres", "needs PostgreSQL: set DATABASE_URL")
    if request.node.get_closest_marker("browser") and not shutil.which("chromium"):
        _missing("browser", "needs Debian's chromium: apt-get install chromium")
    if request.node.get_closest_marker("redis"):
        from tests.distributed.rq_support import redis_problem

        problem = redis_problem()
        if problem:
            _missing("redis", problem)


def flinks_settings_for(url: str, **overrides: Any) -> dict[str, Any]:
    """``FLINKS_SESSIONS`` for the test settings' account pointed at a sandbox."""
    from django.conf import settings

    value = {**settings.FLINKS_SESSIONS, **overrides}
    account = {**settings.FLINKS_SESSIONS["ACCOUNTS"]["default"], "BASE_URL": url}
    value["ACCOUNTS"] = {"default": account, **overrides.get("ACCOUNTS", {})}
    return value


@pytest.fixture
def sandbox(flinks_sandbox: Any, settings: Any) -> Any:
    """A running sandbox with ``FLINKS_SESSIONS`` pointed at it."""
    settings.FLINKS_SESSIONS = flinks_settings_for(flinks_sandbox.url)
    return flinks_sandbox


@pytest.fixture
def database_tasks(settings: Any) -> Iterator[None]:
    """Route tasks to django-tasks-db (a real queue that a ``db_worker`` subprocess drains)."""
    from tests.support import database_tasks_settings, reset_task_backends

    settings.TASKS = database_tasks_settings()
    reset_task_backends()
    yield
    reset_task_backends()
