"""The worker scenarios (``scenarios.py``) on Celery: django-tasks-fennel, real ``celery worker`` processes,
on RabbitMQ and on Redis.

Same figures as the database queue and RQ: 1,000 queued cancels over three workers each reach Flinks once; a
worker SIGKILLed mid-cancel loses nothing the sweeps cannot recover, and no second cancel reaches Flinks.

Celery adds one thing the other two engines cannot do: with ``acks_late``, the broker hands a killed
worker's task to another worker (RabbitMQ as soon as the dead worker's connection closes; Redis once the
message's visibility timeout has passed). That second run meets the dead worker's claim: while the claim is
live it is "pending" and calls nothing; once the claim has expired it asks Flinks, which says the session has
ended. Either way no second cancel reaches Flinks, and the tests below show it.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from flinks_sessions import services
from flinks_sessions.models import PaymentSession
from tests.conftest import flinks_settings_for
from tests.distributed import scenarios
from tests.distributed.celery_support import CeleryEngine
from tests.distributed.rq_support import REDIS_URL
from tests.distributed.worker_settings import CLAIM_TTL
from tests.extras import RABBITMQ_URL
from tests.support import reset_task_backends, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The Celery broker on Redis: the database after the RQ tests' own, so neither empties the other's.
REDIS_BROKER_URL = os.environ.get("FLINKS_TEST_CELERY_REDIS_URL") or (
    REDIS_URL.rsplit("/", 1)[0] + f"/{(int(REDIS_URL.rsplit('/', 1)[1] or 0) + 1) % 16}"
)
BROKERS = [
    pytest.param("rabbitmq", RABBITMQ_URL, marks=pytest.mark.rabbitmq, id="rabbitmq"),
    pytest.param("redis", REDIS_BROKER_URL, marks=pytest.mark.redis, id="redis"),
]
# Early acknowledgement behaves alike on both brokers (the message is gone once a worker takes it), so each
# broker gets one of the two kills; the sweeps' two recoveries are both run.
KILLS = [
    pytest.param("rabbitmq", RABBITMQ_URL, "reached_flinks", marks=pytest.mark.rabbitmq, id="rabbitmq-after"),
    pytest.param("redis", REDIS_BROKER_URL, "lost", marks=pytest.mark.redis, id="redis-before"),
]


def celery_engine(
    sandbox: Any, settings: Any, tmp_path: Path, broker: str, url: str, *, acks_late: bool = False
) -> Iterator[CeleryEngine]:
    engine = CeleryEngine(broker, url, tmp_path / "results", acks_late=acks_late)
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_fennel.CeleryBackend", "QUEUES": ["default", engine.queue]}
    }
    settings.FLINKS_SESSIONS = flinks_settings_for(sandbox.url, CLAIM_TTL=CLAIM_TTL, TASK_QUEUE=engine.queue)
    reset_task_backends()
    assert services.engine.claim_ttl() == timedelta(seconds=CLAIM_TTL)
    try:
        with engine.sending():
            yield engine
    finally:
        reset_task_backends()


@pytest.fixture
def engine(sandbox: Any, settings: Any, tmp_path: Path, broker: str, url: str) -> Iterator[CeleryEngine]:
    """Tasks routed to a queue of this test's own on ``broker``; the workers use the same claim TTL."""
    yield from celery_engine(sandbox, settings, tmp_path, broker, url)


@pytest.fixture
def late_engine(sandbox: Any, settings: Any, tmp_path: Path, broker: str, url: str) -> Iterator[CeleryEngine]:
    """The same, with the workers acknowledging each task once it has run (``acks_late``)."""
    yield from celery_engine(sandbox, settings, tmp_path, broker, url, acks_late=True)


@pytest.mark.parametrize(("broker", "url"), BROKERS)
def test_queued_cancels_run_once_each_spread_over_three_celery_workers(
    sandbox: Any, engine: CeleryEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenarios.queued_cancels(engine, sandbox, tmp_path, capsys)


@pytest.mark.serial  # the claim TTL of 3 s, as in test_db_workers.py
@pytest.mark.parametrize(("broker", "url", "victim_call"), KILLS)
def test_a_celery_worker_killed_mid_cancel_loses_nothing(  # noqa: PLR0917 - fixtures
    sandbox: Any,
    engine: CeleryEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    victim_call: str,
) -> None:
    """Early acknowledgement (Celery's default): the killed task is gone, the sweeps recover its session.

    Killed after Flinks got the cancel (the sync finds it ended) on RabbitMQ, before (the retry sweep sends it)
    on Redis.
    """
    kill = scenarios.kill_a_worker_mid_cancel(
        engine, sandbox, tmp_path, monkeypatch, victim_call, then=lambda kill: None
    )
    scenarios.the_sweeps_recover(engine, sandbox, kill, capsys)


@pytest.mark.serial  # the claim TTL of 3 s, as in test_db_workers.py
@pytest.mark.parametrize(("broker", "url"), BROKERS)
def test_a_killed_task_redelivered_by_the_broker_cancels_nothing_twice(
    sandbox: Any,
    late_engine: CeleryEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``acks_late``: the broker gives the killed worker's cancel to a survivor, after Flinks took the first one.

    The redelivered task runs to an end on a survivor and sends no second accepted cancel: it finds the dead
    worker's claim live ("pending", nothing called), or, when the broker waited longer than the claim TTL, takes
    the claim over and hears from Flinks that the session has ended ("already_terminal").
    """
    engine = late_engine
    redelivered: dict[str, Any] = {}

    def the_redelivered_run(kill: scenarios.Kill) -> None:
        meta = wait_for(
            lambda: (meta := engine.result_of(kill.held))["status"] == "SUCCESS" and meta,
            timeout=30,
            interval=0.1,
            message="the broker to redeliver the killed task and a survivor to run it",
        )
        redelivered.update(meta)

    kill = scenarios.kill_a_worker_mid_cancel(
        engine, sandbox, tmp_path, monkeypatch, "reached_flinks", then=the_redelivered_run
    )
    held, count = kill.held, len(kill.sessions)
    assert redelivered["worker"] in engine.names[1:]  # a survivor ran it
    assert redelivered["result"] in ("pending", "already_terminal"), redelivered["result"]
    results = engine.results()
    assert len(results) == count  # every task ended, the killed one included
    assert Counter(ran.return_value for ran in results) == Counter(
        {"cancelled": count - 1, redelivered["result"]: 1}
    )
    assert scenarios.accepted_cancels(sandbox)[kill.held_path] == 1
    held.refresh_from_db()
    if redelivered["result"] == "pending":  # the claim was live: the dead worker's session waits for the sync
        assert held.status == PaymentSession.Status.INITIATED
        sync_out = StringIO()
        call_command("flinks_sync_sessions", stdout=sync_out, stderr=StringIO())
        assert "Synced 1 of 1: 1 changed" in sync_out.getvalue()
        scenarios.assert_only_dropped_calls_repeat(sandbox, kill)
    else:  # the redelivered run asked Flinks, which said it had ended: stored by the task itself
        assert held.status == PaymentSession.Status.CANCELLED
    scenarios.assert_each_cancelled_exactly_once(sandbox, kill.sessions)
    calls = sandbox.count(method="POST", path_suffix=kill.held_path)
    scenarios.report(
        capsys,
        f"{engine.label}, worker SIGKILLed mid-cancel, task redelivered: second run said "
        f"{redelivered['result']!r}, /cancel calls for that session {calls}, accepted 1",
    )


@pytest.mark.parametrize(("broker", "url"), BROKERS[:1])
def test_a_celery_worker_knows_every_task_the_app_enqueues(
    sandbox: Any, engine: CeleryEngine, tmp_path: Path
) -> None:
    """Celery runs only the tasks it has registered, and the bridge registers a task when its module is imported.

    A worker that never imported the webhook and sweep task modules would drop their tasks ("unregistered task")
    and a webhook processed in the background would wait for the reprocessing sweep.
    """
    from flinks_sessions.sweeps.tasks import sync_sessions_task
    from flinks_sessions.tasks import route, sync_session_task
    from flinks_sessions.webhooks.tasks import process_webhook_task, reprocess_webhooks_task

    calls = [
        (process_webhook_task, (0,), "missing"),
        (reprocess_webhooks_task, (), {"found": 0}),
        (sync_sessions_task, (), {}),
        (sync_session_task, (str(uuid.uuid4()),), "missing"),
    ]
    with engine.workers(sandbox.url, tmp_path):
        sent = [route(task).enqueue(*args) for task, args, _ in calls]

        def all_ran() -> bool:
            return all(engine.meta(result.id)["status"] == "SUCCESS" for result in sent)

        wait_for(all_ran, timeout=30, interval=0.2, message="every task to run on a worker")
    for result, (_, _, expected) in zip(sent, calls, strict=True):
        value = engine.meta(result.id)["result"]
        assert value == expected if isinstance(expected, str) else expected.items() <= value.items(), value
