"""``manage.py flinks_prune_webhooks``: delete old webhook deliveries, in batches, for cron.

Examples::

    manage.py flinks_prune_webhooks --older-than 90d
    manage.py flinks_prune_webhooks --older-than 30d --dry-run
    manage.py flinks_prune_webhooks --older-than 2w --batch-size 5000
    manage.py flinks_prune_webhooks --older-than 90d --include-unprocessed

Deliveries still ``received`` (never processed) or ended in ``error`` are kept unless
``--include-unprocessed`` is given: Flinks sends a webhook once and never again, so such a row may be the only
record of a status this site never applied (``flinks_reprocess_webhooks`` can still apply it). The summary says
how many were kept and why.

Each batch is its own short transaction: it reads the next ``--batch-size`` keys in ``(received_at, id)``
order, starting after the last key of the batch before (so it never walks over the rows it already deleted,
and every batch costs the same at a million rows as at a thousand), and deletes them by primary key. A DELETE
takes only row locks on old rows and a ``ROW EXCLUSIVE`` table lock, which does not conflict with the webhook
endpoint's INSERTs: deliveries keep arriving and being stored while a prune runs. Sessions and their audit trail
are untouched: a delivery is only the raw evidence.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from flinks_sessions.models import WebhookDelivery
from flinks_sessions.sweeps.command import positive_count
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
        parser.add_argument(
            "--batch-size", type=positive_count, default=1000, help=_("rows per DELETE (default 1000)")
        )
        parser.add_argument(
            "--include-unprocessed",
            action="store_true",
            help=_(
                "also delete old deliveries never processed or ended in an error "
                "(kept by default: Flinks never sends a webhook twice)"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            age = parse_duration(options["older_than"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if age <= timedelta(0):
            raise CommandError(gettext("--older-than must be more than zero."))
        batch_size = options["batch_size"]
        cutoff = timezone.now() - age
        old = WebhookDelivery.objects.filter(received_at__lt=cutoff)
        kept: dict[str, int] = {}
        if not options["include_unprocessed"]:
            kept = _unprocessed(old)
            old = old.exclude(outcome__in=UNPROCESSED)
        total = WebhookDelivery.objects.count()
        if options["dry_run"]:
            count = old.count()
            self.stdout.write(
                gettext("Would delete %(count)d of %(total)d webhook deliveries received before %(cutoff)s.")
                % {"count": count, "total": total, "cutoff": cutoff.isoformat(timespec="seconds")}
            )
            self._report_kept(kept)
            return
        deleted = batches = 0
        for keys in _batches(old, batch_size):
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
        self._report_kept(kept)

    def _report_kept(self, kept: dict[str, int]) -> None:
        if not sum(kept.values()):
            return
        self.stdout.write(
            gettext(
                "Kept %(count)d older deliveries: %(received)d never processed, %(error)d ended in an error. "
                "Flinks never sends a webhook twice; apply them with flinks_reprocess_webhooks, or delete "
                "them with --include-unprocessed."
            )
            % {
                "count": sum(kept.values()),
                "received": kept.get(WebhookDelivery.Outcome.RECEIVED, 0),
                "error": kept.get(WebhookDelivery.Outcome.ERROR, 0),
            }
        )


# Deliveries whose status was never applied: kept unless the operator asks (``--include-unprocessed``).
UNPROCESSED = (WebhookDelivery.Outcome.RECEIVED, WebhookDelivery.Outcome.ERROR)


def _unprocessed(old: QuerySet[WebhookDelivery]) -> dict[str, int]:
    """How many of ``old`` are :data:`UNPROCESSED`, by outcome (one grouped COUNT)."""
    rows = old.filter(outcome__in=UNPROCESSED).values_list("outcome").annotate(count=Count("pk"))
    return dict(rows.order_by())


def _batches(old: QuerySet[WebhookDelivery], size: int) -> Iterator[list[int]]:
    """Primary keys of ``old`` in ``(received_at, id)`` order, ``size`` at a time, each read after the last.

    The next batch starts after the previous batch's last key (an index range scan on
    ``flinks_delivery_received``), so it never revisits the dead index entries the previous DELETEs left behind.
    """
    after: tuple[Any, int] | None = None
    while True:
        page = old
        if after is not None:
            received_at, pk = after
            page = page.filter(received_at__gte=received_at).exclude(Q(received_at=received_at, pk__lte=pk))
        rows = list(page.order_by("received_at", "pk").values_list("received_at", "pk")[:size])
        if not rows:
            return
        after = rows[-1]
        yield [pk for _received_at, pk in rows]
