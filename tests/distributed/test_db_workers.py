"""Several real ``db_worker`` processes on one PostgreSQL database, as a shop runs them on several machines.

What a site relies on when it scales its workers out: a queued cancel runs once and reaches Flinks once,
whichever worker picks it; the work spreads over the pool; and a worker killed mid-call (OOM killer, a
redeploy's SIGKILL) loses nothing that ``flinks_sync_sessions`` and ``flinks_cancel_sessions --retry-failed``
cannot recover, without a second cancel reaching Flinks. Signals fire in the worker processes, so "exactly once"
is read from what every process shares: the audit trail (one TRANSITION row per session) and the sandbox's
request log (one accepted ``/cancel`` per session).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from flinks_sessions import services
from flinks_sessions.models import PaymentSession, SessionEvent
from tests.cancel_helpers import make_sessions, signal_log
from tests.conftest import flinks_settings_for
from tests.distributed.worker_settings import CLAIM_TTL
from tests.support import db_workers, wait_for, worker_id

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKERS = 3
CANCELLED = PaymentSession.Status.CANCELLED
TRANSITION = SessionEvent.Kind.TRANSITION
DONE = (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED)
WORKER_SETTINGS = {"DJANGO_SETTINGS_MODULE": "tests.distributed.worker_settings"}


@pytest.fixture
def claim_ttl_settings(sandbox: Any, settings: Any, database_tasks: None) -> None:
    """The test process agrees with the workers on the claim TTL (it runs the recovery sweeps)."""
    settings.FLINKS_SESSIONS = flinks_settings_for(sandbox.url, CLAIM_TTL=CLAIM_TTL)
    assert services.engine.claim_ttl() == timedelta(seconds=CLAIM_TTL)


@contextmanager
def worker_pool(sandbox: Any, log_dir: Path) -> Iterator[list[Popen[bytes]]]:
    """``WORKERS`` db_workers, returned once every one of them is polling the queue."""
    with db_workers(WORKERS, sandbox_url=sandbox.url, log_dir=log_dir, env=WORKER_SETTINGS) as workers:

        def all_polling() -> bool:
            for process in workers:
                if process.poll() is not None:
                    logs = "\n".join(path.read_text() for path in log_dir.glob("*.log"))
                    raise AssertionError(f"a db_worker exited with {process.returncode}:\n{logs}")
            started = [path for path in log_dir.glob("*.log") if "Starting worker" in path.read_text()]
            return len(started) == WORKERS

        wait_for(all_polling, timeout=30, interval=0.1, message="every db_worker to start")
        yield workers


def enqueue_cancels(sessions: list[PaymentSession]) -> None:
    """One ``request_cancel`` per session; the tasks reach the queue together when the transaction commits."""
    with transaction.atomic():
        for session in sessions:
            assert services.request_cancel(session, source="command", reason="distributed test")


def cancel_tasks() -> Any:
    return DBTaskResult.objects.filter(task_path__endswith="cancel_session_task")


def finished_count() -> int:
    return cancel_tasks().filter(status__in=DONE).count()


def accepted_cancels(sandbox: Any) -> Counter[str]:
    """Cancels Flinks (the sandbox) answered 200, per path: the ones that ended a session."""
    return Counter(
        entry["path"] for entry in sandbox.log.filter(method="POST", path_suffix="/cancel", status=200)
    )


def cancel_path(session: PaymentSession) -> str:
    return f"/api/v2/sessions/{session.session_id}/cancel"


def assert_each_cancelled_exactly_once(sandbox: Any, sessions: list[PaymentSession]) -> None:
    """The outcome the whole pool owes the shop, read from the database and from "Flinks"."""
    assert set(PaymentSession.objects.values_list("status", flat=True)) == {CANCELLED}
    assert not PaymentSession.objects.filter(cancel_claim__isnull=False).exists()  # no claim left behind
    transitions = Counter(SessionEvent.objects.filter(kind=TRANSITION).values_list("session_id", flat=True))
    assert transitions == Counter({session.pk: 1 for session in sessions})
    assert accepted_cancels(sandbox) == Counter({cancel_path(session): 1 for session in sessions})
    remote = {snapshot.session_id: snapshot.status for snapshot in sandbox.state.sessions()}
    assert {remote[str(session.session_id)] for session in sessions} == {"Cancelled"}


def test_a_thousand_cancels_run_once_each_spread_over_three_workers(
    sandbox: Any, claim_ttl_settings: None, tmp_path: Path
) -> None:
    """1,000 queued cancels, three workers polling one queue: each cancel reaches Flinks once, all are shared."""
    count = 1000
    sessions = make_sessions(sandbox, count, reference="DIST")

    with worker_pool(sandbox, tmp_path):
        enqueue_cancels(sessions)
        wait_for(lambda: finished_count() == count, timeout=120, interval=0.2, message="1,000 cancels to run")

    # Flinks saw exactly one cancel per session, every one accepted, and nothing else was cancelled.
    cancels = sandbox.log.filter(method="POST", path_suffix="/cancel")
    assert len(cancels) == count
    assert {entry["status"] for entry in cancels} == {200}
    assert_each_cancelled_exactly_once(sandbox, sessions)
    sources = set(SessionEvent.objects.filter(kind=TRANSITION).values_list("source", "to_status"))
    assert sources == {("command", CANCELLED)}
    attempts = Counter(
        SessionEvent.objects.filter(kind=SessionEvent.Kind.CANCEL_ATTEMPT).values_list(
            "session_id", flat=True
        )
    )
    assert attempts == Counter({session.pk: 1 for session in sessions})  # nobody even tried a held session

    # Every task ran once, on one worker, and each worker did a fair share.
    results = list(cancel_tasks().values_list("status", "worker_ids", "return_value"))
    assert len(results) == count
    assert {(status, value) for status, _, value in results} == {
        (TaskResultStatus.SUCCESSFUL.value, "cancelled")
    }
    assert {len(ids) for _, ids, _ in results} == {1}
    share = Counter(ids[0] for _, ids, _ in results)
    assert set(share) == {worker_id(index) for index in range(WORKERS)}, share
    assert min(share.values()) >= count // 10, f"a worker ran less than 10% of the tasks: {share}"


@pytest.mark.parametrize(
    "victim_call",
    [
        pytest.param("reached_flinks", id="killed-after-flinks-got-the-cancel"),
        pytest.param("lost", id="killed-before-flinks-got-the-cancel"),
    ],
)
def test_a_worker_killed_mid_cancel_loses_nothing(
    sandbox: Any, claim_ttl_settings: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, victim_call: str
) -> None:
    """SIGKILL one of three workers while its cancel call is in flight; the others finish, the sweeps recover.

    To kill it at a known point, the sandbox stalls every API call for a moment once 30% are done (and, for
    ``lost``, then drops the connection unanswered, so Flinks never acts on it). The victim is killed as soon as
    the sandbox holds its call; the faults are then lifted, so the survivors' stalled calls complete (or
    are retried) normally. The victim leaves its task RUNNING (django-tasks-db never re-runs it) and its session
    claimed: the sync learns what Flinks did, the retry sweep takes the dead claim over once it is older than
    the claim TTL and cancels what Flinks never saw.
    """
    count = 300
    stall = 1.5
    sessions = make_sessions(sandbox, count, reference="KILL")
    by_session_id = {str(session.session_id): session for session in sessions}
    sandbox.faults.latency = 0.02
    victim_name = worker_id(0)

    # Which calls arrived during the stall: the sandbox decides each call's fault when it arrives.
    stalled: set[str] = set()
    decide = sandbox.faults.decide

    def recording_decide(path: str) -> Any:
        decision = decide(path)
        if decision.delay >= stall:
            stalled.add(path)
        return decision

    monkeypatch.setattr(sandbox.faults, "decide", recording_decide)

    with worker_pool(sandbox, tmp_path) as workers:
        victim = workers[0]
        enqueue_cancels(sessions)
        wait_for(lambda: finished_count() >= count * 3 // 10, timeout=60, interval=0.02, message="30% done")

        sandbox.faults.update(latency=stall, drop_rate=1.0 if victim_call == "lost" else 0.0)

        def victims_stalled_call() -> PaymentSession | None:
            """The session whose /cancel the victim has sent and the sandbox is holding (so its fate is known)."""
            for task in cancel_tasks().filter(
                status=TaskResultStatus.RUNNING, worker_ids__contains=[victim_name]
            ):
                session = by_session_id[task.args_kwargs["args"][0]]
                if cancel_path(session) in stalled:
                    return session
            return None

        held = wait_for(
            victims_stalled_call, timeout=stall, interval=0.005, message="the victim's stalled call"
        )
        victim.kill()
        victim.wait()
        sandbox.faults.update(latency=0.02, drop_rate=0.0)

        wait_for(lambda: finished_count() == count - 1, timeout=60, interval=0.1, message="the survivors")
        held_path = cancel_path(held)
        # The victim's stalled call ends inside the sandbox on its own: applied, or dropped unanswered.
        wait_for(
            lambda: sandbox.log.filter(method="POST", path_suffix=held_path),
            timeout=stall + 5,
            message="the sandbox to finish the victim's stalled call",
        )

    # The dead worker's traces: its task RUNNING for good, its session still claimed and not cancelled here.
    stuck = list(cancel_tasks().filter(status=TaskResultStatus.RUNNING))
    assert [task.worker_ids for task in stuck] == [[victim_name]]
    assert stuck[0].args_kwargs["args"][0] == str(held.session_id)
    held.refresh_from_db()
    assert held.status == PaymentSession.Status.INITIATED
    assert held.cancel_claim is not None
    assert held.cancel_claimed_at is not None
    ran = Counter(
        ids[0] for ids in cancel_tasks().filter(status__in=DONE).values_list("worker_ids", flat=True)
    )
    assert sum(ran.values()) == count - 1
    assert set(ran) == {worker_id(index) for index in range(WORKERS)}  # the victim worked until it was killed
    assert set(cancel_tasks().filter(status__in=DONE).values_list("return_value", flat=True)) == {"cancelled"}
    remote_status = sandbox.state.get(str(held.session_id)).status
    assert remote_status == ("Cancelled" if victim_call == "reached_flinks" else "Initiated")

    # Recovery, as cron runs it: learn what Flinks did, then retry the cancels nobody is working on any more.
    wait_for(
        lambda: timezone.now() - held.cancel_claimed_at > timedelta(seconds=CLAIM_TTL),
        timeout=CLAIM_TTL + 1,
        message="the dead claim to expire",
    )
    sync_out, cancel_out = StringIO(), StringIO()
    with signal_log() as signals:  # the sweeps run here, so their signals can be counted directly
        call_command("flinks_sync_sessions", stdout=sync_out, stderr=StringIO())
        call_command(
            "flinks_cancel_sessions", "--retry-failed", "--grace", "0s", stdout=cancel_out, stderr=StringIO()
        )

    if victim_call == "reached_flinks":
        assert "Synced 1 of 1: 1 changed" in sync_out.getvalue()
        assert "Cancelled 0 of 0" in cancel_out.getvalue()
        recovered_by = "sync"
    else:
        assert "Synced 1 of 1: 0 changed, 1 unchanged" in sync_out.getvalue()
        assert "Cancelled 1 of 1: 1 cancelled" in cancel_out.getvalue()
        recovered_by = "command"
    assert signals.cancelled == Counter({held.pk: 1})
    assert signals.cancelled_sources == ["command"]  # the first asker stays on record

    assert_each_cancelled_exactly_once(sandbox, sessions)
    event = SessionEvent.objects.get(session=held, kind=TRANSITION)
    assert (event.source, event.to_status) == (recovered_by, CANCELLED)
    # Unanswered (dropped) calls are the only extra /cancel requests: the victim's, and survivors' retried ones.
    dropped = Counter(
        entry["path"]
        for entry in sandbox.log.filter(method="POST", path_suffix="/cancel")
        if entry["status"] is None
    )
    if victim_call == "reached_flinks":
        assert not dropped
    else:
        assert dropped[held_path] == 1
        assert sum(dropped.values()) <= WORKERS  # at most one call in flight per worker during the stall
        assert set(dropped) <= {cancel_path(session) for session in sessions}
