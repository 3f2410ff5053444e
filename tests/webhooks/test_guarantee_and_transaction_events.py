"""The two events whose payloads Flinks does not publish: the GEFT guarantee offer and the e-Transfer transaction.

Both are stored raw and read defensively; neither is ever read as a session status. (The offer's decision,
end to end against the sandbox, is in ``tests/guarantee``.)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from flinks_sessions.models import PaymentSession, SessionEvent, WebhookDelivery
from flinks_sessions.testing import signed_webhook
from tests.conftest import flinks_settings_for

pytestmark = pytest.mark.django_db

Outcome = WebhookDelivery.Outcome
Status = PaymentSession.Status


@pytest.fixture(autouse=True)
def _manual(settings: Any) -> None:
    """No policy task here: what the receiver stores and announces is the subject."""
    settings.FLINKS_SESSIONS = flinks_settings_for("http://127.0.0.1:9", GUARANTEE_DECISION="manual")


def test_a_guarantee_offer_is_stored_and_announced(deliver: Any, make_session: Any, signals: Any) -> None:
    session = make_session(product="geft", amount="250.00", status=Status.IN_PROGRESS)
    webhook = signed_webhook(
        event_type="GuaranteeOffered",
        sessionId=str(session.session_id),
        guarantee={"offeredAmount": 200, "offerType": "Reduced", "guaranteeId": "g-1"},
    )

    assert deliver(webhook).json() == {"outcome": "guarantee_offered"}

    session.refresh_from_db()
    assert session.guarantee_offered_at is not None
    assert session.guarantee_offer["amount"] == "200"
    assert session.guarantee_offer["offer_type"] == "Reduced"
    assert session.guarantee_offer["payload"]["guarantee"]["guaranteeId"] == "g-1"
    assert session.status == Status.IN_PROGRESS
    assert list(PaymentSession.objects.undecided_guarantees()) == [session]
    [offered] = signals.named("guarantee_offered")
    assert (offered["session"].pk, offered["offer"].amount) == (session.pk, Decimal(200))
    assert offered["delivery"] == WebhookDelivery.objects.get()
    assert session.events.filter(kind=SessionEvent.Kind.GUARANTEE_OFFERED).count() == 1
    assert len(signals.named("webhook_received")) == 1


def test_the_guarantee_event_type_is_a_setting(deliver: Any, make_session: Any, settings: Any) -> None:
    settings.FLINKS_SESSIONS = flinks_settings_for(
        "http://127.0.0.1:9", GUARANTEE_DECISION="manual", GUARANTEE_EVENT_TYPES=["GeftGuaranteeCreated"]
    )
    session = make_session(product="geft")
    offered = signed_webhook(event_type="geftguaranteecreated", sessionId=str(session.session_id), amount=10)
    default_name = signed_webhook(event_type="GuaranteeOffered", sessionId=str(session.session_id))

    assert deliver(offered).json() == {"outcome": "guarantee_offered"}
    assert deliver(default_name).json() == {"outcome": "ignored"}


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"sessionId": "not-a-uuid"},
        {"sessionId": ["a list"]},
        {"sessionId": "7b7a6f5e-0d41-4c4e-9f0e-1f6c1e2b3c4d"},
    ],
)
def test_an_offer_for_no_session_of_ours_is_logged(
    deliver: Any, payload: dict[str, Any], signals: Any
) -> None:
    response = deliver(signed_webhook(event_type="GuaranteeOffered", **payload))
    assert response.status_code == 200
    assert response.json() == {"outcome": "unknown_session"}
    assert signals.named("guarantee_offered") == []


def test_an_offer_after_the_session_ended_is_stale(deliver: Any, make_session: Any, signals: Any) -> None:
    session = make_session(product="geft", status=Status.COMPLETED, remote_status="Completed")
    webhook = signed_webhook(event_type="GuaranteeOffered", sessionId=str(session.session_id))
    assert deliver(webhook).json() == {"outcome": "stale"}
    session.refresh_from_db()
    assert session.guarantee_offered_at is None
    assert signals.named("guarantee_offered") == []


def test_an_etransfer_transaction_status_is_recorded_never_applied(
    deliver: Any, make_session: Any, signals: Any
) -> None:
    session = make_session(product="etransfer")
    webhook = signed_webhook(
        event_type="TransactionStatusChanged",
        sessionId=str(session.session_id),
        status="Completed",
        transactionStatus="Deposited",
    )

    assert deliver(webhook).json() == {"outcome": "recorded"}

    session.refresh_from_db()
    assert session.status == Status.INITIATED
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event_type, delivery.outcome, delivery.session) == (
        "TransactionStatusChanged",
        Outcome.RECORDED,
        session,
    )
    assert [kw["delivery"].pk for kw in signals.named("webhook_received")] == [delivery.pk]
    assert signals.named("status_changed") == []
