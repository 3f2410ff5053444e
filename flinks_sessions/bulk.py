"""Cancelling, syncing or enqueueing many sessions at once: what the admin actions, the commands and the
scheduled sync task share.

Each function hands every session to :mod:`flinks_sessions.services` (the only writer of state), through
:func:`~flinks_sessions.services.cancel_sessions` for cancels and the bounded
:class:`~flinks_sessions.runner.BoundedRunner` for the rest, and turns the services' results into counted
outcomes; the ``describe_*`` functions word the summary the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.utils.translation import gettext, ngettext

from flinks_sessions import services
from flinks_sessions.models import PaymentSession
from flinks_sessions.runner import BoundedRunner, ItemResult, RunSummary

ENQUEUED = "enqueued"
SKIPPED = "skipped"
UNKNOWN = "unknown"


def session_label(session: PaymentSession) -> str:
    """The one identifying thing we print: the Flinks session id (the row id for a never-created session)."""
    return str(session.session_id) if session.session_id else f"pk={session.pk}"


def cancel_one(session: PaymentSession, *, source: str, reason: str = "", actor: Any = None) -> ItemResult:
    return cancel_item(services.cancel_session(session, source=source, reason=reason, actor=actor))


def cancel_item(result: services.CancelResult) -> ItemResult:
    return ItemResult(
        result.outcome.value, label=session_label(result.session), error=result.error, failed=not result.ok
    )


def cancel_many(
    sessions: Sequence[PaymentSession],
    *,
    source: str,
    reason: str = "",
    actor: Any = None,
    concurrency: int = 8,
    on_result: Callable[[ItemResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RunSummary:
    """Cancel the sessions with :func:`services.cancel_sessions` (batched claims and finishes, a bounded pool).

    Ctrl-C stops the run the way the runner's does: nothing new is started, what is under way is stored, and
    the summary says it was interrupted.
    """
    summary = RunSummary(total=len(sessions))

    def record(result: services.CancelResult) -> None:
        item = cancel_item(result)
        summary.add(item)
        if on_result is not None:
            on_result(item)

    try:
        services.cancel_sessions(
            sessions,
            source=source,
            reason=reason,
            actor=actor,
            concurrency=concurrency,
            on_result=record,
            should_stop=should_stop,
        )
    except KeyboardInterrupt:
        summary.interrupted = True
    else:
        summary.interrupted = summary.not_started > 0
    return summary


def sync_one(session: PaymentSession) -> ItemResult:
    result = services.sync_session(session)
    return ItemResult(
        result.outcome.value, label=session_label(session), error=result.error, failed=not result.ok
    )


def enqueue_cancel_one(
    session: PaymentSession, *, source: str, reason: str = "", requeue: bool = False
) -> ItemResult:
    """Record the intent and hand the cancel to the task backend.

    ``requeue`` also re-enqueues a session whose intent already stands (the ``--retry-failed`` sweep: its task
    failed, was lost, or never ran); otherwise a standing intent means a task is on its way and it is skipped.
    """
    from flinks_sessions.tasks import enqueue_cancel

    label = session_label(session)
    if session.is_terminal:
        return ItemResult(services.CancelOutcome.ALREADY_TERMINAL.value, label=label)
    if services.request_cancel(session, source=source, reason=reason):
        return ItemResult(ENQUEUED, label=label)
    session.refresh_from_db(fields=["status", "cancel_requested_at"])
    if requeue and session.has_pending_cancel:
        enqueue_cancel(str(session.session_id), source=source, reason=reason)
        return ItemResult(ENQUEUED, label=label)
    if session.is_terminal:
        return ItemResult(services.CancelOutcome.ALREADY_TERMINAL.value, label=label)
    return ItemResult(SKIPPED, label=label)


def enqueue_sync_one(session: PaymentSession) -> ItemResult:
    from flinks_sessions.tasks import enqueue_sync

    enqueue_sync(str(session.session_id))
    return ItemResult(ENQUEUED, label=session_label(session))


def run_many(
    sessions: Iterable[PaymentSession],
    work: Callable[[PaymentSession], ItemResult],
    *,
    concurrency: int = 8,
    on_result: Callable[[ItemResult], None] | None = None,
    runner: BoundedRunner[PaymentSession] | None = None,
) -> RunSummary:
    """Run ``work`` over the sessions in a bounded pool (or the given runner, whose ``stop`` a caller may set)."""
    runner = runner or BoundedRunner(work, concurrency=concurrency, on_result=on_result, label=session_label)
    return runner.run(sessions)


def add_unknown(summary: RunSummary, raw_ids: Iterable[str]) -> None:
    """Count ids given on a command line that match no session (reported, never fatal)."""
    for raw in raw_ids:
        summary.total += 1
        summary.add(ItemResult(UNKNOWN, label=raw, error=gettext("no such session here")))


# --- wording -------------------------------------------------------------------------------------------------


def _tail(summary: RunSummary) -> list[str]:
    parts = []
    pending = summary.counts[services.CancelOutcome.PENDING.value]
    if pending:
        parts.append(
            ngettext("%d being cancelled elsewhere", "%d being cancelled elsewhere", pending) % pending
        )
    if summary.interrupted and summary.not_started:
        parts.append(gettext("%d not started (interrupted)") % summary.not_started)
    return parts


def describe_cancel_counts(summary: RunSummary) -> str:
    """``3 cancelled, 1 already terminal, 0 not found, 1 failed`` (plus anything unusual)."""
    counts = summary.counts
    parts = [
        gettext("%d cancelled") % counts[services.CancelOutcome.CANCELLED.value],
        gettext("%d already terminal") % counts[services.CancelOutcome.ALREADY_TERMINAL.value],
        gettext("%d not found") % (counts[services.CancelOutcome.NOT_FOUND.value] + counts[UNKNOWN]),
        gettext("%d failed") % summary.failed,
        *_tail(summary),
    ]
    return ", ".join(parts)


def describe_cancel(summary: RunSummary) -> str:
    """The command's summary line: ``Cancelled N of M: X cancelled, Y already terminal, Z not found, W failed``."""
    cancelled = summary.counts[services.CancelOutcome.CANCELLED.value]
    head = gettext("Cancelled %(done)d of %(total)d") % {"done": cancelled, "total": summary.total}
    return f"{head}: {describe_cancel_counts(summary)}"


def describe_enqueue(summary: RunSummary) -> str:
    counts = summary.counts
    head = gettext("Enqueued %(done)d of %(total)d") % {"done": counts[ENQUEUED], "total": summary.total}
    parts = [
        gettext("%d enqueued") % counts[ENQUEUED],
        gettext("%d already terminal") % counts[services.CancelOutcome.ALREADY_TERMINAL.value],
        gettext("%d already requested") % counts[SKIPPED],
        gettext("%d not found") % counts[UNKNOWN],
        gettext("%d failed") % summary.failed,
        *_tail(summary),
    ]
    return f"{head}: {', '.join(parts)}"


def describe_sync_counts(summary: RunSummary) -> str:
    counts = summary.counts
    parts = [
        gettext("%d changed") % counts[services.SyncOutcome.CHANGED.value],
        gettext("%d unchanged") % counts[services.SyncOutcome.UNCHANGED.value],
        gettext("%d not found") % (counts[services.SyncOutcome.NOT_FOUND.value] + counts[UNKNOWN]),
        gettext("%d failed") % summary.failed,
    ]
    if counts[services.SyncOutcome.SKIPPED.value]:
        parts.append(
            gettext("%d skipped (never created at Flinks)") % counts[services.SyncOutcome.SKIPPED.value]
        )
    return ", ".join(parts + _tail(summary))


def describe_sync(summary: RunSummary) -> str:
    synced = (
        summary.counts[services.SyncOutcome.CHANGED.value]
        + summary.counts[services.SyncOutcome.UNCHANGED.value]
    )
    head = gettext("Synced %(done)d of %(total)d") % {"done": synced, "total": summary.total}
    return f"{head}: {describe_sync_counts(summary)}"


def describe_sync_enqueue(summary: RunSummary) -> str:
    head = gettext("Enqueued %(done)d of %(total)d") % {
        "done": summary.counts[ENQUEUED],
        "total": summary.total,
    }
    parts = [
        gettext("%d enqueued") % summary.counts[ENQUEUED],
        gettext("%d not found") % summary.counts[UNKNOWN],
        gettext("%d failed") % summary.failed,
        *_tail(summary),
    ]
    return f"{head}: {', '.join(parts)}"
