"""The recovery sweep: the due orders' one notice each (``services.recovery``), for the command and the task.

``flinks_recover_sessions`` (cron) and ``sweeps.tasks.recover_sessions_task`` (a site that schedules with its task
backend) both select with :func:`~flinks_sessions.services.recovery.due_sessions` and send through the claim
engine, so runs that overlap (two crons, a cron and a task) still send each order one notice at most.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from flinks_sessions.models import PaymentSession
from flinks_sessions.services.recovery import RecoveryOutcome, due_sessions
from flinks_sessions.sweeps.summary import FAILED, Meaning, RunSummary, counted

RECOVERY: dict[str, Meaning] = {
    RecoveryOutcome.SENT: Meaning(_("%d sent")),
    RecoveryOutcome.ALREADY_SENT: Meaning(_("%d already sent")),
    RecoveryOutcome.NOT_DUE: Meaning(_("%d not due"), also=(RecoveryOutcome.NO_CONSENT,)),
    RecoveryOutcome.WITHDRAWN: Meaning(_("%d withdrawn (the order went on)"), always=False),
    RecoveryOutcome.PENDING: Meaning(_("%d being sent elsewhere"), always=False),
    FAILED: Meaning(_("%d failed")),
}


def select(
    *, references: Sequence[str] = (), accounts: Sequence[str] = (), limit: int | None = None
) -> list[PaymentSession]:
    """The due sessions (the newest of each due order), narrowed by reference and account, oldest first."""
    filters: dict[str, Any] = {}
    if references:
        filters["reference_id__in"] = list(references)
    if accounts:
        filters["account__in"] = list(accounts)
    chosen = due_sessions(**filters)
    return chosen[:limit] if limit else chosen


def describe_recovery(summary: RunSummary) -> str:
    """``Sent 2 of 3 recovery notices: 2 sent, 1 already sent, 0 not due, 0 failed``."""
    head = gettext("Sent %(done)d of %(total)d recovery notices") % {
        "done": summary.counts[RecoveryOutcome.SENT.value],
        "total": summary.total,
    }
    return f"{head}: {counted(summary, RECOVERY)}"
