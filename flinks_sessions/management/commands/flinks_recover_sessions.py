"""``manage.py flinks_recover_sessions``: send the due abandoned checkouts their one recovery notice.

Examples::

    manage.py flinks_recover_sessions                        # cron, every 10 minutes
    manage.py flinks_recover_sessions --dry-run              # which orders are due, nothing sent
    manage.py flinks_recover_sessions --account geft --limit 100

An order is due ``RECOVERY_DELAY`` after its payer (who consented) abandoned it, while it has no completed or
open session (``services.recovery``). Each order gets one notice at most, however many runs overlap: the
``session_abandoned`` signal, and the app's email with ``RECOVERY_EMAIL``.

Exit status: 0 when every due order was dealt with, 1 when a notice failed (unless ``--no-fail-on-error``), 130
after Ctrl-C (the notices in flight finish and are recorded; no new one starts).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.utils.translation import gettext

from flinks_sessions.services import send_recovery_notices
from flinks_sessions.sweeps.command import SweepCommand, positive_count
from flinks_sessions.sweeps.recovery import describe_recovery, select
from flinks_sessions.sweeps.run import run_many
from flinks_sessions.sweeps.summary import session_label


class Command(SweepCommand):
    help = "Send each abandoned checkout whose payer consented its one recovery notice, once it is due."
    progress_description = "Recovering"

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_argument_group(gettext("filters (due orders only; combine freely)"))
        group.add_argument(
            "--reference", action="append", default=[], help=gettext("reference id (repeatable)")
        )
        group.add_argument(
            "--account", action="append", default=[], help=gettext("Flinks account name (repeatable)")
        )
        group.add_argument(
            "--limit", type=positive_count, help=gettext("at most this many orders, oldest first")
        )
        parser.add_argument(
            "--concurrency",
            type=positive_count,
            default=4,
            help=gettext("notices sent at once (default: %(default)s)"),
        )
        parser.add_argument(
            "--dry-run", action="store_true", help=gettext("list the due orders; send and change nothing")
        )
        parser.add_argument(
            "--no-fail-on-error",
            action="store_false",
            dest="fail_on_error",
            help=gettext("exit 0 even when some notices failed"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sessions = select(
            references=options["reference"], accounts=options["account"], limit=options["limit"]
        )
        if options["dry_run"]:
            if options["verbosity"] >= 1:
                for session in sessions:
                    self.stdout.write(f"{session_label(session)} {session.reference_id} {gettext('due')}")
            self.stdout.write(
                gettext("Dry run: would send %(count)d recovery notices; nothing was sent.")
                % {"count": len(sessions)}
            )
            return
        if not sessions and options["verbosity"] == 0:
            return  # cron every few minutes: quiet when no order is due
        progress = self.progress(sessions, options)
        try:
            done = run_many(
                sessions, send_recovery_notices, concurrency=options["concurrency"], on_result=progress.update
            )
        finally:
            progress.close()
        self.finish(done, describe_recovery(done), options)
