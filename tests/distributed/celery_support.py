"""Real ``celery worker`` processes (django-tasks-fennel) on RabbitMQ or Redis, sharing the test database.

Each worker runs the prefork pool with one child, as ``celery worker --concurrency 1`` does on a small
machine: a SIGKILL that must cut a task off, as a lost machine does, kills the worker and its pool child. The
test process sends through a Celery app of its own, configured like the workers', and learns the id of each
task it enqueues from the Django Tasks ``task_enqueued`` signal, so it reads the results of exactly its tasks.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from flinks_sessions.models import PaymentSession
from tests.distributed import scenarios
from tests.distributed.scenarios import WORKERS, Ran
from tests.support import subprocess_env

CELERY_SETTINGS = "tests.distributed.celery_settings"
RUNNING = ("STARTED", "RETRY")
FINISHED = {"SUCCESS": "SUCCESSFUL", "FAILURE": "FAILED", "REVOKED": "FAILED"}


def task_backends() -> Any:
    try:
        from django.tasks import task_backends
    except ImportError:  # Django 5.2: the backport
        from django_tasks import task_backends
    return task_backends


class CeleryEngine:
    """django-tasks-fennel on a broker: this test's own queue, and results in a folder of this test's own.

    With the default early acknowledgement, the broker forgets a message once a worker takes it: a killed
    worker's task is left STARTED and never run again, like django-tasks-db's RUNNING row. With
    ``acks_late`` (and ``reject_on_worker_lost``), the broker gives the killed task to another worker.
    """

    stall_paths = None  # a prefork child keeps its token between tasks: it is caught holding a cancel

    def __init__(self, broker: str, broker_url: str, results: Path, *, acks_late: bool = False) -> None:
        self.label = f"celery/{broker}" + (" (acks_late)" if acks_late else "")
        self.broker_url = broker_url
        self.queue = f"flinks-test-{uuid.uuid4().hex[:12]}"
        results.mkdir(parents=True, exist_ok=True)
        self.results_url = f"file://{results}"
        self.acks_late = acks_late
        suffix = uuid.uuid4().hex[:6]
        self.names = [f"celery-test-{index}-{suffix}@flinks" for index in range(WORKERS)]
        self.ids: list[str] = []

    @contextmanager
    def sending(self) -> Iterator[None]:
        """The test process sends with a Celery app like the workers', and records each cancel task's id."""
        from celery import Celery, _state

        try:
            from django.tasks.signals import task_enqueued
        except ImportError:  # Django 5.2: the backport
            from django_tasks.signals import task_enqueued

        def record(sender: Any, task_result: Any, **kwargs: Any) -> None:
            if task_result.task.module_path.endswith("cancel_session_task"):
                self.ids.append(task_result.id)

        previous = (_state._tls.current_app, _state.default_app)
        app = Celery("flinks-tests", set_as_current=False)
        app.conf.update(
            broker_url=self.broker_url,
            result_backend=self.results_url,
            result_extended=True,
            broker_transport_options={"visibility_timeout": 5},  # as the workers' (celery_settings.py)
        )
        app.set_current()
        app.set_default()
        self.app = app
        task_enqueued.connect(record, weak=False)
        try:
            yield
        finally:
            task_enqueued.disconnect(record)
            with app.connection_for_write() as connection:
                connection.default_channel.queue_delete(self.queue)
            app.close()
            _state._tls.current_app, _state.default_app = previous

    def workers(
        self, sandbox_url: str, log_dir: Path
    ) -> AbstractContextManager[list[subprocess.Popen[bytes]]]:
        """``WORKERS`` celery workers consuming this queue, returned once every one of them is ready."""
        env = subprocess_env(
            sandbox_url,
            DJANGO_SETTINGS_MODULE=CELERY_SETTINGS,
            FLINKS_TEST_CELERY_QUEUE=self.queue,
            FLINKS_TEST_CELERY_BROKER=self.broker_url,
            FLINKS_TEST_CELERY_RESULTS=self.results_url,
            FLINKS_TEST_CELERY_ACKS_LATE="1" if self.acks_late else "0",
        )
        commands = [
            [
                sys.executable, "-m", "celery", "-A", "django_tasks_fennel.app", "worker", "-Q", self.queue,
                "-n", name, "--concurrency", "1", "--loglevel", "INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ]
            for name in self.names
        ]  # fmt: skip
        return scenarios.worker_processes(
            commands, env, log_dir, marker=" ready.", what="celery worker", kill=self.kill
        )

    def meta(self, task_id: str) -> dict[str, Any]:
        """A task's stored state; one a worker is writing at this very moment reads as not finished yet."""
        from kombu.exceptions import DecodeError

        try:
            return dict(self.app.backend.get_task_meta(task_id))
        except DecodeError:  # the file result backend is read while a worker rewrites it
            return {"task_id": task_id, "status": "UNREADABLE"}

    def _metas(self) -> list[dict[str, Any]]:
        return [self.meta(task_id) for task_id in self.ids]

    def finished_count(self) -> int:
        return sum(meta["status"] in FINISHED for meta in self._metas())

    def survivors_count(self) -> int:
        return sum(meta["status"] == "SUCCESS" for meta in self._metas())

    def results(self) -> list[Ran]:
        """The Django Tasks view (status, worker_ids, return value) of every task that finished."""
        backend = task_backends()["default"]
        finished = [meta["task_id"] for meta in self._metas() if meta["status"] in FINISHED]
        found = [backend.get_result(task_id) for task_id in finished]
        return [Ran(result.status.value, result.worker_ids, result.return_value) for result in found]

    def result_of(self, session: PaymentSession) -> dict[str, Any]:
        """The stored state of the cancel task of ``session`` (there is one)."""
        [meta] = [
            meta for meta in self._metas() if (meta.get("args") or [None])[0] == str(session.session_id)
        ]
        return meta

    def running_on(self, worker: str) -> list[str]:
        return [
            meta["args"][0]
            for meta in self._metas()
            if meta["status"] in RUNNING and meta.get("worker") == worker and meta.get("args")
        ]

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and its pool child: the task in flight dies with them."""
        scenarios.kill_tree(process)

    def assert_abandoned(self, held: PaymentSession, victim: str) -> None:
        """Its task STARTED for good on the dead worker: the broker had its acknowledgement, it is never re-run."""
        stuck = [meta for meta in self._metas() if meta["status"] not in FINISHED]
        assert [(meta["status"], meta["worker"], meta["args"][0]) for meta in stuck] == [
            ("STARTED", victim, str(held.session_id))
        ]
