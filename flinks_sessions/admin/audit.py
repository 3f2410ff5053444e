"""The audit trail in the admin: the latest lines on a session's page, every line in a list of their own.

A session touched by a retry loop or a noisy integration can hold thousands of audit rows; rendering them all
as inline forms makes its change page take seconds. The inline shows the latest ``INLINE_EVENTS`` (oldest
first, as a trail reads) and the change page links to the SessionEvent changelist filtered by the session,
which pages through the rest. Both are read-only, and both are visible to whoever may see the session.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from flinks_sessions.admin.columns import EventColumns
from flinks_sessions.admin.tables import LargeReadOnlyTable, ReadOnly
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


class SessionEventInline(ReadOnly, EventColumns, admin.TabularInline):
    """The audit trail's latest lines. Append-only: nobody adds, edits or deletes a line from here."""

    superuser_deletes = False
    viewed_as = PaymentSession  # whoever may see a session may see its trail: no SessionEvent permission

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


@admin.register(SessionEvent)
class SessionEventAdmin(LargeReadOnlyTable, EventColumns, admin.ModelAdmin):
    """Every audit line, newest first, usually reached filtered by one session from its change page."""

    superuser_deletes = False
    viewed_as = PaymentSession

    list_display = ("at", "session", *EVENT_FIELDS[1:-1])
    list_select_related = ("session", "actor")
    ordering = ("-created_at", "-pk")
    readonly_fields = ("session", "created_at", *EVENT_FIELDS)
    fields = readonly_fields
    list_filter = ("kind", "source")  # both have choices: no DISTINCT over every row

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)
