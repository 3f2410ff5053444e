"""Rejected deliveries (a signature that matches no secret, or a replay) are kept bounded, so a flood cannot grow
the webhook log faster than a documented rate.

Anyone can send a bogus signature, so what such a request makes us store is capped twice:

- each row: the body cut to :data:`REJECTED_BODY_LIMIT` bytes, at most :data:`REJECTED_HEADER_LIMIT` headers
  (the signature headers first), each name and value cut to :data:`REJECTED_HEADER_VALUE_LIMIT` bytes; the row
  is marked ``truncated`` when anything was cut. About 10 KiB a row at most, instead of 150.
- the rate: at most ``WEBHOOK_REJECTED_PER_MINUTE`` rows (60 by default) per calendar minute. Beyond that a
  rejected request is answered 401 as usual but not stored; the minute's last stored row counts what was
  dropped after it (``dropped_after``, shown in the admin), and the first drop of a minute is logged at
  WARNING.

A delivery whose signature is valid is never cut or dropped: it is Flinks', and it is stored whole.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db.models import F
from django.utils import timezone

from flinks_sessions.models import WebhookDelivery
from flinks_sessions.signatures import ALL_FORMS

logger = logging.getLogger("flinks_sessions.webhooks")

REJECTED_BODY_LIMIT = 2048
REJECTED_HEADER_LIMIT = 32
REJECTED_HEADER_VALUE_LIMIT = 256
# Kept first when a rejected request carries more than REJECTED_HEADER_LIMIT headers: what explains it.
_FIRST = tuple(
    name.lower() for name in (*ALL_FORMS, "Content-Type", "Content-Length", "User-Agent", "X-Forwarded-For")
)


def _cut(text: str, limit: int) -> str:
    return text.encode("utf-8", "surrogatepass")[:limit].decode("utf-8", "ignore")


def bound_headers(headers: Mapping[str, str]) -> tuple[dict[str, str], bool]:
    """At most :data:`REJECTED_HEADER_LIMIT` headers of at most :data:`REJECTED_HEADER_VALUE_LIMIT` bytes each."""
    ordered = sorted(headers.items(), key=lambda item: item[0].lower() not in _FIRST)  # stable: else as sent
    kept = {
        _cut(name, REJECTED_HEADER_VALUE_LIMIT): _cut(value, REJECTED_HEADER_VALUE_LIMIT)
        for name, value in ordered[:REJECTED_HEADER_LIMIT]
    }
    whole = len(headers) <= REJECTED_HEADER_LIMIT and kept == dict(ordered)
    return kept, not whole


def store_rejected(
    body: bytes, headers: Mapping[str, str], per_minute: int, **fields: Any
) -> WebhookDelivery | None:
    """Store a rejected delivery cut to size, or count it as dropped (``None``) when this minute is full."""
    now = timezone.now()
    this_minute = WebhookDelivery.objects.filter(
        outcome=WebhookDelivery.Outcome.INVALID_SIGNATURE,
        received_at__gte=now.replace(second=0, microsecond=0),
    )
    if this_minute.count() >= per_minute:
        _count_dropped(this_minute, per_minute)
        return None
    kept_headers, headers_cut = bound_headers(headers)
    return WebhookDelivery.objects.create(
        headers=kept_headers,
        body=body[:REJECTED_BODY_LIMIT],
        truncated=headers_cut or len(body) > REJECTED_BODY_LIMIT,
        **fields,
    )


def _count_dropped(this_minute: Any, per_minute: int) -> None:
    last = this_minute.order_by("-pk").values_list("pk", "dropped_after").first()
    if last is None:  # deleted meanwhile (a prune): nothing to count on
        return
    pk, dropped = last
    WebhookDelivery.objects.filter(pk=pk).update(dropped_after=F("dropped_after") + 1)
    if dropped == 0:
        logger.warning(
            "More than %d rejected webhook deliveries this minute (WEBHOOK_REJECTED_PER_MINUTE): the rest of "
            "the minute's are answered 401 and not stored; delivery %s counts them",
            per_minute,
            pk,
        )
