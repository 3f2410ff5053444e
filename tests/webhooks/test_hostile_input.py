"""Hostile requests to the webhook endpoint: each gets a documented 4xx (or a 503 for an outage), never a 500.

Nested JSON, a flood of bogus signatures with huge headers, a forged ``X-Forwarded-For``: what the receiver
answers and what it keeps of each (README, "What bad input gets").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse

from flinks_sessions.models import PaymentSession, WebhookDelivery
from flinks_sessions.signatures import sign
from flinks_sessions.webhooks.envelope import build_envelope
from flinks_sessions.webhooks.rejected import (
    REJECTED_BODY_LIMIT,
    REJECTED_HEADER_LIMIT,
    REJECTED_HEADER_VALUE_LIMIT,
)
from tests.support import error_report_of
from tests.webhooks.helpers import SECRET, status_webhook

Outcome = WebhookDelivery.Outcome

pytestmark = pytest.mark.django_db

NESTED = b"[" * 20_000 + b"]" * 20_000  # 40 KB: under the 64 KiB limit, far over any sane depth


def test_deeply_nested_json_with_a_bogus_signature_is_refused_401(deliver: Any) -> None:
    response = deliver(body=NESTED, headers={"X-Webhook-Signature": "bogus"})
    assert response.status_code == 401
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == Outcome.INVALID_SIGNATURE


def test_deeply_nested_json_correctly_signed_is_malformed_400(deliver: Any) -> None:
    response = deliver(body=NESTED, headers={"X-Webhook-Signature": sign(NESTED, SECRET)})
    assert response.status_code == 400
    assert response.json()["error"] == "malformed"
    assert "nested" in response.json()["detail"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, bytes(delivery.body)) == (Outcome.MALFORMED, NESTED)


def test_the_admin_shows_a_deeply_nested_delivery(deliver: Any, admin_client: Any) -> None:
    """The stored evidence of a malformed delivery opens in the admin (as sent), not as a 500."""
    deliver(body=NESTED, headers={"X-Webhook-Signature": sign(NESTED, SECRET)})
    delivery = WebhookDelivery.objects.get()
    url = reverse("admin:flinks_sessions_webhookdelivery_change", args=[delivery.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert b"[[[[" in response.content


def test_nested_object_inside_a_valid_envelope_is_malformed(deliver: Any) -> None:
    body = b'{"type": "X", "payload": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}"
    response = deliver(body=body, headers={"X-Webhook-Signature": sign(body, SECRET)})
    assert response.status_code == 400


def test_a_bogus_signature_stores_a_bounded_row(deliver: Any) -> None:
    """64 KB of body and 90 headers of 4 KB each: what is kept is a few KiB, and says it was cut."""
    body = b'{"type": "x", "pad": "' + b"a" * 60_000 + b'"}'
    headers = {f"X-Filler-{n}": "v" * 4096 for n in range(90)}
    response = deliver(body=body, headers={"X-Webhook-Signature": "bogus", **headers})

    assert response.status_code == 401
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == Outcome.INVALID_SIGNATURE
    assert bytes(delivery.body) == body[:REJECTED_BODY_LIMIT]
    assert delivery.truncated is True
    assert len(delivery.headers) <= REJECTED_HEADER_LIMIT
    assert all(len(value.encode()) <= REJECTED_HEADER_VALUE_LIMIT for value in delivery.headers.values())
    assert delivery.headers["X-Webhook-Signature"] == "[redacted]"


def test_a_small_rejected_delivery_is_kept_whole_and_not_marked(deliver: Any) -> None:
    response = deliver(body=b'{"type": "x"}', headers={"X-Webhook-Signature": "bogus"})
    assert response.status_code == 401
    delivery = WebhookDelivery.objects.get()
    assert (bytes(delivery.body), delivery.truncated) == (b'{"type": "x"}', False)


def test_a_valid_delivery_is_stored_whole(deliver: Any, make_session: Any) -> None:
    webhook = status_webhook(make_session(), "Completed", "EFT0301", padding="p" * 20_000)
    headers = {f"X-Filler-{n}": "v" * 900 for n in range(40)}
    assert deliver(webhook, headers=headers).status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert bytes(delivery.body) == webhook.body
    assert delivery.truncated is False
    assert delivery.headers["X-Filler-39"] == "v" * 900


def test_rejected_rows_are_capped_per_minute_and_the_rest_counted(
    deliver: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "WEBHOOK_REJECTED_PER_MINUTE": 5}
    with caplog.at_level(logging.WARNING, logger="flinks_sessions.webhooks"):
        answers = [
            deliver(body=b'{"n": %d}' % n, headers={"X-Webhook-Signature": "bogus"}).status_code
            for n in range(12)
        ]

    assert answers == [401] * 12
    rows = list(WebhookDelivery.objects.order_by("pk"))
    assert len(rows) == 5
    assert [row.dropped_after for row in rows] == [0, 0, 0, 0, 7]
    drops = [r for r in caplog.records if "WEBHOOK_REJECTED_PER_MINUTE" in r.getMessage()]
    assert len(drops) == 1
    assert drops[0].levelno == logging.WARNING


def test_the_cap_never_drops_a_valid_delivery(deliver: Any, settings: Any, make_session: Any) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "WEBHOOK_REJECTED_PER_MINUTE": 1}
    for _ in range(3):
        deliver(body=b"{}", headers={"X-Webhook-Signature": "bogus"})
    assert deliver(status_webhook(make_session(), "Completed", "EFT0301")).status_code == 200
    assert WebhookDelivery.objects.filter(outcome=Outcome.APPLIED).count() == 1


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.7, 10.0.0.1", "127.0.0.1"),
        (1, "203.0.113.7, 10.0.0.1", "10.0.0.1"),
        (2, "203.0.113.7, 10.0.0.1", "203.0.113.7"),
        (2, "198.51.100.9, 203.0.113.7, 10.0.0.1", "203.0.113.7"),
        (3, "203.0.113.7", "203.0.113.7"),
        (True, "spoofed.example, 10.0.0.1", "10.0.0.1"),
    ],
)
def test_remote_address_is_the_hop_the_trusted_proxies_appended(
    deliver: Any, make_session: Any, settings: Any, *, proxies: int, forwarded: str, expected: str
) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "TRUST_X_FORWARDED_FOR": proxies}
    deliver(status_webhook(make_session(), "Completed", "EFT0301"), headers={"X-Forwarded-For": forwarded})
    assert WebhookDelivery.objects.get().remote_addr == expected


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_database_outage_is_answered_503_and_logged(
    make_session: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL unreachable (a closed port): 503, so Flinks' operators see an outage, and an ERROR log."""
    from django.test import Client

    webhook = status_webhook(make_session(), "Completed", "EFT0301")
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")
    try:
        with caplog.at_level(logging.ERROR, logger="flinks_sessions.webhooks"):
            response = webhook.post(Client())
    finally:
        monkeypatch.undo()
        connection.close()
    assert response.status_code == 503
    assert response.json() == {"error": "database unavailable"}
    assert any(r.levelno == logging.ERROR and "database" in r.getMessage() for r in caplog.records)


# Text a JSON string may carry that no database column can: PostgreSQL's text and jsonb hold no NUL, and half a
# surrogate pair is not a character at all (UTF-8 cannot encode it, so SQLite cannot store it either).
UNSTORABLE = {"nul": "\x00", "unpaired-surrogate": "\ud800"}
PLACES = ("type", "status", "statusDetails", "referenceId", "another-field", "a-key")


def envelope_holding(text: str, place: str, session: PaymentSession) -> bytes:
    """A Completed webhook for ``session`` with ``text`` in one place; JSON escapes it (``\\u0000``)."""
    payload = {
        "sessionId": str(session.session_id),
        "amount": 65.0,
        "referenceId": session.reference_id,
        "status": "Completed",
        "statusDetails": "EFT0301",
    }
    envelope = build_envelope(payload)
    if place == "type":
        envelope["type"] += text
    elif place == "another-field":
        envelope["payload"]["note"] = text
    elif place == "a-key":
        envelope["payload"][f"note{text}"] = "x"
    else:
        envelope["payload"][place] += text
    return json.dumps(envelope).encode()


@pytest.mark.parametrize("text", UNSTORABLE.values(), ids=UNSTORABLE)
@pytest.mark.parametrize("place", PLACES)
def test_text_no_database_can_store_is_malformed_400_and_the_delivery_kept(
    deliver: Any, make_session: Callable[..., PaymentSession], text: str, place: str
) -> None:
    """A NUL or half a surrogate pair anywhere in a signed body: the delivery is kept as sent and answered 400.

    It was a 500 with no row at all (the envelope's columns could not be stored: the delivery was lost, and
    Flinks never retries), a 500 after storing (the transition's audit payload), or, for a NUL on SQLite, a
    transition applied with the NUL stored in it.
    """
    session = make_session()
    body = envelope_holding(text, place, session)
    response = deliver(body=body, headers={"X-Webhook-Signature": sign(body, SECRET)})
    assert response.status_code == 400
    assert response.json()["error"] == "malformed"
    assert "no database can store" in response.json()["detail"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, bytes(delivery.body), delivery.event_type) == (Outcome.MALFORMED, body, "")
    session.refresh_from_db()
    assert session.status == PaymentSession.Status.INITIATED


def test_text_no_database_can_store_with_a_bogus_signature_is_refused_401_and_kept(
    deliver: Any, make_session: Callable[..., PaymentSession]
) -> None:
    body = envelope_holding(UNSTORABLE["unpaired-surrogate"], "type", make_session())
    response = deliver(body=body, headers={"X-Webhook-Signature": "sha256=00"})
    assert response.status_code == 401
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, bytes(delivery.body)) == (Outcome.INVALID_SIGNATURE, body)


def test_an_error_report_from_the_receiver_shows_no_signature(
    make_session: Callable[..., PaymentSession], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug that escapes the receiver (here: storing the delivery raises) is mailed to the admins with the
    frames' variables. The signature headers the receiver read must not be among them: whoever reads the e-mail
    could replay the delivery's exact body with it."""
    from django.test import Client

    from flinks_sessions.webhooks import views

    settings.DEBUG = False
    webhook = status_webhook(make_session(), "Completed", "EFT0301")
    signature = sign(webhook.body, SECRET)

    def broken_store(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in storing the delivery")

    monkeypatch.setattr(views, "store_delivery", broken_store)
    response, pages = error_report_of(
        lambda: Client(raise_request_exception=False).post(
            reverse("flinks_sessions:webhook"),
            data=webhook.body,
            content_type="application/json",
            headers={"X-Webhook-Signature": signature},
        )
    )
    assert response.status_code == 500
    for page in pages:
        assert "receive" in page  # the receiver's frame is there...
        assert signature.removeprefix("sha256=") not in page  # ...without the signature it read
