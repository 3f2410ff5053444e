"""Background entry points on the Django Tasks API; the site picks the engine.

``django.tasks`` on Django 6.x, the ``django-tasks`` backport on 5.2. Each task is declared with plain defaults
and routed when enqueued (:func:`route`: backend alias, queue, priority from ``FLINKS_SESSIONS``), so one
setting moves all of the app's work to another queue. A failed enqueue loses nothing: the intent is stored on
the session and the ``flinks_cancel_sessions --retry-failed`` sweep picks it up.

The services below never enqueue; :func:`enqueue_requested_cancel` answers their ``cancel_requested`` signal
(connected in ``apps.py``). The scheduled sweeps' tasks live with the sweeps (``sweeps/tasks.py``), the
webhook's with the receiver (``webhooks/tasks.py``).
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from typing import Any

from django.utils import timezone

try:  # Django ≥ 6.0 (``task`` is imported from here by the app's other task modules)
    from django.tasks import task, task_backends
except ImportError:  # pragma: no cover - Django 5.2 with the backport
    from django_tasks import task, task_backends  # type: ignore[no-redef,import-not-found,assignment,unused-ignore]

from flinks_sessions import tracing
from flinks_sessions.conf import get_settings
from flinks_sessions.log_context import session_extra

logger = logging.getLogger("flinks_sessions.tasks")


def _find(session_id: str, work: str, source: str = "") -> Any:
    """The session a task names; ``None`` (logged) once it is gone, which the task answers ``"missing"``."""
    from flinks_sessions.models import PaymentSession

    session = PaymentSession.objects.filter(session_id=session_id).first()
    if session is None:
        logger.warning(
            "%s task: no session %s",
            work,
            session_id,
            extra=session_extra(source=source, outcome="missing", session_id=session_id),
        )
    return session


@task()
def cancel_session_task(session_id: str, source: str, reason: str = "") -> str:
    """Cancel a session whose cancel intent still stands when it is claimed (a withdrawn one is not)."""
    from flinks_sessions.services import cancel_session

    with tracing.span("task.cancel_session", session_id=session_id, **{"flinks_sessions.source": source}):
        if (session := _find(session_id, "cancel", source)) is None:
            return "missing"
        return cancel_session(session, source=source, reason=reason, if_requested=True).outcome.value


@task()
def sync_session_task(session_id: str) -> str:
    """Poll one session's status from Flinks."""
    from flinks_sessions.services import sync_session

    with tracing.span("task.sync_session", session_id=session_id):
        if (session := _find(session_id, "sync")) is None:
            return "missing"
        return sync_session(session).outcome.value


@task()
def decide_guarantee_task(session_id: str) -> str:
    """Apply the ``GUARANTEE_DECISION`` policy to a session's stored guarantee offer."""
    from flinks_sessions.services import apply_guarantee_policy

    if (session := _find(session_id, "guarantee")) is None:
        return "missing"
    result = apply_guarantee_policy(session)
    return "undecided" if result is None else result.outcome.value


def route(task_obj: Any, delay: float | None = None) -> Any:
    """The task as ``FLINKS_SESSIONS`` routes it (backend, queue, priority), deferred by ``delay`` seconds."""
    settings = get_settings()
    routed = _routed(task_obj, settings.task_backend, settings.task_queue, settings.task_priority)
    if delay:
        return routed.using(run_after=timezone.now() + timedelta(seconds=delay))
    return routed


@functools.lru_cache(maxsize=64)
def _routed(task_obj: Any, backend: str, queue_name: str, priority: int) -> Any:
    # ``using()`` copies and re-validates the task; on the beacon's path that is worth doing once per route.
    return task_obj.using(backend=backend, queue_name=queue_name, priority=priority)


def backend_supports_defer() -> bool:
    return bool(task_backends[get_settings().task_backend].supports_defer)


def enqueue_cancel(session_id: str, *, source: str, reason: str = "", delay: float | None = None) -> None:
    """Hand a cancel to the task backend. Never raises: the stored intent is the fallback."""
    try:
        if delay and not backend_supports_defer():
            logger.info(
                "Backend cannot defer; the sweep will cancel session %s after the grace period",
                session_id,
                extra=session_extra(source=source, outcome="deferred_to_sweep", session_id=session_id),
            )
            return
        route(cancel_session_task, delay).enqueue(session_id, source, reason)
    except Exception:
        logger.exception(
            "Could not enqueue the cancel of session %s; the sweep will pick it up",
            session_id,
            extra=session_extra(source=source, outcome="enqueue_failed", session_id=session_id),
        )


def enqueue_requested_cancel(
    sender: type, *, session_id: str, source: str, reason: str = "", delay: float | None = None, **kwargs: Any
) -> None:
    """The receiver of ``signals.cancel_requested``: the recorded intent's task, deferred by ``delay``."""
    enqueue_cancel(session_id, source=source, reason=reason, delay=delay)


def enqueue_sync(session_id: str) -> None:
    """Hand a status poll to the task backend."""
    route(sync_session_task).enqueue(session_id)


def enqueue_guarantee_policy(sender: type, *, session: Any, **kwargs: Any) -> None:
    """The receiver of ``signals.guarantee_offered``: decide in a worker, unless an operator decides (manual).

    Never raises: an offer whose task is lost stays undecided, which the admin's filter and
    ``flinks_sync_sessions`` show.
    """
    if get_settings().guarantee_decision == "manual":
        return
    try:
        route(decide_guarantee_task).enqueue(str(session.session_id))
    except Exception:
        logger.exception("Could not enqueue the guarantee decision of session %s", session.session_id)


@task()
def announce_pending_task(ignore_backoff: bool = False) -> dict[str, int]:
    """Send the announcements still owed (``flinks_announce_pending`` as a task; schedule it every minute)."""
    from flinks_sessions.services.announcements import announce_pending

    with tracing.span("task.announce_pending"):
        summary = announce_pending(ignore_backoff=ignore_backoff)
    return {"announced": summary.announced, "failed": summary.failed, "busy": summary.busy}
