"""Real ``rqworker`` processes (django-tasks-rq on this machine's Redis) sharing the test database.

RQ's default worker forks a "work horse" per job, which starts a session of its own (``setsid``): a SIGKILL
that must cut a job off, as a lost machine or a container's OOM kill does, has to reach the horse too, so
:meth:`RQEngine.kill` kills the worker and then each of its children.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from typing import Any

from flinks_sessions.models import PaymentSession
from tests.distributed import scenarios
from tests.distributed.scenarios import WORKERS, Ran
from tests.support import subprocess_env

REDIS_URL = os.environ.get("FLINKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RQ_SETTINGS = "tests.distributed.rq_settings"


def redis_problem() -> str | None:
    """Why the RQ tests cannot run here, or ``None`` when django-tasks-rq is installed and Redis answers."""
    try:
        import django_tasks_rq  # noqa: F401
        import redis
    except ImportError:
        return "needs django-tasks-rq: pip install -e '.[test]'"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
    except redis.RedisError as error:
        return f"needs Redis at {REDIS_URL} ({error}); .ci/run starts one"
    return None


class RQEngine:
    """django-tasks-rq: this test's own queue on Redis, read the way django-tasks-rq reports on it.

    A job whose worker died stays in the queue's started registry (later failed as abandoned by a surviving
    worker's cleanup), never run again, like django-tasks-db's RUNNING row.
    """

    label = "rq"
    # Only /cancel is stalled: RQ's forking worker runs each job in a fresh work horse that authorizes first (no
    # token survives the job), and the victim must be caught holding a cancel, not a token request.
    stall_paths = ["/cancel"]

    def __init__(self, name: str) -> None:
        import django_rq
        from django_tasks_rq import Job

        self.name = name
        self.queue = django_rq.get_queue(name, job_class=Job)
        suffix = uuid.uuid4().hex[:6]
        self.names = [f"rq-test-worker-{index}-{suffix}" for index in range(WORKERS)]

    def workers(
        self, sandbox_url: str, log_dir: Path
    ) -> AbstractContextManager[list[subprocess.Popen[bytes]]]:
        """``WORKERS`` rqworkers on this queue, returned once every one is listening."""
        env = subprocess_env(sandbox_url, DJANGO_SETTINGS_MODULE=RQ_SETTINGS, FLINKS_TEST_RQ_QUEUE=self.name)
        commands = [
            [
                sys.executable,
                "-m",
                "django",
                "rqworker",
                self.name,
                "--job-class",
                "django_tasks_rq.Job",
                "--name",
                name,
            ]
            for name in self.names
        ]
        return scenarios.worker_processes(
            commands, env, log_dir, marker="Listening on", what="rqworker", kill=self.kill
        )

    def finished_count(self) -> int:
        return int(self.queue.finished_job_registry.count + self.queue.failed_job_registry.count)

    def survivors_count(self) -> int:
        return int(self.queue.finished_job_registry.count)

    def _jobs(self, *registries: Any) -> list[Any]:
        ids = [job_id for registry in registries for job_id in registry.get_job_ids()]
        return [job for job in (self.queue.fetch_job(job_id) for job_id in ids) if job is not None]

    def abandoned_jobs(self) -> list[Any]:
        """Jobs whose worker died: still in the started registry, or failed there by a survivor's cleanup."""
        return self._jobs(self.queue.started_job_registry, self.queue.failed_job_registry)

    def results(self) -> list[Ran]:
        """The Django Tasks view (status, worker_ids, return value) of every job that finished."""
        try:
            from django.tasks import task_backends
        except ImportError:  # Django 5.2: the backport
            from django_tasks import task_backends

        backend = task_backends["default"]
        ids = self.queue.finished_job_registry.get_job_ids() + self.queue.failed_job_registry.get_job_ids()
        found = [backend.get_result(job_id) for job_id in ids]
        return [Ran(result.status.value, result.worker_ids, result.return_value) for result in found]

    def running_on(self, worker: str) -> list[str]:
        started = self._jobs(self.queue.started_job_registry)
        return [job.args[0] for job in started if job.worker_name == worker]

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL a worker, then its work horse: the job in flight dies with them."""
        scenarios.kill_tree(process)

    def assert_abandoned(self, held: PaymentSession, victim: str) -> None:
        """Its job never re-run: left "started", or failed as abandoned by a surviving worker's cleanup."""
        [abandoned] = self.abandoned_jobs()
        assert abandoned.args[0] == str(held.session_id)
        status = abandoned.get_status()
        assert status in ("started", "failed"), status
        if status == "failed":
            assert "AbandonedJobError" in (abandoned.latest_result().exc_string or "")

    def delete(self) -> None:
        registries = (
            self.queue.finished_job_registry,
            self.queue.failed_job_registry,
            self.queue.started_job_registry,
        )
        for job in self._jobs(*registries):
            # A killed worker's job may name an execution whose record has expired: rq cannot delete it then.
            with suppress(ValueError):
                job.delete()
        self.queue.delete(delete_jobs=True)
        # A killed worker never unregisters itself: drop the queue's worker set too (Redis is shared).
        self.queue.connection.delete(f"rq:workers:{self.name}")
