"""Where the app's background work goes: system checks E010, E011, W010, W011."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks

from flinks_sessions.task_checks import check_task_setup
from tests.settings import TASKS_MODULE

IMMEDIATE = f"{TASKS_MODULE}.backends.immediate.ImmediateBackend"
DUMMY = f"{TASKS_MODULE}.backends.dummy.DummyBackend"
DATABASE = "django_tasks_db.DatabaseBackend"


def ids(settings: Any, *, tasks: dict[str, Any], debug: bool = False, **flinks: Any) -> set[str]:
    settings.TASKS = tasks
    settings.DEBUG = debug
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, **flinks}
    messages = check_task_setup()
    for message in messages:
        assert message.hint, message  # every message says what to do
    return {message.id for message in messages if message.id}


def test_a_real_backend_is_clean(settings: Any) -> None:
    assert ids(settings, tasks={"default": {"BACKEND": DATABASE}}) == set()
    assert ids(settings, tasks={"default": {"BACKEND": DATABASE, "QUEUES": []}}, TASK_QUEUE="flinks") == set()


def test_e010_backend_alias_not_in_tasks(settings: Any) -> None:
    assert ids(settings, tasks={"default": {"BACKEND": DATABASE}}, TASK_BACKEND="flinks") == {
        "flinks_sessions.E010"
    }


def test_e011_queue_not_accepted_by_the_backend(settings: Any) -> None:
    tasks = {"default": {"BACKEND": DATABASE, "QUEUES": ["default", "mail"]}}
    assert ids(settings, tasks=tasks, TASK_QUEUE="flinks") == {"flinks_sessions.E011"}
    assert ids(settings, tasks=tasks, TASK_QUEUE="mail") == set()
    # Django's default for QUEUES is ["default"]: a custom queue must be declared
    assert ids(settings, tasks={"default": {"BACKEND": DATABASE}}, TASK_QUEUE="flinks") == {
        "flinks_sessions.E011"
    }


def test_w010_immediate_backend_outside_debug(settings: Any) -> None:
    assert ids(settings, tasks={"default": {"BACKEND": IMMEDIATE}}) == {"flinks_sessions.W010"}
    assert ids(settings, tasks={"default": {"BACKEND": IMMEDIATE}}, debug=True) == set()


@pytest.mark.parametrize("debug", [True, False])
def test_w011_dummy_backend_runs_nothing(settings: Any, debug: bool) -> None:
    assert ids(settings, tasks={"default": {"BACKEND": DUMMY}}, debug=debug) == {"flinks_sessions.W011"}


def test_a_backend_that_cannot_load_is_left_to_django(settings: Any) -> None:
    assert ids(settings, tasks={"default": {"BACKEND": "no.such.Backend"}}) == set()


def test_broken_flinks_settings_are_left_to_e002(settings: Any) -> None:
    settings.FLINKS_SESSIONS = {"ACCOUNTS": "nope"}
    assert check_task_setup() == []


def test_the_checks_are_registered(settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": DUMMY}}
    found = {message.id for message in checks.run_checks(tags=[checks.Tags.compatibility])}
    assert "flinks_sessions.W011" in found
