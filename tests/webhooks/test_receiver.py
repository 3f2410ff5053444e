"""The webhook endpoint as Flinks meets it: each documented header form, each kind of bad input, each outcome.

Every test here runs in three site setups (see ``conftest.site``): plain, ``ATOMIC_REQUESTS``, and
``ATOMIC_REQUESTS`` with ``LoginRequiredMiddleware``, always through a CSRF-enforcing client.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from flinks_sessions.models import PaymentSession, SessionEvent, WebhookDelivery
from flinks_sessions.signatures import SignatureForm, sign
from flinks_sessions.testing import signed_webhook
from tests.webhooks.helpers import SECRET, SEED_BODY, SEED_SESSION_ID, status_webhook

Outcome = WebhookDelivery.Outcome
Status = PaymentSession.Status

pytestmark = pytest.mark.django_db


def test_url_is_documented_name() -> None:
    assert reverse("flinks_sessions:webhook") == "/flinks/webhooks/"


def test_seed_envelope_is_verified_and_applied(deliver: Any, make_session: Any, signals: Any) -> None:
    """The exact body of seed 000 (``Canceled``, seven fractional digits in ``when``) cancels the session."""
    session = make_session(session_id=uuid.UUID(SEED_SESSION_ID), reference_id="Happy1")
    response = deliver(body=SEED_BODY, headers={"X-Webhook-Signature": sign(SEED_BODY, SECRET)})

    assert response.status_code == 200
    assert response.json() == {"outcome": "applied"}
    session.refresh_from_db()
    assert (session.status, session.remote_status, session.status_details) == (
        Status.CANCELLED,
        "Canceled",
        "EFT0501",
    )
    delivery = WebhookDelivery.objects.get()
    assert bytes(delivery.body) == SEED_BODY
    assert delivery.outcome == Outcome.APPLIED
    assert delivery.session == session
    assert delivery.event_type == "SessionSetupStatusChanged"
    assert delivery.event_when == datetime(2025, 11, 18, 14, 36, 48, 607812, tzinfo=UTC)
    assert (delivery.remote_status, delivery.status_details) == ("Canceled", "EFT0501")
    assert delivery.signature_valid is True
    assert delivery.signature_form == "X-Webhook-Signature"
    assert delivery.processed_at is not None
    event = session.events.get(kind=SessionEvent.Kind.TRANSITION)
    assert (event.source, event.to_status) == ("webhook", Status.CANCELLED)
    assert [kw["status"] for kw in signals.named("status_changed")] == [Status.CANCELLED]
    assert len(signals.named("cancelled")) == 1
    assert [kw["delivery"].pk for kw in signals.named("webhook_received")] == [delivery.pk]


@pytest.mark.parametrize(
    ("header", "value"),
    [
        pytest.param("X-Webhook-Signature", lambda body: sign(body, SECRET), id="sha256-HEX-upper"),
        pytest.param("X-Webhook-Signature", lambda body: sign(body, SECRET).lower(), id="sha256-hex-lower"),
        pytest.param(
            "X-Webhook-Signature", lambda body: "SHA256=" + sign(body, SECRET)[7:].lower(), id="SHA256-prefix"
        ),
        pytest.param(
            "X-Flinks-Signature",
            lambda body: sign(body, SECRET, SignatureForm.FLINKS_SIGNATURE),
            id="x-flinks",
        ),
        pytest.param(
            "flinks-authenticity-key",
            lambda body: sign(body, SECRET, SignatureForm.AUTHENTICITY_KEY),
            id="authenticity-key",
        ),
        pytest.param(
            "FLINKS-AUTHENTICITY-KEY",
            lambda body: sign(body, SECRET, SignatureForm.AUTHENTICITY_KEY),
            id="header-name-any-case",
        ),
    ],
)
def test_every_documented_header_form_is_accepted(
    deliver: Any, make_session: Any, header: str, value: Any
) -> None:
    session = make_session()
    body = status_webhook(session, "Completed", "EFT0301").body
    response = deliver(body=body, headers={header: value(body)})
    assert response.status_code == 200
    session.refresh_from_db()
    assert session.status == Status.COMPLETED
    assert WebhookDelivery.objects.get().signature_form.lower() == header.lower()


def test_secret_rotation_accepts_old_and_new(deliver: Any, make_session: Any, settings: Any) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "WEBHOOK_SECRETS": ["new-secret", "old-secret"]}
    first, second, third = make_session(), make_session(), make_session()
    assert deliver(status_webhook(first, "Completed", "EFT0301", secret="old-secret")).status_code == 200
    assert deliver(status_webhook(second, "Failed", "EFT0401", secret="new-secret")).status_code == 200
    assert deliver(status_webhook(third, "Failed", "EFT0401", secret="retired-secret")).status_code == 401
    assert [s.status for s in PaymentSession.objects.order_by("pk")] == [
        Status.COMPLETED,
        Status.FAILED,
        Status.INITIATED,
    ]


def test_per_account_secrets(deliver: Any, make_session: Any, settings: Any) -> None:
    """A GEFT account with its own credentials signs with its own secret; the global one still works."""
    config = {**settings.FLINKS_SESSIONS}
    config["ACCOUNTS"] = {
        **config["ACCOUNTS"],
        "geft": {**config["ACCOUNTS"]["default"], "WEBHOOK_SECRETS": ["geft-secret"]},
    }
    settings.FLINKS_SESSIONS = config
    geft, default = make_session(account="geft", product="geft"), make_session()
    assert deliver(status_webhook(geft, "Canceled", "EFT0501", secret="geft-secret")).status_code == 200
    assert deliver(status_webhook(default, "Completed", "EFT0301", secret=SECRET)).status_code == 200
    assert set(PaymentSession.objects.values_list("status", flat=True)) == {
        Status.CANCELLED,
        Status.COMPLETED,
    }


def test_only_configured_header_forms_are_accepted(deliver: Any, make_session: Any, settings: Any) -> None:
    """``WEBHOOK_SIGNATURE_HEADERS`` narrows the forms: another form counts as no signature at all (400)."""
    settings.FLINKS_SESSIONS = {
        **settings.FLINKS_SESSIONS,
        "WEBHOOK_SIGNATURE_HEADERS": ["X-Flinks-Signature"],
    }
    session = make_session()
    refused = deliver(status_webhook(session, "Completed", "EFT0301", form=SignatureForm.WEBHOOK_SIGNATURE))
    assert refused.status_code == 400
    assert not WebhookDelivery.objects.exists()
    accepted = deliver(status_webhook(session, "Completed", "EFT0301", form=SignatureForm.FLINKS_SIGNATURE))
    assert accepted.status_code == 200


def test_max_age_rejects_a_replay_and_accepts_a_fresh_delivery(
    deliver: Any, make_session: Any, settings: Any
) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "WEBHOOK_MAX_AGE": 300}
    session = make_session()
    old = datetime.now(UTC) - timedelta(minutes=10)
    response = deliver(status_webhook(session, "Completed", "EFT0301", when=old))
    assert response.status_code == 401
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.signature_valid) == (Outcome.INVALID_SIGNATURE, False)
    assert "WEBHOOK_MAX_AGE" in delivery.error
    session.refresh_from_db()
    assert session.status == Status.INITIATED

    fresh = deliver(
        status_webhook(session, "Completed", "EFT0301", when=datetime.now(UTC) - timedelta(seconds=5))
    )
    assert fresh.status_code == 200
    session.refresh_from_db()
    assert session.status == Status.COMPLETED


def test_max_age_with_no_when_is_rejected(deliver: Any, make_session: Any, settings: Any) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "WEBHOOK_MAX_AGE": 300}
    session = make_session()
    body = (
        b'{"type": "SessionSetupStatusChanged", "payload": {"sessionId": "%s", "status": "Completed"}}'
        % str(session.session_id).encode()
    )
    assert deliver(body=body, headers={"X-Webhook-Signature": sign(body, SECRET)}).status_code == 401


def test_missing_signature_is_400_and_nothing_is_stored(deliver: Any, make_session: Any) -> None:
    session = make_session()
    response = deliver(body=status_webhook(session, "Completed", "EFT0301").body)
    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()
    session.refresh_from_db()
    assert session.status == Status.INITIATED


def test_bad_signature_is_401_and_logged(deliver: Any, make_session: Any, signals: Any) -> None:
    session = make_session()
    webhook = status_webhook(session, "Completed", "EFT0301", secret="not-our-secret")
    response = deliver(webhook, headers={"Authorization": "Bearer abc", "X-Api-Key": "k"})
    assert response.status_code == 401
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.signature_valid, delivery.session) == (
        Outcome.INVALID_SIGNATURE,
        False,
        None,
    )
    assert bytes(delivery.body) == webhook.body
    # No credential of any kind is kept: not the signature, not the caller's headers.
    assert delivery.headers["X-Webhook-Signature"] == "[redacted]"
    assert delivery.headers["Authorization"] == "[redacted]"
    assert delivery.headers["X-Api-Key"] == "[redacted]"
    session.refresh_from_db()
    assert session.status == Status.INITIATED
    assert signals.sent == []


def test_garbage_signature_value_is_401(deliver: Any, make_session: Any, signals: Any) -> None:
    session = make_session()
    body = status_webhook(session, "Completed", "EFT0301").body
    for value in ("sha256=zz", "md5=00", "%%%", "sha256="):
        assert deliver(body=body, headers={"X-Webhook-Signature": value}).status_code == 401
    session.refresh_from_db()
    assert session.status == Status.INITIATED  # nothing of the unauthenticated body was applied
    assert signals.sent == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b"\xff\xfe\x00", id="not-utf8"),
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(b'{"payload": {}}', id="no-type"),
        pytest.param(b'{"type": "SessionSetupStatusChanged"}', id="no-payload"),
        pytest.param(
            b'{"type": "SessionSetupStatusChanged", "payload": {"status": "Completed"}}', id="no-session"
        ),
        pytest.param(
            b'{"type": "SessionSetupStatusChanged", "payload": {"sessionId": "nope", "status": "Completed"}}',
            id="session-not-uuid",
        ),
        pytest.param(
            b'{"type": "SessionSetupStatusChanged", "when": "yesterday", '
            b'"payload": {"sessionId": "c14b050b-6268-4f5c-9c73-80713c80edb3", "status": "Completed"}}',
            id="bad-when",
        ),
        pytest.param(
            b'{"type": "SessionSetupStatusChanged", '
            b'"payload": {"sessionId": "c14b050b-6268-4f5c-9c73-80713c80edb3", "status": 3}}',
            id="status-not-string",
        ),
        pytest.param(
            b'{"type": "SessionSetupStatusChanged", '
            b'"payload": {"sessionId": "c14b050b-6268-4f5c-9c73-80713c80edb3", "status": "Completed", "amount": "x"}}',
            id="amount-not-number",
        ),
    ],
)
def test_malformed_body_is_400_and_logged(deliver: Any, body: bytes, signals: Any) -> None:
    response = deliver(
        body=body, headers={"X-Flinks-Signature": sign(body, SECRET, SignatureForm.FLINKS_SIGNATURE)}
    )
    assert response.status_code == 400
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.signature_valid) == (Outcome.MALFORMED, True)
    assert delivery.error
    assert bytes(delivery.body) == body
    assert [kw["delivery"].pk for kw in signals.named("webhook_received")] == [delivery.pk]


def test_duplicate_changes_nothing_and_signals_once(deliver: Any, make_session: Any, signals: Any) -> None:
    session = make_session()
    webhook = status_webhook(session, "Completed", "EFT0301")
    first, second = deliver(webhook), deliver(webhook)
    assert (first.json(), second.json()) == ({"outcome": "applied"}, {"outcome": "duplicate"})
    assert second.status_code == 200
    assert session.events.filter(kind=SessionEvent.Kind.TRANSITION).count() == 1
    assert len(signals.named("status_changed")) == 1
    assert len(signals.named("webhook_received")) == 2  # one per stored, authentic delivery
    assert list(WebhookDelivery.objects.order_by("pk").values_list("outcome", flat=True)) == [
        Outcome.APPLIED,
        Outcome.DUPLICATE,
    ]


def test_completed_after_cancelled_is_stale(deliver: Any, make_session: Any, signals: Any) -> None:
    session = make_session()
    assert deliver(status_webhook(session, "Cancelled", "EFT0501")).json() == {"outcome": "applied"}
    late = deliver(status_webhook(session, "Completed", "EFT0301"))
    assert (late.status_code, late.json()) == (200, {"outcome": "stale"})
    session.refresh_from_db()
    assert (session.status, session.status_details) == (Status.CANCELLED, "EFT0501")
    assert len(signals.named("status_changed")) == 1


def test_pad_pending_then_payment_scheduled_is_the_one_correction(deliver: Any, make_session: Any) -> None:
    session = make_session()
    assert deliver(status_webhook(session, "Completed", "EFT0302")).json() == {"outcome": "applied"}
    assert deliver(status_webhook(session, "Completed", "EFT0301")).json() == {"outcome": "applied"}
    session.refresh_from_db()
    assert (session.status, session.status_details) == (Status.COMPLETED, "EFT0301")
    # ...and never back.
    assert deliver(status_webhook(session, "Completed", "EFT0302")).json() == {"outcome": "stale"}
    session.refresh_from_db()
    assert session.status_details == "EFT0301"


def test_unknown_session_is_200_and_logged(deliver: Any) -> None:
    webhook = signed_webhook(
        sessionId=str(uuid.uuid4()), status="Completed", statusDetails="EFT0301", referenceId="x"
    )
    response = deliver(webhook)
    assert (response.status_code, response.json()) == (200, {"outcome": "unknown_session"})
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == Outcome.UNKNOWN_SESSION
    assert delivery.session is None
    assert delivery.flinks_session_id is not None


def test_unknown_event_type_is_acknowledged_and_ignored(
    deliver: Any, make_session: Any, signals: Any
) -> None:
    session = make_session()
    webhook = signed_webhook(
        event_type="SessionSetupStepChanged",
        sessionId=str(session.session_id),
        step="MFA",
        status="InProgress",
    )
    response = deliver(webhook)
    assert (response.status_code, response.json()) == (200, {"outcome": "ignored"})
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event_type, delivery.outcome) == ("SessionSetupStepChanged", Outcome.IGNORED)
    assert delivery.flinks_session_id == session.session_id
    session.refresh_from_db()
    assert session.status == Status.INITIATED
    assert len(signals.named("webhook_received")) == 1


def test_unknown_status_value_is_ignored(deliver: Any, make_session: Any) -> None:
    session = make_session()
    response = deliver(status_webhook(session, "OnHold", "EFT0999"))
    assert response.json() == {"outcome": "ignored"}
    session.refresh_from_db()
    assert (session.status, session.remote_status) == (Status.INITIATED, "OnHold")


def test_oversized_body_is_413_and_nothing_is_stored(deliver: Any, make_session: Any, settings: Any) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "WEBHOOK_MAX_BODY": 2048}
    session = make_session()
    webhook = status_webhook(session, "Completed", "EFT0301", padding="x" * 4096)
    assert deliver(webhook).status_code == 413
    assert not WebhookDelivery.objects.exists()
    session.refresh_from_db()
    assert session.status == Status.INITIATED


def test_reconciles_an_ambiguous_creation_by_reference(deliver: Any, make_session: Any, signals: Any) -> None:
    """A creation that timed out is stored without a session id; the webhook names it by referenceId."""
    pending = make_session(session_id=None, reference_id="order-42", amount="120.00")
    other = make_session(session_id=None, reference_id="order-43", amount="120.00")
    flinks_id = uuid.uuid4()
    webhook = signed_webhook(
        sessionId=str(flinks_id),
        referenceId="order-42",
        amount=120,
        status="Completed",
        statusDetails="EFT0301",
    )
    response = deliver(webhook)
    assert response.json() == {"outcome": "applied"}
    pending.refresh_from_db()
    other.refresh_from_db()
    assert (pending.session_id, pending.status) == (flinks_id, Status.COMPLETED)
    assert other.session_id is None
    assert WebhookDelivery.objects.get().session == pending
    assert list(pending.events.values_list("kind", "source")) == [
        (SessionEvent.Kind.CREATED, "webhook"),
        (SessionEvent.Kind.TRANSITION, "webhook"),
    ]
    assert len(signals.named("status_changed")) == 1


def test_reconciliation_needs_an_amount_no_higher_than_requested(deliver: Any, make_session: Any) -> None:
    """Flinks may settle less than was asked for (a reduced offer), never more."""
    pending = make_session(session_id=None, reference_id="order-42", amount="120.00")
    webhook = signed_webhook(
        sessionId=str(uuid.uuid4()),
        referenceId="order-42",
        amount=121,
        status="Completed",
        statusDetails="EFT0301",
    )
    assert deliver(webhook).json() == {"outcome": "unknown_session"}
    pending.refresh_from_db()
    assert pending.session_id is None


def test_reconciliation_tolerates_a_reduced_offer(deliver: Any, make_session: Any, signals: Any) -> None:
    pending = make_session(session_id=None, reference_id="order-42", amount="120.00")
    flinks_id = uuid.uuid4()
    webhook = signed_webhook(
        sessionId=str(flinks_id),
        referenceId="order-42",
        amount=99,
        status="Completed",
        statusDetails="EFT0301",
    )
    assert deliver(webhook).json() == {"outcome": "applied"}
    pending.refresh_from_db()
    assert (pending.session_id, pending.settled_amount, pending.amount) == (
        flinks_id,
        Decimal("99.00"),
        Decimal("120.00"),
    )
    assert pending.events.filter(kind=SessionEvent.Kind.AMOUNT_REDUCED).count() == 1
    assert [(kw["requested"], kw["settled"]) for kw in signals.named("amount_reduced")] == [
        (Decimal("120.00"), Decimal("99.00"))
    ]


def test_a_webhook_naming_another_reference_is_a_mismatch(
    deliver: Any, make_session: Any, signals: Any
) -> None:
    session = make_session(reference_id="order-1")
    webhook = signed_webhook(
        sessionId=str(session.session_id), referenceId="order-2", status="Completed", statusDetails="EFT0301"
    )
    assert deliver(webhook).json() == {"outcome": "mismatch"}
    session.refresh_from_db()
    assert session.status == Status.INITIATED
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.session) == (Outcome.MISMATCH, session)
    assert "order-2" in delivery.error
    assert signals.named("status_changed") == []


def test_head_answers_200_and_other_methods_405(webhook_client: Any) -> None:
    url = reverse("flinks_sessions:webhook")
    assert webhook_client.head(url).status_code == 200
    for method in ("get", "put", "patch", "delete", "options"):
        assert getattr(webhook_client, method)(url).status_code == 405, method
    assert not WebhookDelivery.objects.exists()


def test_a_wrong_extra_header_does_not_hide_a_valid_one(deliver: Any, make_session: Any) -> None:
    session = make_session()
    body = status_webhook(session, "Completed", "EFT0301").body
    headers = {
        "X-Webhook-Signature": "sha256=" + "00" * 32,
        "flinks-authenticity-key": sign(body, SECRET, SignatureForm.AUTHENTICITY_KEY),
    }
    assert deliver(body=body, headers=headers).status_code == 200
    assert WebhookDelivery.objects.get().signature_form == "flinks-authenticity-key"


def test_webhook_received_waits_for_the_commit(
    make_session: Any, signals: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Processing inside a caller's transaction (the admin's Reprocess, a task) signals only once it commits."""
    from flinks_sessions.webhooks.processing import process_delivery

    session = make_session()
    webhook = status_webhook(session, "Completed", "EFT0301")
    delivery = WebhookDelivery.objects.create(body=webhook.body, signature_valid=True)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert process_delivery(delivery) == Outcome.APPLIED
        assert signals.sent == []
    for callback in callbacks:
        callback()
    assert [name for name, _ in signals.sent] == ["status_changed", "webhook_received"]


@pytest.mark.parametrize("amount", [-5, 10**12])
def test_an_amount_no_payment_could_have_is_not_stored(deliver: Any, make_session: Any, amount: int) -> None:
    session = make_session()
    webhook = signed_webhook(
        sessionId=str(session.session_id),
        referenceId=session.reference_id,
        amount=amount,
        status="Completed",
        statusDetails="EFT0301",
    )
    assert deliver(webhook).json() == {"outcome": "applied"}
    session.refresh_from_db()
    assert (session.status, session.settled_amount) == (Status.COMPLETED, None)
