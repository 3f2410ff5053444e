"""The three claims (cancel, restart, guarantee) after a worker dies or stalls past the TTL.

"A dead worker's claim blocks nothing once its TTL has passed": a stale claim is taken over. And the worker that
stalled and comes back after the takeover must not release the claim it no longer holds: its finish stores what
Flinks told it through the state machine (once), and leaves the new holder's claim alone.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.utils import timezone

from flinks_sessions import services
from flinks_sessions.client import FlinksClient
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services import CancelOutcome, RestartOutcome, restart_session
from flinks_sessions.services import restart as restart_module
from flinks_sessions.services.engine import claim_ttl
from flinks_sessions.status import Status
from tests.cancel_helpers import cancel_calls, make_session, signal_log, spy_on_rows_stored_one_by_one
from tests.guarantee.conftest import confirm_calls, start_geft

pytestmark = pytest.mark.django_db(transaction=True)

PAYOR = {"firstName": "John", "lastName": "Doe", "email": "john@example.com"}


def stale() -> Any:
    return timezone.now() - claim_ttl() * 2


def created_at_flinks(sandbox: Any) -> int:
    return int(sandbox.count(method="POST", path_suffix="/api/v2/sessions"))


def test_a_cancel_whose_claim_was_taken_over_is_stored_under_the_row_lock(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While our call is in flight another worker takes the claim over. Flinks' answer (Cancelled) is still the
    truth, but the group finish's UPDATE, which proves each row still holds our claim, no longer matches: the
    row is stored the single cancel's way, through the state machine under the row lock. One transition, one
    signal; the terminal state ends the taker's claim too (nothing is left for it to protect)."""
    session = make_session(sandbox)
    real_call = FlinksClient.cancel_session

    def call_meanwhile_taken_over(client: Any, session_id: str) -> Any:
        PaymentSession.objects.filter(pk=session.pk).update(
            cancel_claim=uuid.uuid4(), cancel_claimed_at=timezone.now()
        )
        return real_call(client, session_id)

    monkeypatch.setattr(FlinksClient, "cancel_session", call_meanwhile_taken_over)
    stored_one_by_one = spy_on_rows_stored_one_by_one(monkeypatch)
    with signal_log() as signals:
        result = services.cancel_session(session, source="admin")

    assert stored_one_by_one == [session.pk]
    assert result.outcome is CancelOutcome.CANCELLED
    row = PaymentSession.objects.get(pk=session.pk)
    assert (row.status, row.cancel_claim) == (Status.CANCELLED, None)
    assert signals.cancelled == signals.changed == {session.pk: 1}
    assert cancel_calls(sandbox) == 1


def test_a_failed_cancel_whose_claim_was_taken_over_leaves_the_new_claim_alone(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stalled worker's call fails after another took the claim over: it records the failure and releases
    its own claim only, so the taker's cancel in flight stays protected."""
    session = make_session(sandbox)
    taker = uuid.uuid4()
    real_call = FlinksClient.cancel_session

    def call_meanwhile_taken_over(client: Any, session_id: str) -> Any:
        PaymentSession.objects.filter(pk=session.pk).update(
            cancel_claim=taker, cancel_claimed_at=timezone.now()
        )
        return real_call(client, session_id)

    monkeypatch.setattr(FlinksClient, "cancel_session", call_meanwhile_taken_over)
    sandbox.faults.paths = [f"/{session.session_id}/cancel"]
    sandbox.faults.error_rates = {503: 1.0}
    result = services.cancel_session(session, source="admin")

    assert result.outcome is CancelOutcome.FAILED
    row = PaymentSession.objects.get(pk=session.pk)
    assert (row.status, row.cancel_claim) == (Status.INITIATED, taker)
    assert row.cancel_claimed_at is not None


def test_a_stale_restart_claim_is_taken_over(sandbox: Any) -> None:
    """A restart whose worker died after claiming: once the TTL has passed, "Start again" works again."""
    session = services.start_session(amount="39.99", reference_id="order-7", payor=PAYOR)
    PaymentSession.objects.filter(pk=session.pk).update(
        restart_claim=uuid.uuid4(), restart_claimed_at=timezone.now()
    )
    pending = restart_session(PaymentSession.objects.get(pk=session.pk))
    assert pending.outcome is RestartOutcome.PENDING

    PaymentSession.objects.filter(pk=session.pk).update(restart_claimed_at=stale())
    result = restart_session(PaymentSession.objects.get(pk=session.pk))

    assert result.outcome is RestartOutcome.CREATED
    assert result.session.restarted_from == session
    assert created_at_flinks(sandbox) == 2


def test_a_stale_restart_claim_with_a_successor_is_not_taken_again(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A racer that read "no successor" before the winner stored one, and claims after the winner's claim went
    stale: the claim's own "no successor yet" condition sends it to the successor, with no second creation."""
    session = services.start_session(amount="39.99", reference_id="order-7", payor=PAYOR)
    successor = restart_session(session).session
    PaymentSession.objects.filter(pk=session.pk).update(
        restart_claim=uuid.uuid4(), restart_claimed_at=stale()
    )
    real_successor_of = restart_module.successor_of
    reads: list[int] = []

    def read_before_the_winner_stored(predecessor: PaymentSession) -> PaymentSession | None:
        reads.append(predecessor.pk)
        return None if len(reads) == 1 else real_successor_of(predecessor)

    monkeypatch.setattr(restart_module, "successor_of", read_before_the_winner_stored)

    again = restart_session(PaymentSession.objects.get(pk=session.pk))
    assert (again.outcome, again.session) == (RestartOutcome.EXISTED, successor)
    assert created_at_flinks(sandbox) == 2  # the original and the one successor
    assert len(reads) == 2


def test_a_stale_guarantee_claim_is_taken_over(sandbox: Any) -> None:
    session = start_geft()
    PaymentSession.objects.filter(pk=session.pk).update(
        guarantee_claim=uuid.uuid4(), guarantee_claimed_at=stale()
    )

    result = services.decide_guarantee(PaymentSession.objects.get(pk=session.pk), True, source="api")

    assert result.outcome is services.GuaranteeOutcome.ACCEPTED
    assert confirm_calls(sandbox) == 1
    row = PaymentSession.objects.get(pk=session.pk)
    assert row.guarantee_decision == PaymentSession.GuaranteeDecision.ACCEPTED
    assert row.guarantee_claim is None


def test_a_guarantee_decision_whose_claim_was_taken_over_leaves_the_new_claim_alone(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = start_geft()
    taker = uuid.uuid4()
    real_confirm = FlinksClient.confirm_guarantee

    def confirm_meanwhile_taken_over(client: Any, session_id: str, *, accepted: bool) -> Any:
        PaymentSession.objects.filter(pk=session.pk).update(
            guarantee_claim=taker, guarantee_claimed_at=timezone.now()
        )
        return real_confirm(client, session_id, accepted=accepted)

    monkeypatch.setattr(FlinksClient, "confirm_guarantee", confirm_meanwhile_taken_over)
    result = services.decide_guarantee(session, False, source="api")

    assert result.outcome is services.GuaranteeOutcome.REJECTED
    row = PaymentSession.objects.get(pk=session.pk)
    assert row.guarantee_decision == PaymentSession.GuaranteeDecision.REJECTED
    assert row.guarantee_claim == taker


def test_an_intent_a_worker_has_claimed_is_not_withdrawn(sandbox: Any) -> None:
    """withdraw_cancel takes back only an intent no worker has claimed: once the call to Flinks may be in flight,
    the shopper's return cannot undo it, and the intent stays for the worker's finish and the sweeps."""
    now = timezone.now()
    session = make_session(
        sandbox,
        cancel_requested_at=now,
        cancel_source="beacon",
        cancel_reason="pagehide",
        cancel_claim=uuid.uuid4(),
        cancel_claimed_at=now,
    )

    assert services.withdraw_cancel(session, source="beacon") is False

    row = PaymentSession.objects.get(pk=session.pk)
    assert (row.cancel_requested_at, row.cancel_source, row.cancel_reason) == (now, "beacon", "pagehide")
    assert not row.events.filter(kind=SessionEvent.Kind.CANCEL_WITHDRAWN).exists()
