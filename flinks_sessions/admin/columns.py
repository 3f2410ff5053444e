"""What the PaymentSession admin shows beyond the stored columns: the cancel intent, detail codes with their
meaning, attribution, ids that fit a column, times to the second.

Kept apart from :mod:`.sessions` (which wires the admin) so each display rule has one home; every method here is
read-only and costs no query on the changelist (the change page's attribution reads two audit rows).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from flinks_sessions.admin.abandonment_report import REASON_LABELS
from flinks_sessions.models import Announcement, PaymentSession, SessionEvent
from flinks_sessions.status import Source, Status, detail_meaning, label_of

# (background, text) per status: readable on the light and the dark admin theme.
BADGE_COLOURS: dict[str, tuple[str, str]] = {
    Status.INITIATED: ("#e2e8f0", "#1e293b"),
    Status.IN_PROGRESS: ("#2563eb", "#ffffff"),
    Status.COMPLETED: ("#15803d", "#ffffff"),
    Status.FAILED: ("#b91c1c", "#ffffff"),
    Status.CANCELLED: ("#7c2d12", "#ffffff"),
    Status.EXPIRED: ("#6b7280", "#ffffff"),
}
_BADGE_STYLE = "display:inline-block;padding:1px 8px;border-radius:9px;font-size:0.85em;white-space:nowrap;"


def status_badge_html(session: PaymentSession) -> str:
    background, colour = BADGE_COLOURS.get(session.status, ("#e5e7eb", "#111827"))
    return format_html(
        '<span class="flinks-status flinks-status-{}" style="{}background:{};color:{}">{}</span>',
        session.status,
        _BADGE_STYLE,
        background,
        colour,
        session.get_status_display(),
    )


SHORT_ID = 8  # characters of a Flinks session id shown in the changelist; the whole id is its tooltip
ERROR_PREVIEW = 60  # characters of a cancel's last error shown in the changelist


def to_the_second(value: datetime | None) -> str:
    """A timestamp in the active locale's short date and the time to the second (audits need the second)."""
    if value is None:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{date_format(local, 'SHORT_DATE_FORMAT')} {date_format(local, 'H:i:s')}"


def when_html(value: datetime | None) -> str:
    """Date and time to the second for a column; the line may break between them, never inside either."""
    day, _space, time = to_the_second(value).partition(" ")
    return format_html('<span class="flinks-when">{}</span> <span class="flinks-when">{}</span>', day, time)


def short_id_html(value: uuid.UUID | None) -> str:
    """A Flinks id cut to fit a column; the whole id is its tooltip."""
    if value is None:
        return ""
    full = str(value)
    return format_html('<span class="flinks-id" title="{}">{}…</span>', full, full[:SHORT_ID])


def settled_amount(session: PaymentSession) -> Decimal | None:
    """What Flinks settled, for a completed session only: a cancelled or failed one settled nothing."""
    if session.status != Status.COMPLETED:
        return None
    return session.settled_amount


def source_label(source: str) -> str:
    """``Operator (admin)`` for ``admin``: a stored source in words (an unknown one as stored)."""
    return label_of(Source, source)


def status_label(status: str) -> str:
    """``Cancelled`` for ``cancelled``, in the active language (an unknown or empty one as stored)."""
    return label_of(Status, status)


# The reasons this app stores, in words: the cancel reasons of the beacon and checkout.js, Start again, the
# guarantee's decision and a creation matched after a timeout. A site's own reason is shown as it wrote it.
STORED_REASONS: dict[str, Any] = {
    **REASON_LABELS,
    "": "",
    "accepted": _("Accepted"),
    "rejected": _("Rejected"),
    "creation confirmed by Flinks (matched by referenceId)": _(
        "Creation confirmed by Flinks (matched by reference)"
    ),
}


def reason_label(reason: str) -> str:
    """A stored reason in words (``Left the page`` for ``pagehide``); any other as written."""
    return str(STORED_REASONS.get(reason, reason))


def in_words(name: str, words: Callable[[Any], str], description: Any, **display: Any) -> Any:
    """A display method showing the attribute ``name`` through ``words`` (a stored code or time, readable)."""

    def show(self: Any, obj: Any) -> str:
        return words(getattr(obj, name))

    return admin.display(description=description, **display)(show)


def seconds_of(name: str) -> Any:
    """A display method showing the model's datetime field ``name`` to the second, under the field's label."""
    label = PaymentSession._meta.get_field(name).verbose_name  # type: ignore[union-attr]
    return in_words(name, to_the_second, label, ordering=name)


# The change page's times, to the second like the audit trail's (``<field>_seconds``; created_at has its own).
TIMES = (
    "guarantee_offered_at",
    "guarantee_decided_at",
    "guarantee_claimed_at",
    "cancel_requested_at",
    "cancel_claimed_at",
    "cancelled_at",
    "not_found_at",
    "last_synced_at",
    "last_error_at",
    "updated_at",
)


def details_with_meaning(code: str) -> str:
    """``EFT0501 (Cancelled by an API request)``: the code Flinks sent and what it means."""
    meaning = detail_meaning(code)
    if not code:
        return ""
    return gettext("%(code)s (%(meaning)s)") % {"code": code, "meaning": meaning} if meaning else code


def intent_actor(session: PaymentSession) -> SessionEvent | None:
    """The first audit row of the cancel's first asker: it names the operator, if a person asked."""
    return (
        session.events.filter(
            kind__in=(SessionEvent.Kind.CANCEL_ATTEMPT, SessionEvent.Kind.RESTARTED),
            source=session.cancel_source,
        )
        .select_related("actor")
        .order_by("created_at", "pk")
        .first()
    )


def asker(session: PaymentSession) -> tuple[str, SessionEvent | None]:
    """Who asked for the cancel, in words (the operator too, if a person asked), and their first audit row."""
    asked = source_label(session.cancel_source)
    first = intent_actor(session)
    if first is not None and first.actor is not None:
        asked = gettext("%(source)s, %(user)s") % {"source": asked, "user": first.actor}
    return asked, first


def attribution(session: PaymentSession) -> str:
    """Who asked for the cancel and who confirmed it: an operator's cancel confirmed by a webhook names both."""
    if not session.cancel_requested_at and session.status != Status.CANCELLED:
        return ""
    asked = asker(session)[0] if session.cancel_source else gettext("Flinks")
    confirmed = (
        session.events.filter(kind=SessionEvent.Kind.TRANSITION, to_status=Status.CANCELLED)
        .order_by("created_at", "pk")
        .first()
    )
    if confirmed is None:
        return gettext("Asked by %(asked)s; not confirmed yet.") % {"asked": asked}
    return gettext("Asked by %(asked)s; confirmed by %(confirmed)s.") % {
        "asked": asked,
        "confirmed": source_label(confirmed.source),
    }


class SessionColumns:
    """Display methods of the PaymentSession admin (mixed into ``PaymentSessionAdmin``)."""

    @admin.display(description=_("session"), ordering="session_id")
    def short_session_id(self, obj: PaymentSession) -> str:
        if obj.session_id is None:
            return gettext("not created")
        return short_id_html(obj.session_id)

    @admin.display(description=_("details"), ordering="status_details")
    def details_code(self, obj: PaymentSession) -> str:
        if not obj.status_details:
            return ""
        return format_html(
            '<abbr class="flinks-code" title="{}">{}</abbr>',
            detail_meaning(obj.status_details),
            obj.status_details,
        )

    @admin.display(description=_("status"), ordering="status")
    def status_with_details(self, obj: PaymentSession) -> str:
        """The badge, and beside it Flinks' detail code with its meaning as a tooltip."""
        badge = status_badge_html(obj)
        if not obj.status_details:
            return badge
        return format_html("{} {}", badge, self.details_code(obj))

    @admin.display(description=_("amount"), ordering="amount")
    def amount_settled(self, obj: PaymentSession) -> str:
        """The amount asked for; after a reduced offer, the settled amount first and the requested one beside it."""
        if obj.amount is None:
            return ""
        requested = number_format(obj.amount, 2)
        settled = settled_amount(obj)
        if settled is None or settled == obj.amount:
            return requested
        return format_html(
            '<span class="flinks-amount flinks-amount--reduced" title="{}">{} <s>{}</s></span>',
            gettext("Flinks settled %(settled)s of the %(requested)s asked for (a reduced guarantee offer).")
            % {"settled": number_format(settled, 2), "requested": requested},
            number_format(settled, 2),
            requested,
        )

    details_meaning = in_words("status_details", details_with_meaning, _("status details"))

    @admin.display(description=_("cancel"), ordering="cancel_requested_at")
    def cancel_state(self, obj: PaymentSession) -> str:
        """Empty when nobody asked; else who asked and where it stands (failed with its error, waiting, done)."""
        if obj.cancel_requested_at is None:
            return ""
        source = source_label(obj.cancel_source)
        if obj.status == Status.CANCELLED:
            return format_html('<span class="flinks-cancel flinks-cancel--done">{}</span>', source)
        if obj.is_terminal:
            return format_html(
                '<span class="flinks-cancel">{}</span>',
                gettext("%(source)s; ended %(status)s")
                % {"source": source, "status": obj.get_status_display().lower()},
            )
        if obj.has_failed_cancel:
            return format_html(
                '<span class="flinks-cancel flinks-cancel--failed" title="{}">{}</span>',
                obj.last_error,
                gettext("%(source)s; failed: %(error)s")
                % {"source": source, "error": Truncator(obj.last_error).chars(ERROR_PREVIEW)},
            )
        return format_html(
            '<span class="flinks-cancel flinks-cancel--pending">{}</span>',
            gettext("%(source)s; waiting") % {"source": source},
        )

    @admin.display(description=_("cancel requested by"))
    def cancel_attribution(self, obj: PaymentSession) -> str:
        return attribution(obj)

    cancel_reason_words = in_words("cancel_reason", reason_label, _("cancel reason"))

    @admin.display(description=_("metadata"))
    def metadata_display(self, obj: PaymentSession) -> str:
        return format_html(
            '<pre class="flinks-json">{}</pre>', json.dumps(obj.metadata, indent=2, ensure_ascii=False)
        )

    @admin.display(description=_("restarted from"))
    def restarted_from_link(self, obj: PaymentSession) -> str:
        return _session_link(obj.restarted_from)

    @admin.display(description=_("restarted as"))
    def successor_link(self, obj: PaymentSession) -> str:
        return _session_link(PaymentSession.objects.filter(restarted_from=obj).first())

    created_at_seconds = in_words("created_at", when_html, _("created at"), ordering="created_at")


for _name in TIMES:
    setattr(SessionColumns, f"{_name}_seconds", seconds_of(_name))


def _session_link(session: PaymentSession | None) -> str:
    if session is None:
        return ""
    url = reverse("admin:flinks_sessions_paymentsession_change", args=[session.pk])
    return format_html('<a href="{}">{}</a>', url, session.session_id or session.pk)


class EventColumns:
    """Display methods of the audit trail inline: times to the second, who acted, labels in words."""

    at = in_words("created_at", to_the_second, _("at"))
    from_words = in_words("from_status", status_label, _("from"))
    to_words = in_words("to_status", status_label, _("to"))
    reason_words = in_words("reason", reason_label, _("reason"))
    event_details = in_words("status_details", details_with_meaning, _("status details"))

    @admin.display(description=_("by"))
    def by(self, obj: SessionEvent) -> str:
        """Who acted; for the cancel's confirmation, also who asked (an operator confirmed by a webhook)."""
        if obj.decided_by_policy:
            return gettext("The site's guarantee policy")
        label = obj.get_source_display()
        if obj.actor is not None:
            return gettext("%(source)s, %(user)s") % {"source": label, "user": obj.actor}
        session = obj.session
        if obj.kind != SessionEvent.Kind.TRANSITION or obj.to_status != Status.CANCELLED:
            return label
        if not session.cancel_source:
            return label
        asked, first = asker(session)
        if session.cancel_source == obj.source and (first is None or first.actor is None):
            return label
        return gettext("%(source)s, asked by %(asked)s") % {"source": label, "asked": asked}

    @admin.display(description=_("announcement"))
    def announcement_state(self, obj: SessionEvent) -> str:
        """Whether the shop's receivers have taken this line's signals; for a failing one, when and why."""
        if obj.announcement == Announcement.FAILING:
            return gettext("%(state)s (attempt %(attempt)d; next try %(next)s): %(error)s") % {
                "state": obj.get_announcement_display(),
                "attempt": obj.announce_attempts,
                "next": to_the_second(obj.announce_next_at) if obj.announce_next_at else "-",
                "error": obj.announce_error,
            }
        if obj.announcement == Announcement.ANNOUNCED and obj.announce_attempts > 1:
            return gettext("%(state)s (attempt %(attempt)d)") % {
                "state": obj.get_announcement_display(),
                "attempt": obj.announce_attempts,
            }
        return str(obj.get_announcement_display()) if obj.announcement else ""
