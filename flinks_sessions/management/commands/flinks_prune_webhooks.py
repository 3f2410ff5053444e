"""``manage.py flinks_prune_webhooks``: delete old webhook deliveries, in batches, for cron.

Examples::

    manage.py flinks_prune_webhooks --older-than 90d
    manage.py flinks_prune_webhooks --older-than 30d --dry-run
    manage.py flinks_prune_webhooks --older-than 2w --batch-size 5000

Batches keep each DELETE short, so a large backlog never holds a long lock on the table the webhook
endpoint writes to. Sessions and their audit trail are untouched: a delivery is only the raw evidence.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from flinks_sessions.models import WebhookDelivery
from flinks_sessions.sweeps.selection import parse_duration


class Command(BaseCommand):
    help = "Delete webhook deliveries received longer ago than --older-than (default 90d), in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            default="90d",
            help=_("age like 90d, 12h or 2w (default 90d); newer rows are kept"),
        )
        parser.add_argument(
            "--dry-run", action="store_true", help=_("count what would be deleted; delete nothing")
        )
        parser.add_argument("--batch-size", type=int, default=1000, help=_("rows per DELETE (default 1000)"))

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            age = parse_duration(options["older_than"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if age <= timedelta(0):
            raise CommandError(gettext("--older-than must be more than zero."))
        batch_size = options["batch_size"]
        if batch_size < 1:
            raise CommandError(gettext("--batch-size must be at least 1."))
        cutoff = timezone.now() - age
        old = WebhookDelivery.objects.filter(received_at__lt=cutoff)
        total = WebhookDelivery.objects.count()
        if options["dry_run"]:
            count = old.count()
            self.stdout.write(
                gettext("Would delete %(count)d of %(total)d webhook deliveries received before %(cutoff)s.")
                % {"count": count, "total": total, "cutoff": cutoff.isoformat(timespec="seconds")}
            )
            return
        deleted = batches = 0
        while True:
            # Primary keys first, then a plain DELETE by key: portable (no DELETE ... LIMIT) and short.
            keys = list(old.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not keys:
                break
            count, _details = WebhookDelivery.objects.filter(pk__in=keys).delete()
            deleted += count
            batches += 1
            if options["verbosity"] >= 2:
                self.stdout.write(
                    gettext("Batch %(batch)d: deleted %(count)d.") % {"batch": batches, "count": count}
                )
        self.stdout.write(
            self.style.SUCCESS(
                gettext(
                    "Deleted %(count)d of %(total)d webhook deliveries received before %(cutoff)s "
                    "in %(batches)d batch(es)."
                )
                % {
                    "count": deleted,
                    "total": total,
                    "cutoff": cutoff.isoformat(timespec="seconds"),
                    "batches": batches,
                }
            )
        )
