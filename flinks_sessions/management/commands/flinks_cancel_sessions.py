"""``manage.py flinks_cancel_sessions``: cancel sessions at Flinks by id, by filter, or the ones that failed.

Examples::

    manage.py flinks_cancel_sessions 9f0c...e1 4b2a...07 --reason "duplicate order"
    manage.py flinks_cancel_sessions --older-than 2h --status initiated --dry-run
    manage.py flinks_cancel_sessions --retry-failed --concurrency 16      # cron: recover failed cancels
    manage.py flinks_cancel_sessions --older-than 1d --enqueue            # let the task workers do it
    manage.py flinks_cancel_sessions --older-than 2h --include-emailed    # emailed Interac requests too

Selected by filters, an e-Transfer whose Interac request Flinks emailed
(``options.notificationPreferences.sendInteracLink``) is left to Flinks' own expiry: the payer may still pay it
from their bank. ``--include-emailed`` cancels those too; a session named by id is always cancelled.

Exit status: 0 when every session ended up dealt with, 1 when a cancel failed (unless ``--no-fail-on-error``),
130 after Ctrl-C (the cancels in flight finish and are recorded; no new one starts).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext

from flinks_sessions import services
from flinks_sessions.sweeps import run, summary
from flinks_sessions.sweeps.command import SweepCommand
from flinks_sessions.sweeps.selection import (
    count_emailed,
    parse_duration,
    select_abandoned,
    select_retry_failed,
)


class Command(SweepCommand):
    help = (
        "Cancel Flinks payment sessions: those named by id, those matching the filters, or (--retry-failed) "
        "those whose earlier cancel failed or was interrupted."
    )
    progress_description = "Cancelling"

    def add_arguments(self, parser: CommandParser) -> None:
        self.add_selection_arguments(parser)
        parser.add_argument(
            "--reason", default="", help=gettext("stored with the cancel and in the audit trail")
        )
        parser.add_argument(
            "--retry-failed",
            action="store_true",
            help=gettext(
                "sessions with a standing cancel request that is not being worked on: a recorded failure, "
                "or a request older than --grace"
            ),
        )
        parser.add_argument(
            "--include-emailed",
            action="store_true",
            help=gettext(
                "with filters: also cancel e-Transfers whose Interac request was emailed to the payer (left to "
                "Flinks' expiry by default: the payer may still pay from their bank)"
            ),
        )
        parser.add_argument(
            "--grace",
            metavar="DURATION",
            help=gettext(
                "with --retry-failed: how old a request without an error must be (default: EXIT_GRACE_PERIOD)"
            ),
        )
        self.add_run_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        unknown: list[str] = []
        if options["session_ids"]:
            if options["retry_failed"]:
                raise CommandError(gettext("--retry-failed selects sessions itself; do not give ids."))
            sessions, unknown = self.by_ids(options)
        elif options["retry_failed"]:
            sessions = list(select_retry_failed(self.filters(options), grace=self._grace(options)))
        elif self.has_filters(options):
            filters = self.filters(options)
            sessions = list(select_abandoned(filters, include_emailed=options["include_emailed"]))
            left = 0 if options["include_emailed"] else count_emailed(filters)
            if left:
                self.stdout.write(
                    gettext(
                        "%(count)d left to Flinks' expiry: their Interac request was emailed (--include-emailed)."
                    )
                    % {"count": left}
                )
        else:
            raise CommandError(
                gettext(
                    "Name sessions by id, or select them with filters (e.g. --older-than 2h) or --retry-failed."
                )
            )

        self.sweep(
            sessions,
            unknown,
            options,
            verb=gettext("cancel"),
            work=partial(
                run.enqueue_cancel_one,
                source="command",
                reason=options["reason"],
                requeue=options["retry_failed"],
            ),
            describe_enqueue=summary.describe_enqueue,
            batch=services.cancel_sessions,
            describe_now=summary.describe_cancel,
            source="command",
            reason=options["reason"],
            # The retry sweep acts on intents: one withdrawn since it was selected is left alone.
            if_requested=options["retry_failed"],
        )

    def _grace(self, options: dict[str, Any]) -> Any:
        if not options["grace"]:
            return None
        try:
            return parse_duration(options["grace"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
