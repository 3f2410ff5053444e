"""Every call the provider makes to the app's services, in one place: start, cancel, and the guarantee decision.

Each answers with the service's result or raises ``PaymentError`` with a message a person can read, which is
what django-payments' callers (``Payment.capture()``, ``release()``, ``cancel()``) expect.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from payments import PaymentError

from flinks_sessions import services
from flinks_sessions.exceptions import FlinksError
from flinks_sessions.models import PaymentSession
from flinks_sessions.services.guarantee import DECIDED
from flinks_sessions.status import Status

SOURCE = "api"  # the site's own code: django-payments calls the provider from the shop's views and jobs

# Why a call did not do what was asked, in words for the person who asked (an operator, the shop's logs); keyed
# by the outcome's value, which the cancel and the guarantee results share.
NO_ANSWER = gettext_lazy("Flinks Pay did not answer. Please try again later.")
REFUSALS = {
    "not_found": gettext_lazy("Flinks Pay does not know this payment."),
    "failed": NO_ANSWER,
    "pending": gettext_lazy("The payment is being cancelled right now."),
    "refused": gettext_lazy("Flinks Pay refused the decision on the guarantee."),
    "already_terminal": gettext_lazy("The payment has ended already."),
}


def start(payment: Any, *, product: str, account: str | None) -> PaymentSession:
    """A new session for ``payment``: its token is the reference, its billing fields the payor."""
    payor = {
        key: value
        for key, value in (
            ("firstName", payment.billing_first_name),
            ("lastName", payment.billing_last_name),
            ("email", payment.billing_email),
        )
        if value
    }
    try:
        return services.start_session(
            amount=payment.total,
            reference_id=str(payment.token),
            payor=payor,
            product=product,
            account=account,
            metadata={"payment": str(payment.pk)},
        )
    except ValidationError as error:
        raise PaymentError("; ".join(error.messages), code=400) from error
    except FlinksError as error:
        raise PaymentError(
            _("Flinks Pay could not start the payment. Please try later."), code=502
        ) from error


def cancel(session: PaymentSession) -> None:
    """End the session at Flinks, exactly once; a session that had ended cancelled already is fine."""
    result = services.cancel_session(session, source=SOURCE, reason="django-payments cancel()")
    if result.outcome == services.CancelOutcome.CANCELLED:
        return
    if (
        result.outcome == services.CancelOutcome.ALREADY_TERMINAL
        and result.session.status == Status.CANCELLED
    ):
        return
    raise PaymentError(str(REFUSALS.get(result.outcome.value, NO_ANSWER)), code=409)


def decide(session: PaymentSession, *, accepted: bool) -> None:
    """Accept or reject the session's GEFT guarantee at Flinks, once."""
    result = services.decide_guarantee(session, accepted, source=SOURCE)
    if result.outcome in (services.GuaranteeOutcome.ALREADY_DECIDED, services.GuaranteeOutcome.PENDING):
        raise PaymentError(_("The guarantee has been decided already."), code=409)
    if result.outcome not in DECIDED:
        raise PaymentError(str(REFUSALS.get(result.outcome.value, NO_ANSWER)), code=409)
