"""``POST flinks/sessions/<session_id>/restart/``: "Start again" after a cancel, an expiry or a failure.

The same proof as the beacon: the page's exit token for the ended session (form field ``token``). The answer
names the successor and carries what the page needs to show it without a reload: its hosted-page URL, a fresh
token and its browser endpoints. The service (:func:`flinks_sessions.services.restart_session`) makes a double
click or a second tab land on the same successor.

Answers: 201 a successor was created; 200 it existed already (a repeated click); 409 another request is
creating it right now (ask again in a moment) or this session cannot be restarted (completed, never confirmed
by Flinks, its cancel failed, or its order was started again ``RESTART_LIMIT`` times: ``"limitReached": true``);
502 Flinks could not create it; 429 past ``RESTART_THROTTLE_RATE`` Start agains from one client address (or
the beacon's per-session rate); 403, 404, 405, 411 and 413 as for the beacon.
"""

from __future__ import annotations

from uuid import UUID

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from flinks_sessions.api.links import session_links, site_origin
from flinks_sessions.api.throttles import BeaconThrottle, RestartThrottle
from flinks_sessions.api.views import SOURCE, BrowserEndpoint
from flinks_sessions.exceptions import RestartRefused
from flinks_sessions.models import PaymentSession
from flinks_sessions.services import RestartOutcome, restart_session
from flinks_sessions.status import CancelReason


def _messages(error: Exception) -> list[str]:
    return list(error.messages) if isinstance(error, ValidationError) else [str(error)]


class SessionRestartView(BrowserEndpoint):
    """Create (once) and describe the session that replaces an ended one, for the same order."""

    http_method_names = ["post"]
    throttle_classes = [BeaconThrottle, RestartThrottle]

    def post(self, request: Request, session_id: UUID | str) -> Response:
        session = PaymentSession.objects.filter(session_id=self.session_id()).first()
        if session is None:
            raise NotFound(_("Unknown session."))
        try:
            result = restart_session(session, source=SOURCE, reason=CancelReason.RESTARTED)
        except (RestartRefused, ValidationError) as error:
            return self._refused(session, "; ".join(_messages(error)))
        outcome = result.outcome
        if outcome is RestartOutcome.PENDING:
            return Response(
                {"sessionId": str(session.session_id), "pending": True}, status=status.HTTP_409_CONFLICT
            )
        if outcome in (RestartOutcome.REFUSED, RestartOutcome.LIMIT_REACHED):
            return self._refused(session, result.error, limit_reached=outcome is RestartOutcome.LIMIT_REACHED)
        if outcome not in (RestartOutcome.CREATED, RestartOutcome.EXISTED):
            return Response(
                {"detail": _("The payment could not be started again. Please try later.")},
                status=status.HTTP_502_BAD_GATEWAY,
            )
        links = session_links(result.session, parent_origin=site_origin(request))
        answer = {**links.as_json(), "previousSessionId": str(session.session_id)}
        created = outcome is RestartOutcome.CREATED
        return Response(answer, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @staticmethod
    def _refused(session: PaymentSession, detail: str, *, limit_reached: bool = False) -> Response:
        return Response(
            {
                "sessionId": str(session.session_id),
                "pending": False,
                "limitReached": limit_reached,
                "detail": detail,
            },
            status=status.HTTP_409_CONFLICT,
        )
