"""Which sessions a sweep touches: the filters shared by ``flinks_cancel_sessions`` and ``flinks_sync_sessions``.

Commands and scheduled tasks describe *what* to select with :class:`SessionFilters`; this module turns that
into one queryset over :class:`~flinks_sessions.models.PaymentSessionQuerySet`, which alone says what "open"
and "due for a retry" mean, so the cron job, the task, the admin and the engine agree.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from flinks_sessions.conf import get_settings
from flinks_sessions.models import PaymentSession
from flinks_sessions.services.engine import claim_ttl
from flinks_sessions.services.products import EMAILED_LINK, emailed_link

_DURATION = re.compile(r"^\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d|w)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# The longest age accepted: a cut-off "now minus this" must still be a date (year ≥ 1) on every database.
MAX_DURATION = timedelta(days=36600)


def parse_duration(value: str) -> timedelta:
    """``30m``, ``2h``, ``1d`` (also ``45s``, ``2w``, ``1.5h``) as a timedelta; ``ValueError`` otherwise.

    At most :data:`MAX_DURATION` (about 100 years): ``99999999d`` would make ``now - age`` overflow, a
    traceback from a cron line instead of a clean command error.
    """
    match = _DURATION.match(value or "")
    if match is None:
        raise ValueError(f"{value!r} is not a duration like 30m, 2h or 1d")
    seconds = float(match["amount"]) * _UNIT_SECONDS[match["unit"].lower()]
    if not seconds <= MAX_DURATION.total_seconds():  # also false for inf: "9" * 400 reads as a float
        raise ValueError(f"{value[:40]!r} is a longer duration than {MAX_DURATION.days}d")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class SessionFilters:
    """What a sweep selects; empty fields select everything. ``limit`` keeps the oldest sessions."""

    older_than: timedelta | None = None
    statuses: Sequence[str] = ()
    references: Sequence[str] = ()
    accounts: Sequence[str] = ()
    products: Sequence[str] = ()
    limit: int | None = None
    now: datetime | None = field(default=None, compare=False)

    def apply(self, queryset: QuerySet[PaymentSession]) -> QuerySet[PaymentSession]:
        now = self.now or timezone.now()
        if self.older_than is not None:
            queryset = queryset.filter(created_at__lt=now - self.older_than)
        if self.statuses:
            queryset = queryset.filter(status__in=list(self.statuses))
        if self.references:
            queryset = queryset.filter(reference_id__in=list(self.references))
        if self.accounts:
            queryset = queryset.filter(account__in=list(self.accounts))
        if self.products:
            queryset = queryset.filter(product__in=list(self.products))
        queryset = queryset.order_by("created_at", "pk")
        if self.limit is not None:
            queryset = queryset[: self.limit]
        return queryset


def select_open(filters: SessionFilters) -> QuerySet[PaymentSession]:
    """The sessions a cancel or sync sweep with these filters works on."""
    return filters.apply(PaymentSession.objects.open())


def select_abandoned(filters: SessionFilters, *, include_emailed: bool = False) -> QuerySet[PaymentSession]:
    """What a cancel sweep selected by filters ends: :func:`select_open`, without the e-Transfers whose Interac
    request Flinks emailed (still payable from the payer's bank; left to Flinks' expiry) unless
    ``include_emailed``."""
    sessions = PaymentSession.objects.open()
    if not include_emailed:
        sessions = sessions.alias(emailed_link=emailed_link()).filter(emailed_link=False)
    return filters.apply(sessions)


def count_emailed(filters: SessionFilters) -> int:
    """How many open sessions these filters match that :func:`select_abandoned` leaves alone (no limit)."""
    return replace(filters, limit=None).apply(PaymentSession.objects.open().filter(EMAILED_LINK)).count()


def select_undecided_guarantees(filters: SessionFilters) -> QuerySet[PaymentSession]:
    """Open GEFT sessions whose guarantee offer arrived and is still undecided: Flinks is waiting on the site."""
    return filters.apply(PaymentSession.objects.undecided_guarantees())


def select_retry_failed(
    filters: SessionFilters, *, grace: timedelta | None = None
) -> QuerySet[PaymentSession]:
    """Open sessions whose cancel was asked for, never finished, and that nobody is cancelling right now.

    See :meth:`~flinks_sessions.models.PaymentSessionQuerySet.due_for_retry`: a claim counts as gone after
    :func:`~flinks_sessions.services.engine.claim_ttl`, an intent without a recorded failure after ``grace``
    (``EXIT_GRACE_PERIOD`` by default).
    """
    now = filters.now or timezone.now()
    if grace is None:
        grace = timedelta(seconds=get_settings().exit_grace_period)
    due = PaymentSession.objects.due_for_retry(stale_before=now - claim_ttl(), intent_before=now - grace)
    return filters.apply(due)


@dataclass(frozen=True)
class IdLookup:
    """Sessions found for ids given on a command line, in the order given, and the ids that matched nothing."""

    sessions: list[PaymentSession]
    unknown: list[str]


def find_by_session_ids(raw_ids: Iterable[str]) -> IdLookup:
    """Look up Flinks session ids (UUIDs) in one query; malformed and unknown ids are returned, not raised."""
    parsed: dict[str, uuid.UUID] = {}
    unknown: list[str] = []
    for raw in raw_ids:
        try:
            parsed.setdefault(raw, uuid.UUID(raw.strip()))
        except ValueError:
            unknown.append(raw)
    found = {
        session.session_id: session
        for session in PaymentSession.objects.filter(session_id__in=set(parsed.values()))
    }
    sessions: list[PaymentSession] = []
    seen: set[uuid.UUID] = set()
    for raw, value in parsed.items():
        session = found.get(value)
        if session is None:
            unknown.append(raw)
        elif value not in seen:
            seen.add(value)
            sessions.append(session)
    return IdLookup(sessions=sessions, unknown=unknown)
