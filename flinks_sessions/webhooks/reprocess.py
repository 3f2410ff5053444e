"""Deliveries left ``received``: find them, claim each one, process it. ``flinks_reprocess_webhooks`` runs this.

A delivery is committed as ``received`` before anything acts on it, and Flinks never sends it again, so one
whose processing was cut off (the web process or the worker killed, an async enqueue that failed) must be picked
up here or never. Every path that processes a delivery first *claims* it by setting ``processed_at`` on a row
still ``received``: the synchronous view when it inserts the row, ``process_webhook_task`` with a conditional
UPDATE, and this sweep with the same conditional UPDATE. A claim is exclusive while it is younger than the age
the sweep is given: a delivery is *stranded* when it arrived that long ago and is unclaimed (its task still
queued, its enqueue failed) or its claim is that old (its claimant died; processing takes well under a second).
Claiming a stranded row takes it only while its claim is still that old, so a queued task, another sweep or a
slow claimant that wakes up again gets the row only if nobody took it in between: one of them processes it.
See "A webhook delivery's claim" in docs/architecture.md.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from flinks_sessions.models import WebhookDelivery
from flinks_sessions.services.engine import take
from flinks_sessions.webhooks.processing import process_delivery

logger = logging.getLogger("flinks_sessions.webhooks")

RECEIVED = WebhookDelivery.Outcome.RECEIVED
DEFAULT_AGE = timedelta(minutes=5)


def claimable() -> QuerySet[WebhookDelivery]:
    """Authentic deliveries nobody has finished: the only ones a claim may take."""
    return WebhookDelivery.objects.filter(outcome=RECEIVED, signature_valid=True)


def claim(delivery_id: int, stale_before: datetime | None = None) -> bool:
    """Take ``delivery_id`` if it is unclaimed or its claim is older than ``stale_before``; ``True`` when won.

    The sessions' claim (:func:`~flinks_sessions.services.engine.take`): one conditional UPDATE, so of any
    number of concurrent claimants exactly one sees a row changed, and a claim just taken is never stale.
    """
    rows = claimable().filter(pk=delivery_id)
    return take(rows, "processed_at", now=timezone.now(), stale_before=stale_before) == 1


def stranded(age: timedelta, now: datetime | None = None) -> QuerySet[WebhookDelivery]:
    """Deliveries received before ``now - age`` whose processing never started or whose claim is that old."""
    cutoff = (now or timezone.now()) - age
    return (
        claimable()
        .filter(received_at__lt=cutoff)
        .filter(Q(processed_at__isnull=True) | Q(processed_at__lt=cutoff))
        .order_by("received_at", "pk")
    )


@dataclass
class ReprocessSummary:
    """What a sweep found and did; ``outcomes`` counts the outcome of each delivery it processed."""

    found: int = 0
    claimed_elsewhere: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def processed(self) -> int:
        return sum(self.outcomes.values())

    @property
    def failed(self) -> int:
        return self.outcomes[WebhookDelivery.Outcome.ERROR]

    def as_dict(self) -> dict[str, int]:
        return {
            "found": self.found,
            "processed": self.processed,
            "claimed_elsewhere": self.claimed_elsewhere,
            **self.outcomes,
        }


def candidates(age: timedelta, now: datetime, limit: int | None = None) -> list[tuple[int, datetime | None]]:
    """``(pk, processed_at)`` of the stranded deliveries, oldest first, read once up front."""
    rows = stranded(age, now).values_list("pk", "processed_at")
    return list(rows[:limit] if limit is not None else rows)


def reprocess_stranded(
    age: timedelta = DEFAULT_AGE, *, limit: int | None = None, dry_run: bool = False
) -> ReprocessSummary:
    """Claim and process every stranded delivery (at most ``limit``); ``dry_run`` only counts them."""
    summary = ReprocessSummary()
    now = timezone.now()
    for delivery_id, seen in candidates(age, now, limit):
        summary.found += 1
        if dry_run:
            continue
        if not claim(delivery_id, stale_before=now - age):
            summary.claimed_elsewhere += 1
            continue
        if seen is not None:
            logger.warning("Webhook delivery %s: its claimant died; processing it again", delivery_id)
        delivery = WebhookDelivery.objects.get(pk=delivery_id)
        summary.outcomes[process_delivery(delivery)] += 1
    return summary
