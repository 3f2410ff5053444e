"""``manage.py flinks_sync_sessions``: poll Flinks' ``/status`` for sessions that have not ended.

Flinks sends a webhook once, never retries it, and never sends one for Expired (``docs/flinks-api.md``): this
sweep is how a missed outcome is learnt. Run it from cron, or schedule
``flinks_sessions.sweeps.tasks.sync_sessions_task``::

    manage.py flinks_sync_sessions                       # every open session
    manage.py flinks_sync_sessions --older-than 30m --concurrency 16
    manage.py flinks_sync_sessions --enqueue             # one task per session for the workers
    manage.py flinks_sync_sessions --undecided-guarantees  # only GEFT guarantees nobody has decided

Every run ends by naming the GEFT guarantees still waiting for the site's decision (``GUARANTEE_DECISION``
manual, or a policy task that was lost): Flinks fails such a session when it waits too long.

Exit status: 0, or 1 when a poll failed (unless ``--no-fail-on-error``), 130 after Ctrl-C.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.utils.translation import gettext

from flinks_sessions import services
from flinks_sessions.models import PaymentSession
from flinks_sessions.sweeps import run, summary
from flinks_sessions.sweeps.command import SweepCommand
from flinks_sessions.sweeps.selection import select_open, select_undecided_guarantees


class Command(SweepCommand):
    help = (
        "Poll Flinks for the status of open payment sessions (all of them, those named by id, or those "
        "matching the filters) and store what changed."
    )
    progress_description = "Syncing"

    def add_arguments(self, parser: CommandParser) -> None:
        self.add_selection_arguments(parser)
        self.add_run_arguments(parser)
        parser.add_argument(
            "--undecided-guarantees",
            action="store_true",
            help=gettext("Only GEFT sessions whose guarantee offer is waiting for a decision."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        unknown: list[str] = []
        if options["session_ids"]:
            sessions, unknown = self.by_ids(options)
        elif options["undecided_guarantees"]:
            sessions = list(select_undecided_guarantees(self.filters(options)))
        else:
            sessions = list(select_open(self.filters(options)))
        try:
            self.sweep(
                sessions,
                unknown,
                options,
                verb=gettext("sync"),
                work=run.enqueue_sync_one,
                describe_enqueue=summary.describe_sync_enqueue,
                batch=services.sync_sessions,
                describe_now=summary.describe_sync,
            )
        finally:
            self._report_undecided()

    def _report_undecided(self) -> None:
        """Name the guarantees Flinks is waiting on: without a decision, those sessions stall and then fail."""
        waiting = list(
            PaymentSession.objects.undecided_guarantees().values_list("reference_id", "session_id")
        )
        if not waiting:
            return
        self.stderr.write(
            self.style.WARNING(
                gettext("%(count)d GEFT guarantee(s) waiting for a decision: %(sessions)s")
                % {
                    "count": len(waiting),
                    "sessions": ", ".join(
                        f"{reference} ({session_id})" for reference, session_id in waiting[:20]
                    ),
                }
            )
        )
