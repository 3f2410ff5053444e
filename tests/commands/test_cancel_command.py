"""``manage.py flinks_cancel_sessions`` as ops run it from a shell or cron, against the sandbox over HTTP."""

from __future__ import annotations

import signal
import threading
import uuid
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from flinks_sessions.client import FlinksClient
from flinks_sessions.models import PaymentSession, SessionEvent
from tests.cancel_helpers import cancel_calls, make_session, make_sessions, signal_log
from tests.support import db_workers, wait_for

pytestmark = pytest.mark.django_db

CANCELLED = PaymentSession.Status.CANCELLED


def run(*args: str, **options: Any) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("flinks_cancel_sessions", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def statuses(sessions: list[PaymentSession]) -> list[str]:
    return [PaymentSession.objects.get(pk=session.pk).status for session in sessions]


# --- by id ---------------------------------------------------------------------------------------------------


def test_cancels_the_sessions_named_by_id(sandbox: Any, django_capture_on_commit_callbacks: Any) -> None:
    first, second = make_sessions(sandbox, 2)
    with signal_log() as signals, django_capture_on_commit_callbacks(execute=True):
        out, err = run(str(first.session_id), str(second.session_id), "--reason", "duplicate order")

    assert "Cancelled 2 of 2: 2 cancelled, 0 already terminal, 0 not found, 0 failed" in out
    assert f"{first.session_id} cancelled" in out  # not a terminal: one plain line per session
    assert statuses([first, second]) == [CANCELLED, CANCELLED]
    assert cancel_calls(sandbox) == 2
    assert signals.cancelled == {first.pk: 1, second.pk: 1}
    assert set(signals.cancelled_sources) == {"command"}
    first.refresh_from_db()
    assert (first.cancel_source, first.cancel_reason) == ("command", "duplicate order")
    event = SessionEvent.objects.get(session=first, kind=SessionEvent.Kind.TRANSITION)
    assert (event.source, event.to_status, event.reason) == ("command", CANCELLED, "duplicate order")
    assert err == ""


def test_unknown_and_malformed_ids_are_reported_not_fatal(sandbox: Any) -> None:
    session = make_session(sandbox)
    stranger = str(uuid.uuid4())
    out, err = run(str(session.session_id), stranger, "not-a-uuid")

    assert "Cancelled 1 of 3: 1 cancelled, 0 already terminal, 2 not found, 0 failed" in out
    assert f"Unknown session id: {stranger}" in err
    assert "Unknown session id: not-a-uuid" in err
    assert cancel_calls(sandbox) == 1  # nothing was sent for the unknown ids


def test_terminal_and_flinks_unknown_sessions_by_id(sandbox: Any) -> None:
    done = make_session(sandbox, reference="DONE", status=PaymentSession.Status.COMPLETED)
    ghost = make_session(sandbox, reference="GHOST", remote=False)  # stored here, unknown to Flinks
    out, _ = run(str(done.session_id), str(ghost.session_id))

    assert "Cancelled 0 of 2: 0 cancelled, 1 already terminal, 1 not found, 0 failed" in out
    assert cancel_calls(sandbox) == 1  # the terminal one is never sent
    ghost.refresh_from_db()
    assert ghost.not_found_at is not None
    assert ghost.status == PaymentSession.Status.INITIATED


def test_ended_upstream_stores_the_truth(sandbox: Any) -> None:
    session = make_session(sandbox)
    sandbox.state.complete(str(session.session_id), "EFT0301")
    out, _ = run(str(session.session_id))

    assert "0 cancelled, 1 already terminal" in out
    session.refresh_from_db()
    assert (session.status, session.status_details) == (PaymentSession.Status.COMPLETED, "EFT0301")


# --- filters -------------------------------------------------------------------------------------------------


def test_older_than_selects_by_age(sandbox: Any) -> None:
    old = make_session(sandbox, reference="OLD", age=timedelta(hours=3))
    young = make_session(sandbox, reference="YOUNG", age=timedelta(minutes=10))
    out, _ = run("--older-than", "2h")

    assert "Cancelled 1 of 1" in out
    assert statuses([old, young]) == [CANCELLED, PaymentSession.Status.INITIATED]


@pytest.mark.parametrize(
    ("option", "value", "selected"),
    [
        ("--status", "in_progress", "B"),
        ("--reference", "B", "B"),
        ("--account", "geft-account", "B"),
        ("--product", "geft", "B"),
    ],
)
def test_each_filter_narrows_the_selection(
    sandbox: Any, settings: Any, option: str, value: str, selected: str
) -> None:
    from tests.conftest import flinks_settings_for

    geft = {**settings.FLINKS_SESSIONS["ACCOUNTS"]["default"]}
    settings.FLINKS_SESSIONS = flinks_settings_for(sandbox.url, ACCOUNTS={"geft-account": geft})
    a = make_session(sandbox, reference="A")
    b = make_session(
        sandbox,
        reference="B",
        product="geft",
        account="geft-account",
        status=PaymentSession.Status.IN_PROGRESS,
    )
    out, _ = run(option, value)

    assert "Cancelled 1 of 1" in out
    chosen, other = (b, a) if selected == "B" else (a, b)
    assert statuses([chosen, other]) == [CANCELLED, PaymentSession.Status.INITIATED]


def test_limit_takes_the_oldest_first(sandbox: Any) -> None:
    sessions = make_sessions(sandbox, 3, age=timedelta(hours=1))
    PaymentSession.objects.filter(pk=sessions[2].pk).update(created_at=timezone.now() - timedelta(hours=5))
    out, _ = run("--older-than", "30m", "--limit", "1")

    assert "Cancelled 1 of 1" in out
    assert statuses(sessions) == [PaymentSession.Status.INITIATED, PaymentSession.Status.INITIATED, CANCELLED]


def test_filters_only_select_open_sessions_flinks_knows(sandbox: Any) -> None:
    make_session(sandbox, reference="DONE", status=PaymentSession.Status.EXPIRED, age=timedelta(days=2))
    make_session(sandbox, reference="GONE", not_found_at=timezone.now(), age=timedelta(days=2))
    make_session(sandbox, reference="UNCREATED", session_id=None, remote=False, age=timedelta(days=2))
    target = make_session(sandbox, reference="OPEN", age=timedelta(days=2))
    # session_id=None overrides the helper's id: a creation whose outcome was never known.
    out, _ = run("--older-than", "1d")

    assert "Cancelled 1 of 1" in out
    assert statuses([target]) == [CANCELLED]
    assert cancel_calls(sandbox) == 1


def test_ids_and_filters_together_are_refused(sandbox: Any) -> None:
    session = make_session(sandbox)
    with pytest.raises(CommandError, match="not both"):
        run(str(session.session_id), "--older-than", "1h")
    assert cancel_calls(sandbox) == 0


def test_no_selection_at_all_is_refused(sandbox: Any) -> None:
    make_session(sandbox)
    with pytest.raises(CommandError, match="Name sessions by id"):
        run()
    assert cancel_calls(sandbox) == 0


@pytest.mark.parametrize("bad", ["2x", "h", "-1h", ""])
def test_a_bad_duration_is_a_usage_error(bad: str) -> None:
    with pytest.raises(CommandError, match="duration"):
        run(f"--older-than={bad}")


# --- dry run -------------------------------------------------------------------------------------------------


def test_dry_run_lists_and_calls_nothing(sandbox: Any) -> None:
    sessions = make_sessions(sandbox, 3, age=timedelta(hours=2))
    before = list(PaymentSession.objects.order_by("pk").values())
    out, _ = run("--older-than", "1h", "--dry-run")

    assert "Dry run: would cancel 3 of 3 sessions; nothing was changed." in out
    for session in sessions:
        assert str(session.session_id) in out
    assert len(sandbox.log) == 0  # not even an authorize
    assert list(PaymentSession.objects.order_by("pk").values()) == before
    assert not SessionEvent.objects.exists()


def test_dry_run_by_id_says_what_would_be_skipped(sandbox: Any) -> None:
    open_one = make_session(sandbox, reference="OPEN")
    done = make_session(sandbox, reference="DONE", status=PaymentSession.Status.COMPLETED)
    out, _ = run(str(open_one.session_id), str(done.session_id), "--dry-run")

    assert "would cancel 1 of 2" in out
    assert f"{done.session_id} skipped: Completed" in out
    assert len(sandbox.log) == 0


# --- failures and exit status --------------------------------------------------------------------------------


def test_a_failure_exits_non_zero_and_is_recorded(sandbox: Any) -> None:
    good, bad = make_sessions(sandbox, 2)
    sandbox.faults.paths = [f"/{bad.session_id}/cancel"]
    sandbox.faults.error_rates = {503: 1.0}

    with pytest.raises(CommandError) as raised:
        run(str(good.session_id), str(bad.session_id))

    assert raised.value.returncode == 1
    assert "1 failed; first error:" in str(raised.value)
    assert str(bad.session_id) in str(raised.value)
    bad.refresh_from_db()
    assert bad.status == PaymentSession.Status.INITIATED
    assert bad.attempt_count == 1
    assert "503" in bad.last_error
    assert bad.cancel_claim is None  # released: the sweep may take it
    assert statuses([good]) == [CANCELLED]


def test_no_fail_on_error_exits_zero_but_still_reports(sandbox: Any) -> None:
    session = make_session(sandbox)
    sandbox.faults.error_rates = {503: 1.0}
    out, _ = run(str(session.session_id), "--no-fail-on-error")
    assert "Cancelled 0 of 1: 0 cancelled, 0 already terminal, 0 not found, 1 failed" in out
    assert f"{session.session_id} failed:" in out


def test_secrets_never_reach_the_output(sandbox: Any, settings: Any) -> None:
    session = make_session(sandbox)
    sandbox.faults.fail_next = [401, 401, 401]  # refused, re-authorized, refused again
    out, err = run(str(session.session_id), "--no-fail-on-error", verbosity=2)
    secret = settings.FLINKS_SESSIONS["ACCOUNTS"]["default"]["CLIENT_SECRET"]
    assert secret not in out + err
    assert "Bearer" not in out + err


def test_verbosity_zero_prints_only_the_summary(sandbox: Any) -> None:
    sessions = make_sessions(sandbox, 2)
    out, _ = run(*(str(s.session_id) for s in sessions), verbosity=0)
    assert out.strip().splitlines() == [
        "Cancelled 2 of 2: 2 cancelled, 0 already terminal, 0 not found, 0 failed"
    ]


# --- threads, enqueue, retry ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrency_runs_in_a_bounded_pool(sandbox: Any) -> None:
    sessions = make_sessions(sandbox, 24, age=timedelta(hours=1))
    with signal_log() as signals:
        out, _ = run("--older-than", "30m", "--concurrency", "6")

    assert "Cancelled 24 of 24: 24 cancelled" in out
    assert set(statuses(sessions)) == {CANCELLED}
    assert cancel_calls(sandbox) == 24
    assert sandbox.count(path_suffix="/authorize") == 1
    assert sum(signals.cancelled.values()) == 24


def test_enqueue_hands_the_cancel_to_the_task_backend(
    sandbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """With the tests' ImmediateBackend the task runs as soon as the intent commits."""
    sessions = make_sessions(sandbox, 2, age=timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = run("--older-than", "30m", "--enqueue", "--reason", "abandoned")

    assert "Enqueued 2 of 2: 2 enqueued, 0 already terminal, 0 already requested" in out
    assert statuses(sessions) == [CANCELLED, CANCELLED]
    session = PaymentSession.objects.get(pk=sessions[0].pk)
    assert (session.cancel_source, session.cancel_reason) == ("command", "abandoned")


def test_enqueue_skips_what_is_already_requested(sandbox: Any) -> None:
    requested = make_session(
        sandbox, reference="ASKED", cancel_requested_at=timezone.now(), cancel_source="beacon"
    )
    out, _ = run(str(requested.session_id), "--enqueue")
    assert "0 enqueued, 0 already terminal, 1 already requested" in out
    assert cancel_calls(sandbox) == 0


@pytest.mark.django_db(transaction=True)
def test_enqueue_with_real_db_workers(sandbox: Any, database_tasks: None) -> None:
    sessions = make_sessions(sandbox, 6, age=timedelta(hours=1))
    out, _ = run("--older-than", "30m", "--enqueue")
    assert "Enqueued 6 of 6" in out
    assert cancel_calls(sandbox) == 0  # nothing has run yet: it is queued
    with db_workers(2, sandbox_url=sandbox.url):
        wait_for(
            lambda: set(statuses(sessions)) == {CANCELLED},
            timeout=30,
            message="the workers to cancel every session",
        )
    assert cancel_calls(sandbox) == 6
    assert {PaymentSession.objects.get(pk=s.pk).cancel_source for s in sessions} == {"command"}


def test_retry_failed_selects_exactly_the_stuck_cancels(
    sandbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    now = timezone.now()
    failed = make_session(
        sandbox,
        reference="FAILED",
        cancel_requested_at=now,
        cancel_source="beacon",
        last_error="503",
        attempt_count=1,
        cancel_failed_at=now,
    )
    lost = make_session(
        sandbox, reference="LOST", cancel_requested_at=now - timedelta(minutes=5), cancel_source="api"
    )
    dead_claim = make_session(
        sandbox,
        reference="DEADCLAIM",
        cancel_requested_at=now - timedelta(hours=2),
        cancel_claim=uuid.uuid4(),
        cancel_claimed_at=now - timedelta(hours=1),
    )
    fresh = make_session(sandbox, reference="FRESH", cancel_requested_at=now, cancel_source="beacon")
    live_claim = make_session(
        sandbox,
        reference="LIVECLAIM",
        cancel_requested_at=now - timedelta(minutes=5),
        last_error="timeout",
        cancel_failed_at=now,
        cancel_claim=uuid.uuid4(),
        cancel_claimed_at=now,
    )
    not_asked = make_session(sandbox, reference="NOTASKED", last_error="sync failed")
    done = make_session(
        sandbox,
        reference="DONE",
        status=PaymentSession.Status.COMPLETED,
        cancel_requested_at=now,
        last_error="x",
        cancel_failed_at=now,
    )

    out, _ = run("--retry-failed", "--dry-run")
    assert "would cancel 3 of 3" in out
    for session in (failed, lost, dead_claim):
        assert str(session.session_id) in out
    for session in (fresh, live_claim, not_asked, done):
        assert str(session.session_id) not in out

    with signal_log() as signals, django_capture_on_commit_callbacks(execute=True):
        out, _ = run("--retry-failed")
    assert "Cancelled 3 of 3: 3 cancelled" in out
    assert statuses([failed, lost, dead_claim]) == [CANCELLED] * 3
    assert statuses([fresh, live_claim, not_asked]) == [PaymentSession.Status.INITIATED] * 3
    # The first asker stays on record: the beacon's cancel, completed by the sweep, is reported as the beacon's.
    assert sorted(signals.cancelled_sources) == ["api", "beacon", "command"]


def test_retry_failed_grace_and_filters(sandbox: Any) -> None:
    lost = make_session(sandbox, reference="LOST", cancel_requested_at=timezone.now() - timedelta(minutes=5))
    out, _ = run("--retry-failed", "--grace", "10m", "--dry-run")
    assert "would cancel 0 of 0" in out
    out, _ = run("--retry-failed", "--grace", "1m", "--reference", "LOST")
    assert "Cancelled 1 of 1" in out
    assert statuses([lost]) == [CANCELLED]


def test_retry_failed_with_enqueue_requeues_the_standing_intent(sandbox: Any) -> None:
    failed = make_session(
        sandbox,
        reference="FAILED",
        cancel_requested_at=timezone.now(),
        last_error="503",
        cancel_failed_at=timezone.now(),
    )
    out, _ = run("--retry-failed", "--enqueue")  # a standing intent is re-enqueued at once, not after commit
    assert "Enqueued 1 of 1" in out
    assert statuses([failed]) == [CANCELLED]


def test_retry_failed_refuses_ids(sandbox: Any) -> None:
    session = make_session(sandbox)
    with pytest.raises(CommandError, match="retry-failed"):
        run(str(session.session_id), "--retry-failed")


# --- Ctrl-C --------------------------------------------------------------------------------------------------


class _CtrlCOnTheFirstCancel(StringIO):
    """The command's stdout: the line reporting the first cancel is followed by a real SIGINT.

    The command reports each result from the thread that runs it, this test's main thread, so the signal is
    raised there at a known point, as a Ctrl-C typed right after the first line appeared.
    """

    def __init__(self) -> None:
        super().__init__()
        self.interrupted = False

    def write(self, text: str) -> int:
        written = super().write(text)
        if " cancelled" in text and not self.interrupted:
            self.interrupted = True
            signal.raise_signal(signal.SIGINT)
        return written


@pytest.mark.django_db(transaction=True)
def test_ctrl_c_stops_cleanly_and_exits_130(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first cancel, Ctrl-C: nothing new starts, the calls in flight finish and are stored.

    Deterministic: Python's own SIGINT handler is in place whatever an earlier test installed, the signal is
    raised right after the first cancel is reported, and every other call to Flinks waits until the claimer
    has stopped, so the run cannot finish all 40 before the interrupt lands.
    """
    sessions = make_sessions(sandbox, 40, age=timedelta(hours=1))
    first_call = threading.Lock()
    cancel = FlinksClient.cancel_session

    def cancel_once_the_claimer_stopped(client: FlinksClient, session_id: str) -> Any:
        if not first_call.acquire(blocking=False):  # the first call goes through; the others wait
            for thread in threading.enumerate():
                if thread.name == "flinks-claimer":
                    thread.join(timeout=60)
        return cancel(client, session_id)

    monkeypatch.setattr(FlinksClient, "cancel_session", cancel_once_the_claimer_stopped)
    out = _CtrlCOnTheFirstCancel()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(CommandError) as raised:
            call_command("flinks_cancel_sessions", "--older-than", "30m", "--concurrency", "3", stdout=out)
    finally:
        signal.signal(signal.SIGINT, previous)

    assert out.interrupted
    assert raised.value.returncode == 130
    rows = list(PaymentSession.objects.filter(pk__in=[s.pk for s in sessions]))
    cancelled = [row for row in rows if row.status == CANCELLED]
    untouched = [row for row in rows if row.status != CANCELLED]
    assert 1 <= len(cancelled) < 40
    assert cancel_calls(sandbox) == len(cancelled)  # every call that started finished and was stored
    assert all(row.cancel_claim is None for row in rows)
    assert all(row.cancel_requested_at is None for row in untouched)  # never started, so never claimed
    assert not SessionEvent.objects.filter(session__in=untouched).exists()
