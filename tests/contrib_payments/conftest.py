"""A django-payments shop on the provider: its Payment model, a sandbox that posts its webhooks to a live server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from flinks_sessions.api import exit_token
from flinks_sessions.models import PaymentSession
from tests.conftest import flinks_settings_for
from tests.guarantee.conftest import guarantee_sandbox  # noqa: F401 - the sandbox posting to a live server


@pytest.fixture
def shop_sandbox(guarantee_sandbox: Any, settings: Any) -> Any:  # noqa: F811 - the fixture imported above
    """Flinks' webhooks (status changes, guarantee offers) reach the app; the site decides guarantees itself."""
    settings.FLINKS_SESSIONS = flinks_settings_for(guarantee_sandbox.url, GUARANTEE_DECISION="manual")
    return guarantee_sandbox


@pytest.fixture
def make_payment() -> Callable[..., Any]:
    from payments import get_payment_model

    def make(variant: str = "flinks", total: str = "25.00", **fields: Any) -> Any:
        values = {
            "variant": variant,
            "currency": "CAD",
            "total": Decimal(total),
            "description": "Order 42",
            "billing_first_name": "John",
            "billing_last_name": "Doe",
            "billing_email": "john@example.com",
            **fields,
        }
        return get_payment_model().objects.create(**values)

    return make


@pytest.fixture
def statuses() -> Iterator[list[str]]:
    """Every django-payments ``status_changed`` the shop hears, in order: what its own receivers would see."""
    from payments.signals import status_changed

    heard: list[str] = []

    def receiver(sender: Any, instance: Any, **kwargs: Any) -> None:
        heard.append(instance.status)

    status_changed.connect(receiver, weak=False)
    yield heard
    status_changed.disconnect(receiver)


def beacon(client: Client, session: PaymentSession) -> Any:
    """What the checkout page's ``navigator.sendBeacon`` sends when the shopper leaves it."""
    return client.post(
        reverse("flinks_sessions:session-exit", kwargs={"session_id": session.session_id}),
        urlencode({"token": exit_token(session)}),
        content_type="application/x-www-form-urlencoded;charset=UTF-8",
    )


def start_again(client: Client, session: PaymentSession) -> Any:
    """What the checkout page's "Start again" button sends."""
    return client.post(
        reverse("flinks_sessions:session-restart", kwargs={"session_id": session.session_id}),
        urlencode({"token": exit_token(session)}),
        content_type="application/x-www-form-urlencoded",
    )
