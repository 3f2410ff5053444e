"""``POST flinks/sessions/<session_id>/restart/``: "Start again" after a cancel, an expiry or a failure.

The same proof as the beacon: the page's exit token for the ended session (form field ``token``). The answer
names the successor and carries what the page needs to show it without a reload: its hosted-page URL, a fresh
token and its browser endpoints. The service (:func:`flinks_sessions.services.restart_session`) makes a double
click or a second tab land on the same successor.

Answers: 201 a successor was created; 200 it existed already (a repeated click); 409 another request is
creating it right now (ask again in a moment) or this session cannot be restarted (completed, never confirmed
by Flinks, its cancel failed); 502 Flinks could not create it; 403, 404, 405, 413 and 429 as for the beacon.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from uuid import UUID

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from flinks_sessions.api.tokens import exit_token
from flinks_sessions.api.views import SOURCE, BrowserEndpoint
from flinks_sessions.exceptions import RestartRefused
from flinks_sessions.models import PaymentSession
from flinks_sessions.services import RestartOutcome, restart_session


def session_links(session: PaymentSession, request: Any) -> dict[str, str]:
    """What a page needs to show ``session``: the hosted page (told its parent's origin) and its endpoints."""
    kwargs = {"session_id": session.session_id}
    origin = f"{request.scheme}://{request.get_host()}"
    return {
        "sessionId": str(session.session_id),
        "hostedUrl": f"{session.hosted_url()}&parentOrigin={quote(origin, safe='')}",
        "token": exit_token(session),
        "exitUrl": reverse("flinks_sessions:session-exit", kwargs=kwargs),
        "resumeUrl": reverse("flinks_sessions:session-resume", kwargs=kwargs),
        "statusUrl": reverse("flinks_sessions:session-status", kwargs=kwargs),
        "restartUrl": reverse("flinks_sessions:session-restart", kwargs=kwargs),
    }


def _messages(error: Exception) -> list[str]:
    return list(error.messages) if isinstance(error, ValidationError) else [str(error)]


class SessionRestartView(BrowserEndpoint):
    """Create (once) and describe the session that replaces an ended one, for the same order."""

    http_method_names = ["post"]

    def post(self, request: Request, session_id: UUID | str) -> Response:
        session = PaymentSession.objects.filter(session_id=self.session_id()).first()
        if session is None:
            raise NotFound(_("Unknown session."))
        try:
            result = restart_session(session, source=SOURCE, reason="start again")
        except (RestartRefused, ValidationError) as error:
            return self._refused(session, "; ".join(_messages(error)))
        outcome = result.outcome
        if outcome is RestartOutcome.PENDING:
            return Response(
                {"sessionId": str(session.session_id), "pending": True}, status=status.HTTP_409_CONFLICT
            )
        if outcome is RestartOutcome.REFUSED:
            return self._refused(session, result.error)
        if outcome not in (RestartOutcome.CREATED, RestartOutcome.EXISTED):
            return Response(
                {"detail": _("The payment could not be started again. Please try later.")},
                status=status.HTTP_502_BAD_GATEWAY,
            )
        answer = {**session_links(result.session, request), "previousSessionId": str(session.session_id)}
        created = outcome is RestartOutcome.CREATED
        return Response(answer, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @staticmethod
    def _refused(session: PaymentSession, detail: str) -> Response:
        return Response(
            {"sessionId": str(session.session_id), "pending": False, "detail": detail},
            status=status.HTTP_409_CONFLICT,
        )
