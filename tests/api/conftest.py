"""Fixtures for the browser-facing API: stored sessions, their tokens, a task backend that only records, and
the form posts the endpoints take."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.test import Client, TestCase
from django.urls import reverse

from flinks_sessions.api import exit_token
from flinks_sessions.models import PaymentSession
from tests.factories import new_session
from tests.settings import TASKS_MODULE
from tests.support import reset_task_backends


@pytest.fixture(autouse=True)
def _fresh_throttle() -> Iterator[None]:
    """The throttle counts in the default cache; each test starts with a clean count."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def recorded_tasks(settings: Any) -> Iterator[list[Any]]:
    """Tasks are recorded by Django's DummyBackend and never run: what was enqueued, with which arguments."""
    try:
        from django.tasks import task_backends
    except ImportError:  # Django 5.2
        from django_tasks import task_backends
    settings.TASKS = {"default": {"BACKEND": f"{TASKS_MODULE}.backends.dummy.DummyBackend"}}
    reset_task_backends()
    yield task_backends["default"].results
    reset_task_backends()


@pytest.fixture
def csrf_client() -> Client:
    """A client that enforces CSRF, as a browser's cross-request state would: the beacon must not need it."""
    return Client(enforce_csrf_checks=True)


def url(name: str, session_id: uuid.UUID | str) -> str:
    return reverse(f"flinks_sessions:{name}", kwargs={"session_id": session_id})


def post_form(client: Client, target: str, **fields: str) -> Any:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(target, urlencode(fields), content_type="application/x-www-form-urlencoded")


@pytest.fixture
def stored_session(db: Any) -> PaymentSession:
    return new_session()


@pytest.fixture
def token(stored_session: PaymentSession) -> str:
    return exit_token(stored_session)
