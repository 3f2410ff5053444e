"""``manage.py flinks_sync_sessions`` and ``sweeps.tasks.sync_sessions_task``: learning outcomes no webhook reported."""

from __future__ import annotations

import uuid
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.sweeps.tasks import sync_sessions_task
from tests.cancel_helpers import make_session, make_sessions, signal_log
from tests.support import db_workers, wait_for

pytestmark = pytest.mark.django_db

Status = PaymentSession.Status


def run(*args: str, **options: Any) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("flinks_sync_sessions", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def status_calls(sandbox: Any) -> int:
    return sandbox.count(method="GET", path_suffix="/status")


def test_sync_stores_what_flinks_says(sandbox: Any, django_capture_on_commit_callbacks: Any) -> None:
    completed, expired, unchanged = make_sessions(sandbox, 3)
    ghost = make_session(sandbox, reference="GHOST", remote=False)
    sandbox.state.complete(str(completed.session_id), "EFT0302")
    sandbox.state.expire(str(expired.session_id))

    with signal_log() as signals, django_capture_on_commit_callbacks(execute=True):
        out, err = run()

    assert "Synced 3 of 4: 2 changed, 1 unchanged, 1 not found, 0 failed" in out
    rows = {row.pk: row for row in PaymentSession.objects.all()}
    assert (rows[completed.pk].status, rows[completed.pk].status_details) == (Status.COMPLETED, "EFT0302")
    assert rows[expired.pk].status == Status.EXPIRED
    assert rows[unchanged.pk].status == Status.INITIATED
    assert rows[unchanged.pk].last_synced_at is not None
    assert rows[ghost.pk].not_found_at is not None
    assert signals.changed == {completed.pk: 1, expired.pk: 1}
    assert not signals.cancelled
    assert SessionEvent.objects.filter(kind=SessionEvent.Kind.TRANSITION, source="sync").count() == 2
    assert err == ""

    out, _ = run()  # the ended and the unknown ones are no longer polled
    assert "Synced 1 of 1: 0 changed, 1 unchanged" in out


def test_filters_and_ids(sandbox: Any) -> None:
    old = make_session(sandbox, reference="OLD", age=timedelta(hours=3))
    make_session(sandbox, reference="NEW")
    out, _ = run("--older-than", "2h", "--dry-run")
    assert "Dry run: would sync 1 of 1 sessions" in out
    assert str(old.session_id) in out
    assert len(sandbox.log) == 0

    out, err = run(str(old.session_id), str(uuid.uuid4()))
    assert "Synced 1 of 2: 0 changed, 1 unchanged, 1 not found, 0 failed" in out
    assert "Unknown session id" in err
    assert status_calls(sandbox) == 1

    out, _ = run("--reference", "NEW", "--status", "initiated", "--limit", "5")
    assert "Synced 1 of 1" in out


def test_a_failed_poll_is_recorded_and_exits_1(sandbox: Any) -> None:
    session = make_session(sandbox)
    sandbox.faults.error_rates = {503: 1.0}
    with pytest.raises(CommandError) as raised:
        run()
    assert raised.value.returncode == 1
    session.refresh_from_db()
    assert session.attempt_count == 1
    assert "503" in session.last_error

    out, _ = run("--no-fail-on-error", verbosity=0)
    assert out.strip() == "Synced 0 of 1: 0 changed, 0 unchanged, 0 not found, 1 failed"


@pytest.mark.django_db(transaction=True)
def test_concurrency(sandbox: Any) -> None:
    sessions = make_sessions(sandbox, 20)
    for session in sessions[:10]:
        sandbox.state.fail(str(session.session_id), "EFT0401")
    out, _ = run("--concurrency", "5")
    assert "Synced 20 of 20: 10 changed, 10 unchanged" in out
    assert PaymentSession.objects.filter(status=Status.FAILED).count() == 10
    assert sandbox.count(path_suffix="/authorize") == 1


def test_enqueue_with_the_immediate_backend(sandbox: Any) -> None:
    session = make_session(sandbox)
    sandbox.state.complete(str(session.session_id))
    out, _ = run("--enqueue")
    assert "Enqueued 1 of 1: 1 enqueued" in out
    session.refresh_from_db()
    assert session.status == Status.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_enqueue_with_real_db_workers(sandbox: Any, database_tasks: None) -> None:
    sessions = make_sessions(sandbox, 4)
    for session in sessions:
        sandbox.state.expire(str(session.session_id))
    out, _ = run("--enqueue")
    assert "Enqueued 4 of 4" in out
    with db_workers(1, sandbox_url=sandbox.url):
        wait_for(
            lambda: PaymentSession.objects.filter(status=Status.EXPIRED).count() == 4,
            timeout=30,
            message="the worker to sync every session",
        )


def test_sync_sessions_task_runs_the_sweep(sandbox: Any) -> None:
    """A site schedules this instead of cron; the Immediate backend runs it inline here."""
    old, new = make_sessions(sandbox, 2)
    PaymentSession.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=1))
    sandbox.state.complete(str(old.session_id))
    sandbox.state.complete(str(new.session_id))

    result = sync_sessions_task.enqueue(older_than="30m", limit=10)

    assert result.return_value == {"changed": 1, "total": 1}
    assert PaymentSession.objects.get(pk=old.pk).status == Status.COMPLETED
    assert PaymentSession.objects.get(pk=new.pk).status == Status.INITIATED

    result = sync_sessions_task.enqueue()
    assert result.return_value == {"changed": 1, "total": 1}
