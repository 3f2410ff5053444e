"""System checks for where the app's background work goes: ``TASK_BACKEND``, ``TASK_QUEUE`` and the engine.

The beacon only records an intent and hands the Flinks call to the task backend; a wrong alias or queue loses
that hand-off (the sweep still catches it, late), and the two built-in test backends quietly change what
"background" means. Ids are stable; the README lists them.

- ``flinks_sessions.E010``: ``TASK_BACKEND`` names an alias that is not in ``TASKS``.
- ``flinks_sessions.E011``: ``TASK_QUEUE`` is not among the queues that backend accepts.
- ``flinks_sessions.W010``: ``ImmediateBackend`` outside ``DEBUG``: the cancel runs inside the beacon request.
- ``flinks_sessions.W011``: ``DummyBackend``: tasks are stored and never run; nothing gets cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from flinks_sessions.conf import SETTING_NAME, parse_settings
from flinks_sessions.exceptions import FlinksConfigurationError

_IMMEDIATE = (
    "django.tasks.backends.immediate.ImmediateBackend",
    "django_tasks.backends.immediate.ImmediateBackend",
)
_DUMMY = ("django.tasks.backends.dummy.DummyBackend", "django_tasks.backends.dummy.DummyBackend")


def _classes(paths: tuple[str, ...]) -> tuple[type, ...]:
    found = []
    for path in paths:
        try:
            found.append(import_string(path))
        except ImportError:
            continue
    return tuple(found)


def _tasks_setting() -> Mapping[str, Any]:
    value = getattr(settings, "TASKS", None)
    if value is None:  # Django 5.2 with the backport: its own default
        try:
            from django_tasks import task_backends  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            return {}
        value = task_backends.settings
    return value if isinstance(value, Mapping) else {}


def _backend(alias: str, params: Mapping[str, Any]) -> Any:
    """A fresh instance (never the shared, cached one): checks must see the settings as they are now."""
    return import_string(params["BACKEND"])(alias=alias, params=dict(params))


@checks.register(checks.Tags.compatibility)
def check_task_setup(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The task backend and queue the app's cancels and syncs are sent to."""
    try:
        parsed = parse_settings(getattr(settings, SETTING_NAME, None))
    except FlinksConfigurationError:
        return []  # flinks_sessions.E002 already says what is wrong
    tasks = _tasks_setting()
    alias = parsed.task_backend
    if alias not in tasks:
        known = ", ".join(sorted(tasks)) or gettext("none")
        return [
            checks.Error(
                gettext(
                    "%(setting)s['TASK_BACKEND'] is %(alias)r, which is not a backend in TASKS "
                    "(configured: %(known)s)."
                )
                % {"setting": SETTING_NAME, "alias": alias, "known": known},
                hint=gettext(
                    "Set %(setting)s['TASK_BACKEND'] to one of the TASKS aliases, or add %(alias)r to TASKS."
                )
                % {"setting": SETTING_NAME, "alias": alias},
                id="flinks_sessions.E010",
            )
        ]
    try:
        backend = _backend(alias, tasks[alias])
    except Exception:  # Django's own tasks checks report a backend that cannot load
        return []
    messages: list[checks.CheckMessage] = []
    queues = set(getattr(backend, "queues", ()) or ())
    if queues and parsed.task_queue not in queues:
        messages.append(
            checks.Error(
                gettext(
                    "%(setting)s['TASK_QUEUE'] is %(queue)r, but the task backend %(alias)r only accepts the "
                    "queues %(queues)s: every cancel would fail to enqueue."
                )
                % {
                    "setting": SETTING_NAME,
                    "queue": parsed.task_queue,
                    "alias": alias,
                    "queues": ", ".join(sorted(queues)),
                },
                hint=gettext(
                    "Add %(queue)r to TASKS[%(alias)r]['QUEUES'] or change %(setting)s['TASK_QUEUE']."
                )
                % {"setting": SETTING_NAME, "queue": parsed.task_queue, "alias": alias},
                id="flinks_sessions.E011",
            )
        )
    if isinstance(backend, _classes(_IMMEDIATE)) and not settings.DEBUG:
        messages.append(
            checks.Warning(
                gettext(
                    "The task backend %(alias)r is ImmediateBackend: each exit beacon would call Flinks inside "
                    "the shopper's request, and the back/forward-cache grace period cannot be honoured."
                )
                % {"alias": alias},
                hint=gettext(
                    "Use a real task backend (e.g. django_tasks_db.DatabaseBackend with its db_worker) in "
                    "production."
                ),
                id="flinks_sessions.W010",
            )
        )
    if isinstance(backend, _classes(_DUMMY)):
        messages.append(
            checks.Warning(
                gettext(
                    "The task backend %(alias)r is DummyBackend: cancels and syncs are queued but never run, so "
                    "no exit beacon cancels anything."
                )
                % {"alias": alias},
                hint=gettext(
                    "Use a backend that runs tasks (ImmediateBackend in development, a worker-backed one in "
                    "production)."
                ),
                id="flinks_sessions.W011",
            )
        )
    return messages
