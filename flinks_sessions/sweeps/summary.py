"""What a run did, counted once and worded from one table of meanings, for the commands, the admin and the tasks.

Each outcome a service answers has one :class:`Meaning`: how a command's summary line counts it (every count,
for scripts that parse them) and how the admin says it to a person (only the counts that are not zero, plurals
right, translated). The webhook reprocessing words its outcomes with the same helper.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext, ngettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from flinks_sessions.models import PaymentSession
from flinks_sessions.services import CancelOutcome, SyncOutcome

ENQUEUED = "enqueued"
SKIPPED = "skipped"
UNKNOWN = "unknown"
FAILED = "failed"


@dataclass(frozen=True)
class Meaning:
    """One outcome in words: ``count`` on a command's line (``"%d cancelled"``), ``said`` in the admin (a plural
    with ``%(count)d``; ``None``: the admin does not say it), ``also`` the keys counted with it."""

    count: Any = None
    said: Any = None
    also: tuple[str, ...] = ()
    always: bool = True  # on a command's line even when zero

    def total(self, counts: Mapping[str, int], key: str) -> int:
        return counts.get(key, 0) + sum(counts.get(other, 0) for other in self.also)


_ENDED = ngettext_lazy("%(count)d had already ended.", "%(count)d had already ended.", "count")
_UNKNOWN = ngettext_lazy("%(count)d is unknown to Flinks.", "%(count)d are unknown to Flinks.", "count")
_PENDING = Meaning(
    ngettext_lazy("%d being cancelled elsewhere", "%d being cancelled elsewhere", "count"),
    ngettext_lazy(
        "%(count)d is being cancelled by another request.",
        "%(count)d are being cancelled by another request.",
        "count",
    ),
    always=False,
)
_WITHDRAWN = Meaning(ngettext_lazy("%d withdrawn meanwhile", "%d withdrawn meanwhile", "count"), always=False)

# The table of meanings, each action's outcomes in the order they are said.
CANCEL: dict[str, Meaning] = {
    CancelOutcome.CANCELLED: Meaning(
        _("%d cancelled"),
        ngettext_lazy(
            "%(count)d session was cancelled at Flinks.",
            "%(count)d sessions were cancelled at Flinks.",
            "count",
        ),
    ),
    CancelOutcome.ALREADY_TERMINAL: Meaning(_("%d already terminal"), _ENDED),
    CancelOutcome.NOT_FOUND: Meaning(_("%d not found"), _UNKNOWN, also=(UNKNOWN,)),
    FAILED: Meaning(_("%d failed")),
    CancelOutcome.PENDING: _PENDING,
    CancelOutcome.WITHDRAWN: _WITHDRAWN,
}
SYNC: dict[str, Meaning] = {
    SyncOutcome.CHANGED: Meaning(
        _("%d changed"),
        ngettext_lazy(
            "%(count)d session changed status at Flinks.",
            "%(count)d sessions changed status at Flinks.",
            "count",
        ),
    ),
    SyncOutcome.UNCHANGED: Meaning(
        _("%d unchanged"), ngettext_lazy("%(count)d was unchanged.", "%(count)d were unchanged.", "count")
    ),
    SyncOutcome.NOT_FOUND: Meaning(_("%d not found"), _UNKNOWN, also=(UNKNOWN,)),
    FAILED: Meaning(_("%d failed")),
    SyncOutcome.SKIPPED: Meaning(
        _("%d skipped (never created at Flinks)"),
        ngettext_lazy(
            "%(count)d was skipped: Flinks never confirmed it.",
            "%(count)d were skipped: Flinks never confirmed them.",
            "count",
        ),
        always=False,
    ),
    CancelOutcome.PENDING: _PENDING,
    CancelOutcome.WITHDRAWN: _WITHDRAWN,
}
ENQUEUE: dict[str, Meaning] = {
    ENQUEUED: Meaning(_("%d enqueued")),
    CancelOutcome.ALREADY_TERMINAL: Meaning(_("%d already terminal")),
    SKIPPED: Meaning(_("%d already requested")),
    UNKNOWN: Meaning(_("%d not found")),
    FAILED: Meaning(_("%d failed")),
    CancelOutcome.PENDING: _PENDING,
    CancelOutcome.WITHDRAWN: _WITHDRAWN,
}
SYNC_ENQUEUE = {
    key: ENQUEUE[key] for key in (ENQUEUED, UNKNOWN, FAILED, CancelOutcome.PENDING, CancelOutcome.WITHDRAWN)
}


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

    def totals(self) -> dict[str, int]:
        """The counts, failures counted by the summary (whatever key they carry)."""
        return {**self.counts, FAILED: self.failed}


def counted(summary: RunSummary, table: Mapping[str, Meaning]) -> str:
    """A command's counts: ``3 cancelled, 1 already terminal, 0 not found, 1 failed`` (plus anything unusual)."""
    totals = summary.totals()
    parts = []
    for key, meaning in table.items():
        number = meaning.total(totals, key)
        if meaning.always or number:
            parts.append(str(meaning.count % number))
    if summary.interrupted and summary.not_started:
        parts.append(gettext("%d not started (interrupted)") % summary.not_started)
    return ", ".join(parts)


def said(summary: RunSummary, table: Mapping[str, Meaning], nothing: str) -> str:
    """The admin's sentences: ``3 sessions were cancelled at Flinks. 1 had already ended.`` (zeros left out)."""
    totals = summary.totals()
    parts = []
    for key, meaning in table.items():
        number = meaning.total(totals, key)
        if meaning.said is not None and number:
            parts.append(str(meaning.said % {"count": number}))
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
    return " ".join(parts) if parts else nothing


def describe_cancel(summary: RunSummary) -> str:
    """The command's summary line: ``Cancelled N of M: X cancelled, Y already terminal, Z not found, W failed``."""
    head = gettext("Cancelled %(done)d of %(total)d") % {
        "done": summary.counts[CancelOutcome.CANCELLED.value],
        "total": summary.total,
    }
    return f"{head}: {counted(summary, CANCEL)}"


def describe_sync(summary: RunSummary) -> str:
    synced = summary.counts[SyncOutcome.CHANGED.value] + summary.counts[SyncOutcome.UNCHANGED.value]
    head = gettext("Synced %(done)d of %(total)d") % {"done": synced, "total": summary.total}
    return f"{head}: {counted(summary, SYNC)}"


def describe_enqueue(summary: RunSummary, table: Mapping[str, Meaning] = ENQUEUE) -> str:
    head = gettext("Enqueued %(done)d of %(total)d") % {
        "done": summary.counts[ENQUEUED],
        "total": summary.total,
    }
    return f"{head}: {counted(summary, table)}"


def describe_sync_enqueue(summary: RunSummary) -> str:
    return describe_enqueue(summary, SYNC_ENQUEUE)


def describe_cancel_action(summary: RunSummary) -> str:
    """What the admin's cancel action did, in sentences."""
    return said(summary, CANCEL, gettext("No session was cancelled."))


def describe_sync_action(summary: RunSummary) -> str:
    """What the admin's sync action did, in sentences."""
    return said(summary, SYNC, gettext("No session was synced."))


def describe_outcomes(outcomes: Mapping[str, int], label: Any = str) -> str:
    """Counts by outcome, as the webhook reprocessing words them: ``Applied: 2, Error: 1``."""
    return ", ".join(
        gettext("%(outcome)s: %(count)d") % {"outcome": label(key), "count": count}
        for key, count in sorted(outcomes.items())
    )
