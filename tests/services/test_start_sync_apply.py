"""start_session, sync_session and apply_remote_status: what is stored and what is announced."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from flinks_sessions import signals
from flinks_sessions.client import RemoteStatus
from flinks_sessions.exceptions import FlinksPermissionError, FlinksUnavailable
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services import (
    ApplyOutcome,
    SyncOutcome,
    apply_remote_status,
    start_session,
    sync_session,
)
from flinks_sessions.status import Status
from tests.conftest import flinks_settings_for
from tests.factories import PAYOR, new_session

pytestmark = pytest.mark.django_db


def remote(session: PaymentSession, status: str, details: str | None = None) -> RemoteStatus:
    return RemoteStatus.from_payload(
        {"sessionId": str(session.session_id), "status": status, "statusDetails": details, "amount": 100}
    )


@pytest.fixture
def session(sandbox: Any) -> PaymentSession:
    return start_session(amount="100.00", reference_id="Happy1", payor=PAYOR)


def test_start_session_creates_at_flinks_and_stores(sandbox: Any) -> None:
    owner = get_user_model().objects.create_user("shopper")
    session = start_session(
        amount=Decimal("65.00"), reference_id="order-42", payor=PAYOR, product="geft", owner=owner,
        metadata={"order": 42},
    )  # fmt: skip
    assert session.session_id is not None
    remote_session = sandbox.state.get(str(session.session_id))
    assert remote_session.reference_id == "order-42"
    assert session.status == Status.INITIATED
    assert session.product == "geft"
    assert session.account == "default"
    assert session.owner == owner
    assert session.amount == Decimal("65.00")
    assert session.metadata == {"order": 42}
    assert session.events.get().kind == SessionEvent.Kind.CREATED
    assert session.hosted_url() == f"{sandbox.url}/app/?sessionId={session.session_id}"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "100000.00"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"reference_id": "has space"}, "reference_id"),
        ({"reference_id": "x" * 37}, "reference_id"),
        ({"product": "bitcoin"}, "product"),
        ({"payor": {"firstName": "A"}}, "payor"),
        ({"payee": {"name": "Shop"}}, "payee"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(
    sandbox: Any, kwargs: dict[str, Any], code: str
) -> None:
    values = {"amount": "10.00", "reference_id": "Happy1", "payor": PAYOR, **kwargs}
    with pytest.raises(ValidationError) as info:
        start_session(**values)
    assert info.value.code == code
    assert sandbox.request_log == []
    assert not PaymentSession.objects.exists()


def test_geft_reference_may_be_longer(sandbox: Any) -> None:
    """GEFT takes up to 100 characters of any kind where EFT takes 36 letters, digits and '-'."""
    reference = "order " + "x" * 60
    with pytest.raises(ValidationError) as refused:
        start_session(amount="10.00", reference_id=reference, payor=PAYOR)  # EFT
    assert refused.value.code == "reference_id"

    session = start_session(amount="10.00", reference_id=reference, payor=PAYOR, product="geft")
    assert session.session_id
    assert PaymentSession.objects.get(pk=session.pk).reference_id == reference
    assert sandbox.state.get(str(session.session_id)).reference_id == reference  # sent to Flinks whole

    longest = start_session(amount="10.00", reference_id="y" * 100, payor=PAYOR, product="geft")
    assert sandbox.state.get(str(longest.session_id)).reference_id == "y" * 100
    with pytest.raises(ValidationError) as too_long:
        start_session(amount="10.00", reference_id="y" * 101, payor=PAYOR, product="geft")
    assert too_long.value.code == "reference_id"


def test_ambiguous_creation_is_recorded_for_reconciliation(sandbox: Any) -> None:
    sandbox.faults.paths = ["/api/v2/sessions"]
    sandbox.faults.fail_next_calls(503)
    with pytest.raises(FlinksUnavailable) as info:
        start_session(amount="10.00", reference_id="order-7", payor=PAYOR)
    assert info.value.ambiguous
    stored = PaymentSession.objects.get()
    assert stored.session_id is None
    assert stored.reference_id == "order-7"
    assert "creation outcome unknown" in stored.last_error


def test_a_refused_creation_stores_nothing(sandbox: Any) -> None:
    sandbox.config.disabled_products = {"geft"}
    with pytest.raises(FlinksPermissionError):
        start_session(amount="10.00", reference_id="Happy1", payor=PAYOR, product="geft")
    assert not PaymentSession.objects.exists()


def test_product_accounts_route_creation(sandbox: Any, settings: Any) -> None:
    settings.FLINKS_SESSIONS = flinks_settings_for(
        sandbox.url,
        ACCOUNTS={
            "geft": {
                "BASE_URL": sandbox.url,
                "CLIENT_ID": "sandbox-client",
                "CLIENT_SECRET": "sandbox-secret",
            }
        },
        PRODUCT_ACCOUNTS={"geft": "geft"},
    )
    assert start_session(amount="10.00", reference_id="Happy1", payor=PAYOR, product="geft").account == "geft"
    assert start_session(amount="10.00", reference_id="Happy1", payor=PAYOR).account == "default"


def test_sync_learns_an_outcome_no_webhook_reported(
    session: PaymentSession, sandbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    changes: list[dict[str, Any]] = []

    def on_change(**kwargs: Any) -> None:
        changes.append(kwargs)

    signals.session_status_changed.connect(on_change)
    try:
        sandbox.state.expire(str(session.session_id))  # Flinks never sends a webhook for Expired
        with django_capture_on_commit_callbacks(execute=True):
            result = sync_session(session)
    finally:
        signals.session_status_changed.disconnect(on_change)
    assert result.outcome is SyncOutcome.CHANGED
    session.refresh_from_db()
    assert (session.status, session.status_details) == (Status.EXPIRED, "EFT0601")
    assert session.last_synced_at is not None
    assert [c["source"] for c in changes] == ["sync"]
    assert sync_session(session).outcome is SyncOutcome.UNCHANGED


def test_sync_records_failures_and_not_found(session: PaymentSession, sandbox: Any) -> None:
    sandbox.faults.paths = ["/status"]
    sandbox.faults.error_rates = {503: 1.0}
    assert sync_session(session).outcome is SyncOutcome.FAILED
    session.refresh_from_db()
    assert session.attempt_count == 1
    assert "503" in session.last_error
    sandbox.faults.error_rates = {}
    sandbox.state.reset()
    assert sync_session(session).outcome is SyncOutcome.NOT_FOUND
    session.refresh_from_db()
    assert session.not_found_at is not None
    assert session.status == Status.INITIATED


def test_sync_skips_a_session_flinks_never_confirmed(db: Any) -> None:
    pending = new_session(session_id=None, reference_id="x", amount=1)
    assert sync_session(pending).outcome is SyncOutcome.SKIPPED


def test_apply_is_idempotent_and_order_safe(session: PaymentSession) -> None:
    assert (
        apply_remote_status(session, remote(session, "InProgress"), source="webhook").outcome
        is ApplyOutcome.APPLIED
    )
    assert apply_remote_status(session, remote(session, "Initiated", "EFT0101"), source="sync").outcome is (
        ApplyOutcome.STALE
    )
    assert (
        apply_remote_status(session, remote(session, "Canceled", "EFT0501"), source="webhook").outcome
        is ApplyOutcome.APPLIED
    )
    assert apply_remote_status(session, remote(session, "Cancelled", "EFT0501"), source="sync").outcome is (
        ApplyOutcome.DUPLICATE
    )
    assert apply_remote_status(
        session, remote(session, "Completed", "EFT0301"), source="webhook"
    ).outcome is (ApplyOutcome.STALE)
    session.refresh_from_db()
    assert session.status == Status.CANCELLED
    assert session.remote_status == "Canceled"
    assert session.events.filter(kind=SessionEvent.Kind.TRANSITION).count() == 2


def test_pad_pending_completion_may_become_scheduled(session: PaymentSession) -> None:
    assert (
        apply_remote_status(session, remote(session, "Completed", "EFT0302"), source="webhook").outcome
        is ApplyOutcome.APPLIED
    )
    assert (
        apply_remote_status(session, remote(session, "Completed", "EFT0301"), source="sync").outcome
        is ApplyOutcome.APPLIED
    )
    assert apply_remote_status(
        session, remote(session, "Completed", "EFT0302"), source="webhook"
    ).outcome is (ApplyOutcome.STALE)
    assert session.status_details == "EFT0301"


def test_unknown_status_is_kept_raw_and_changes_nothing(session: PaymentSession) -> None:
    result = apply_remote_status(session, remote(session, "OnHold"), source="webhook")
    assert result.outcome is ApplyOutcome.UNKNOWN_STATUS
    session.refresh_from_db()
    assert session.status == Status.INITIATED
    assert session.remote_status == "OnHold"


def test_actor_and_reason_reach_the_audit(session: PaymentSession) -> None:
    staff = get_user_model().objects.create_user("operator", is_staff=True)
    apply_remote_status(
        session, remote(session, "Failed", "EFT0403"), source="admin", actor=staff, reason="r"
    )
    event = session.events.get(kind=SessionEvent.Kind.TRANSITION)
    assert (event.actor, event.reason, event.status_details) == (staff, "r", "EFT0403")
    with pytest.raises(ValueError, match="append-only"):
        event.save()


def test_reprs_and_strings(session: PaymentSession) -> None:
    assert str(session.session_id) in str(session)
    assert str(PaymentSession(reference_id="r", amount=1)).startswith("r (")
    assert uuid.UUID(str(session.session_id))
