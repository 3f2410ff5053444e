"""restart_session: "Start again" gives one successor for the same order, after ending the predecessor."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from flinks_sessions import signals
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services import RestartOutcome, restart_session, start_session, successor_of
from flinks_sessions.status import Status
from tests.cancel_helpers import cancel_calls
from tests.factories import PAYOR

pytestmark = pytest.mark.django_db(transaction=True)


def created_at_flinks(sandbox: Any) -> int:
    return sandbox.count(method="POST", path_suffix="/api/v2/sessions")


@pytest.fixture
def session(sandbox: Any) -> PaymentSession:
    return start_session(
        amount="39.99", reference_id="order-7", payor=PAYOR, metadata={"product": "wool-toque"}
    )


def test_an_open_session_is_cancelled_then_replaced_for_the_same_order(
    sandbox: Any, session: PaymentSession
) -> None:
    restarted: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        restarted.append(kwargs)

    signals.session_restarted.connect(receiver, weak=False)
    try:
        result = restart_session(session, source="beacon", reason="start again")
        successor = result.session
    finally:
        signals.session_restarted.disconnect(receiver)

    assert result.outcome is RestartOutcome.CREATED
    session.refresh_from_db()
    assert session.status == Status.CANCELLED
    assert cancel_calls(sandbox, session) == 1
    assert successor.session_id != session.session_id
    assert successor.reference_id == "order-7"
    assert successor.amount == Decimal("39.99")
    assert successor.metadata == {"product": "wool-toque"}
    assert successor.restarted_from == session
    assert successor_of(session) == successor
    assert sandbox.state.get(str(successor.session_id)).reference_id == "order-7"
    event = session.events.get(kind=SessionEvent.Kind.RESTARTED)
    assert (event.source, event.reason, event.payload) == (
        "beacon",
        "start again",
        {"successor": str(successor.session_id)},
    )
    assert successor.events.get().reason == f"restart of {session.session_id}"
    assert [(r["session"], r["previous"], r["source"]) for r in restarted] == [(successor, session, "beacon")]


def test_the_successor_s_creation_records_who_restarted_it(
    sandbox: Any, session: PaymentSession, django_user_model: Any
) -> None:
    """The successor's ``created`` row says who asked, as every other audit row of the restart does."""
    operator = django_user_model.objects.create_user("operator")
    successor = restart_session(session, source="admin", actor=operator, reason="start again").session

    created = successor.events.get(kind=SessionEvent.Kind.CREATED)
    assert (created.source, created.actor, created.from_status, created.to_status) == (
        "admin",
        operator,
        "",
        Status.INITIATED,
    )
    assert session.events.get(kind=SessionEvent.Kind.RESTARTED).actor == operator


def test_a_second_restart_answers_the_same_successor(sandbox: Any, session: PaymentSession) -> None:
    first = restart_session(session)
    second = restart_session(PaymentSession.objects.get(pk=session.pk))
    assert first.session == second.session
    assert (first.outcome, second.outcome) == (RestartOutcome.CREATED, RestartOutcome.EXISTED)
    assert created_at_flinks(sandbox) == 2  # the original and one successor


def test_overrides_replace_what_the_predecessor_had(sandbox: Any, session: PaymentSession) -> None:
    successor = restart_session(session, amount="12.00", payor={**PAYOR, "firstName": "Jane"}).session
    assert successor.amount == Decimal("12.00")
    assert successor.start_params["payor"]["firstName"] == "Jane"
    with pytest.raises(TypeError, match="reference_id"):
        restart_session(successor, reference_id="another-order")


def test_a_completed_session_is_never_restarted(sandbox: Any, session: PaymentSession) -> None:
    PaymentSession.objects.filter(pk=session.pk).update(status=Status.COMPLETED)
    session.refresh_from_db()
    refused = restart_session(session)
    assert refused.outcome is RestartOutcome.REFUSED
    assert "completed" in refused.error
    assert created_at_flinks(sandbox) == 1


def test_a_held_claim_answers_pending_and_a_failed_creation_releases_it(
    sandbox: Any, session: PaymentSession
) -> None:
    PaymentSession.objects.filter(pk=session.pk).update(restart_claimed_at=timezone.now())
    assert restart_session(session).outcome is RestartOutcome.PENDING
    PaymentSession.objects.filter(pk=session.pk).update(restart_claimed_at=None)
    with pytest.raises(ValidationError):
        restart_session(session, product="nope")
    session.refresh_from_db()
    assert session.restart_claimed_at is None
    assert created_at_flinks(sandbox) == 1
    assert restart_session(session).session.restarted_from == session  # the shopper may try again


def test_a_creation_flinks_failed_releases_the_claim(sandbox: Any, session: PaymentSession) -> None:
    """Flinks could not create the successor: the answer is ``failed`` and the claim is released, so the
    shopper's next click creates it (validation happens before the claim, so only Flinks' failure shows this)."""
    from flinks_sessions.services import cancel_session

    cancel_session(session, source="admin")
    sandbox.faults.paths = ["/api/v2/sessions"]
    sandbox.faults.error_rates = {503: 1.0}

    failed = restart_session(session)

    assert failed.outcome is RestartOutcome.FAILED
    session.refresh_from_db()
    assert (session.restart_claim, session.restart_claimed_at) == (None, None)
    sandbox.faults.error_rates = {}
    assert restart_session(session).outcome is RestartOutcome.CREATED
