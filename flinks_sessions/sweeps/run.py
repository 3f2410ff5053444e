"""Running a sweep: the services' cancel and sync over many sessions, or their hand-off to the task workers,
turned into counted outcomes (:class:`~flinks_sessions.sweeps.summary.RunSummary`).

The calls to Flinks run on the services' one scheduler (``services.cancel_sessions``, ``services.sync_sessions``):
a bounded pool, claimed ahead, that stops cleanly on Ctrl-C. Handing sessions to the task backend makes no call
to Flinks, so it runs in the calling thread, one session after another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.utils.translation import gettext

from flinks_sessions import services
from flinks_sessions.models import PaymentSession
from flinks_sessions.services.accounts import describe_error
from flinks_sessions.sweeps.summary import (
    ENQUEUED,
    FAILED,
    SKIPPED,
    UNKNOWN,
    ItemResult,
    RunSummary,
    session_label,
)
from flinks_sessions.tasks import enqueue_cancel, enqueue_sync

OnResult = Callable[[ItemResult], None]


def item_result(result: services.Result[Any]) -> ItemResult:
    return ItemResult(
        result.outcome.value, label=session_label(result.session), error=result.error, failed=not result.ok
    )


def run_many(
    sessions: Sequence[PaymentSession],
    batch: Callable[..., object],
    *,
    on_result: OnResult | None = None,
    **options: Any,
) -> RunSummary:
    """Call Flinks for the sessions now: ``batch`` is ``services.cancel_sessions`` or ``services.sync_sessions``,
    called with ``options``; each result is counted as it arrives. Ctrl-C ends the run as the scheduler does,
    and the summary says so."""
    summary = RunSummary(total=len(sessions))

    def record(result: services.Result[Any]) -> None:
        item = item_result(result)
        summary.add(item)
        if on_result is not None:
            on_result(item)

    try:
        batch(sessions, on_result=record, **options)
    except KeyboardInterrupt:
        summary.interrupted = True
    else:
        summary.interrupted = summary.not_started > 0
    return summary


def enqueue_many(
    sessions: Sequence[PaymentSession],
    work: Callable[[PaymentSession], ItemResult],
    *,
    on_result: OnResult | None = None,
) -> RunSummary:
    """Hand each session to the task backend with ``work``; Ctrl-C stops before the next one."""
    summary = RunSummary(total=len(sessions))
    try:
        for session in sessions:
            try:
                item = work(session)
            except Exception as exc:  # one failing enqueue never stops the run
                item = ItemResult(
                    FAILED, label=session_label(session), error=describe_error(exc), failed=True
                )
            summary.add(item)
            if on_result is not None:
                on_result(item)
    except KeyboardInterrupt:
        summary.interrupted = True
    return summary


def enqueue_cancel_one(
    session: PaymentSession, *, source: str, reason: str = "", requeue: bool = False
) -> ItemResult:
    """Record the intent and hand the cancel to the task backend.

    ``requeue`` also re-enqueues a session whose intent already stands (the ``--retry-failed`` sweep: its task
    failed, was lost, or never ran); otherwise a standing intent means a task is on its way and it is skipped.
    """
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
    enqueue_sync(str(session.session_id))
    return ItemResult(ENQUEUED, label=session_label(session))


def add_unknown(summary: RunSummary, raw_ids: Iterable[str]) -> None:
    """Count ids given on a command line that match no session (reported, never fatal)."""
    for raw in raw_ids:
        summary.total += 1
        summary.add(ItemResult(UNKNOWN, label=raw, error=gettext("no such session here")))
