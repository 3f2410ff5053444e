"""The exit token proves the page was rendered for that one session, and only for a while."""

from __future__ import annotations

import time
import uuid
from typing import Any
from unittest import mock

import pytest

from flinks_sessions.api import BadExitToken, exit_token, read_exit_token
from flinks_sessions.models import PaymentSession


def test_round_trip_names_the_session() -> None:
    session = PaymentSession(session_id=uuid.uuid4())
    token = exit_token(session)
    assert read_exit_token(token) == session.session_id
    assert read_exit_token(token, session_id=session.session_id) == session.session_id
    assert read_exit_token(token, session_id=str(session.session_id).upper()) == session.session_id


def test_a_token_for_another_session_is_refused() -> None:
    token = exit_token(PaymentSession(session_id=uuid.uuid4()))
    with pytest.raises(BadExitToken, match="another session"):
        read_exit_token(token, session_id=uuid.uuid4())


@pytest.mark.parametrize("forged", ["", "x", "nonsense:abc:def", "a" * 500, None])
def test_malformed_tokens_are_refused(forged: Any) -> None:
    with pytest.raises(BadExitToken):
        read_exit_token(forged)


def test_a_tampered_token_is_refused() -> None:
    session_id = uuid.uuid4()
    _value, stamp, signature = exit_token(PaymentSession(session_id=session_id)).split(":")
    other = uuid.uuid4().hex
    with pytest.raises(BadExitToken, match="not valid"):
        read_exit_token(f"{other}:{stamp}:{signature}", session_id=other)


def test_tokens_expire_after_the_configured_age(settings: Any) -> None:
    session = PaymentSession(session_id=uuid.uuid4())
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 7 * 3600):
        old = exit_token(session)
    with pytest.raises(BadExitToken, match="expired"):
        read_exit_token(old)  # default EXIT_TOKEN_MAX_AGE: 6 hours
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "EXIT_TOKEN_MAX_AGE": 8 * 3600}
    assert read_exit_token(old) == session.session_id


def test_tokens_follow_secret_key_rotation(settings: Any) -> None:
    session = PaymentSession(session_id=uuid.uuid4())
    token = exit_token(session)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret-key", [settings.SECRET_KEY]
    assert read_exit_token(token) == session.session_id
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(BadExitToken):
        read_exit_token(token)


def test_a_session_flinks_never_confirmed_has_no_token() -> None:
    with pytest.raises(ValueError, match="no Flinks session id"):
        exit_token(PaymentSession(session_id=None))
