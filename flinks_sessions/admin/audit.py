"""The audit trail in the admin: the latest lines on a session's page, every line in a list of their own.

A session touched by a retry loop or a noisy integration can hold thousands of audit rows; rendering them all
as inline forms makes its change page take seconds. The inline shows the latest ``INLINE_EVENTS`` (oldest
first, as a trail reads) and the change page links to the SessionEvent changelist filtered by the session,
which pages through the rest. Both are read-only, and both are visible to whoever may see the session.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from flinks_sessions.admin.columns import EventColumns
from flinks_sessions.admin.pagination import LIST_PER_PAGE, EstimatedCountPaginator
from flinks_sessions.models import PaymentSession, SessionEvent

INLINE_EVENTS = 20
# Times to the second, Flinks' detail code with its meaning, who acted (and, for a confirmation, who asked).
EVENT_FIELDS = (
    "at",
    "kind",
    "from_words",
    "to_words",
    "event_details",
    "by",
    "reason_words",
    "payload",
)


def may_see_sessions(request: HttpRequest) -> bool:
    """Whoever may see a session may see its audit trail (no separate SessionEvent permission needed)."""
    opts = PaymentSession._meta
    return request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}") or request.user.has_perm(
        f"{opts.app_label}.change_{opts.model_name}"
    )


def events_url(session: PaymentSession) -> str:
    """The SessionEvent changelist showing every line of ``session``'s trail."""
    return f"{reverse('admin:flinks_sessions_sessionevent_changelist')}?session__id__exact={session.pk}"


class LatestEventsFormSet(BaseInlineFormSet):
    """The session's latest ``INLINE_EVENTS`` lines, oldest first: one bounded query, however long the trail."""

    def get_queryset(self) -> QuerySet[SessionEvent]:
        if not hasattr(self, "_latest"):
            trail = super().get_queryset()
            latest = trail.order_by("-created_at", "-pk").values("pk")[:INLINE_EVENTS]
            self._latest = trail.filter(pk__in=latest).order_by("created_at", "pk")
        return self._latest


class SessionEventInline(EventColumns, admin.TabularInline):
    """The audit trail's latest lines. Append-only: nobody adds, edits or deletes a line from here."""

    model = SessionEvent
    formset = LatestEventsFormSet
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False
    fields = EVENT_FIELDS
    readonly_fields = fields
    verbose_name = _("audit event")
    verbose_name_plural = _("audit trail")

    def get_queryset(self, request: HttpRequest) -> QuerySet[SessionEvent]:
        return super().get_queryset(request).select_related("actor", "session")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_see_sessions(request)


@admin.register(SessionEvent)
class SessionEventAdmin(EventColumns, admin.ModelAdmin):
    """Every audit line, newest first, usually reached filtered by one session from its change page."""

    list_display = ("at", "session", *EVENT_FIELDS[1:-1])
    list_select_related = ("session", "actor")
    ordering = ("-created_at", "-pk")
    readonly_fields = ("session", "created_at", *EVENT_FIELDS)
    fields = readonly_fields
    list_filter = ("kind", "source")  # both have choices: no DISTINCT over every row
    paginator = EstimatedCountPaginator
    list_per_page = LIST_PER_PAGE
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_see_sessions(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_see_sessions(request)
