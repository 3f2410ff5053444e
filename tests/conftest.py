"""Shared fixtures: a sandbox on a free loopback port with the app pointed at it, and the CI switches.

``FLINKS_REQUIRE`` (set by .ci/run to every part in tests/extras.py) makes a test that needs a missing part fail
instead of skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests import extras

pytest_plugins = ["flinks_sessions.testing", "tests.servers", "tests.parts"]


def pytest_configure(config: pytest.Config) -> None:
    extras.required()  # an unknown name in FLINKS_REQUIRE stops the run before anything is skipped


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked with a service it cannot reach skips, or fails under FLINKS_REQUIRE, before any fixture.

    A fixture (an autouse one included) would run after the test's module- and session-scoped fixtures,
    which may skip on their own first: the browser fixture did, and the browser tests were skipped in CI.
    """
    for extra in extras.MARKERS:
        if item.get_closest_marker(extra):
            extras.require(extra)


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
