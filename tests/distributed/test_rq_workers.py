"""The distributed tests of ``test_db_workers.py`` on another engine: django-tasks-rq, Redis, real rqworkers.

The app only speaks the Django Tasks API, so what makes a cancel exactly-once (the session claim, the stored
intent, the sweeps) must hold whatever engine delivers the task. Same figures as the database queue: 1,000
queued cancels over three workers each reach Flinks once; a worker SIGKILLed mid-cancel loses nothing the
sweeps cannot recover, and no second cancel reaches Flinks. RQ differs in one way the test shows: a job whose
worker died stays in the queue's started registry (later failed as abandoned), never run again, like
django-tasks-db's RUNNING row.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from flinks_sessions import services
from flinks_sessions.models import PaymentSession, SessionEvent
from tests.cancel_helpers import make_sessions, signal_log
from tests.conftest import flinks_settings_for
from tests.distributed.rq_support import REDIS_URL, kill_worker, rq_workers
from tests.distributed.test_db_workers import (
    accepted_cancels,
    assert_each_cancelled_exactly_once,
    cancel_path,
    enqueue_cancels,
)
from tests.distributed.worker_settings import CLAIM_TTL
from tests.support import reset_task_backends, wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

WORKERS = 3
CANCELLED = PaymentSession.Status.CANCELLED
TRANSITION = SessionEvent.Kind.TRANSITION


def worker_name(index: int) -> str:
    return f"rq-test-worker-{index}-{uuid.uuid4().hex[:6]}"


class RQQueue:
    """This test's queue on Redis, read the way django-tasks-rq reports on it."""

    def __init__(self, name: str) -> None:
        import django_rq
        from django_tasks_rq import Job

        self.name = name
        self.queue = django_rq.get_queue(name, job_class=Job)

    def finished_count(self) -> int:
        return self.queue.finished_job_registry.count + self.queue.failed_job_registry.count

    def successful_count(self) -> int:
        return int(self.queue.finished_job_registry.count)

    def abandoned_jobs(self) -> list[Any]:
        """Jobs whose worker died: still in the started registry, or failed there by a survivor's cleanup."""
        ids = self.queue.started_job_registry.get_job_ids() + self.queue.failed_job_registry.get_job_ids()
        return [job for job in (self.queue.fetch_job(job_id) for job_id in ids) if job is not None]

    def results(self) -> list[Any]:
        """The Django Tasks view (status, worker_ids, return value) of every job that finished."""
        try:
            from django.tasks import task_backends
        except ImportError:  # Django 5.2: the backport
            from django_tasks import task_backends

        backend = task_backends["default"]
        ids = self.queue.finished_job_registry.get_job_ids() + self.queue.failed_job_registry.get_job_ids()
        return [backend.get_result(job_id) for job_id in ids]

    def started_jobs(self) -> list[Any]:
        """Jobs a worker has taken and not finished: the victim's, once it is dead."""
        return [
            job
            for job in (
                self.queue.fetch_job(job_id) for job_id in self.queue.started_job_registry.get_job_ids()
            )
            if job is not None
        ]

    def delete(self) -> None:
        for registry in (
            self.queue.finished_job_registry,
            self.queue.failed_job_registry,
            self.queue.started_job_registry,
        ):
            for job_id in registry.get_job_ids():
                job = self.queue.fetch_job(job_id)
                if job is not None:
                    job.delete()
        self.queue.delete(delete_jobs=True)
        # A killed worker never unregisters itself: drop the queue's worker set too (Redis is shared).
        self.queue.connection.delete(f"rq:workers:{self.name}")


@pytest.fixture
def rq_queue(sandbox: Any, settings: Any) -> Iterator[RQQueue]:
    """Tasks routed to a queue of this test's own on Redis; the workers use the same claim TTL."""
    name = f"flinks-test-{uuid.uuid4().hex[:12]}"
    settings.RQ_QUEUES = {queue: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 60} for queue in ("default", name)}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default", name]}}
    settings.FLINKS_SESSIONS = flinks_settings_for(sandbox.url, CLAIM_TTL=CLAIM_TTL, TASK_QUEUE=name)
    reset_task_backends()
    assert services.engine.claim_ttl() == timedelta(seconds=CLAIM_TTL)
    queue = RQQueue(name)
    try:
        yield queue
    finally:
        queue.delete()
        reset_task_backends()


def test_a_thousand_cancels_run_once_each_spread_over_three_rq_workers(
    sandbox: Any, rq_queue: RQQueue, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    count = 1000
    sessions = make_sessions(sandbox, count, reference="RQ")
    names = [worker_name(index) for index in range(WORKERS)]

    with rq_workers(
        WORKERS, queue=rq_queue.name, sandbox_url=sandbox.url, log_dir=tmp_path, name=names.__getitem__
    ):
        enqueue_cancels(sessions)
        wait_for(
            lambda: rq_queue.finished_count() == count,
            timeout=240,
            interval=0.2,
            message="1,000 cancels to run",
        )

    cancels = sandbox.log.filter(method="POST", path_suffix="/cancel")
    assert len(cancels) == count
    assert {entry["status"] for entry in cancels} == {200}
    assert_each_cancelled_exactly_once(sandbox, sessions)
    attempts = Counter(
        SessionEvent.objects.filter(kind=SessionEvent.Kind.CANCEL_ATTEMPT).values_list(
            "session_id", flat=True
        )
    )
    assert attempts == Counter({session.pk: 1 for session in sessions})

    results = rq_queue.results()
    assert len(results) == count
    assert {(result.status.value, result.return_value) for result in results} == {("SUCCESSFUL", "cancelled")}
    assert {len(result.worker_ids) for result in results} == {1}
    share = Counter(result.worker_ids[0] for result in results)
    assert set(share) == set(names), share
    assert min(share.values()) >= count // 10, f"a worker ran less than 10% of the tasks: {share}"
    with capsys.disabled():
        print(
            f"\nrq, 3 workers: {count} cancels queued, {len(cancels)} reached Flinks, "
            f"{len(accepted_cancels(sandbox))} sessions cancelled once, share {sorted(share.values())}, "
            f"token requests {sandbox.count(method='POST', path_suffix='/authorize')}"
        )


@pytest.mark.parametrize(
    "victim_call",
    [
        pytest.param("reached_flinks", id="killed-after-flinks-got-the-cancel"),
        pytest.param("lost", id="killed-before-flinks-got-the-cancel"),
    ],
)
def test_an_rq_worker_killed_mid_cancel_loses_nothing(  # noqa: PLR0917 - fixtures
    sandbox: Any,
    rq_queue: RQQueue,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    victim_call: str,
) -> None:
    """As ``test_a_worker_killed_mid_cancel_loses_nothing`` for db_worker: stall, SIGKILL the victim, recover."""
    count = 300
    stall = 1.5
    sessions = make_sessions(sandbox, count, reference="RQKILL")
    by_session_id = {str(session.session_id): session for session in sessions}
    sandbox.faults.latency = 0.02
    names = [worker_name(index) for index in range(WORKERS)]
    victim_name = names[0]

    stalled: set[str] = set()
    decide = sandbox.faults.decide

    def recording_decide(path: str) -> Any:
        decision = decide(path)
        if decision.delay >= stall:
            stalled.add(path)
        return decision

    monkeypatch.setattr(sandbox.faults, "decide", recording_decide)

    with rq_workers(
        WORKERS, queue=rq_queue.name, sandbox_url=sandbox.url, log_dir=tmp_path, name=names.__getitem__
    ) as workers:
        victim = workers[0]
        enqueue_cancels(sessions)
        wait_for(
            lambda: rq_queue.finished_count() >= count * 3 // 10,
            timeout=120,
            interval=0.02,
            message="30% done",
        )

        # Only /cancel is stalled: RQ's forking worker runs each job in a fresh work horse that authorizes first
        # (no token survives the job), and the victim must be caught holding a cancel, not a token request.
        sandbox.faults.update(
            latency=stall, drop_rate=1.0 if victim_call == "lost" else 0.0, paths=["/cancel"]
        )

        def victims_stalled_call() -> PaymentSession | None:
            for job in rq_queue.started_jobs():
                if job.worker_name != victim_name:
                    continue
                session = by_session_id[job.args[0]]
                if cancel_path(session) in stalled:
                    return session
            return None

        held = wait_for(
            victims_stalled_call, timeout=stall, interval=0.005, message="the victim's stalled call"
        )
        kill_worker(victim)  # the worker and its work horse, mid-call
        sandbox.faults.update(latency=0.02, drop_rate=0.0, paths=None)

        wait_for(
            lambda: rq_queue.successful_count() == count - 1,
            timeout=120,
            interval=0.1,
            message="the survivors",
        )
        held_path = cancel_path(held)
        wait_for(
            lambda: sandbox.log.filter(method="POST", path_suffix=held_path),
            timeout=stall + 5,
            message="the sandbox to finish the victim's stalled call",
        )

    # The dead worker's traces: its job never re-run (left "started", or failed as abandoned by a surviving
    # worker's registry cleanup), its session claimed and not cancelled here.
    [abandoned] = rq_queue.abandoned_jobs()
    assert abandoned.args[0] == str(held.session_id)
    status = abandoned.get_status()
    assert status in ("started", "failed"), status
    if status == "failed":
        assert "AbandonedJobError" in (abandoned.latest_result().exc_string or "")
    held.refresh_from_db()
    assert held.status == PaymentSession.Status.INITIATED
    assert held.cancel_claim is not None
    results = [result for result in rq_queue.results() if result.status.value == "SUCCESSFUL"]
    assert len(results) == count - 1
    assert {result.return_value for result in results} == {"cancelled"}
    ran = Counter(result.worker_ids[0] for result in results)
    assert set(ran) == set(names)  # the victim worked until it was killed
    remote_status = sandbox.state.get(str(held.session_id)).status
    assert remote_status == ("Cancelled" if victim_call == "reached_flinks" else "Initiated")

    wait_for(
        lambda: timezone.now() - held.cancel_claimed_at > timedelta(seconds=CLAIM_TTL),
        timeout=CLAIM_TTL + 1,
        message="the dead claim to expire",
    )
    sync_out, cancel_out = StringIO(), StringIO()
    with signal_log() as signals:
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

    assert_each_cancelled_exactly_once(sandbox, sessions)
    event = SessionEvent.objects.get(session=held, kind=TRANSITION)
    assert (event.source, event.to_status) == (recovered_by, CANCELLED)
    dropped = Counter(
        entry["path"]
        for entry in sandbox.log.filter(method="POST", path_suffix="/cancel")
        if entry["status"] is None
    )
    if victim_call == "reached_flinks":
        assert not dropped
    else:
        assert dropped[held_path] == 1
        assert sum(dropped.values()) <= WORKERS
    with capsys.disabled():
        accepted = accepted_cancels(sandbox)
        print(
            f"\nrq, worker SIGKILLed mid-cancel ({victim_call}): {count} sessions, {len(accepted)} cancelled at "
            f"Flinks, max accepted cancels per session {max(accepted.values())}, recovered by {recovered_by}, "
            f"unanswered calls {sum(dropped.values())}"
        )
