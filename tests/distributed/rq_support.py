"""Real ``rqworker`` processes (django-tasks-rq on this machine's Redis) sharing the test database.

RQ's default worker forks a "work horse" per job, which starts a session of its own (``setsid``): a SIGKILL
that must cut a job off, as a lost machine or a container's OOM kill does, has to reach the horse too, so
``kill_worker`` kills the worker and then each of its children.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tests.support import ROOT, subprocess_env, wait_for

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


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (Linux ``/proc``)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def kill_worker(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker, then its work horse: the job in flight dies with them."""
    horses = children(process.pid)
    with suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)
    for horse in horses:
        with suppress(ProcessLookupError):
            os.kill(horse, signal.SIGKILL)
    process.wait()


@contextmanager
def rq_workers(
    count: int, *, queue: str, sandbox_url: str, log_dir: Path, name: Any
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` rqworkers on ``queue``, returned once every one is listening; SIGTERM (then SIGKILL) on exit."""
    env = subprocess_env(sandbox_url, DJANGO_SETTINGS_MODULE=RQ_SETTINGS, FLINKS_TEST_RQ_QUEUE=queue)
    log_dir.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen[bytes]] = []
    logs = [log_dir / f"rqworker-{index}.log" for index in range(count)]
    try:
        for index, path in enumerate(logs):
            with path.open("wb") as log:
                processes.append(
                    subprocess.Popen(  # noqa: S603 - our own interpreter and manage command
                        [
                            sys.executable, "-m", "django", "rqworker", queue,
                            "--job-class", "django_tasks_rq.Job", "--name", name(index),
                        ],
                        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                    )
                )  # fmt: skip

        def all_listening() -> bool:
            for process in processes:
                if process.poll() is not None:
                    text = "\n".join(path.read_text() for path in logs)
                    raise AssertionError(f"an rqworker exited with {process.returncode}:\n{text}")
            return all("Listening on" in path.read_text() for path in logs)

        wait_for(all_listening, timeout=30, interval=0.1, message="every rqworker to listen")
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                kill_worker(process)
