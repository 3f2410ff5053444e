"""What a sweep did, counted and worded the same way by the commands, the admin and the scheduled tasks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.utils.translation import gettext, ngettext

from flinks_sessions.models import PaymentSession
from flinks_sessions.services import CancelOutcome, SyncOutcome

ENQUEUED = "enqueued"
SKIPPED = "skipped"
UNKNOWN = "unknown"
FAILED = "failed"


def session_label(session: PaymentSession) -> str:
    """The one identifying thing we print: the Flinks session id (the row id for a never-created session)."""
    return str(session.session_id) if session.session_id else f"pk={session.pk}"


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one item: a key counted in the summary (``"cancelled"``), and an error for failures."""

    key: str
    label: str = ""
    error: str = ""
    failed: bool = False


@dataclass
class RunSummary:
    """What a run did: outcome counts, the first failure, and how many items an interruption left unstarted."""

    total: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    first_error: str = ""
    interrupted: bool = False

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    @property
    def not_started(self) -> int:
        return self.total - self.done

    def add(self, result: ItemResult) -> None:
        self.counts[result.key] += 1
        if result.failed:
            self.failed += 1
            if not self.first_error:
                self.first_error = f"{result.label}: {result.error}" if result.label else result.error


def _tail(summary: RunSummary) -> list[str]:
    parts = []
    pending = summary.counts[CancelOutcome.PENDING.value]
    if pending:
        parts.append(
            ngettext("%d being cancelled elsewhere", "%d being cancelled elsewhere", pending) % pending
        )
    withdrawn = summary.counts[CancelOutcome.WITHDRAWN.value]
    if withdrawn:
        parts.append(ngettext("%d withdrawn meanwhile", "%d withdrawn meanwhile", withdrawn) % withdrawn)
    if summary.interrupted and summary.not_started:
        parts.append(gettext("%d not started (interrupted)") % summary.not_started)
    return parts


def describe_cancel_counts(summary: RunSummary) -> str:
    """``3 cancelled, 1 already terminal, 0 not found, 1 failed`` (plus anything unusual)."""
    counts = summary.counts
    parts = [
        gettext("%d cancelled") % counts[CancelOutcome.CANCELLED.value],
        gettext("%d already terminal") % counts[CancelOutcome.ALREADY_TERMINAL.value],
        gettext("%d not found") % (counts[CancelOutcome.NOT_FOUND.value] + counts[UNKNOWN]),
        gettext("%d failed") % summary.failed,
        *_tail(summary),
    ]
    return ", ".join(parts)


def describe_cancel(summary: RunSummary) -> str:
    """The command's summary line: ``Cancelled N of M: X cancelled, Y already terminal, Z not found, W failed``."""
    cancelled = summary.counts[CancelOutcome.CANCELLED.value]
    head = gettext("Cancelled %(done)d of %(total)d") % {"done": cancelled, "total": summary.total}
    return f"{head}: {describe_cancel_counts(summary)}"


def describe_enqueue(summary: RunSummary) -> str:
    counts = summary.counts
    head = gettext("Enqueued %(done)d of %(total)d") % {"done": counts[ENQUEUED], "total": summary.total}
    parts = [
        gettext("%d enqueued") % counts[ENQUEUED],
        gettext("%d already terminal") % counts[CancelOutcome.ALREADY_TERMINAL.value],
        gettext("%d already requested") % counts[SKIPPED],
        gettext("%d not found") % counts[UNKNOWN],
        gettext("%d failed") % summary.failed,
        *_tail(summary),
    ]
    return f"{head}: {', '.join(parts)}"


def describe_sync_counts(summary: RunSummary) -> str:
    counts = summary.counts
    parts = [
        gettext("%d changed") % counts[SyncOutcome.CHANGED.value],
        gettext("%d unchanged") % counts[SyncOutcome.UNCHANGED.value],
        gettext("%d not found") % (counts[SyncOutcome.NOT_FOUND.value] + counts[UNKNOWN]),
        gettext("%d failed") % summary.failed,
    ]
    if counts[SyncOutcome.SKIPPED.value]:
        parts.append(gettext("%d skipped (never created at Flinks)") % counts[SyncOutcome.SKIPPED.value])
    return ", ".join(parts + _tail(summary))


def describe_sync(summary: RunSummary) -> str:
    synced = summary.counts[SyncOutcome.CHANGED.value] + summary.counts[SyncOutcome.UNCHANGED.value]
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
