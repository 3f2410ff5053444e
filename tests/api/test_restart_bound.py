"""Start again is bounded: per order (``RESTART_LIMIT`` successors for one reference and account), answered 409,
and per client address across sessions (``RESTART_THROTTLE_RATE``), answered 429.

Before the bound, 40 restarts in a row from one address created 40 Flinks sessions for one order, each also
costing a cancel on the merchant's Flinks account.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from flinks_sessions.api import exit_token
from flinks_sessions.models import PaymentSession
from flinks_sessions.services import start_session
from tests.api.test_restart_endpoint import PAYOR, restart
from tests.conftest import flinks_settings_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("recorded_tasks")]

CREATE = "/api/v2/sessions"


def bounded(settings: Any, sandbox: Any, **values: Any) -> None:
    settings.FLINKS_SESSIONS = flinks_settings_for(sandbox.url, **values)


def test_forty_restarts_in_a_row_stop_at_the_orders_bound(
    client: Client, sandbox: Any, settings: Any
) -> None:
    bounded(settings, sandbox, RESTART_THROTTLE_RATE=None)  # the per-order bound alone
    session = start_session(amount="39.99", reference_id="order-40", payor=PAYOR)
    token = exit_token(session)
    answers: list[int] = []
    for _ in range(40):
        response = restart(client, session.session_id, token)
        answers.append(response.status_code)
        if response.status_code != 201:
            break
        session = PaymentSession.objects.get(session_id=response.json()["sessionId"])
        token = response.json()["token"]

    assert answers == [201] * 5 + [409]
    refusal = response.json()
    assert refusal["limitReached"] is True
    assert refusal["pending"] is False
    assert "5" in refusal["detail"]
    assert PaymentSession.objects.filter(reference_id="order-40").count() == 6
    assert sandbox.count(method="POST", path_suffix=CREATE) == 6
    assert session.is_open  # the last session was not cancelled for a successor that was refused


def test_the_bound_is_a_setting(client: Client, sandbox: Any, settings: Any) -> None:
    bounded(settings, sandbox, RESTART_LIMIT=1, RESTART_THROTTLE_RATE=None)
    session = start_session(amount="10.00", reference_id="order-one", payor=PAYOR)
    first = restart(client, session.session_id, exit_token(session))
    assert first.status_code == 201
    successor = PaymentSession.objects.get(session_id=first.json()["sessionId"])
    assert restart(client, successor.session_id, first.json()["token"]).status_code == 409
    # A repeated click on the first session still answers its successor: nothing new is created.
    assert restart(client, session.session_id, exit_token(session)).status_code == 200


def test_one_address_is_throttled_across_orders(client: Client, sandbox: Any, settings: Any) -> None:
    bounded(settings, sandbox, RESTART_THROTTLE_RATE="3/hour")
    answers = []
    for n in range(5):
        session = start_session(amount="10.00", reference_id=f"order-{n}", payor=PAYOR)
        answers.append(restart(client, session.session_id, exit_token(session)).status_code)

    assert answers == [201, 201, 201, 429, 429]
    assert sandbox.count(method="POST", path_suffix=CREATE) == 5 + 3
    other = Client(REMOTE_ADDR="192.0.2.7")
    session = start_session(amount="10.00", reference_id="order-elsewhere", payor=PAYOR)
    assert restart(other, session.session_id, exit_token(session)).status_code == 201
