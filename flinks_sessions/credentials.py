"""Credentials that never show themselves: in a ``repr``, a DEBUG error page, an error e-mail or a log.

Django's technical 500 page (DEBUG on) prints every local of every frame with ``repr``, and
``sensitive_variables`` only hides them when DEBUG is off. So the client secret, the API key and the bearer
token travel as :class:`Secret` (a ``str`` whose ``repr`` is ``'[redacted]'``) and reach ``requests`` inside auth
objects whose ``repr`` says nothing: the frames of a failed call hold no readable credential either way.
"""

from __future__ import annotations

from typing import Any

from requests.auth import AuthBase, HTTPBasicAuth

REDACTED = "[redacted]"


class Secret(str):
    """A string that is itself everywhere it is used, and ``'[redacted]'`` wherever it is shown."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(REDACTED)


class BearerAuth(AuthBase):
    """``Authorization: Bearer <token>``, set on the prepared request only (never in a headers dict)."""

    def __init__(self, token: str) -> None:
        self.token = Secret(token)

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request

    def __repr__(self) -> str:
        return f"<BearerAuth {REDACTED}>"


class BasicAuth(HTTPBasicAuth):
    """The client id and secret for ``/authorize``; the ``repr`` names neither."""

    def __init__(self, username: str, password: str) -> None:
        super().__init__(username, Secret(password))

    def __repr__(self) -> str:
        return f"<BasicAuth {REDACTED}>"
