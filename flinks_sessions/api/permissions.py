"""Who may end or read a session from a browser: whoever holds the page's signed exit token.

There is no user to authenticate (the shopper may be anonymous, and a beacon carries no CSRF header), so the
token is the whole proof. POSTs carry it in the body (form field ``token``); the status poll (a GET) in the
``X-Flinks-Exit-Token`` header, so that it never appears in a URL that a proxy or gunicorn writes to its access
log. ``?token=`` is read only where a site still needs it (``FLINKS_SESSIONS['STATUS_TOKEN_IN_QUERY']``).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from flinks_sessions.api.tokens import BadExitToken, read_exit_token
from flinks_sessions.conf import get_settings

TOKEN_HEADER = "X-Flinks-Exit-Token"  # noqa: S105 - a header name, not a credential


def _token_from(request: Request) -> str:
    if request.method in ("GET", "HEAD"):
        value: Any = request.headers.get(TOKEN_HEADER, "")
        if not value and get_settings().status_token_in_query:
            value = request.query_params.get("token", "")
    else:
        data = request.data
        value = data.get("token", "") if hasattr(data, "get") else ""
    return value if isinstance(value, str) else ""


class HasExitToken(BasePermission):
    """Grants access when the request's token was signed for the session named in the URL, and is fresh."""

    message = _("A valid exit token for this session is required.")

    def has_permission(self, request: Request, view: Any) -> bool:
        session_id = view.kwargs.get("session_id")
        if session_id is None:
            return False
        try:
            read_exit_token(_token_from(request), session_id=session_id)
        except BadExitToken:
            return False
        return True
