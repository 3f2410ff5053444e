"""The browser endpoints read a body sent ``Transfer-Encoding: chunked`` (no ``Content-Length``) as the webhook
receiver does: under gunicorn, which de-chunks it and marks its end, the token in it is read; where the server
cannot frame it (Django's development server), the answer is 411, never a 403 for a token that was sent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from flinks_sessions.api import exit_token
from flinks_sessions.models import PaymentSession
from flinks_sessions.status import Status
from tests.factories import new_session
from tests.servers import post_chunked

pytestmark = pytest.mark.django_db(transaction=True)

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _post(port: int, name: str, session: PaymentSession, **fields: str) -> tuple[int, bytes]:
    path = reverse(f"flinks_sessions:{name}", kwargs={"session_id": session.session_id})
    body = urlencode({"token": exit_token(session), **fields}).encode()
    return post_chunked(port, path, body, FORM)


def test_a_chunked_beacon_is_read_and_queues_the_cancel_under_gunicorn(gunicorn_port: int) -> None:
    session = new_session()

    status, answer = _post(gunicorn_port, "session-exit", session, reason="pagehide")

    assert status == 202, answer
    assert b'"queued":true' in answer
    session.refresh_from_db()
    assert session.cancel_requested_at is not None
    assert session.cancel_reason == "pagehide"


def test_a_chunked_resume_and_restart_are_read_under_gunicorn(gunicorn_port: int) -> None:
    session = new_session(status=Status.COMPLETED)

    resumed, resume_answer = _post(gunicorn_port, "session-resume", session, reason="pageshow")
    restarted, restart_answer = _post(gunicorn_port, "session-restart", session, reason="restart")

    assert resumed == 200, resume_answer  # the token was read: 403 would mean an empty body
    assert restarted == 409, restart_answer  # read, and refused for what the session is: it completed
    assert b"completed" in restart_answer


def test_a_chunked_beacon_over_the_limit_is_413_under_gunicorn(gunicorn_port: int) -> None:
    session = new_session()
    status, _answer = _post(gunicorn_port, "session-exit", session, reason="pagehide", padding="p" * 5000)
    assert status == 413
    session.refresh_from_db()
    assert session.cancel_requested_at is None


@pytest.mark.parametrize("name", ["session-exit", "session-resume", "session-restart"])
def test_a_chunked_body_is_411_where_the_server_cannot_frame_it(live_server: Any, name: str) -> None:
    session = new_session()
    port = int(live_server.url.rsplit(":", 1)[1])

    status, answer = _post(port, name, session, reason="pagehide")

    assert status == 411, answer
    assert b"Content-Length" in answer
    session.refresh_from_db()
    assert session.cancel_requested_at is None
