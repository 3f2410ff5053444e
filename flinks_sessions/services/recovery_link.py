"""The recovery link: ``flinks/recover/<token>/``, a signed token naming an ended session, for its payer's email.

Signed like the exit token (:mod:`flinks_sessions.api.tokens`): ``SECRET_KEY`` under a salt of its own (an exit
token is never a recovery token, nor the reverse), the Flinks session id inside, stamped with the time it was
issued, and refused after ``RECOVERY_LINK_MAX_AGE`` seconds. It proves nothing but "this site wrote this link
for this ended session": the page it opens shows the order's amount, and its POST starts the payment again
(``restart_session``), which the order's ``RESTART_LIMIT`` and the Start again rate bound.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core import signing
from django.urls import reverse

from flinks_sessions.conf import get_settings

SALT = "flinks_sessions.recovery-link"
MAX_TOKEN = 200


class BadRecoveryLink(signing.BadSignature):
    """The token is malformed or forged: this site never wrote it."""


class RecoveryLinkExpired(BadRecoveryLink):
    """The token is genuine and older than ``RECOVERY_LINK_MAX_AGE``."""


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def recovery_token(session: Any) -> str:
    """The signed token of ``session``'s recovery link (a session Flinks never confirmed has none)."""
    if session.session_id is None:
        raise ValueError("this session has no Flinks session id, so it has no recovery link")
    return _signer().sign(uuid.UUID(str(session.session_id)).hex)


def read_recovery_token(token: str, *, max_age: int | None = None) -> uuid.UUID:
    """The Flinks session id the token names; :class:`RecoveryLinkExpired` or :class:`BadRecoveryLink`."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
        raise BadRecoveryLink("missing or malformed recovery link")
    age = get_settings().recovery_link_max_age if max_age is None else max_age
    try:
        return uuid.UUID(hex=_signer().unsign(token, max_age=age))
    except signing.SignatureExpired as exc:
        raise RecoveryLinkExpired("the recovery link has expired") from exc
    except (signing.BadSignature, ValueError) as exc:
        raise BadRecoveryLink("the recovery link is not valid") from exc


def recovery_url(session: Any) -> str:
    """The link itself: absolute under ``RECOVERY_SITE_URL``, the site-relative path without it."""
    path = reverse("flinks_sessions:recover", kwargs={"token": recovery_token(session)})
    base = get_settings().recovery_site_url
    return f"{base}{path}" if base else path
