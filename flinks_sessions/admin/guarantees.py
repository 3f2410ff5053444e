"""The GEFT guarantee in the admin: who still waits for a decision, and "Accept"/"Reject" with a confirmation.

With ``GUARANTEE_DECISION = "manual"`` an operator decides each guarantee Flinks offers; with an automatic
policy these actions are how a guarantee the policy left undecided (its task lost, its callable raising) is
settled. Every decision goes through :func:`flinks_sessions.services.decide_guarantee` with ``source="admin"``
and the operator as actor, so it races safely with the policy's task: Flinks is asked once. The actions run
outside ``ATOMIC_REQUESTS`` (the changelist view is non-atomic), since the service calls Flinks.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from flinks_sessions import services
from flinks_sessions.admin.confirmation import confirmation_page, selection
from flinks_sessions.models import PaymentSession
from flinks_sessions.services.guarantee import DECIDED
from flinks_sessions.status import Product


class GuaranteeActionsMixin:
    """The actions and the guarantee's state for the change page; mixed into ``PaymentSessionAdmin``."""

    @admin.display(description=_("guarantee"), ordering="guarantee_decision")
    def guarantee_state(self, obj: PaymentSession) -> str:
        if obj.product != Product.GEFT:
            return ""
        if obj.guarantee_decision:
            return str(obj.get_guarantee_decision_display())
        if obj.guarantee_offered_at is not None and obj.is_open:
            return gettext("Waiting for a decision")
        return ""

    def has_decide_guarantee_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        opts = PaymentSession._meta
        return bool(request.user.has_perm(f"{opts.app_label}.decide_guarantee_paymentsession"))

    @admin.action(description=_("Accept guarantee"), permissions=["decide_guarantee"])
    def accept_guarantee(
        self, request: HttpRequest, queryset: QuerySet[PaymentSession]
    ) -> TemplateResponse | None:
        return self._decide(request, queryset, accepted=True)

    @admin.action(description=_("Reject guarantee"), permissions=["decide_guarantee"])
    def reject_guarantee(
        self, request: HttpRequest, queryset: QuerySet[PaymentSession]
    ) -> TemplateResponse | None:
        return self._decide(request, queryset, accepted=False)

    def _decide(
        self, request: HttpRequest, queryset: QuerySet[PaymentSession], *, accepted: bool
    ) -> TemplateResponse | None:
        """Ask first; then one decision per open, undecided GEFT session, each reported."""
        sessions = list(queryset.select_related("owner"))
        decidable = [
            s for s in sessions if s.product == Product.GEFT and s.is_open and not s.guarantee_decision
        ]
        if request.POST.get("post") != "yes":
            return self._confirm(request, sessions, decidable, accepted=accepted)
        decided = 0
        for session in decidable:
            result = services.decide_guarantee(session, accepted, source="admin", actor=request.user)
            if result.outcome in DECIDED:
                decided += 1
            elif result.outcome is services.GuaranteeOutcome.ALREADY_DECIDED:
                self.message_user(request, result.error, messages.WARNING)  # type: ignore[attr-defined]
            elif result.outcome is services.GuaranteeOutcome.PENDING:
                self.message_user(  # type: ignore[attr-defined]
                    request,
                    gettext("%(reference)s: another request is deciding this guarantee right now.")
                    % {"reference": session.reference_id},
                    messages.WARNING,
                )
            else:
                self.message_user(  # type: ignore[attr-defined]
                    request,
                    gettext("%(reference)s: the decision was not taken (%(outcome)s) %(error)s")
                    % {"reference": session.reference_id, "outcome": result.outcome, "error": result.error},
                    messages.ERROR,
                )
        skipped = len(sessions) - len(decidable)
        text = (
            ngettext("%(count)d guarantee accepted.", "%(count)d guarantees accepted.", decided)
            if accepted
            else ngettext("%(count)d guarantee rejected.", "%(count)d guarantees rejected.", decided)
        ) % {"count": decided}
        if skipped:
            text += " " + ngettext(
                "%(count)d session had no guarantee to decide.",
                "%(count)d sessions had no guarantee to decide.",
                skipped,
            ) % {"count": skipped}
        self.message_user(request, text, messages.SUCCESS if decided else messages.WARNING)  # type: ignore[attr-defined]
        return None

    def _confirm(
        self,
        request: HttpRequest,
        sessions: list[PaymentSession],
        decidable: list[PaymentSession],
        *,
        accepted: bool,
    ) -> TemplateResponse:
        return confirmation_page(
            self,  # type: ignore[arg-type]
            request,
            "guarantee_confirmation.html",
            _("Accept these guarantees at Flinks?") if accepted else _("Reject these guarantees at Flinks?"),
            **selection("accept_guarantee" if accepted else "reject_guarantee", sessions, decidable),
            accepted=accepted,
        )
