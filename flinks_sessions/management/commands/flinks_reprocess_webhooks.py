"""``manage.py flinks_reprocess_webhooks``: process the webhook deliveries left ``received``, for cron.

Examples::

    manage.py flinks_reprocess_webhooks                    # stranded for more than 5 minutes
    manage.py flinks_reprocess_webhooks --older-than 1h --limit 500
    manage.py flinks_reprocess_webhooks --dry-run

Flinks sends a webhook once and never retries it. A delivery is stored before it is processed, so one whose
processing was cut off (the web process or the task worker killed, an enqueue that failed) is still here as
``received``: this command claims each such delivery and processes it, exactly as the receiver would have. The
claim (``webhooks/reprocess.py``) means it never races a ``process_webhook_task`` still queued for the same
delivery, nor another run of itself. Exits non-zero when a delivery ended in ``error``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from flinks_sessions.sweeps.command import positive_count
from flinks_sessions.sweeps.selection import parse_duration
from flinks_sessions.webhooks.reprocess import DEFAULT_AGE, reprocess_stranded


def _age(value: str) -> timedelta:
    """``--older-than`` as a timedelta that ``now - age`` can take: a clean error instead of OverflowError."""
    try:
        age = parse_duration(value)
        timezone.now() - age
    except (ValueError, OverflowError) as exc:
        raise CommandError(gettext("--older-than: %(error)s") % {"error": exc}) from exc
    if age < timedelta(0):
        raise CommandError(gettext("--older-than cannot be negative."))
    return age


class Command(BaseCommand):
    help = (
        "Process webhook deliveries left 'received' (processing cut off by a killed process or a failed "
        "enqueue) for longer than --older-than (default 5m)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            default="5m",
            help=_("only deliveries received (and claimed, if at all) longer ago than this (default 5m)"),
        )
        parser.add_argument("--limit", type=positive_count, help=_("at most this many, oldest first"))
        parser.add_argument(
            "--dry-run", action="store_true", help=_("count the stranded deliveries; process nothing")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        age = _age(options["older_than"]) if options["older_than"] else DEFAULT_AGE
        summary = reprocess_stranded(age, limit=options["limit"], dry_run=options["dry_run"])
        if options["dry_run"]:
            self.stdout.write(
                gettext("Would reprocess %(count)d webhook deliveries left received.")
                % {"count": summary.found}
            )
            return
        outcomes = ", ".join(f"{count} {outcome}" for outcome, count in sorted(summary.outcomes.items()))
        line = gettext(
            "Reprocessed %(done)d of %(found)d webhook deliveries left received%(outcomes)s; "
            "%(elsewhere)d taken by another process."
        ) % {
            "done": summary.processed,
            "found": summary.found,
            "outcomes": f" ({outcomes})" if outcomes else "",
            "elsewhere": summary.claimed_elsewhere,
        }
        if summary.failed:
            self.stdout.write(self.style.ERROR(line))
            raise CommandError(
                gettext("%(count)d deliveries ended in error; see the webhook log.")
                % {"count": summary.failed}
            )
        self.stdout.write(self.style.SUCCESS(line))
