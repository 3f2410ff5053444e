"""Settings for the ``rqworker`` processes (and the test process) of the django-tasks-rq tests.

The worker settings of the ``db_worker`` tests (short claim TTL) with the Django Tasks backend switched to
django-tasks-rq on this machine's Redis. Each test run gets its own RQ queue (``FLINKS_TEST_RQ_QUEUE``, set
by the test process for its workers), so parallel runs sharing one Redis never take each other's jobs.
"""

from __future__ import annotations

import os

from tests.distributed.worker_settings import *  # noqa: F403 - the worker settings, plus the RQ engine
from tests.distributed.worker_settings import FLINKS_SESSIONS as _BASE
from tests.distributed.worker_settings import INSTALLED_APPS as _APPS

REDIS_URL = os.environ.get("FLINKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RQ_QUEUE = os.environ.get("FLINKS_TEST_RQ_QUEUE") or f"flinks-test-{os.getpid()}"

INSTALLED_APPS = [*_APPS, "django_rq", "django_tasks_rq"]
# "default" exists because tasks are declared on it (and validated against the backend when declared); the app
# routes all of its work to RQ_QUEUE through TASK_QUEUE.
RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 60} for name in ("default", RQ_QUEUE)}
TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default", RQ_QUEUE]}}
FLINKS_SESSIONS = {**_BASE, "TASK_QUEUE": RQ_QUEUE}
