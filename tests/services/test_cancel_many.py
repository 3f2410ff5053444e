"""cancel_sessions (the batched cancel sweeps use) against the sandbox: every outcome in one mixed run.

Most tests commit (``transaction=True``) so the real pipeline runs: a claimer thread, a pool of HTTP-only
threads and a finisher, each with its own connection. One test runs inside a test transaction, where the
same claims and finishes run one session at a time in the calling thread.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from flinks_sessions import services
from flinks_sessions.client import FlinksClient, RemoteStatus
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services import CancelOutcome, Result
from flinks_sessions.status import Status
from flinks_sessions.sweeps.selection import SessionFilters, select_retry_failed
from tests.cancel_helpers import (
    cancel_calls,
    make_session,
    make_sessions,
    signal_log,
    spy_on_rows_stored_one_by_one,
)

pytestmark = pytest.mark.django_db(transaction=True)

Kind = SessionEvent.Kind


def kinds(session: PaymentSession) -> list[str]:
    return list(SessionEvent.objects.filter(session=session).order_by("pk").values_list("kind", flat=True))


def by_reference(results: list[Result[CancelOutcome]]) -> dict[str, Result[CancelOutcome]]:
    return {result.session.reference_id: result for result in results}


def test_a_mixed_run_gives_every_outcome_once(sandbox: Any) -> None:
    now = timezone.now()
    plain = make_sessions(sandbox, 5, reference="OPEN")
    moving = make_session(sandbox, reference="INPROGRESS", status=Status.IN_PROGRESS)
    done = make_session(sandbox, reference="DONE", status=Status.COMPLETED)
    ghost = make_session(sandbox, reference="GHOST", remote=False)  # Flinks answers 404
    failing = make_session(sandbox, reference="FAILING")
    ended = make_session(sandbox, reference="ENDED")  # ended upstream: /cancel says 400
    held = make_session(sandbox, reference="HELD", cancel_claim=uuid.uuid4(), cancel_claimed_at=now)
    stale = make_session(
        sandbox, reference="STALE", cancel_claim=uuid.uuid4(), cancel_claimed_at=now - timedelta(hours=2)
    )
    asked = make_session(
        sandbox, reference="ASKED", cancel_requested_at=now, cancel_source="beacon", cancel_reason="left"
    )
    uncreated = make_session(sandbox, reference="UNCREATED", session_id=None, remote=False)
    marked = make_session(sandbox, reference="MARKED", not_found_at=now)
    sandbox.faults.paths = [f"/{failing.session_id}/cancel"]
    sandbox.faults.error_rates = {503: 1.0}
    sandbox.state.complete(str(ended.session_id), "EFT0301")
    everyone = [*plain, moving, done, ghost, failing, ended, held, stale, asked, uncreated, marked]

    seen: list[Result[CancelOutcome]] = []
    with signal_log() as signals:
        results = services.cancel_sessions(
            everyone, source="command", reason="sweep", concurrency=4, on_result=seen.append
        )

    assert seen == results
    assert sorted(r.session.pk for r in results) == sorted(s.pk for s in everyone)
    outcome = {ref: result.outcome for ref, result in by_reference(results).items()}
    assert outcome == {
        **{s.reference_id: CancelOutcome.CANCELLED for s in plain},
        "INPROGRESS": CancelOutcome.CANCELLED,
        "DONE": CancelOutcome.ALREADY_TERMINAL,
        "GHOST": CancelOutcome.NOT_FOUND,
        "FAILING": CancelOutcome.FAILED,
        "ENDED": CancelOutcome.ALREADY_TERMINAL,
        "HELD": CancelOutcome.PENDING,
        "STALE": CancelOutcome.CANCELLED,
        "ASKED": CancelOutcome.CANCELLED,
        "UNCREATED": CancelOutcome.FAILED,
        "MARKED": CancelOutcome.NOT_FOUND,
    }
    # Flinks saw one cancel for each session that could be claimed, and none for the others.
    for session in [*plain, moving, ghost, ended, stale, asked]:
        assert cancel_calls(sandbox, session) == 1, session.reference_id
    assert cancel_calls(sandbox, failing) == 4  # the client's retries, then a recorded failure
    for session in (done, held, marked):
        assert cancel_calls(sandbox, session) == 0, session.reference_id
    assert cancel_calls(sandbox) == 4 + len(plain) + 5  # nothing sent for the never-created one
    assert sandbox.count(path_suffix="/authorize") == 1

    rows = {row.reference_id: row for row in PaymentSession.objects.all()}
    for ref in [s.reference_id for s in plain] + ["INPROGRESS", "STALE", "ASKED"]:
        row = rows[ref]
        assert (row.status, row.status_details, row.remote_status) == (
            Status.CANCELLED,
            "EFT0501",
            "Cancelled",
        )
        assert row.cancelled_at is not None
        assert row.last_synced_at is not None
        assert row.cancel_claim is None
        assert row.cancel_claimed_at is None
        assert kinds(row) == [Kind.CANCEL_ATTEMPT, Kind.TRANSITION], ref
        assert (signals.cancelled[row.pk], signals.changed[row.pk]) == (1, 1), ref
    # The first asker's intent is kept; the sweep's is recorded where there was none.
    assert (rows["ASKED"].cancel_source, rows["ASKED"].cancel_reason) == ("beacon", "left")
    assert (rows["OPEN-0"].cancel_source, rows["OPEN-0"].cancel_reason) == ("command", "sweep")
    assert sorted(signals.cancelled_sources) == sorted(["command"] * 7 + ["beacon"])
    transition = SessionEvent.objects.get(session=rows["INPROGRESS"], kind=Kind.TRANSITION)
    assert (transition.from_status, transition.to_status) == (Status.IN_PROGRESS, Status.CANCELLED)
    assert (transition.source, transition.reason) == ("command", "sweep")
    assert transition.payload["status"] == "Cancelled"

    ghost_row = rows["GHOST"]
    assert ghost_row.not_found_at is not None
    assert ghost_row.status == Status.INITIATED
    assert ghost_row.cancel_claim is None
    assert kinds(ghost_row) == [Kind.CANCEL_ATTEMPT, Kind.NOT_FOUND]

    failing_row = rows["FAILING"]
    assert failing_row.status == Status.INITIATED
    assert failing_row.cancel_claim is None
    assert failing_row.attempt_count == 1
    assert "503" in failing_row.last_error
    assert failing_row.last_error_at is not None
    assert failing_row.cancel_requested_at is not None
    assert kinds(failing_row) == [Kind.CANCEL_ATTEMPT, Kind.CANCEL_FAILED]
    assert "503" in by_reference(results)["FAILING"].error
    # ... so that --retry-failed picks it up.
    assert list(select_retry_failed(SessionFilters())) == [failing_row]

    ended_row = rows["ENDED"]
    assert (ended_row.status, ended_row.status_details) == (Status.COMPLETED, "EFT0301")
    assert ended_row.cancel_claim is None
    assert kinds(ended_row) == [Kind.CANCEL_ATTEMPT, Kind.TRANSITION]
    assert signals.changed[ended_row.pk] == 1
    assert signals.cancelled[ended_row.pk] == 0

    # Nothing changed for the sessions that were not claimed: no intent, no audit row, the claim untouched.
    for ref in ("DONE", "HELD", "UNCREATED", "MARKED"):
        assert (rows[ref].cancel_requested_at, kinds(rows[ref])) == (None, []), ref
    assert rows["HELD"].cancel_claim == held.cancel_claim
    assert "never confirmed" in by_reference(results)["UNCREATED"].error

    # The caller's objects carry the stored state.
    assert all(s.status == Status.CANCELLED for s in plain)
    assert ended.status == Status.COMPLETED
    assert failing.attempt_count == 1


def test_a_session_named_twice_is_cancelled_once(sandbox: Any) -> None:
    session = make_session(sandbox)
    twin = PaymentSession.objects.get(pk=session.pk)
    results = services.cancel_sessions([session, twin], source="admin")
    assert sorted(result.outcome for result in results) == [CancelOutcome.CANCELLED, CancelOutcome.PENDING]
    assert cancel_calls(sandbox) == 1


def test_rows_claimed_in_different_states_are_stored_together(sandbox: Any) -> None:
    """One finish batch, several groups (status, details): one UPDATE each, all proven unchanged."""
    sessions = [
        *make_sessions(sandbox, 6, reference="A"),
        *make_sessions(sandbox, 6, reference="B", status=Status.IN_PROGRESS),
        *make_sessions(sandbox, 6, reference="C", status=Status.IN_PROGRESS, status_details="EFT0101"),
    ]
    with signal_log() as signals:
        results = services.cancel_sessions(sessions, source="command", concurrency=8)
    assert Counter(result.outcome for result in results) == {CancelOutcome.CANCELLED: 18}
    assert set(PaymentSession.objects.values_list("status", flat=True)) == {Status.CANCELLED}
    assert SessionEvent.objects.filter(kind=Kind.TRANSITION).count() == 18
    assert signals.cancelled == {s.pk: 1 for s in sessions} == signals.changed


@pytest.mark.parametrize(
    ("report", "expected", "final"),
    [
        ("InProgress", CancelOutcome.CANCELLED, Status.CANCELLED),
        ("Completed", CancelOutcome.ALREADY_TERMINAL, Status.COMPLETED),
    ],
)
def test_a_row_that_moves_during_the_call_is_stored_under_the_row_lock(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, report: str, expected: CancelOutcome, final: Status
) -> None:
    """Flinks reports a status (as a webhook would) while the cancel is in flight: the batch UPDATE no longer
    matches, so every answer of that batch is stored the single cancel's way. Still one transition each."""
    sessions = make_sessions(sandbox, 6)
    mover = sessions[2]
    real_call = FlinksClient.cancel_session

    def call_after_a_webhook(client: Any, session_id: str) -> Any:
        if session_id == str(mover.session_id):
            payload = {"sessionId": session_id, "status": report, "statusDetails": "EFT0301"}
            try:
                services.apply_remote_status(
                    PaymentSession.objects.get(pk=mover.pk),
                    RemoteStatus.from_payload(payload),
                    source="webhook",
                )
            finally:
                connections.close_all()
        return real_call(client, session_id)

    monkeypatch.setattr(FlinksClient, "cancel_session", call_after_a_webhook)
    stored_one_by_one = spy_on_rows_stored_one_by_one(monkeypatch)
    with signal_log() as signals:
        results = services.cancel_sessions(sessions, source="command", concurrency=6)

    outcome = {result.session.pk: result.outcome for result in results}
    assert outcome.pop(mover.pk) is expected
    assert set(outcome.values()) == {CancelOutcome.CANCELLED}
    mover.refresh_from_db()
    assert mover.status == final
    assert mover.cancel_claim is None
    moves = list(
        SessionEvent.objects.filter(session=mover, kind=Kind.TRANSITION).values_list("to_status", flat=True)
    )
    assert moves == (
        [Status.IN_PROGRESS, Status.CANCELLED] if final == Status.CANCELLED else [Status.COMPLETED]
    )
    assert signals.changed[mover.pk] == len(moves)
    assert signals.cancelled[mover.pk] == (1 if final == Status.CANCELLED else 0)
    assert mover.pk in stored_one_by_one  # the batch UPDATE saw the move and handed it to the locked path
    assert cancel_calls(sandbox) == 6
    for session in sessions:
        if session is not mover:
            assert signals.cancelled[session.pk] == 1


def test_should_stop_claims_nothing_more_and_leaves_nothing_claimed(sandbox: Any) -> None:
    sessions = make_sessions(sandbox, 40)
    sandbox.faults.latency = 0.02
    # Stop once Flinks has answered one cancel: a trigger the claimer reads directly. (Stopping on the first
    # result delivered to this thread raced the claimer on a loaded machine: the finisher's first batch could
    # reach this thread only after all 40 were claimed.)
    results = services.cancel_sessions(
        sessions, source="command", concurrency=2, should_stop=lambda: cancel_calls(sandbox) > 0
    )

    assert 1 <= len(results) < 40
    rows = list(PaymentSession.objects.all())
    cancelled = [row for row in rows if row.status == Status.CANCELLED]
    untouched = [row for row in rows if row.status != Status.CANCELLED]
    assert len(cancelled) == len(results) == cancel_calls(sandbox)
    assert all(row.cancel_claim is None for row in rows)
    assert all(row.cancel_requested_at is None for row in untouched)  # never claimed
    assert not SessionEvent.objects.filter(session__in=untouched).exists()


def test_an_unexpected_error_in_a_call_is_recorded_and_releases_the_claim(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = make_session(sandbox)

    def broken(client: Any, session_id: str) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(FlinksClient, "cancel_session", broken)
    [result] = services.cancel_sessions([session], source="command")
    assert result.outcome is CancelOutcome.FAILED
    assert "KeyError" in result.error
    session.refresh_from_db()
    assert session.cancel_claim is None
    assert session.attempt_count == 1
    assert kinds(session) == [Kind.CANCEL_ATTEMPT, Kind.CANCEL_FAILED]


def test_bad_arguments_are_refused(sandbox: Any) -> None:
    session = make_session(sandbox)
    with pytest.raises(ValueError, match="source"):
        services.cancel_sessions([session], source="cron")
    with pytest.raises(ValueError, match="concurrency"):
        services.cancel_sessions([session], source="command", concurrency=0)
    assert services.cancel_sessions([], source="command") == []


@pytest.mark.django_db(transaction=False)
def test_inside_a_test_transaction_the_same_steps_run_in_the_calling_thread(
    sandbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    open_one, other = make_sessions(sandbox, 2)
    done = make_session(sandbox, reference="DONE", status=Status.EXPIRED)
    ghost = make_session(sandbox, reference="GHOST", remote=False)
    with signal_log() as signals, django_capture_on_commit_callbacks(execute=True):
        results = services.cancel_sessions([open_one, done, ghost, other], source="admin", concurrency=8)
    assert [result.outcome for result in results] == [
        CancelOutcome.CANCELLED,
        CancelOutcome.ALREADY_TERMINAL,
        CancelOutcome.NOT_FOUND,
        CancelOutcome.CANCELLED,
    ]
    assert signals.cancelled == {open_one.pk: 1, other.pk: 1}
    assert kinds(open_one) == [Kind.CANCEL_ATTEMPT, Kind.TRANSITION]
    assert cancel_calls(sandbox) == 3
