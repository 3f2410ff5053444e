"""The cancel engine under the faults that once stranded a claim or failed a whole chunk.

Each test names the defect it pins. Flinks is the bundled sandbox, or, for answers the sandbox never gives, an
independent stand-in on loopback (``tests.standin``).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from flinks_sessions import services
from flinks_sessions.client import FlinksClient
from flinks_sessions.exceptions import FlinksError, FlinksUnavailable
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services import CancelOutcome
from flinks_sessions.status import Status
from tests.cancel_helpers import PAYOR, cancel_calls, make_session, make_sessions
from tests.conftest import flinks_settings_for
from tests.factories import new_session
from tests.standin import Reply, StandIn, flinks_standin

pytestmark = pytest.mark.django_db(transaction=True)

Kind = SessionEvent.Kind
NOT_GZIP = Reply(
    body=b"this is not gzip", headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
)


def kinds(session: PaymentSession) -> list[str]:
    return list(session.events.order_by("pk").values_list("kind", flat=True))


def stored_session() -> PaymentSession:
    """The session the stand-ins answer for (their bodies name its id)."""
    return new_session(session_id="7c2f0d52-5b6e-4d8e-9a55-0a4f3b6c1d2e")


@pytest.fixture
def standin_for(settings: Any) -> Any:
    """Point the default account at a stand-in."""

    def point(standin: StandIn) -> None:
        settings.FLINKS_SESSIONS = flinks_settings_for(standin.url)

    return point


# --- 1. a failed single cancel stranded its claim ---------------------------------------------------------------


def test_an_unconfigured_account_fails_without_a_claim_and_a_fixed_setting_cancels_at_once(
    sandbox: Any, settings: Any
) -> None:
    session = make_session(sandbox, account="geft")
    result = services.cancel_session(session, source="admin")
    assert result.outcome is CancelOutcome.FAILED
    assert "geft" in result.error
    session.refresh_from_db()
    assert session.cancel_claim is None
    assert kinds(session) == []  # no attempt was made: nothing is half-recorded
    assert cancel_calls(sandbox) == 0

    settings.FLINKS_SESSIONS = flinks_settings_for(
        sandbox.url, ACCOUNTS={"geft": {**settings.FLINKS_SESSIONS["ACCOUNTS"]["default"]}}
    )
    assert services.cancel_session(session, source="admin").outcome is CancelOutcome.CANCELLED


def test_an_exception_that_is_not_a_flinks_error_is_recorded_and_releases_the_claim(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = make_session(sandbox)

    def broken(self: FlinksClient, session_id: str) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(FlinksClient, "cancel_session", broken)
    result = services.cancel_session(session, source="admin")
    assert result.outcome is CancelOutcome.FAILED
    assert "KeyError" in result.error
    session.refresh_from_db()
    assert session.cancel_claim is None
    assert kinds(session) == [Kind.CANCEL_ATTEMPT, Kind.CANCEL_FAILED]
    monkeypatch.undo()
    assert services.cancel_session(session, source="admin").outcome is CancelOutcome.CANCELLED


# --- 2. requests errors escaped the client untyped ---------------------------------------------------------------


def test_a_body_that_is_not_the_gzip_it_claims_is_a_typed_failure(standin_for: Any) -> None:
    with flinks_standin({"/cancel": NOT_GZIP, "/status": NOT_GZIP}) as standin:
        standin_for(standin)
        session = stored_session()
        result = services.cancel_session(session, source="command")
        assert result.outcome is CancelOutcome.FAILED
        assert "ContentDecodingError" in result.error
        session.refresh_from_db()
        assert session.cancel_claim is None
        assert kinds(session) == [Kind.CANCEL_ATTEMPT, Kind.CANCEL_FAILED]

        from flinks_sessions.client import get_client

        with pytest.raises(FlinksUnavailable):
            get_client().get_status(str(session.session_id))


def test_a_garbled_creation_answer_is_an_ambiguous_flinks_error(standin_for: Any) -> None:
    with flinks_standin({"/api/v2/sessions": NOT_GZIP}) as standin:
        standin_for(standin)
        with pytest.raises(FlinksError) as info:
            services.start_session(amount="10.00", reference_id="GZ-1", payor=PAYOR)
    assert isinstance(info.value, FlinksUnavailable)
    assert info.value.ambiguous  # the request reached Flinks: reconciled by referenceId, never resent


def test_a_url_requests_cannot_send_to_is_a_typed_error(settings: Any) -> None:
    settings.FLINKS_SESSIONS = flinks_settings_for("http://exa mple.com")
    from flinks_sessions.client import get_client

    with pytest.raises(FlinksError):
        get_client().get_status("7c2f0d52-5b6e-4d8e-9a55-0a4f3b6c1d2e")


# --- 3. one bad row failed its whole chunk -----------------------------------------------------------------------


def test_one_unknown_account_fails_only_its_own_sessions(sandbox: Any) -> None:
    good = make_sessions(sandbox, 3)
    bad = make_session(sandbox, reference="BAD", account="nowhere")
    results = services.cancel_sessions([*good, bad], source="command")
    outcome = {result.session.pk: result.outcome for result in results}
    assert outcome.pop(bad.pk) is CancelOutcome.FAILED
    assert set(outcome.values()) == {CancelOutcome.CANCELLED}
    assert cancel_calls(sandbox) == 3
    bad.refresh_from_db()
    assert bad.cancel_claim is None


# --- 4. a non-terminal answer kept its claim ---------------------------------------------------------------------


@pytest.mark.parametrize("many", [False, True])
def test_a_non_terminal_answer_releases_the_claim_and_is_due_for_a_retry(
    standin_for: Any, many: bool
) -> None:
    answer = Reply.json({"sessionId": "7c2f0d52-5b6e-4d8e-9a55-0a4f3b6c1d2e", "status": "InProgress"})
    with flinks_standin({"/cancel": answer}) as standin:
        standin_for(standin)
        session = stored_session()
        if many:
            [result] = services.cancel_sessions([session], source="command")
        else:
            result = services.cancel_session(session, source="command")
    assert result.outcome is CancelOutcome.FAILED
    session.refresh_from_db()
    assert session.status == Status.IN_PROGRESS  # what Flinks said is stored
    assert session.cancel_claim is None
    assert session.last_error
    assert kinds(session) == [Kind.CANCEL_ATTEMPT, Kind.TRANSITION, Kind.CANCEL_FAILED]
    due = PaymentSession.objects.filter(cancel_requested_at__isnull=False, cancel_claim__isnull=True)
    assert list(due) == [session]
    assert session.cancel_requested_at is not None
    assert session.cancel_requested_at <= timezone.now()


# --- 5. a withdrawn intent was still cancelled by a trigger that had read it (found by the SPIN model) ------------


@pytest.mark.parametrize("trigger", ["task", "retry sweep"])
def test_an_intent_withdrawn_after_the_trigger_read_it_is_not_cancelled(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, trigger: str
) -> None:
    """The resume lands after the task (or the retry sweep) saw the intent and before its claim: nothing ends."""
    from flinks_sessions.services.accounts import Clients
    from flinks_sessions.services.graced import GRACED_REASON
    from flinks_sessions.sweeps.selection import SessionFilters, select_retry_failed
    from flinks_sessions.tasks import cancel_session_task

    session = make_session(sandbox, cancel_requested_at=timezone.now(), cancel_source="beacon")
    PaymentSession.objects.filter(pk=session.pk).update(
        cancel_reason=GRACED_REASON, last_error="earlier", cancel_failed_at=timezone.now()
    )
    real_get = Clients.get

    def resume_lands_first(self: Clients, account: str) -> Any:  # the claim has the client first
        services.withdraw_cancel(PaymentSession.objects.get(pk=session.pk), source="beacon", graced_only=True)
        return real_get(self, account)

    monkeypatch.setattr(Clients, "get", resume_lands_first)
    if trigger == "task":
        outcome = cancel_session_task.call(str(session.session_id), "beacon", GRACED_REASON)
    else:
        [due] = select_retry_failed(SessionFilters())
        [result] = services.cancel_sessions([due], source="command", if_requested=True)
        outcome = result.outcome
    assert outcome == CancelOutcome.WITHDRAWN
    session.refresh_from_db()
    assert session.status == Status.INITIATED
    assert session.cancel_requested_at is None
    assert session.cancel_claim is None
    assert cancel_calls(sandbox) == 0
    assert kinds(session) == [Kind.CANCEL_WITHDRAWN]
