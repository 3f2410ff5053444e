"""The figures behind the abandonment page: four aggregate queries, whatever the number of sessions.

Every figure is computed by the database (date truncation and GROUP BY over ``created_at``, ``account`` and
``status``, which ``flinks_sess_created_account`` and ``flinks_sess_status_created`` index); Python only
arranges the handful of grouped rows the queries return. A million sessions cost the same four statements.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Case, Count, DurationField, ExpressionWrapper, F, IntegerField, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from flinks_sessions.models import FAILED_CANCEL, PaymentSession
from flinks_sessions.status import OPEN_STATUSES, CancelReason, Status

# The outcomes a day's bar is split into, bottom up; every open status counts as "open".
OUTCOMES: tuple[tuple[str, Any], ...] = (
    (Status.COMPLETED, _("Completed")),
    (Status.CANCELLED, _("Cancelled")),
    (Status.EXPIRED, _("Expired")),
    (Status.FAILED, _("Failed")),
    ("open", _("Still open")),
)
ABANDONED = (Status.CANCELLED, Status.EXPIRED)

# Time from start to abandonment: (upper bound, label); the last bucket has no upper bound.
DURATION_BUCKETS: tuple[tuple[timedelta | None, Any], ...] = (
    (timedelta(minutes=1), _("under 1 min")),
    (timedelta(minutes=5), _("1-5 min")),
    (timedelta(minutes=15), _("5-15 min")),
    (timedelta(minutes=30), _("15-30 min")),
    (timedelta(hours=1), _("30-60 min")),
    (timedelta(hours=4), _("1-4 h")),
    (timedelta(days=1), _("4-24 h")),
    (None, _("over a day")),
)

# Why a cancel was asked for, in words (the app's own reasons; an operator's or a command's shown as typed).
REASON_LABELS: dict[str, Any] = {**dict(CancelReason.choices), "": _("No reason given")}


@dataclass(frozen=True)
class Period:
    """A range of days (both included) in the current time zone, and optionally one account."""

    first: date
    last: date
    account: str = ""

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def bounds(self) -> tuple[datetime, datetime]:
        zone = timezone.get_current_timezone()
        start = datetime.combine(self.first, datetime.min.time(), tzinfo=zone)
        end = datetime.combine(self.last + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        return start, end


@dataclass
class Report:
    period: Period
    per_day: dict[date, Counter[str]] = field(default_factory=dict)
    by_source: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    durations: list[tuple[Any, int]] = field(default_factory=list)
    failed_cancels: int = 0
    pending_cancels: int = 0

    @property
    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.per_day.values():
            total.update(counts)
        return total

    @property
    def sessions(self) -> int:
        return sum(self.totals.values())

    @property
    def abandoned(self) -> int:
        totals = self.totals
        return sum(totals[status] for status in ABANDONED)

    @property
    def abandonment_rate(self) -> float | None:
        """Abandoned sessions over sessions that have ended (an open session has not decided yet)."""
        totals = self.totals
        ended = sum(count for outcome, count in totals.items() if outcome != "open")
        return self.abandoned / ended if ended else None


def build(period: Period) -> Report:
    """The whole report: four queries."""
    start, end = period.bounds()
    sessions = PaymentSession.objects.filter(created_at__gte=start, created_at__lt=end)
    if period.account:
        sessions = sessions.filter(account=period.account)
    report = Report(period, per_day={day: Counter() for day in period.days})
    _per_day(report, sessions)
    _cancels(report, sessions)
    _durations(report, sessions)
    _intents(report, sessions)
    return report


def _per_day(report: Report, sessions: Any) -> None:
    zone = timezone.get_current_timezone()
    outcome = Case(
        When(status__in=OPEN_STATUSES, then=Value("open")),
        default=F("status"),
    )
    rows = (
        sessions.order_by()
        .annotate(day=TruncDate("created_at", tzinfo=zone), outcome=outcome)
        .values("day", "outcome")
        .annotate(count=Count("pk"))
    )
    for row in rows:
        report.per_day.setdefault(row["day"], Counter())[row["outcome"]] += row["count"]


def _cancels(report: Report, sessions: Any) -> None:
    rows = (
        sessions.order_by()
        .filter(status=Status.CANCELLED)
        .values("cancel_source", "cancel_reason")
        .annotate(count=Count("pk"))
    )
    for row in rows:
        report.by_source[row["cancel_source"]] += row["count"]
        report.by_reason[row["cancel_reason"]] += row["count"]


def _durations(report: Report, sessions: Any) -> None:
    lasted = ExpressionWrapper(
        Coalesce(F("cancelled_at"), F("updated_at")) - F("created_at"), output_field=DurationField()
    )
    whens = [
        When(lasted__lt=bound, then=Value(index))
        for index, (bound, _label) in enumerate(DURATION_BUCKETS)
        if bound is not None
    ]
    bucket = Case(*whens, default=Value(len(DURATION_BUCKETS) - 1), output_field=IntegerField())
    rows = (
        sessions.order_by()
        .filter(status__in=ABANDONED)
        .annotate(lasted=lasted)
        .annotate(bucket=bucket)
        .values("bucket")
        .annotate(count=Count("pk"))
    )
    counts = {row["bucket"]: row["count"] for row in rows}
    report.durations = [
        (label, counts.get(index, 0)) for index, (_bound, label) in enumerate(DURATION_BUCKETS)
    ]


def _intents(report: Report, sessions: Any) -> None:
    figures = (
        sessions.order_by()
        .cancel_requested()
        .aggregate(failed=Count("pk", filter=FAILED_CANCEL), pending=Count("pk", filter=~FAILED_CANCEL))
    )
    report.failed_cancels = figures["failed"] or 0
    report.pending_cancels = figures["pending"] or 0
