"""``manage.py flinks_announce_pending``: send the announcements of stored transitions that are still owed.

Examples::

    manage.py flinks_announce_pending            # cron, every minute
    manage.py flinks_announce_pending --now      # after fixing a receiver: failing ones without their backoff

A transition's signals are sent right after its commit; a worker that died before sending leaves the row
pending, a receiver that raised leaves it failing with a backoff. This sends both again (pending ones once
their worker had ``--grace`` seconds), per session in stored order; a row that fails again holds back that
session's later rows only. Exits 1 when a receiver raised again, so cron reports it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from flinks_sessions.services.announcements import GRACE, announce_pending
from flinks_sessions.sweeps.command import positive_count

MAX_GRACE = timedelta(days=1)


class Command(BaseCommand):
    help = "Send again the signals of stored transitions that a crash or a failing receiver left unannounced."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--now",
            action="store_true",
            help=_("send failing announcements without waiting for their backoff"),
        )
        parser.add_argument(
            "--grace",
            type=float,
            default=GRACE.total_seconds(),
            help=_("seconds a pending announcement is left to its own worker (default 60)"),
        )
        parser.add_argument("--limit", type=positive_count, help=_("at most this many sessions"))

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0 <= options["grace"] <= MAX_GRACE.total_seconds():  # also refuses nan and inf
            raise CommandError(gettext("--grace must be between 0 and a day."))
        summary = announce_pending(
            grace=timedelta(seconds=options["grace"]), ignore_backoff=options["now"], limit=options["limit"]
        )
        self.stdout.write(
            gettext(
                "%(announced)d announced, %(failed)d failing again, %(busy)d sessions held by another run."
            )
            % {"announced": summary.announced, "failed": summary.failed, "busy": summary.busy}
        )
        if summary.failed:
            raise SystemExit(1)
