"""The PaymentSession admin: what operators see, and a Cancel they can trust.

Every cancel goes through :func:`flinks_sessions.services.cancel_session` (the action over many sessions:
the same engine over many, ``cancel_sessions``) with ``source="admin"`` and the operator as actor, so a click races
safely with the beacon, the cron sweep and Flinks' own webhook. The views that cancel stay out of
``ATOMIC_REQUESTS``: the service commits its claim before calling Flinks and must not run inside a
transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from flinks_sessions import services
from flinks_sessions.admin import abandonment
from flinks_sessions.admin.audit import INLINE_EVENTS, SessionEventInline, events_url
from flinks_sessions.admin.columns import TIMES, SessionColumns, settled_amount, status_badge_html
from flinks_sessions.admin.confirmation import confirmation_page, selection
from flinks_sessions.admin.filters import (
    AccountListFilter,
    CancelIntentFilter,
    CancelSourceFilter,
    UndecidedGuaranteeFilter,
)
from flinks_sessions.admin.guarantees import GuaranteeActionsMixin
from flinks_sessions.admin.recovery import RecoveryColumns, RecoveryFilter
from flinks_sessions.admin.search import SESSION_SEARCH_HELP, session_match
from flinks_sessions.admin.tables import LargeReadOnlyTable
from flinks_sessions.models import PaymentSession
from flinks_sessions.status import Product, Status
from flinks_sessions.sweeps import run
from flinks_sessions.sweeps.summary import RunSummary, describe_cancel_action, describe_sync_action

# Flinks calls at once for an action over many sessions: enough to make 100 cancels quick, few enough
# that one operator's click cannot exhaust the connection pool the site's other requests use.
ACTION_CONCURRENCY = 8

READ_ONLY_FIELDS = (
    *(f"{name}_seconds" for name in (*TIMES, "created_at")),
    "guarantee_state",
    "session_id",
    "reference_id",
    "status_badge",
    "remote_status",
    "details_meaning",
    "amount",
    "settled_amount",
    "currency",
    "product",
    "account",
    "owner",
    "guarantee_offered_at",
    "guarantee_offer",
    "guarantee_decision",
    "guarantee_decided_at",
    "guarantee_claimed_at",
    "cancel_requested_at",
    "cancel_source",
    "cancel_reason",
    "cancel_reason_words",
    "cancel_claimed_at",
    "cancelled_at",
    "not_found_at",
    "last_synced_at",
    "attempt_count",
    "last_error",
    "last_error_at",
    "cancel_attribution",
    "metadata_display",
    "restarted_from_link",
    "successor_link",
    "recovery_notice",
    "created_at",
    "updated_at",
)


@admin.register(PaymentSession)
class PaymentSessionAdmin(
    LargeReadOnlyTable, GuaranteeActionsMixin, RecoveryColumns, SessionColumns, admin.ModelAdmin
):
    # What fits 1,400 px beside the admin's navigation and the filters (tests/browser/test_admin_browser.py):
    # the account, the owner and the product are filters and search fields rather than columns.
    list_display = (
        "reference_id",
        "short_session_id",
        "status_with_details",
        "cancel_state",
        "recovery_state",
        "amount_settled",
        "created_at_seconds",
    )
    list_display_links = ("reference_id", "short_session_id")
    list_filter = (
        "status",
        CancelIntentFilter,
        CancelSourceFilter,
        UndecidedGuaranteeFilter,
        RecoveryFilter,
        "product",
        AccountListFilter,
        "created_at",
    )
    list_select_related = ("owner",)
    date_hierarchy = "created_at"  # listed from the first and last row: see admin/dates.py
    ordering = ("-created_at", "-pk")
    search_fields = ("session_id", "reference_id", "owner")  # what search_match matches, for the help
    search_help_text = SESSION_SEARCH_HELP
    search_match = staticmethod(session_match)
    readonly_fields = READ_ONLY_FIELDS
    # The change page shows what applies to the session's state: see get_fieldsets.
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "reference_id",
                    "session_id",
                    "status_badge",
                    "details_meaning",
                    "remote_status",
                    ("amount", "settled_amount", "currency"),
                    ("product", "account"),
                    "owner",
                )
            },
        ),
        (
            _("Guarantee (GEFT)"),
            {
                "fields": (
                    "guarantee_state",
                    "guarantee_offered_at_seconds",
                    "guarantee_offer",
                    "guarantee_decided_at_seconds",
                    "guarantee_claimed_at_seconds",
                )
            },
        ),
        (
            _("Cancellation"),
            {
                "fields": (
                    "cancel_attribution",  # who asked and who confirmed: the source is said there
                    "cancel_requested_at_seconds",
                    "cancel_reason_words",
                    "cancel_claimed_at_seconds",
                    "cancelled_at_seconds",
                )
            },
        ),
        (
            _("Reconciliation with Flinks"),
            {
                "fields": (
                    "last_synced_at_seconds",
                    "not_found_at_seconds",
                    "attempt_count",
                    "last_error",
                    "last_error_at_seconds",
                )
            },
        ),
        (_("Start again"), {"fields": ("restarted_from_link", "successor_link")}),
        (_("Recovery"), {"fields": ("recovery_notice",)}),
        (_("Site data"), {"fields": ("metadata_display",)}),
        (_("Timestamps"), {"fields": ("created_at_seconds", "updated_at_seconds")}),
    )
    inlines = (SessionEventInline,)

    class Media:
        css = {"all": ("flinks_sessions/admin.css",)}

    actions = ("cancel_selected_sessions", "sync_selected_sessions", "accept_guarantee", "reject_guarantee")

    # --- display ----------------------------------------------------------------------------------------

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: PaymentSession) -> str:
        return status_badge_html(obj)

    def get_fieldsets(self, request: HttpRequest, obj: PaymentSession | None = None) -> Any:
        """Only what applies: a field with nothing stored is left out, and so is a section left empty."""
        if obj is None:
            return super().get_fieldsets(request, obj)
        shown = []
        for name, options in super().get_fieldsets(request, obj):
            fields = [_shown(obj, field) for field in options["fields"] if _applies(obj, field)]
            if fields:
                shown.append((name, {**options, "fields": fields}))
        return shown

    # --- permissions (read-only, deleted by a superuser only: see admin/tables.py) ----------------------

    def has_cancel_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.cancel_paymentsession")

    def has_sync_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.sync_paymentsession")

    # --- the changelist (actions run here, outside ATOMIC_REQUESTS) ------------------------------------

    @transaction.non_atomic_requests
    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Cancel selected sessions"), permissions=["cancel"])
    def cancel_selected_sessions(
        self, request: HttpRequest, queryset: QuerySet[PaymentSession]
    ) -> TemplateResponse | None:
        """Ask first (like Django's delete), then cancel each selected session at Flinks."""
        sessions = list(queryset.select_related("owner"))
        if request.POST.get("post") != "yes":
            return self._confirm_selected(request, sessions)
        reason = _operator_reason(request)
        summary = run.run_many(
            sessions,
            services.cancel_sessions,
            source="admin",
            reason=reason,
            actor=request.user,
            concurrency=ACTION_CONCURRENCY,
        )
        self._report(request, summary, describe_cancel_action(summary))
        return None

    @admin.action(description=_("Sync status from Flinks"), permissions=["sync"])
    def sync_selected_sessions(self, request: HttpRequest, queryset: QuerySet[PaymentSession]) -> None:
        """Poll ``/status`` for each selected session and store what changed (a read: no confirmation)."""
        summary = run.run_many(list(queryset), services.sync_sessions, concurrency=ACTION_CONCURRENCY)
        self._report(request, summary, describe_sync_action(summary))

    def _confirm_selected(self, request: HttpRequest, sessions: list[PaymentSession]) -> TemplateResponse:
        open_ones = (session for session in sessions if session.is_open)
        return confirmation_page(
            self,
            request,
            "cancel_selected_confirmation.html",
            _("Cancel payment sessions at Flinks?"),
            **selection("cancel_selected_sessions", sessions, open_ones),
            asks_reason=True,
        )

    def _report(self, request: HttpRequest, summary: RunSummary, counts: str) -> None:
        level = messages.SUCCESS
        if summary.failed:
            level = messages.ERROR if summary.failed == summary.total else messages.WARNING
        self.message_user(request, counts, level)

    # --- the change page's Cancel button ----------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        custom = [
            path(
                "abandonment/",
                self.admin_site.admin_view(self.abandonment_view),
                name="{}_{}_abandonment".format(*info),
            ),
            path(
                "<path:object_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="{}_{}_cancel".format(*info),
            ),
        ]
        return custom + super().get_urls()

    def abandonment_view(self, request: HttpRequest) -> TemplateResponse:
        """The abandonment page (:mod:`flinks_sessions.admin.abandonment`)."""
        return abandonment.abandonment_view(self, request)

    def render_change_form(  # noqa: PLR0917 - Django's signature
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: PaymentSession | None = None,
    ) -> HttpResponse:
        context["flinks_can_cancel"] = bool(
            obj is not None and obj.is_open and self.has_cancel_permission(request, obj)
        )
        if obj is not None:
            context["flinks_events_url"] = events_url(obj)
            context["flinks_inline_events"] = INLINE_EVENTS
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _change_url(self, session: PaymentSession) -> str:
        info = self.opts.app_label, self.opts.model_name
        return reverse(
            "admin:{}_{}_change".format(*info), args=[session.pk], current_app=self.admin_site.name
        )

    @transaction.non_atomic_requests
    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """GET: ask. POST: cancel at Flinks, then back to the change page with what happened."""
        if not self.has_cancel_permission(request):
            raise PermissionDenied
        session = self.get_object(request, unquote(object_id))
        if session is None:
            raise Http404
        if not self.has_view_or_change_permission(request, session):
            raise PermissionDenied
        if request.method == "POST":
            reason = _operator_reason(request)
            result = services.cancel_session(session, source="admin", reason=reason, actor=request.user)
            self._report_one(request, result)
            return HttpResponseRedirect(self._change_url(session))
        if not session.is_open:
            self.message_user(
                request,
                gettext("This session cannot be cancelled: it is %s.") % session.get_status_display()
                if session.is_terminal
                else gettext("This session cannot be cancelled: Flinks does not know it."),
                messages.WARNING,
            )
            return HttpResponseRedirect(self._change_url(session))
        return confirmation_page(
            self,
            request,
            "cancel_confirmation.html",
            _("Cancel this payment session at Flinks?"),
            session=session,
            change_url=self._change_url(session),
            asks_reason=True,
        )

    def _report_one(self, request: HttpRequest, result: services.Result[services.CancelOutcome]) -> None:
        session = result.session
        outcome = result.outcome
        if outcome is services.CancelOutcome.CANCELLED:
            self.message_user(request, gettext("The session was cancelled at Flinks."), messages.SUCCESS)
        elif outcome is services.CancelOutcome.ALREADY_TERMINAL:
            self.message_user(
                request,
                gettext("The session had already ended: %s.") % session.get_status_display(),
                messages.WARNING,
            )
        elif outcome is services.CancelOutcome.NOT_FOUND:
            self.message_user(request, gettext("Flinks does not know this session."), messages.WARNING)
        elif outcome is services.CancelOutcome.PENDING:
            self.message_user(
                request,
                gettext("Another cancel of this session is in progress; reload in a moment."),
                messages.INFO,
            )
        else:
            self.message_user(
                request,
                gettext("The cancel failed: %(error)s. It is recorded and will be retried.")
                % {"error": result.error},
                messages.ERROR,
            )


# When a field of the change page has something to show; any other field: when its stored value is not empty.
_SHOWN_WHEN: dict[str, Callable[[PaymentSession], bool]] = {
    **dict.fromkeys(
        (
            "reference_id",
            "session_id",
            "status_badge",
            "amount",
            "currency",
            "product",
            "account",
            "created_at_seconds",
        ),
        lambda session: True,
    ),
    "details_meaning": lambda session: bool(session.status_details),
    "settled_amount": lambda session: settled_amount(session) is not None,
    "cancel_attribution": lambda session: bool(
        session.cancel_requested_at or session.status == Status.CANCELLED
    ),
    "successor_link": lambda session: PaymentSession.objects.filter(restarted_from=session).exists(),
    "restarted_from_link": lambda session: session.restarted_from_id is not None,
    "metadata_display": lambda session: bool(session.metadata),
    "recovery_notice": lambda session: session.is_terminal and session.status != Status.COMPLETED,
    "cancel_reason_words": lambda session: bool(session.cancel_reason),
    "guarantee_offer": lambda session: bool(session.guarantee_offer),
    "guarantee_state": lambda session: (
        session.product == Product.GEFT and bool(session.guarantee_decision or session.guarantee_offered_at)
    ),
}


def _shown(session: PaymentSession, field: Any) -> Any:
    """A field, or of a row of fields the ones that apply (a row is shown when any of them does)."""
    if isinstance(field, (tuple, list)):
        return tuple(name for name in field if _applies(session, name))
    return field


def _applies(session: PaymentSession, field: Any) -> bool:
    """Whether a field (or a row of fields) has something to show for this session."""
    if isinstance(field, (tuple, list)):
        return any(_applies(session, name) for name in field)
    shown_when = _SHOWN_WHEN.get(field)
    if shown_when is not None:
        return shown_when(session)
    return getattr(session, field.removesuffix("_seconds"), None) not in (None, "", 0)


def _operator_reason(request: HttpRequest) -> str:
    """The reason an operator typed on a cancel confirmation, as a column holds it (no NUL, which PostgreSQL
    refuses: a 500 before Flinks was called), at most 255 characters."""
    return request.POST.get("reason", "").replace("\x00", "").strip()[:255]
