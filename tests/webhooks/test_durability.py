"""The delivery log survives what can go wrong after the row is written, and keeps no secret.

Flinks sends each webhook once and never retries, so the stored row is the only copy: a processing error, a bug
that escapes the view, or ``ATOMIC_REQUESTS`` rolling the request back must never take it away.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from flinks_sessions.models import PaymentSession, SessionEvent, WebhookDelivery
from flinks_sessions.signals import session_status_changed
from flinks_sessions.webhooks import processing
from tests.webhooks.helpers import status_webhook

Outcome = WebhookDelivery.Outcome
Status = PaymentSession.Status

pytestmark = pytest.mark.django_db


def test_processing_error_is_stored_answered_200_and_logged(
    deliver: Any,
    make_session: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    signals: Any,
) -> None:
    session = make_session()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database said no")

    monkeypatch.setattr(processing, "apply_report", broken)
    with caplog.at_level(logging.ERROR, logger="flinks_sessions.webhooks"):
        response = deliver(status_webhook(session, "Completed", "EFT0301"))

    assert (response.status_code, response.json()) == (200, {"outcome": "error"})
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == Outcome.ERROR
    assert delivery.error == "RuntimeError: database said no"
    assert delivery.session is None
    assert delivery.processed_at is not None
    session.refresh_from_db()
    assert session.status == Status.INITIATED
    assert not session.events.exists()
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None
    assert len(signals.named("webhook_received")) == 1

    # Once the cause is fixed, processing the stored row again applies it.
    monkeypatch.undo()
    delivery.refresh_from_db()
    assert processing.process_delivery(delivery, announce=False) == Outcome.APPLIED
    session.refresh_from_db()
    assert session.status == Status.COMPLETED


def test_a_raising_signal_receiver_does_not_undo_the_change(
    deliver: Any, make_session: Any, caplog: pytest.LogCaptureFixture
) -> None:
    session = make_session()

    def receiver(**kwargs: Any) -> None:
        raise ValueError("the shop's receiver is broken")

    session_status_changed.connect(receiver, weak=False)
    try:
        response = deliver(status_webhook(session, "Completed", "EFT0301"))
    finally:
        session_status_changed.disconnect(receiver)
    assert (response.status_code, response.json()) == (200, {"outcome": "applied"})
    session.refresh_from_db()
    assert session.status == Status.COMPLETED
    assert WebhookDelivery.objects.get().outcome == Outcome.APPLIED
    assert any("Receiver" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


@pytest.mark.parametrize("atomic_requests", [False, True], ids=["autocommit", "ATOMIC_REQUESTS"])
def test_delivery_survives_an_exception_escaping_the_view(
    make_session: Any, monkeypatch: pytest.MonkeyPatch, atomic_requests: bool
) -> None:
    """Under ``ATOMIC_REQUESTS`` an escaping error rolls the request back; the delivery row is not part of it."""
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", atomic_requests)
    session = make_session()

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug after the row was written")

    monkeypatch.setattr(processing, "process_delivery", crash)
    response = status_webhook(session, "Completed", "EFT0301").post(Client(raise_request_exception=False))
    assert response.status_code == 500
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.signature_valid) == (Outcome.RECEIVED, True)


@pytest.mark.urls("tests.webhooks.urls_without_exemption")
def test_control_without_the_exemption_the_row_is_lost(
    make_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control for the test above: the same view, wrapped so it loses its ATOMIC_REQUESTS exemption."""
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    monkeypatch.setattr(processing, "process_delivery", lambda *a, **k: 1 / 0)
    webhook = status_webhook(make_session(), "Completed", "EFT0301")
    response = webhook.post(Client(raise_request_exception=False), url="/unexempt/")
    assert response.status_code == 500
    assert not WebhookDelivery.objects.exists()


def test_headers_are_stored_without_secrets(deliver: Any, make_session: Any) -> None:
    webhook = status_webhook(make_session(), "Completed", "EFT0301")
    deliver(
        webhook,
        headers={
            "Authorization": "Bearer t0k3n",
            "Cookie": "sessionid=abc",
            "X-Client-Secret": "s3cret",
            "X-Access-Token": "t0k3n",
            "X-Api-Key": "k3y",
            "X-Flinks-Signature": "also-a-signature",
            "X-Request-Id": "req-1",
        },
    )
    headers = WebhookDelivery.objects.get().headers
    for name in (
        "Authorization",
        "Cookie",
        "X-Client-Secret",
        "X-Access-Token",
        "X-Api-Key",
        "X-Webhook-Signature",
    ):
        assert headers[name] == "[redacted]", name
    assert headers["X-Flinks-Signature"] == "[redacted]"
    assert headers["X-Request-Id"] == "req-1"
    assert headers["Content-Type"] == "application/json"
    stored = repr(headers)
    for secret in (
        "t0k3n",
        "abc",
        "s3cret",
        "k3y",
        "also-a-signature",
        webhook.headers["X-Webhook-Signature"],
    ):
        assert secret not in stored


def test_secrets_never_reach_the_logs(
    deliver: Any, make_session: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither a message, its arguments, its ``extra`` fields nor a traceback carries a secret or a signature.

    A JSON log handler writes every attribute of a record, so all of them are read, not only the message.
    """
    session = make_session()
    with caplog.at_level(logging.DEBUG):
        good = status_webhook(session, "Completed", "EFT0301")
        bad = status_webhook(session, "Completed", "EFT0301", secret="wrong-secret")
        assert deliver(good).status_code == 200
        assert deliver(bad).status_code == 401
    logged = [(logging.Formatter().format(r), repr(vars(r))) for r in caplog.records]
    # Both deliveries were logged (the refusal names its delivery row), so there was something to leak.
    refused = WebhookDelivery.objects.get(signature_valid=False)
    assert any(f"Webhook delivery {refused.pk} refused" in message for message, _ in logged)
    assert any(str(session.session_id) in fields for _, fields in logged)
    text = "\n".join(part for record in logged for part in record)
    for secret in (
        "sandbox-webhook-secret",
        "wrong-secret",
        good.headers["X-Webhook-Signature"],
        bad.headers["X-Webhook-Signature"],
    ):
        assert secret not in text
        assert secret.lower() not in text.lower()


@pytest.mark.parametrize(
    ("trust", "forwarded", "expected"),
    [
        (False, "203.0.113.7, 10.0.0.1", "127.0.0.1"),
        (True, "203.0.113.7, 10.0.0.1", "10.0.0.1"),  # True is one trusted proxy: the hop it appended
        (True, "not-an-ip", None),
        (True, "", "127.0.0.1"),
    ],
)
def test_remote_address(
    deliver: Any, make_session: Any, settings: Any, *, trust: bool, forwarded: str, expected: str | None
) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "TRUST_X_FORWARDED_FOR": trust}
    deliver(status_webhook(make_session(), "Completed", "EFT0301"), headers={"X-Forwarded-For": forwarded})
    assert WebhookDelivery.objects.get().remote_addr == expected


def test_body_larger_than_announced_is_cut_at_the_read(make_session: Any, settings: Any) -> None:
    """A server streaming a body without Content-Length still cannot make the view read past the limit."""
    import io

    from django.test import RequestFactory

    from flinks_sessions.webhooks.views import webhook_view

    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "WEBHOOK_MAX_BODY": 2048}
    webhook = status_webhook(make_session(), "Completed", "EFT0301", padding="x" * 4096)
    request = RequestFactory().post("/", data=b"", content_type="application/json", headers=webhook.headers)
    request.META.pop("CONTENT_LENGTH", None)
    request._stream = io.BytesIO(webhook.body)  # type: ignore[attr-defined]
    assert webhook_view(request).status_code == 413
    assert not WebhookDelivery.objects.exists()
    assert not SessionEvent.objects.exists()
