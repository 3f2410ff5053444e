"""Fixtures for the webhook receiver: sessions as the app stores them, and clients in each site setup.

Every receiver test runs three times (``site`` fixture): a CSRF-enforcing client on the test settings, the same
with ``ATOMIC_REQUESTS``, and with ``ATOMIC_REQUESTS`` plus ``LoginRequiredMiddleware``. The receiver must
behave identically in all three.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from flinks_sessions.models import PaymentSession
from flinks_sessions.signals import (
    amount_reduced,
    guarantee_decided,
    guarantee_offered,
    session_cancelled,
    session_status_changed,
    webhook_received,
)
from flinks_sessions.testing import SignedWebhook
from tests.factories import new_session

SITES = ("plain", "atomic_requests", "login_required")


@pytest.fixture(params=SITES)
def site(request: pytest.FixtureRequest, settings: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The site setup under test; applies its settings."""
    if request.param in ("atomic_requests", "login_required"):
        monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    if request.param == "login_required":
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.contrib.auth.middleware.LoginRequiredMiddleware"]
    return str(request.param)


@pytest.fixture
def webhook_client(site: str) -> Client:
    """Flinks has no CSRF token and no login: the client enforces CSRF like a browser-less sender would meet."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def make_session(db: None) -> Callable[..., PaymentSession]:
    """A session as ``start_session`` stores it (Initiated, as Flinks said), each with its own reference."""

    def make(**fields: Any) -> PaymentSession:
        values = {
            "reference_id": f"order-{uuid.uuid4().hex[:8]}",
            "amount": "65.00",
            "remote_status": "Initiated",
        }
        return new_session(**{**values, **fields})

    return make


class SignalLog:
    """Every flinks_sessions signal sent while the test runs, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def named(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for signal_name, kwargs in self.sent if signal_name == name]


@pytest.fixture
def signals() -> Iterator[SignalLog]:
    log = SignalLog()
    receivers = {}
    for name, signal in (
        ("status_changed", session_status_changed),
        ("cancelled", session_cancelled),
        ("webhook_received", webhook_received),
        ("amount_reduced", amount_reduced),
        ("guarantee_offered", guarantee_offered),
        ("guarantee_decided", guarantee_decided),
    ):

        def receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
            kwargs.pop("signal", None)
            log.sent.append((_name, kwargs))

        signal.connect(receiver, weak=False)
        receivers[signal] = receiver
    yield log
    for signal, receiver in receivers.items():
        signal.disconnect(receiver)


@pytest.fixture
def deliver(webhook_client: Client, django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """POST a webhook as Flinks would; after-commit callbacks (signals, task enqueues) run as on a real commit.

    Takes a ``SignedWebhook`` or raw ``body=`` bytes with ``headers=``.
    """

    def post(
        webhook: SignedWebhook | None = None, *, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            if webhook is not None:
                return webhook.post(webhook_client, headers=headers or {})
            return webhook_client.post(
                reverse("flinks_sessions:webhook"),
                data=body,
                content_type="application/json",
                headers=headers or {},
            )

    return post
