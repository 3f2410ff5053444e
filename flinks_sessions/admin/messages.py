"""What an admin action did, in sentences a person reads at once: zeros left out, plurals right, translated.

The commands print every count for scripts that parse them (:mod:`flinks_sessions.sweeps.summary`); an operator
who selected six sessions wants "3 sessions were cancelled at Flinks. 3 had already ended.", not a table of
zeros.
"""

from __future__ import annotations

from django.utils.translation import gettext, ngettext

from flinks_sessions.services import CancelOutcome, SyncOutcome
from flinks_sessions.sweeps.summary import UNKNOWN, RunSummary


def _sentences(parts: list[str], nothing: str) -> str:
    return " ".join(parts) if parts else nothing


def _failures(summary: RunSummary) -> list[str]:
    parts = []
    if summary.failed:
        parts.append(
            ngettext(
                "%(count)d failed and will be retried (first error: %(error)s).",
                "%(count)d failed and will be retried (first error: %(error)s).",
                summary.failed,
            )
            % {"count": summary.failed, "error": summary.first_error}
        )
    if summary.interrupted and summary.not_started:
        parts.append(
            ngettext(
                "%(count)d was not started: the run was interrupted.",
                "%(count)d were not started: the run was interrupted.",
                summary.not_started,
            )
            % {"count": summary.not_started}
        )
    return parts


def describe_cancel_action(summary: RunSummary) -> str:
    """``3 sessions were cancelled at Flinks. 1 had already ended.`` (only the counts that are not zero)."""
    counts = summary.counts
    cancelled = counts[CancelOutcome.CANCELLED.value]
    ended = counts[CancelOutcome.ALREADY_TERMINAL.value]
    unknown = counts[CancelOutcome.NOT_FOUND.value] + counts[UNKNOWN]
    pending = counts[CancelOutcome.PENDING.value]
    parts = []
    if cancelled:
        parts.append(
            ngettext(
                "%(count)d session was cancelled at Flinks.",
                "%(count)d sessions were cancelled at Flinks.",
                cancelled,
            )
            % {"count": cancelled}
        )
    if ended:
        parts.append(
            ngettext("%(count)d had already ended.", "%(count)d had already ended.", ended) % {"count": ended}
        )
    if unknown:
        parts.append(
            ngettext("%(count)d is unknown to Flinks.", "%(count)d are unknown to Flinks.", unknown)
            % {"count": unknown}
        )
    if pending:
        parts.append(
            ngettext(
                "%(count)d is being cancelled by another request.",
                "%(count)d are being cancelled by another request.",
                pending,
            )
            % {"count": pending}
        )
    return _sentences(parts + _failures(summary), gettext("No session was cancelled."))


def describe_sync_action(summary: RunSummary) -> str:
    """``2 sessions changed status at Flinks. 1 was unchanged.`` (only the counts that are not zero)."""
    counts = summary.counts
    changed = counts[SyncOutcome.CHANGED.value]
    unchanged = counts[SyncOutcome.UNCHANGED.value]
    unknown = counts[SyncOutcome.NOT_FOUND.value] + counts[UNKNOWN]
    skipped = counts[SyncOutcome.SKIPPED.value]
    parts = []
    if changed:
        parts.append(
            ngettext(
                "%(count)d session changed status at Flinks.",
                "%(count)d sessions changed status at Flinks.",
                changed,
            )
            % {"count": changed}
        )
    if unchanged:
        parts.append(
            ngettext("%(count)d was unchanged.", "%(count)d were unchanged.", unchanged)
            % {"count": unchanged}
        )
    if unknown:
        parts.append(
            ngettext("%(count)d is unknown to Flinks.", "%(count)d are unknown to Flinks.", unknown)
            % {"count": unknown}
        )
    if skipped:
        parts.append(
            ngettext(
                "%(count)d was skipped: Flinks never confirmed it.",
                "%(count)d were skipped: Flinks never confirmed them.",
                skipped,
            )
            % {"count": skipped}
        )
    return _sentences(parts + _failures(summary), gettext("No session was synced."))
