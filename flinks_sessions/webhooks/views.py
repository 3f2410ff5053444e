"""The endpoint Flinks posts ``SessionSetupStatusChanged`` to: ``flinks_sessions:webhook``.

What each request gets (README, "Webhook receiver"):

========================================  ======  =================================================
request                                   status  stored
========================================  ======  =================================================
body over ``WEBHOOK_MAX_BODY``            413     nothing
no accepted signature header              400     nothing (anyone can send it: no log flooding)
chunked, server cannot frame it           411     nothing
signature that matches no secret          401     bounded (``webhooks/rejected.py``), ``invalid_signature``
signed ``when`` outside WEBHOOK_MAX_AGE   401     bounded, ``invalid_signature`` (a replay)
over WEBHOOK_REJECTED_PER_MINUTE          401     nothing; counted on the minute's last rejected row
not JSON / nested too deep / not envelope 400     yes, ``malformed``
unknown event type                        200     yes, ``ignored``
unknown session                           200     yes, ``unknown_session``
duplicate / after a terminal state        200     yes, ``duplicate`` / ``stale``; nothing changes
applied                                   200     yes, ``applied``
processing error                          200     yes, ``error`` with the reason, logged at ERROR
database unreachable                      503     nothing (it cannot be); logged at ERROR
``WEBHOOK_ASYNC``                         202     yes, ``received``; a task processes it
========================================  ======  =================================================

The view is exempt from CSRF (Flinks has no token), from ``LoginRequiredMiddleware`` (Flinks has no account)
and from ``ATOMIC_REQUESTS`` (the delivery row must be committed on its own, before processing, so nothing can
roll it back). HEAD answers 200 so an uptime check or Flinks' onboarding probe can see the URL is live.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.decorators import login_not_required  # Django ≥ 5.1; the app needs 5.2
from django.db import InterfaceError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables

from flinks_sessions import metrics, tracing
from flinks_sessions.bodies import LengthRequired, read_body
from flinks_sessions.conf import get_settings
from flinks_sessions.exceptions import WebhookPayloadError
from flinks_sessions.log_context import session_extra
from flinks_sessions.models import WebhookDelivery
from flinks_sessions.webhooks import processing
from flinks_sessions.webhooks.envelope import Envelope, parse_envelope
from flinks_sessions.webhooks.storage import store_delivery, store_rejected_delivery
from flinks_sessions.webhooks.tasks import enqueue_webhook
from flinks_sessions.webhooks.verification import age_problem, signature_headers, verify

logger = logging.getLogger("flinks_sessions.webhooks")

Outcome = WebhookDelivery.Outcome


def _answer(status: int, **body: str) -> JsonResponse:
    return JsonResponse(body, status=status)


@method_decorator([csrf_exempt, login_not_required, transaction.non_atomic_requests], name="dispatch")
class WebhookView(View):
    """Receive, verify, store, then process one Flinks webhook."""

    http_method_names = ["post", "head"]

    def head(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponse(status=200)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Receive; a chunked body the server cannot frame is a 411, and a database that cannot be reached an
        outage to see (503, logged at ERROR), never a 500. Every request runs in a span."""
        with tracing.span("webhook") as span:
            response = self.answer(request, span)
            span.set_attribute("http.response.status_code", response.status_code)
            return response

    def answer(self, request: HttpRequest, span: Any) -> HttpResponse:
        try:
            return self.receive(request, span)
        except LengthRequired:
            metrics.WEBHOOKS.labels(outcome="length_required").inc()
            logger.warning(
                "Webhook refused: a chunked body this server cannot frame (answered 411)",
                extra=session_extra(source="webhook", outcome="length_required"),
            )
            return _answer(
                411,
                error="length required",
                detail="send Content-Length; this server cannot read chunked bodies",
            )
        except (OperationalError, InterfaceError):
            metrics.WEBHOOKS.labels(outcome="database_unavailable").inc()
            logger.exception(
                "Webhook not stored: the database is unavailable (answered 503)",
                extra=session_extra(source="webhook", outcome="database_unavailable"),
            )
            return _answer(503, error="database unavailable")

    # The signatures read: an error e-mail must not let its reader replay the body.
    @sensitive_variables("candidates")
    def receive(self, request: HttpRequest, span: Any) -> HttpResponse:
        """The handling of one request; ``span`` learns the session and the delivery as they are known.

        A request that is not processed here (refused, malformed, or handed to a worker) is counted here;
        a processed one by :func:`~flinks_sessions.webhooks.processing.process_delivery`.
        """
        settings = get_settings()
        body = read_body(request, settings.webhook_max_body)  # raises LengthRequired: 411 in post()
        if body is None:
            metrics.WEBHOOKS.labels(outcome="too_large").inc()
            logger.warning(
                "Webhook refused: body over WEBHOOK_MAX_BODY (%d bytes)",
                settings.webhook_max_body,
                extra=session_extra(source="webhook", outcome="too_large"),
            )
            return _answer(413, error="body too large")
        candidates = signature_headers(request.headers, settings)
        if not candidates:
            metrics.WEBHOOKS.labels(outcome="missing_signature").inc()
            logger.warning(
                "Webhook refused: no accepted signature header (from %s)",
                request.META.get("REMOTE_ADDR"),
                extra=session_extra(source="webhook", outcome="missing_signature"),
            )
            return _answer(400, error="missing signature")
        form, valid = verify(body, candidates, settings)
        envelope: Envelope | None = None
        problem = ""
        try:
            envelope = parse_envelope(body)
        except WebhookPayloadError as exc:
            problem = str(exc)
        replay = age_problem(envelope.when, settings) if valid and envelope is not None else ""
        if not valid or replay:
            outcome, status, error = (
                Outcome.INVALID_SIGNATURE,
                401,
                replay or "the signature matches no secret",
            )
        elif envelope is None:
            outcome, status, error = Outcome.MALFORMED, 400, problem
        else:
            outcome, status, error = Outcome.RECEIVED, 200, ""
        fields = {
            "signature_form": form.value,
            "signature_valid": valid and not replay,
            "outcome": outcome,
            "error": error,
            # Processed right here: the row is claimed as it is inserted (see webhooks/reprocess.py), so a
            # reprocessing sweep leaves it alone unless this process dies before recording the outcome.
            "processed_at": timezone.now() if status == 200 and not settings.webhook_async else None,
            **_envelope_fields(envelope),
        }
        session_id = envelope.session_id if envelope is not None else None
        if session_id is not None:
            span.set_attribute(tracing.SESSION_ID, str(session_id))
        if status == 401:
            metrics.WEBHOOKS.labels(outcome=outcome).inc()
            rejected = store_rejected_delivery(request, body, settings, **fields)
            extra = session_extra(
                source="webhook",
                outcome=outcome,
                session_id=session_id,
                delivery_id=rejected.pk if rejected is not None else "",
            )
            if rejected is None:  # over WEBHOOK_REJECTED_PER_MINUTE: counted on the minute's last row
                logger.debug("Webhook refused and not stored: %s", error, extra=extra)
            else:
                logger.warning("Webhook delivery %s refused: %s", rejected.pk, error, extra=extra)
            return _answer(401, error="invalid signature")
        delivery = store_delivery(request, body, settings, **fields)
        span.set_attribute("flinks_sessions.delivery_id", delivery.pk)
        if envelope is None:
            metrics.WEBHOOKS.labels(outcome=outcome).inc()
            logger.warning(
                "Webhook delivery %s is malformed: %s",
                delivery.pk,
                error,
                extra=session_extra(source="webhook", outcome=outcome, delivery_id=delivery.pk),
            )
            processing.announce_delivery(delivery)
            return _answer(400, error="malformed", detail=error)
        if settings.webhook_async:
            pk = delivery.pk
            transaction.on_commit(lambda: enqueue_webhook(pk))
            return _answer(202, outcome=Outcome.RECEIVED)
        return _answer(200, outcome=processing.process_delivery(delivery, envelope))


def _envelope_fields(envelope: Envelope | None) -> dict[str, Any]:
    """The searchable columns of a delivery; empty for a body that could not be parsed."""
    if envelope is None:
        return {}
    remote = envelope.remote
    return {
        "event_type": envelope.event_type[:64],
        "flinks_session_id": envelope.session_id,
        "event_when": envelope.when,
        "remote_status": remote.raw_status[:40] if remote else "",
        "status_details": (remote.status_details or "")[:20] if remote else "",
    }


webhook_view = WebhookView.as_view()
