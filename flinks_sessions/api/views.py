"""The browser endpoints: the page-exit beacon, its back/forward-cache resume, and the status poll.

They hold no business rules: the token proves ownership (:mod:`.permissions`), :mod:`flinks_sessions.services`
records the intent, and the task backend calls Flinks later. A beacon never waits for Flinks: an accepted one
costs one conditional UPDATE and the task backend's INSERT; only a refused intent costs a SELECT, to tell an
unknown session (404) from a repeat or an ended one (202, nothing new).

Answers (README, "Exit beacon"): bad, expired or another session's token → 403; unknown session →
404; wrong method → 405; chunked body the server cannot frame → 411; body over ``BEACON_MAX_BODY`` → 413;
throttled → 429; accepted or repeated → 202.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from django.db import InterfaceError, OperationalError, transaction
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from rest_framework import status
from rest_framework.exceptions import APIException, MethodNotAllowed, NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from flinks_sessions import metrics, tracing
from flinks_sessions.api import schema  # noqa: F401 - registers the OpenAPI description (drf-spectacular)
from flinks_sessions.api.parsers import BEACON_PARSERS, PayloadTooLarge, read_chunked
from flinks_sessions.api.permissions import HasExitToken
from flinks_sessions.api.serializers import ExitRequest, SessionStatusSerializer
from flinks_sessions.api.throttles import BeaconThrottle, StatusThrottle
from flinks_sessions.conf import get_settings
from flinks_sessions.log_context import session_extra
from flinks_sessions.models import PaymentSession
from flinks_sessions.services import request_cancel, withdraw_cancel
from flinks_sessions.services.products import emails_payment_link

logger = logging.getLogger("flinks_sessions.api")

SOURCE = "beacon"

# The ``result`` label of ``flinks_sessions_beacons_total`` for each answer (docs/deployment.md, "Metrics").
BEACON_RESULTS = {
    400: "bad_request",
    403: "forbidden",
    404: "unknown_session",
    405: "method_not_allowed",
    411: "length_required",
    413: "too_large",
    429: "throttled",
    503: "database_unavailable",
}


class DatabaseUnavailable(APIException):
    """The site's own database cannot be reached: an outage to see (503, logged at ERROR), as for the webhook."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("The service is unavailable. Try again later.")
    default_code = "database_unavailable"


class JSONOnlyNegotiation(DefaultContentNegotiation):
    """Always answer JSON: a beacon's ``Accept`` is whatever the browser sends, never a reason for 406."""

    def select_renderer(self, request: Any, renderers: Any, format_suffix: str | None = None) -> Any:
        renderer = renderers[0]
        return renderer, renderer.media_type


class BrowserEndpoint(APIView):
    """Shared rules: no authentication (so no CSRF), the exit token, the app's throttle, JSON answers.

    Subclasses set ``http_method_names`` and implement the handler. The checks run in the order the status
    codes promise: method (405), body size (413, before anything is parsed; a chunked body is read here, or
    411 where the server cannot frame it), a session id that is not a UUID (404), token (403), rate (429).
    """

    authentication_classes: list[Any] = []
    permission_classes = [HasExitToken]
    throttle_classes = [BeaconThrottle]
    parser_classes = list(BEACON_PARSERS)
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnlyNegotiation

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        """Outside ``ATOMIC_REQUESTS``: the recorded intent commits (and its task is enqueued) at once. The exit
        token posted as a form field shows in no error report (whoever read it could cancel the session)."""
        view = sensitive_post_parameters("token")(super().as_view(**initkwargs))
        return transaction.non_atomic_requests(view)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(request.method or "")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > get_settings().beacon_max_body:
            raise PayloadTooLarge()
        read_chunked(request._request)
        try:
            self.session_id()
        except ValueError:
            raise NotFound(_("Unknown session.")) from None
        super().initial(request, *args, **kwargs)

    def session_id(self) -> UUID:
        """The session named in the URL (routed as ``str``; ``initial`` answers 404 when it is not a UUID)."""
        return UUID(str(self.kwargs["session_id"]))

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, OperationalError | InterfaceError):
            logger.error(
                "%s not answered: the database is unavailable (answered 503)",
                self.request.path,
                exc_info=exc,
                extra=session_extra(outcome="database_unavailable", session_id=self.kwargs.get("session_id")),
            )
            exc = DatabaseUnavailable()
        return super().handle_exception(exc)


class SessionExitView(BrowserEndpoint):
    """``POST flinks/sessions/<session_id>/exit/``: the shopper left; cancel the session in the background.

    Form fields: ``token`` (required), ``reason`` (``pagehide``, ``close``, ``pad_exit``...; see
    :data:`~flinks_sessions.api.serializers.EXIT_REASONS`), ``grace=1`` when the page went into the
    back/forward cache: the cancel then waits ``EXIT_GRACE_PERIOD`` seconds and the resume endpoint may take it
    back. An e-Transfer whose Interac request Flinks emailed is never cancelled from here (``"emailed": true``):
    the payer may still pay it from their bank.
    """

    http_method_names = ["post"]

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """Every beacon, refused or not, in a span and counted once by the answer it got."""
        with tracing.span("beacon", session_id=kwargs.get("session_id")) as span:
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code == status.HTTP_202_ACCEPTED:
                data = getattr(response, "data", None) or {}
                result = "queued" if data.get("queued") else "emailed" if data.get("emailed") else "repeated"
            else:
                result = BEACON_RESULTS.get(response.status_code, "error")
            span.set_attribute("flinks_sessions.outcome", result)
        metrics.BEACONS.labels(result=result).inc()
        logger.debug(
            "Exit beacon for Flinks session %s: %s",
            kwargs.get("session_id"),
            result,
            extra=session_extra(source=SOURCE, outcome=result, session_id=kwargs.get("session_id")),
        )
        return response

    def post(self, request: Request, session_id: UUID | str) -> Response:
        body = ExitRequest.from_data(request.data)
        delay = (get_settings().exit_grace_period or None) if body.grace else None
        reason = body.stored_reason
        queued = request_cancel(self.session_id(), source=SOURCE, reason=reason, delay=delay)
        answer: dict[str, Any] = {"sessionId": str(self.session_id()), "queued": queued}
        if not queued:
            row = PaymentSession.objects.filter(session_id=self.session_id()).values_list(
                "product", "start_params"
            )
            found = row.first()
            if found is None:
                raise NotFound(_("Unknown session."))
            if emails_payment_link(*found):
                answer["emailed"] = True  # still payable from the emailed Interac request: not cancelled
        return Response(answer, status=status.HTTP_202_ACCEPTED)


class SessionResumeView(BrowserEndpoint):
    """``POST flinks/sessions/<session_id>/resume/``: the page came back from the back/forward cache.

    Takes back the graced cancel the page's ``pagehide`` asked for, if no worker has started it. Only an intent
    recorded by a graced beacon can be taken back: never an operator's or a cron job's, nor an immediate exit,
    nor a graced one that an explicit exit (the hosted page's CLOSE) followed.
    """

    http_method_names = ["post"]

    def post(self, request: Request, session_id: UUID | str) -> Response:
        session = PaymentSession.objects.filter(session_id=self.session_id()).first()
        if session is None:
            raise NotFound(_("Unknown session."))
        withdrawn = withdraw_cancel(session, source=SOURCE, graced_only=True)
        return Response(
            {"sessionId": str(self.session_id()), "withdrawn": withdrawn}, status=status.HTTP_200_OK
        )


class SessionStatusView(BrowserEndpoint):
    """``GET flinks/sessions/<session_id>/`` (header ``X-Flinks-Exit-Token``): the public status, for polling.

    What this site has stored (updated by webhooks, syncs and cancels), never a call to Flinks.
    """

    http_method_names = ["get"]
    throttle_classes = [StatusThrottle]

    def get(self, request: Request, session_id: UUID | str) -> Response:
        session = PaymentSession.objects.filter(session_id=self.session_id()).first()
        if session is None:
            raise NotFound(_("Unknown session."))
        response = Response(SessionStatusSerializer(session).data)
        response["Cache-Control"] = "no-store"
        return response
