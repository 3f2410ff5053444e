"""``services.decide_guarantee`` against the sandbox over HTTP: once, audited, announced; Flinks has the last word."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from flinks_sessions import services
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services.guarantee import DECIDED
from tests.factories import GEFT_PAYOR, new_session
from tests.guarantee.conftest import confirm_calls, start_geft

pytestmark = pytest.mark.django_db(transaction=True)

Outcome = services.GuaranteeOutcome
Status = PaymentSession.Status


def test_a_decision_without_the_offer_event_is_taken_and_stored(sandbox: Any, signals: Any) -> None:
    """The offer's webhook can be lost: the service works on any open GEFT session, Flinks decides."""
    session = start_geft()
    assert session.guarantee_offered_at is None

    result = services.decide_guarantee(session, True, source="api")

    assert (result.outcome, result.outcome in DECIDED) == (Outcome.ACCEPTED, True)
    assert session.guarantee_decision == PaymentSession.GuaranteeDecision.ACCEPTED
    assert session.guarantee_decided_at is not None
    assert session.guarantee_claim is None
    assert confirm_calls(sandbox) == 1
    event = session.events.get(kind=SessionEvent.Kind.GUARANTEE_DECIDED)
    assert (event.source, event.reason, event.payload["guaranteeAccepted"]) == ("api", "accepted", True)
    assert [(kw["session"].pk, kw["accepted"]) for kw in signals.named("guarantee_decided")] == [
        (session.pk, True)
    ]
    assert sandbox.state.get(str(session.session_id)).guarantee["guaranteeAccepted"] is True


def test_a_second_decision_is_refused_and_sends_nothing(sandbox: Any, signals: Any) -> None:
    session = start_geft()
    services.decide_guarantee(session, False, source="api")

    refused = services.decide_guarantee(PaymentSession.objects.get(pk=session.pk), True, source="admin")

    assert refused.outcome is Outcome.ALREADY_DECIDED
    assert "already decided: Rejected" in refused.error
    assert refused.session.guarantee_decision == "rejected"
    assert confirm_calls(sandbox) == 1
    assert len(signals.named("guarantee_decided")) == 1


def test_an_error_answer_from_flinks_is_a_typed_outcome(sandbox: Any, signals: Any) -> None:
    """Flinks refuses the decision (the session ended there before we heard): nothing is decided here."""
    session = start_geft()
    sandbox.control().fail(str(session.session_id), "EFT0404")

    result = services.decide_guarantee(session, True, source="api")

    assert result.outcome is Outcome.REFUSED
    assert "400" in result.error
    assert session.guarantee_decision == ""
    assert session.guarantee_claim is None
    assert session.events.filter(kind=SessionEvent.Kind.GUARANTEE_FAILED).count() == 1
    assert signals.named("guarantee_decided") == []


def test_a_transient_failure_leaves_the_guarantee_open_for_another_try(sandbox: Any) -> None:
    session = start_geft()
    sandbox.faults.paths = ["/guarantees/confirm"]
    sandbox.faults.fail_next_calls(503, 503, 503, 503)

    failed = services.decide_guarantee(session, True, source="api")
    assert failed.outcome is Outcome.FAILED
    assert session.guarantee_claim is None

    retried = services.decide_guarantee(session, True, source="api")
    assert retried.outcome is Outcome.ACCEPTED


def test_an_unknown_session_at_flinks_is_marked(sandbox: Any) -> None:
    session = new_session(
        session_id="00000000-0000-4000-8000-000000000001", reference_id="ghost", product="geft", amount=None
    )
    result = services.decide_guarantee(session, True, source="api")
    assert result.outcome is Outcome.NOT_FOUND
    assert session.not_found_at is not None


def test_an_ended_session_has_nothing_to_decide(sandbox: Any) -> None:
    session = start_geft()
    services.cancel_session(session, source="api")
    result = services.decide_guarantee(session, True, source="api")
    assert result.outcome is Outcome.ALREADY_TERMINAL
    assert confirm_calls(sandbox) == 0


def test_only_geft_sessions_have_a_guarantee(sandbox: Any) -> None:
    session = services.start_session(
        amount="10.00", reference_id="Happy1", payor={**GEFT_PAYOR, "email": "j@example.com"}
    )
    with pytest.raises(ValueError, match="not GEFT"):
        services.decide_guarantee(session, True, source="api")
    assert confirm_calls(sandbox) == 0


@pytest.mark.parametrize("read", ["status", "details"])
def test_a_reduced_offer_learnt_by_polling_is_settled_and_audited(
    sandbox: Any, signals: Any, read: str
) -> None:
    """No guarantee webhook and the status webhook lost: ``/status`` and ``/details`` both carry the amount."""
    session = start_geft("Happy2", "1000.00")
    sandbox.control().complete(str(session.session_id))  # auto-accepted: $500 of $1,000

    if read == "status":
        services.sync_session(session)
    else:
        details = services.fetch_details(session)
        assert details["guaranteeDetails"]["offerType"] == "Reduced"

    assert (session.status, session.settled_amount) == (Status.COMPLETED, Decimal("500.00"))
    reduced = session.events.get(kind=SessionEvent.Kind.AMOUNT_REDUCED)
    assert reduced.source == "sync"
    assert [kw["settled"] for kw in signals.named("amount_reduced")] == [Decimal("500.00")]
    services.sync_session(session)  # the same amount again: nothing new
    assert session.events.filter(kind=SessionEvent.Kind.AMOUNT_REDUCED).count() == 1
