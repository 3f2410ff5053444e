"""``flinks/recover/<token>/``: the recovery link of an abandoned checkout (``services.recovery``).

A GET changes nothing (mail scanners and link previews fetch links): it shows the order's amount and a Continue
button, or why there is nothing to continue. The POST (the button, with Django's CSRF token) starts the payment
again with :func:`~flinks_sessions.services.restart_session`, bounded like Start again (``RESTART_LIMIT`` per
order, ``RESTART_THROTTLE_RATE`` per client address), and redirects to the site's checkout for the successor
(``RECOVERY_CHECKOUT``). A link already used lands on the successor it made, never on a second one.

Answers, each a small page in the payer's language: 200 the Continue page (GET); 303 to the checkout (POST);
400 a forged or malformed link; 404 a link for a session this site no longer has; 410 an expired link; 409 the
order was paid, its restart is under way, or it was started again ``RESTART_LIMIT`` times; 429 past the Start
again rate; 502 Flinks could not create the new session; 405 any other method.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from flinks_sessions import metrics
from flinks_sessions.api.throttles import RestartThrottle
from flinks_sessions.api.views import SOURCE
from flinks_sessions.conf import get_settings
from flinks_sessions.exceptions import RestartRefused
from flinks_sessions.models import PaymentSession
from flinks_sessions.services import restart_session
from flinks_sessions.services.recovery import landing_of, order_completed, record_link_used
from flinks_sessions.services.recovery_link import BadRecoveryLink, RecoveryLinkExpired, read_recovery_token
from flinks_sessions.services.restart import RestartOutcome
from flinks_sessions.status import CancelReason

logger = logging.getLogger("flinks_sessions.api")
TEMPLATE = "flinks_sessions/recovery/page.html"
# What a restart that made nothing shows: (page, HTTP status); any other outcome is Flinks failing (502).
REFUSALS = {
    RestartOutcome.PENDING: ("busy", 409),
    RestartOutcome.LIMIT_REACHED: ("limit", 409),
    RestartOutcome.REFUSED: ("failed", 409),
}


def checkout_url(session: PaymentSession) -> str:
    """Where Continue leads for ``session``: ``RECOVERY_CHECKOUT`` (a URL name taking ``session_id``, or the
    dotted path of a callable given the session), or Flinks' hosted page when it is not set."""
    destination = get_settings().recovery_checkout
    if not destination:
        return session.hosted_url()
    if "." in destination:
        return str(import_string(destination)(session))
    return reverse(destination, kwargs={"session_id": session.session_id})


def _page(
    request: HttpRequest, state: str, status: int, session: PaymentSession | None = None, **extra: Any
) -> HttpResponse:
    titles = {
        "ready": _("Finish your payment"),
        "completed": _("This order is paid"),
        "expired": _("This link has expired"),
        "invalid": _("This link is not valid"),
        "busy": _("Your payment is being prepared"),
        "limit": _("This order cannot be started again"),
        "failed": _("The payment could not be started again"),
        "throttled": _("Too many attempts"),
    }
    messages = {
        "ready": _("Nothing was charged. Continue to open a payment page for this order."),
        "completed": _("Nothing more is needed: thank you."),
        "expired": _("Payment links are valid for a limited time. Please order again from the shop."),
        "invalid": _("Please check that you copied the whole link from the email."),
        "busy": _("Please try again in a moment."),
        "limit": _("This order was started again too many times. Please contact the shop to pay it."),
        "failed": _("Please try again in a moment."),
        "throttled": _("Please try again later."),
    }
    amount = session.amount if session is not None else None
    context = {
        "state": state,
        "title": titles[state],
        "message": extra.get("message") or messages[state],
        "session": session,
        "amount": number_format(amount, 2, force_grouping=True) if amount is not None else "",
    }
    response = render(request, TEMPLATE, context, status=status)
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_http_methods(["GET", "POST"])
def recover_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        session_id = read_recovery_token(token)
    except RecoveryLinkExpired:
        return _page(request, "expired", 410)
    except BadRecoveryLink:
        return _page(request, "invalid", 400)
    session = PaymentSession.objects.filter(session_id=session_id).first()
    if session is None:
        return _page(request, "invalid", 404)
    if order_completed(session):
        return _page(request, "completed", 200 if request.method == "GET" else 409, session)
    if request.method == "GET":
        metrics.RECOVERY.labels(event="link_opened").inc()
        return _page(request, "ready", 200, session)
    return _continue(request, session)


def _continue(request: HttpRequest, session: PaymentSession) -> HttpResponse:
    """The POST: land on the session the link made (or one the order has open), or make it, once."""
    landing = landing_of(session)
    if landing is not None:
        record_link_used(session)
        return HttpResponseRedirect(checkout_url(landing), status=303)
    throttle = RestartThrottle()
    if not throttle.allow_request(request, None):
        response = _page(request, "throttled", 429, session)
        wait = throttle.wait()
        if wait is not None:
            response["Retry-After"] = str(max(1, int(wait)))
        return response
    try:
        result = restart_session(session, source=SOURCE, reason=CancelReason.RESTARTED)
    except (RestartRefused, ValidationError) as error:
        logger.warning("The recovery link of session %s could not restart it: %s", session.session_id, error)
        return _page(request, "failed", 409, session)
    outcome = result.outcome
    if outcome in (RestartOutcome.CREATED, RestartOutcome.EXISTED):
        record_link_used(session)
        return HttpResponseRedirect(checkout_url(result.session), status=303)
    if outcome is RestartOutcome.REFUSED and order_completed(session):
        return _page(request, "completed", 409, session)
    state, status = REFUSALS.get(outcome, ("failed", 502))
    return _page(request, state, status, session)
