"""Several real ``db_worker`` processes on one PostgreSQL database, as a shop runs them on several machines.

What a site relies on when it scales its workers out: a queued cancel runs once and reaches Flinks once,
whichever worker picks it; the work spreads over the pool; and a worker killed mid-call (OOM killer, a
redeploy's SIGKILL) loses nothing that ``flinks_sync_sessions`` and ``flinks_cancel_sessions --retry-failed``
cannot recover, without a second cancel reaching Flinks. The scenarios are shared with the other engines
(``scenarios.py``); this module says how django-tasks-db's workers start, die and report.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from flinks_sessions import services
from flinks_sessions.models import PaymentSession
from tests.conftest import flinks_settings_for
from tests.distributed import scenarios
from tests.distributed.scenarios import WORKERS, Ran
from tests.distributed.worker_settings import CLAIM_TTL
from tests.support import db_workers, worker_id

# The kills are serial: a killed worker's claim is taken over once it is CLAIM_TTL (3 s) old; on a machine crowded
# by other tests a live call can outlast that too, and a second caller would then call Flinks again for a reason
# that is not the code's. The queued scenario takes nothing over and runs beside the other tests.
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DONE = (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED)
WORKER_SETTINGS = {"DJANGO_SETTINGS_MODULE": "tests.distributed.worker_settings"}


def cancel_tasks() -> Any:
    return DBTaskResult.objects.filter(task_path__endswith="cancel_session_task")


class DatabaseEngine:
    """django-tasks-db: ``db_worker`` processes polling the task table. A killed worker's task stays RUNNING."""

    label = "db"
    names = [worker_id(index) for index in range(WORKERS)]
    stall_paths = None  # every API call: a db_worker keeps its token, so it is caught holding a cancel

    @contextmanager
    def workers(self, sandbox_url: str, log_dir: Path) -> Iterator[list[Popen[bytes]]]:
        with db_workers(WORKERS, sandbox_url=sandbox_url, log_dir=log_dir, env=WORKER_SETTINGS) as workers:
            scenarios.workers_ready(workers, sorted(log_dir.glob("*.log")), "Starting worker", "db_worker")
            yield workers

    def finished_count(self) -> int:
        return cancel_tasks().filter(status__in=DONE).count()

    survivors_count = finished_count

    def results(self) -> list[Ran]:
        rows = cancel_tasks().filter(status__in=DONE).values_list("status", "worker_ids", "return_value")
        return [Ran(status, ids, value) for status, ids, value in rows]

    def running_on(self, worker: str) -> list[str]:
        running = cancel_tasks().filter(status=TaskResultStatus.RUNNING, worker_ids__contains=[worker])
        return [task.args_kwargs["args"][0] for task in running]

    def kill(self, process: Popen[bytes]) -> None:
        process.kill()
        process.wait()

    def assert_abandoned(self, held: PaymentSession, victim: str) -> None:
        """Its task RUNNING for good: django-tasks-db never re-runs it."""
        stuck = list(cancel_tasks().filter(status=TaskResultStatus.RUNNING))
        assert [task.worker_ids for task in stuck] == [[victim]]
        assert stuck[0].args_kwargs["args"][0] == str(held.session_id)


@pytest.fixture
def engine(sandbox: Any, settings: Any, database_tasks: None) -> DatabaseEngine:
    """The test process agrees with the workers on the claim TTL (it runs the recovery sweeps)."""
    settings.FLINKS_SESSIONS = flinks_settings_for(sandbox.url, CLAIM_TTL=CLAIM_TTL)
    assert services.engine.claim_ttl() == timedelta(seconds=CLAIM_TTL)
    return DatabaseEngine()


def test_queued_cancels_run_once_each_spread_over_three_workers(
    sandbox: Any, engine: DatabaseEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenarios.queued_cancels(engine, sandbox, tmp_path, capsys)


@pytest.mark.serial
@pytest.mark.parametrize(
    "victim_call",
    [
        pytest.param("reached_flinks", id="killed-after-flinks-got-the-cancel"),
        pytest.param("lost", id="killed-before-flinks-got-the-cancel"),
    ],
)
def test_a_worker_killed_mid_cancel_loses_nothing(  # noqa: PLR0917 - fixtures
    sandbox: Any,
    engine: DatabaseEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    victim_call: str,
) -> None:
    """SIGKILL one of three workers mid-cancel; the others finish, the sweeps recover, nothing is sent twice."""
    kill = scenarios.kill_a_worker_mid_cancel(
        engine, sandbox, tmp_path, monkeypatch, victim_call, then=lambda kill: None
    )
    scenarios.the_sweeps_recover(engine, sandbox, kill, capsys)
