"""The example project as ``scripts/schemathesis.sh`` serves it: its own settings, tasks run in the request.

Django's ImmediateBackend runs an accepted beacon's cancel at once (against the sandbox), so the run needs no
worker and still goes through the whole path: the beacon, the cancel, the sandbox's signed webhook back.
Everything else (database, sandbox URL, throttle rate, DEBUG) comes from the environment the script sets.
"""

from __future__ import annotations

from example_project.settings import *  # noqa: F403

try:
    import django.tasks  # noqa: F401

    _TASKS_MODULE = "django.tasks"
except ImportError:  # Django 5.2: the backport
    _TASKS_MODULE = "django_tasks"

TASKS = {"default": {"BACKEND": f"{_TASKS_MODULE}.backends.immediate.ImmediateBackend"}}
# The warning that ImmediateBackend makes beacons wait for Flinks: true, and chosen here on purpose.
SILENCED_SYSTEM_CHECKS = ["flinks_sessions.W010"]
