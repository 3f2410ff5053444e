"""Settings for the ``celery worker`` processes of the Celery tests: the db_worker settings, on Celery.

django-tasks-fennel bridges the Django Tasks API to Celery; its bundled Celery app reads the ``CELERY_*``
settings below. The test process tells its workers which broker (RabbitMQ or Redis), which queue of this
test's own, where results go, and whether tasks acknowledge late, through ``FLINKS_TEST_CELERY_*``.
"""

from __future__ import annotations

import os

from tests.distributed.worker_settings import *  # noqa: F403 - the worker settings, plus the Celery engine
from tests.distributed.worker_settings import FLINKS_SESSIONS as _BASE
from tests.distributed.worker_settings import INSTALLED_APPS as _APPS

CELERY_QUEUE = os.environ.get("FLINKS_TEST_CELERY_QUEUE") or f"flinks-test-{os.getpid()}"

INSTALLED_APPS = [*_APPS, "django_tasks_fennel"]
TASKS = {"default": {"BACKEND": "django_tasks_fennel.CeleryBackend", "QUEUES": ["default", CELERY_QUEUE]}}
FLINKS_SESSIONS = {**_BASE, "TASK_QUEUE": CELERY_QUEUE}

CELERY_BROKER_URL = os.environ.get("FLINKS_TEST_CELERY_BROKER", "amqp://guest:guest@127.0.0.1:5672//")
# Results are for the tests (who ran what); the app itself never reads a task's result.
CELERY_RESULT_BACKEND = os.environ.get("FLINKS_TEST_CELERY_RESULTS", "file:///tmp/flinks-celery-results")
CELERY_RESULT_EXTENDED = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis has no acknowledgement of its own: a message taken and not acknowledged comes back once it is older than
# the visibility timeout, which kombu checks every interval times throttle seconds (10 times 10 by default).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 5,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
CELERY_TASK_ACKS_LATE = os.environ.get("FLINKS_TEST_CELERY_ACKS_LATE") == "1"
CELERY_TASK_REJECT_ON_WORKER_LOST = CELERY_TASK_ACKS_LATE
