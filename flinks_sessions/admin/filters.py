"""List filters whose choices come from configuration, not from the table.

Django's filter for a plain ``CharField`` lists its values with ``SELECT DISTINCT`` over every row, on every
changelist view: a full scan at a million rows. The Flinks accounts are the ones configured in
``FLINKS_SESSIONS["ACCOUNTS"]``, and Flinks documents a single webhook event type, so both lists are known
without asking the database.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from flinks_sessions.conf import get_settings
from flinks_sessions.webhooks.envelope import STATUS_CHANGED

OTHER = "__other__"


class AccountListFilter(admin.SimpleListFilter):
    """The configured Flinks accounts (a session keeps the name it was created with)."""

    title = _("Flinks account")
    parameter_name = "account"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in sorted(get_settings().accounts)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(account=value) if value else queryset


class EventTypeListFilter(admin.SimpleListFilter):
    """The documented event type, or anything else Flinks (or someone else) sent."""

    title = _("event type")
    parameter_name = "event_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(STATUS_CHANGED, STATUS_CHANGED), (OTHER, _("Other"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == OTHER:
            return queryset.exclude(event_type=STATUS_CHANGED)
        return queryset.filter(event_type=value) if value else queryset
