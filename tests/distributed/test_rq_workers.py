"""The worker scenarios (``scenarios.py``) on another engine: django-tasks-rq, Redis, real rqworkers.

Same figures as the database queue: 1,000 queued cancels over three workers each reach Flinks once; a worker
SIGKILLed mid-cancel loses nothing the sweeps cannot recover, and no second cancel reaches Flinks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from flinks_sessions import services
from tests.conftest import flinks_settings_for
from tests.distributed import scenarios
from tests.distributed.rq_support import REDIS_URL, RQEngine
from tests.distributed.worker_settings import CLAIM_TTL
from tests.support import reset_task_backends

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def engine(sandbox: Any, settings: Any) -> Iterator[RQEngine]:
    """Tasks routed to a queue of this test's own on Redis; the workers use the same claim TTL."""
    name = f"flinks-test-{uuid.uuid4().hex[:12]}"
    settings.RQ_QUEUES = {queue: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 60} for queue in ("default", name)}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default", name]}}
    settings.FLINKS_SESSIONS = flinks_settings_for(sandbox.url, CLAIM_TTL=CLAIM_TTL, TASK_QUEUE=name)
    reset_task_backends()
    assert services.engine.claim_ttl() == timedelta(seconds=CLAIM_TTL)
    engine = RQEngine(name)
    try:
        yield engine
    finally:
        engine.delete()
        reset_task_backends()


def test_queued_cancels_run_once_each_spread_over_three_rq_workers(
    sandbox: Any, engine: RQEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenarios.queued_cancels(engine, sandbox, tmp_path, capsys)


@pytest.mark.serial  # the claim TTL of 3 s, as in test_db_workers.py
@pytest.mark.parametrize(
    "victim_call",
    [
        pytest.param("reached_flinks", id="killed-after-flinks-got-the-cancel"),
        pytest.param("lost", id="killed-before-flinks-got-the-cancel"),
    ],
)
def test_an_rq_worker_killed_mid_cancel_loses_nothing(  # noqa: PLR0917 - fixtures
    sandbox: Any,
    engine: RQEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    victim_call: str,
) -> None:
    """As for db_worker: stall, SIGKILL the victim (and its work horse), let the survivors finish, recover."""
    kill = scenarios.kill_a_worker_mid_cancel(
        engine, sandbox, tmp_path, monkeypatch, victim_call, then=lambda kill: None
    )
    scenarios.the_sweeps_recover(engine, sandbox, kill, capsys)
