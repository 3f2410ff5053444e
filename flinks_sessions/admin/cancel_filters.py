"""Changelist filters for the cancel intent: is a cancel waiting, failing, or done, and who asked for it.

A session whose cancel failed or waits for a worker looks like any other open one by its status alone; these
filters find them, with the predicates of :class:`~flinks_sessions.models.PaymentSessionQuerySet`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from flinks_sessions.models import FAILED_CANCEL, PaymentSession
from flinks_sessions.status import TERMINAL_STATUSES, Source, Status

# Each choice: (value, label, the sessions it selects), in the queryset's own words.
_INTENT_CHOICES: tuple[tuple[str, Any, Callable[[Any], QuerySet[PaymentSession]]], ...] = (
    ("none", _("Never requested"), lambda rows: rows.filter(cancel_requested_at__isnull=True)),
    ("pending", _("Requested, not done yet"), lambda rows: rows.cancel_requested().exclude(FAILED_CANCEL)),
    ("failed", _("Requested, failed (retried)"), lambda rows: rows.failed_cancels()),
    ("cancelled", _("Cancelled"), lambda rows: rows.filter(status=Status.CANCELLED)),
    (
        "overtaken",
        _("Requested, but ended otherwise"),
        lambda rows: rows.filter(cancel_requested_at__isnull=False, status__in=TERMINAL_STATUSES).exclude(
            status=Status.CANCELLED
        ),
    ),
)


class CancelIntentFilter(admin.SimpleListFilter):
    """Where each session's cancel stands: never asked, waiting for a worker, failing, done, or overtaken."""

    title = _("cancel")
    parameter_name = "cancel"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(value, label) for value, label, _condition in _INTENT_CHOICES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[PaymentSession]) -> QuerySet[PaymentSession]:
        for value, _label, select in _INTENT_CHOICES:
            if self.value() == value:
                return select(queryset)
        return queryset


class CancelSourceFilter(admin.SimpleListFilter):
    """Who asked first for the cancel: the shopper's browser, an operator, a command, the site's code."""

    title = _("cancel requested by")
    parameter_name = "cancel_source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(Source.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[PaymentSession]) -> QuerySet[PaymentSession]:
        if self.value() in Source.values:
            return queryset.filter(cancel_source=self.value())
        return queryset
