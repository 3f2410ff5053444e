"""What the operator sees of abandoned-checkout recovery (``services.recovery``).

- the changelist's *recovery* column and filter: due, sent, opened (Continue pressed), recovered (the order was
  paid after its notice), declined (the payer gave no consent), and a notice that failed or was withdrawn;
- the session page's *Recovery* section: the consent, the notice and what came of it;
- the abandonment page's figures for the period: notices sent, checkouts recovered, the amount they brought,
  the recovery rate.

The column reads three annotations added to the changelist's one query (no query per row); the figures are one
aggregate query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from flinks_sessions.admin.columns import when_html
from flinks_sessions.conf import get_settings
from flinks_sessions.models import PaymentSession, RecoveryNotice
from flinks_sessions.services.recovery import ABANDONED, due_condition, ended_before
from flinks_sessions.status import Status

# The column's word for each state (short: the changelist must fit 1,400 px), with STATES as its tooltip.
SHORT: dict[str, Any] = {
    "declined": _("No consent"),
    RecoveryNotice.State.SENDING: _("Unconfirmed"),
    RecoveryNotice.State.WITHDRAWN: _("Withdrawn"),
}
# The filter's and the session page's words, by state.
STATES: dict[str, Any] = {
    "due": _("Due"),
    "sent": _("Sent"),
    "opened": _("Opened"),
    "recovered": _("Recovered"),
    "declined": _("Declined (no consent)"),
    RecoveryNotice.State.SENDING: _("Sending (not confirmed)"),
    RecoveryNotice.State.FAILED: _("Failed"),
    RecoveryNotice.State.WITHDRAWN: _("Not sent: the order went on"),
}


def _notice(column: str) -> Subquery:
    return Subquery(RecoveryNotice.objects.filter(session=OuterRef("pk")).values(column)[:1])


def _paid_of_order() -> QuerySet[PaymentSession]:
    """The completed sessions of the outer row's order (its reference and account)."""
    return PaymentSession.objects.filter(
        reference_id=OuterRef("reference_id"), account=OuterRef("account"), status=Status.COMPLETED
    )


def _order_paid() -> Exists:
    return Exists(_paid_of_order())


def annotate(rows: QuerySet[PaymentSession]) -> QuerySet[PaymentSession]:
    """What the column needs, on every row of the changelist's one query: the notice's state and use, whether
    the order was paid, whether the session ended abandoned, whether it will be due (once RECOVERY_DELAY passes)."""
    someday = timezone.now() + timedelta(days=36500)
    recent = ended_before() - timedelta(seconds=get_settings().recovery_link_max_age)
    return rows.annotate(
        recovery_notice_state=_notice("state"),
        recovery_opened_at=_notice("opened_at"),
        recovery_paid=_order_paid(),
        recovery_abandoned=Case(When(ABANDONED, then=Value(True)), default=Value(False)),
        recovery_due=Case(
            When(due_condition(ended_before=someday, started_after=recent), then=Value(True)),
            default=Value(False),
        ),
    )


def state_of(session: Any) -> str:
    """The session's recovery state, a key of :data:`STATES`, or ``""`` when recovery does not apply."""
    if not hasattr(session, "recovery_paid"):
        session = annotate(PaymentSession.objects.filter(pk=session.pk)).get()
    state = session.recovery_notice_state
    if state == RecoveryNotice.State.SENT:
        if session.recovery_paid:
            return "recovered"
        return "opened" if session.recovery_opened_at else "sent"
    if state:
        return str(state)
    if session.recovery_abandoned and not session.recovery_consent:
        return "declined"
    return "due" if session.recovery_due else ""


class RecoveryColumns:
    """The recovery column and the session page's section, mixed into ``PaymentSessionAdmin``."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[PaymentSession]:
        return annotate(super().get_queryset(request))  # type: ignore[misc]

    @admin.display(description=_("recovery"))
    def recovery_state(self, obj: PaymentSession) -> str:
        state = state_of(obj)
        if not state:
            return ""
        return format_html(
            '<span class="flinks-recovery flinks-recovery--{}" title="{}">{}</span>',
            state,
            STATES[state],
            SHORT.get(state, STATES[state]),
        )

    @admin.display(description=_("recovery notice"))
    def recovery_notice(self, obj: PaymentSession) -> str:
        """The consent, and the order's notice: its state, when it went, whether its link was used, the result."""
        notice = RecoveryNotice.objects.filter(reference_id=obj.reference_id, account=obj.account).first()
        consent = (
            gettext("The payer consented to a reminder.")
            if obj.recovery_consent
            else gettext("The payer gave no consent: no reminder is ever sent.")
        )
        if notice is None:
            state = state_of(obj)
            said = gettext("Due: the next recovery sweep sends it.") if state == "due" else ""
            return format_html("{} {}", consent, said)
        lines: list[str] = [str(STATES[notice.state])]
        if notice.sent_at:
            lines.append(_at(gettext("sent %(when)s"), notice.sent_at))
        if notice.emailed:
            lines.append(gettext("by email"))
        if notice.opened_at:
            lines.append(_at(gettext("link used %(when)s"), notice.opened_at))
        if PaymentSession.objects.filter(
            reference_id=obj.reference_id, account=obj.account, status=Status.COMPLETED
        ).exists():
            lines.append(gettext("the order was paid"))
        if notice.error:
            lines.append(notice.error)
        return format_html("{} {}", consent, format_html_join("; ", "{}", ((line,) for line in lines)))


def _at(phrase: str, moment: datetime) -> SafeString:
    """A translated phrase around ``%(when)s``: the phrase escaped, the time's own markup kept."""
    return mark_safe(conditional_escape(phrase) % {"when": when_html(moment)})  # noqa: S308 - escaped above


class RecoveryFilter(admin.SimpleListFilter):
    """Sessions by recovery state: due, sent, opened, recovered, declined (no consent)."""

    title = _("recovery")
    parameter_name = "recovery"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(key, STATES[key]) for key in ("due", "sent", "opened", "recovered", "declined")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        sent = Q(recovery_notice_state=RecoveryNotice.State.SENT)
        conditions = {
            "due": due_condition(ended_before=ended_before()),
            "sent": sent & Q(recovery_paid=False, recovery_opened_at__isnull=True),
            "opened": sent & Q(recovery_paid=False, recovery_opened_at__isnull=False),
            "recovered": sent & Q(recovery_paid=True),
            "declined": ABANDONED & Q(recovery_consent=False),
        }
        condition = conditions.get(self.value() or "")
        if condition is None:
            return queryset
        if "recovery_paid" not in queryset.query.annotations:
            queryset = annotate(queryset)
        return queryset.filter(condition)


@dataclass(frozen=True)
class Figures:
    """The period's recovery: notices sent, orders paid after theirs, what those orders brought."""

    sent: int
    recovered: int
    amount: Decimal

    @property
    def rate(self) -> float | None:
        return self.recovered / self.sent if self.sent else None


def figures(start: datetime, end: datetime, account: str = "") -> Figures:
    """One aggregate query over the notices sent in ``[start, end)``."""
    notices = RecoveryNotice.objects.filter(
        state=RecoveryNotice.State.SENT, sent_at__gte=start, sent_at__lt=end
    )
    if account:
        notices = notices.filter(account=account)
    paid = _paid_of_order().order_by("-pk")
    money = DecimalField(max_digits=12, decimal_places=2)
    amount = Subquery(paid.values(paid_amount=Coalesce("settled_amount", "amount"))[:1], output_field=money)
    row = notices.annotate(paid_amount=amount).aggregate(
        sent=Count("pk"),
        recovered=Count("pk", filter=Q(paid_amount__isnull=False)),
        amount=Sum(
            Case(When(paid_amount__isnull=False, then="paid_amount"), default=Value(0), output_field=money)
        ),
    )
    return Figures(row["sent"] or 0, row["recovered"] or 0, row["amount"] or Decimal("0"))


def tiles(found: Figures, percent: Any) -> list[tuple[Any, str]]:
    """The abandonment page's recovery tiles (``percent`` is its own formatter)."""
    return [
        (_("Recovery notices sent"), number_format(found.sent, force_grouping=True)),
        (_("Checkouts recovered"), number_format(found.recovered, force_grouping=True)),
        (_("Amount recovered"), number_format(found.amount, 2, force_grouping=True)),
        (_("Recovery rate"), percent(found.rate) if found.rate is not None else "—"),
    ]
