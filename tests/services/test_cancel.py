"""cancel_session and request_cancel against the sandbox: every outcome, exactly one transition and signal."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from flinks_sessions import signals
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services import (
    CancelOutcome,
    cancel_session,
    request_cancel,
    start_session,
    withdraw_cancel,
)
from flinks_sessions.status import Status
from tests.factories import PAYOR

pytestmark = pytest.mark.django_db


class Recorder:
    """Counts what each signal announced."""

    def __init__(self) -> None:
        self.cancelled: list[dict[str, Any]] = []
        self.changed: list[dict[str, Any]] = []

    def on_cancelled(self, sender: type, **kwargs: Any) -> None:
        assert sender is PaymentSession
        self.cancelled.append(kwargs)

    def on_changed(self, sender: type, **kwargs: Any) -> None:
        assert sender is PaymentSession
        self.changed.append(kwargs)


@pytest.fixture
def heard() -> Iterator[Recorder]:
    recorder = Recorder()
    signals.session_cancelled.connect(recorder.on_cancelled)
    signals.session_status_changed.connect(recorder.on_changed)
    yield recorder
    signals.session_cancelled.disconnect(recorder.on_cancelled)
    signals.session_status_changed.disconnect(recorder.on_changed)


@pytest.fixture
def session(sandbox: Any) -> PaymentSession:
    return start_session(amount="100.00", reference_id="Happy1", payor=PAYOR)


def transitions(session: PaymentSession) -> list[SessionEvent]:
    return list(session.events.filter(kind=SessionEvent.Kind.TRANSITION))


def cancel_calls(sandbox: Any) -> int:
    return sandbox.count(method="POST", path_suffix="/cancel")


def test_cancel_ends_the_session_once(
    session: PaymentSession, sandbox: Any, heard: Recorder, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        result = cancel_session(session, source="admin", reason="operator asked")
    assert result.outcome is CancelOutcome.CANCELLED
    session.refresh_from_db()
    assert session.status == Status.CANCELLED
    assert session.status_details == "EFT0501"
    assert session.remote_status == "Cancelled"
    assert session.cancelled_at is not None
    assert session.cancel_claim is None
    assert sandbox.state.get(str(session.session_id)).status_label() == "Cancelled"
    [event] = transitions(session)
    assert (event.from_status, event.to_status, event.source, event.reason) == (
        "initiated", "cancelled", "admin", "operator asked",
    )  # fmt: skip
    assert event.payload["statusDetails"] == "EFT0501"
    assert [c["source"] for c in heard.cancelled] == ["admin"]
    assert heard.cancelled[0]["reason"] == "operator asked"
    assert [(c["previous_status"], c["status"]) for c in heard.changed] == [("initiated", "cancelled")]

    with django_capture_on_commit_callbacks(execute=True):
        again = cancel_session(session, source="command")
    assert again.outcome is CancelOutcome.ALREADY_TERMINAL
    assert cancel_calls(sandbox) == 1
    assert len(heard.cancelled) == 1
    assert len(transitions(session)) == 1


def test_already_terminal_upstream_stores_the_truth(
    session: PaymentSession, sandbox: Any, heard: Recorder, django_capture_on_commit_callbacks: Any
) -> None:
    sandbox.state.complete(str(session.session_id))
    with django_capture_on_commit_callbacks(execute=True):
        result = cancel_session(session, source="command")
    assert result.outcome is CancelOutcome.ALREADY_TERMINAL
    session.refresh_from_db()
    assert session.status == Status.COMPLETED
    assert session.status_details == "EFT0301"
    assert heard.cancelled == []
    assert [c["status"] for c in heard.changed] == ["completed"]


def test_not_found_marks_and_changes_nothing_else(
    session: PaymentSession, sandbox: Any, heard: Recorder
) -> None:
    sandbox.state.reset()
    result = cancel_session(session, source="command")
    assert result.outcome is CancelOutcome.NOT_FOUND
    session.refresh_from_db()
    assert session.status == Status.INITIATED
    assert session.not_found_at is not None
    assert session.cancel_claim is None
    assert session.events.filter(kind=SessionEvent.Kind.NOT_FOUND).count() == 1
    assert heard.changed == []
    assert cancel_session(session, source="command").outcome is CancelOutcome.NOT_FOUND
    assert cancel_calls(sandbox) == 1


def test_a_failure_that_outlives_the_retries_is_recorded(
    session: PaymentSession, sandbox: Any, heard: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.faults.paths = ["/cancel"]
    sandbox.faults.error_rates = {503: 1.0}
    with caplog.at_level(logging.DEBUG, logger="flinks_sessions"):
        result = cancel_session(session, source="beacon")
    assert result.outcome is CancelOutcome.FAILED
    assert "503" in result.error
    session.refresh_from_db()
    assert session.status == Status.INITIATED
    assert session.attempt_count == 1
    assert session.last_error
    assert session.cancel_claim is None
    assert session.has_pending_cancel
    assert session.cancel_source == "beacon"
    assert session.events.filter(kind=SessionEvent.Kind.CANCEL_FAILED).count() == 1
    assert heard.changed == []
    assert "sandbox-secret" not in caplog.text

    sandbox.faults.error_rates = {}
    assert cancel_session(session, source="command").outcome is CancelOutcome.CANCELLED
    session.refresh_from_db()
    # The first asker stays on record: the shopper's beacon is why this session was cancelled.
    assert session.cancel_source == "beacon"


def test_a_live_claim_makes_others_back_off(session: PaymentSession, sandbox: Any) -> None:
    from django.utils import timezone

    PaymentSession.objects.filter(pk=session.pk).update(
        cancel_claim=uuid.uuid4(), cancel_claimed_at=timezone.now()
    )
    assert cancel_session(session, source="admin").outcome is CancelOutcome.PENDING
    assert cancel_calls(sandbox) == 0


def test_a_stale_claim_is_taken_over(session: PaymentSession, sandbox: Any) -> None:
    from django.utils import timezone

    from flinks_sessions.services.engine import claim_ttl

    stale = timezone.now() - claim_ttl() * 2
    PaymentSession.objects.filter(pk=session.pk).update(cancel_claim=uuid.uuid4(), cancel_claimed_at=stale)
    assert cancel_session(session, source="command").outcome is CancelOutcome.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_cancel_refuses_to_run_inside_a_transaction(session: PaymentSession, sandbox: Any) -> None:
    # An HTTP call under a row lock held by the caller's transaction would break the one rule.
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        cancel_session(session, source="admin")
    assert cancel_calls(sandbox) == 0


def test_unknown_source_is_refused(session: PaymentSession) -> None:
    with pytest.raises(ValueError, match="source must be one of"):
        cancel_session(session, source="cron")


def test_a_raising_receiver_does_not_break_the_cancel(
    session: PaymentSession, django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    signals.session_cancelled.connect(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True), caplog.at_level(logging.ERROR):
            result = cancel_session(session, source="admin")
    finally:
        signals.session_cancelled.disconnect(broken)
    assert result.outcome is CancelOutcome.CANCELLED
    assert "receiver bug" in caplog.text


def test_signals_wait_for_commit(
    session: PaymentSession, heard: Recorder, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cancel_session(session, source="admin")
    assert heard.cancelled == []
    for callback in callbacks:
        callback()
    assert len(heard.cancelled) == 1


def test_request_cancel_records_intent_and_runs_the_task(
    session: PaymentSession, sandbox: Any, heard: Recorder, django_capture_on_commit_callbacks: Any
) -> None:
    # The test settings use the Immediate backend, so the task runs when the transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        assert request_cancel(session.session_id, source="beacon", reason="pagehide") is True
    session.refresh_from_db()
    assert session.status == Status.CANCELLED
    assert session.cancel_source == "beacon"
    assert session.cancel_reason == "pagehide"
    assert [c["source"] for c in heard.cancelled] == ["beacon"]
    with django_capture_on_commit_callbacks(execute=True):
        assert request_cancel(session, source="beacon") is False
    assert cancel_calls(sandbox) == 1


def test_request_cancel_twice_enqueues_once(
    session: PaymentSession, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert request_cancel(session, source="beacon") is True
        assert request_cancel(session, source="beacon") is False
    assert len(callbacks) == 1


def test_request_cancel_of_unknown_session(db: Any) -> None:
    assert request_cancel(uuid.uuid4(), source="beacon") is False


def test_withdraw_before_the_worker_claims(
    session: PaymentSession, sandbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert request_cancel(session, source="beacon", delay=10) is True
    assert withdraw_cancel(session, source="beacon") is True
    for callback in callbacks:
        callback()  # the deferred task runs, finds no standing intent, and does nothing
    session.refresh_from_db()
    assert session.status == Status.INITIATED
    assert not session.has_pending_cancel
    assert cancel_calls(sandbox) == 0
    assert session.events.filter(kind=SessionEvent.Kind.CANCEL_WITHDRAWN).count() == 1


def test_request_cancel_writes_what_the_orm_would(
    session: PaymentSession, django_capture_on_commit_callbacks: Any, django_assert_num_queries: Any
) -> None:
    """The intent UPDATE is written out by hand (the beacon's hot path); it must store and refuse alike."""
    long_reason = "x" * 300
    with django_capture_on_commit_callbacks(execute=False) as callbacks, django_assert_num_queries(1):
        assert request_cancel(str(session.session_id), source="beacon", reason=long_reason) is True
    assert len(callbacks) == 1
    stored = PaymentSession.objects.get(pk=session.pk)
    assert stored.cancel_source == "beacon"
    assert stored.cancel_reason == long_reason[:255]
    assert stored.cancel_requested_at is not None
    assert stored.updated_at == stored.cancel_requested_at
    assert stored.cancel_requested_at.tzinfo is not None


@pytest.mark.parametrize("status", [Status.CANCELLED, Status.COMPLETED])
def test_request_cancel_of_an_ended_session_changes_nothing(
    session: PaymentSession, status: Status, django_capture_on_commit_callbacks: Any
) -> None:
    PaymentSession.objects.filter(pk=session.pk).update(status=status)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert request_cancel(session.session_id, source="beacon") is False
    assert callbacks == []
    assert PaymentSession.objects.get(pk=session.pk).cancel_requested_at is None


def test_request_cancel_of_a_malformed_id_raises_like_the_orm(db: Any) -> None:
    with pytest.raises(ValidationError):
        request_cancel("not-a-uuid", source="beacon")
