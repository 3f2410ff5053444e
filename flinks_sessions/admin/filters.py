"""The admin's list filters, in one place: each choice is a WHERE clause an index serves, listed without a scan.

- Sessions: where the cancel stands and who asked for it (a session whose cancel failed or waits for a worker
  looks like any other open one by its status alone), the guarantee awaiting a decision, the Flinks account.
- Webhook deliveries: the event type.

Django's filter for a plain ``CharField`` lists its values with ``SELECT DISTINCT`` over every row, on every
changelist view: a full scan at a million rows. The Flinks accounts are the ones configured in
``FLINKS_SESSIONS["ACCOUNTS"]``, and Flinks documents a single webhook event type, so both lists are known
without asking the database.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from flinks_sessions.conf import get_settings
from flinks_sessions.models import FAILED_CANCEL, OPEN
from flinks_sessions.status import TERMINAL_STATUSES, Source, Status
from flinks_sessions.webhooks.envelope import STATUS_CHANGED

OTHER = "__other__"


def _matches_nothing(value: str | None) -> bool:
    """A value no text column holds matches no row; PostgreSQL refuses a NUL even in a query (a 500 otherwise)."""
    return value is not None and "\x00" in value


class AccountListFilter(admin.SimpleListFilter):
    """The configured Flinks accounts (a session keeps the name it was created with)."""

    title = _("Flinks account")
    parameter_name = "account"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in sorted(get_settings().accounts)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if _matches_nothing(value):
            return queryset.none()
        return queryset.filter(account=value) if value else queryset


class EventTypeListFilter(admin.SimpleListFilter):
    """The documented event type, or anything else Flinks (or someone else) sent."""

    title = _("event type")
    parameter_name = "event_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(STATUS_CHANGED, STATUS_CHANGED), (OTHER, _("Other"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if _matches_nothing(value):
            return queryset.none()
        if value == OTHER:
            return queryset.exclude(event_type=STATUS_CHANGED)
        return queryset.filter(event_type=value) if value else queryset


class ChoiceFilter(admin.SimpleListFilter):
    """A filter whose every choice is a condition: ``choices_table`` holds (value, label, the condition it selects).

    A condition is a ``Q``, or a queryset method's name (a predicate defined once, on the queryset). Any other
    value leaves the list whole.
    """

    choices_table: tuple[tuple[str, Any, Q | str], ...] = ()

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(value, label) for value, label, _condition in self.choices_table]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        for value, _label, condition in self.choices_table:
            if self.value() == value:
                return (
                    queryset.filter(condition) if isinstance(condition, Q) else getattr(queryset, condition)()
                )
        return queryset


_INTENT_CHOICES: tuple[tuple[str, Any, Q | str], ...] = (
    ("none", _("Never requested"), Q(cancel_requested_at__isnull=True)),
    # A failed cancel is the queryset's FAILED_CANCEL (a failed sync or guarantee call is not one).
    ("pending", _("Requested, not done yet"), OPEN & Q(cancel_requested_at__isnull=False) & ~FAILED_CANCEL),
    ("failed", _("Requested, failed (retried)"), "failed_cancels"),
    ("cancelled", _("Cancelled"), Q(status=Status.CANCELLED)),
    (
        "overtaken",
        _("Requested, but ended otherwise"),
        Q(cancel_requested_at__isnull=False, status__in=TERMINAL_STATUSES) & ~Q(status=Status.CANCELLED),
    ),
)


class CancelIntentFilter(ChoiceFilter):
    """Where each session's cancel stands: never asked, waiting for a worker, failing, done, or overtaken."""

    title = _("cancel")
    parameter_name = "cancel"
    choices_table = _INTENT_CHOICES


class CancelSourceFilter(ChoiceFilter):
    """Who asked first for the cancel: the shopper's browser, an operator, a command, the site's code."""

    title = _("cancel requested by")
    parameter_name = "cancel_source"
    choices_table = tuple((value, label, Q(cancel_source=value)) for value, label in Source.choices)


class UndecidedGuaranteeFilter(ChoiceFilter):
    """Open GEFT sessions whose guarantee Flinks offered and nobody has decided: Flinks is waiting on us."""

    title = _("guarantee")
    parameter_name = "guarantee"
    choices_table = (
        ("undecided", _("Waiting for a decision"), "undecided_guarantees"),
        ("accepted", _("Accepted"), Q(guarantee_decision="accepted")),
        ("rejected", _("Rejected"), Q(guarantee_decision="rejected")),
    )
