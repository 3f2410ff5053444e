"""The webhook log in the admin: read-only, searchable, with a "Reprocess" action.

Rows are evidence of what Flinks sent, so nobody edits them; only superusers delete them (pruning is the
``flinks_prune_webhooks`` command's job). Reprocessing needs the change permission on deliveries and only
touches deliveries whose signature was valid.
"""

from __future__ import annotations

import json
from collections import Counter

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from flinks_sessions.admin.columns import short_id_html, when_html
from flinks_sessions.admin.filters import EventTypeListFilter
from flinks_sessions.admin.search import DELIVERY_SEARCH_HELP, delivery_match
from flinks_sessions.admin.tables import LargeReadOnlyTable
from flinks_sessions.models import WebhookDelivery
from flinks_sessions.safejson import loads
from flinks_sessions.sweeps.summary import describe_outcomes
from flinks_sessions.webhooks.processing import process_delivery

Outcome = WebhookDelivery.Outcome


def _pretty(raw: bytes) -> str:
    """The body as text: indented JSON when it is JSON, the decoded bytes otherwise."""
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.dumps(loads(text), indent=2, ensure_ascii=False)
    except ValueError:  # not JSON, or nested too deep (a malformed delivery): shown as sent
        return text


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(LargeReadOnlyTable, admin.ModelAdmin):
    # What fits 1,400 px beside the filters: times to the second, ids cut short (the whole id is the tooltip).
    list_display = (
        "received_at_seconds",
        "event_type",
        "short_session_id",
        "remote_status",
        "outcome",
        "signed",
    )
    list_filter = ("outcome", EventTypeListFilter, "signature_valid", "truncated")
    search_fields = ("=flinks_session_id", "session__reference_id")  # what search_match matches, for the help
    search_help_text = DELIVERY_SEARCH_HELP
    search_match = staticmethod(delivery_match)
    date_hierarchy = "received_at"  # listed from the first and last row: see admin/dates.py
    list_select_related = ("session",)
    ordering = ("-received_at", "-pk")
    actions = ("reprocess",)
    fields = (
        "received_at",
        "outcome",
        "error",
        "processed_at",
        "session",
        "flinks_session_id",
        "event_type",
        "remote_status",
        "status_details",
        "event_when",
        "signature_form",
        "signature_valid",
        "remote_addr",
        "truncated",
        "dropped_after",
        "headers_display",
        "body_display",
    )
    readonly_fields = fields

    class Media:
        css = {"all": ("flinks_sessions/admin.css",)}

    @admin.display(description=_("received at"), ordering="received_at")
    def received_at_seconds(self, obj: WebhookDelivery) -> str:
        return when_html(obj.received_at)

    @admin.display(description=_("session"), ordering="flinks_session_id")
    def short_session_id(self, obj: WebhookDelivery) -> str:
        return short_id_html(obj.flinks_session_id)

    @admin.display(description=_("signed"), boolean=True, ordering="signature_valid")
    def signed(self, obj: WebhookDelivery) -> bool | None:
        """The signature's check, under a header short enough for the column (the filter says it in full)."""
        return obj.signature_valid

    @admin.display(description=_("raw body"))
    def body_display(self, obj: WebhookDelivery) -> str:
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", _pretty(bytes(obj.body or b"")))

    @admin.display(description=_("headers"))
    def headers_display(self, obj: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.headers, indent=2, sort_keys=True))

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("flinks_sessions.change_webhookdelivery")

    @admin.action(description=_("Reprocess selected deliveries"), permissions=["reprocess"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        """Run processing again, e.g. after an ``error`` was fixed or an ``unknown_session`` was created.

        Deliveries without a valid signature are never processed; ``applied`` ones are left alone so their
        outcome keeps saying what they did (running them again could only give ``duplicate``).
        """
        selected = queryset.count()
        eligible = (
            queryset.filter(signature_valid=True)
            .exclude(outcome=Outcome.APPLIED)
            .order_by("received_at", "pk")
        )
        outcomes: Counter[str] = Counter()
        for delivery in list(eligible):
            outcomes[process_delivery(delivery, announce=False)] += 1
        done = sum(outcomes.values())
        summary = describe_outcomes(outcomes, lambda key: Outcome(key).label)
        self.message_user(
            request,
            ngettext(
                "Reprocessed %(done)d of %(selected)d delivery. %(summary)s",
                "Reprocessed %(done)d of %(selected)d deliveries. %(summary)s",
                selected,
            )
            % {"done": done, "selected": selected, "summary": summary},
        )
