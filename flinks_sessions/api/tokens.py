"""The exit token: proof that a beacon comes from the page this site rendered for that one session.

The beacon endpoint has no login and no CSRF cookie to lean on (``navigator.sendBeacon`` fires while the page
is being torn down, and a shopper may be anonymous), so the right to cancel travels with the page: a value
signed with ``SECRET_KEY`` under an app-specific salt, naming the Flinks session id and stamped with the time it
was issued. A token for one session can never cancel another, and it stops working after
``EXIT_TOKEN_MAX_AGE`` seconds. Rotating ``SECRET_KEY`` (with ``SECRET_KEY_FALLBACKS``) is honoured.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core import signing

from flinks_sessions.conf import get_settings

SALT = "flinks_sessions.api.exit-token"


class BadExitToken(signing.BadSignature):
    """The token is malformed, forged, expired, or was issued for another session."""


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def exit_token(session: Any) -> str:
    """The signed token the checkout page sends back with its beacon (form field ``token``).

    ``session`` is a :class:`~flinks_sessions.models.PaymentSession` (or anything with a ``session_id``); a
    session Flinks never confirmed has no id and cannot be cancelled from a browser.
    """
    session_id = getattr(session, "session_id", session)
    if session_id is None or session_id == "":
        raise ValueError("this session has no Flinks session id yet, so it has no exit token")
    return _signer().sign(uuid.UUID(str(session_id)).hex)


def read_exit_token(
    token: str, *, session_id: uuid.UUID | str | None = None, max_age: int | None = None
) -> uuid.UUID:
    """The session id a token was issued for; raises :class:`BadExitToken` when it does not prove ownership.

    With ``session_id`` the token must have been issued for exactly that session. ``max_age`` defaults to
    ``FLINKS_SESSIONS['EXIT_TOKEN_MAX_AGE']``.
    """
    if not isinstance(token, str) or not token or len(token) > 200:
        raise BadExitToken("missing or malformed exit token")
    age = get_settings().exit_token_max_age if max_age is None else max_age
    try:
        value = _signer().unsign(token, max_age=age)
        issued_for = uuid.UUID(hex=value)
    except signing.SignatureExpired as exc:
        raise BadExitToken("the exit token has expired") from exc
    except (signing.BadSignature, ValueError) as exc:
        raise BadExitToken("the exit token is not valid") from exc
    if session_id is not None and issued_for != uuid.UUID(str(session_id)):
        raise BadExitToken("the exit token was issued for another session")
    return issued_for
