"""What the beacon throttle counts together: one session from one client address, never more, never less.

``BEACON_THROTTLE_RATE`` is "per session and client address": a shopper's own beacons share one allowance,
another shopper (another address) behind the same session id, or the same shopper's other session, has its own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from flinks_sessions.api import exit_token
from flinks_sessions.models import PaymentSession
from tests.factories import new_session

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("recorded_tasks")]


def beacon(client: Client, session: PaymentSession, address: str) -> int:
    return int(
        client.post(
            reverse("flinks_sessions:session-exit", kwargs={"session_id": session.session_id}),
            urlencode({"token": exit_token(session)}),
            content_type="application/x-www-form-urlencoded",
            REMOTE_ADDR=address,
        ).status_code
    )


@pytest.fixture(autouse=True)
def _two_a_minute(settings: Any) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "BEACON_THROTTLE_RATE": "2/min"}


def test_each_client_address_has_its_own_allowance(client: Client, stored_session: PaymentSession) -> None:
    first = [beacon(client, stored_session, "198.51.100.1") for _ in range(3)]
    assert first == [202, 202, 429]
    assert beacon(client, stored_session, "198.51.100.2") == 202
    assert beacon(client, stored_session, "198.51.100.1") == 429


def test_each_session_has_its_own_allowance(client: Client, stored_session: PaymentSession) -> None:
    other = new_session(reference_id="Happy2")
    assert [beacon(client, stored_session, "198.51.100.1") for _ in range(3)] == [202, 202, 429]
    assert beacon(client, other, "198.51.100.1") == 202
