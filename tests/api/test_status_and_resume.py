"""The status poll and the back/forward-cache resume, guarded by the same token as the beacon."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client, TestCase

from flinks_sessions.api import exit_token
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services import request_cancel
from flinks_sessions.status import Status
from tests.api.conftest import post_form, url
from tests.factories import new_session

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("recorded_tasks")]


def get_status(client: Client, session_id: uuid.UUID | str, token: str | None = None) -> Any:
    """The poll as checkout.js sends it: the token in the ``X-Flinks-Exit-Token`` header, never in the URL."""
    headers = {} if token is None else {"X-Flinks-Exit-Token": token}
    return client.get(url("session-status", session_id), headers=headers)


# -- status --------------------------------------------------------------------------------------------------


def test_the_status_is_the_public_view_of_the_session(client: Client) -> None:
    session = new_session(status=Status.CANCELLED, status_details="EFT0501")
    response = get_status(client, session.session_id, exit_token(session))
    assert response.status_code == 200
    assert response.json() == {
        "sessionId": str(session.session_id),
        "status": "cancelled",
        "statusDetails": "EFT0501",
        "isTerminal": True,
    }
    assert response["Cache-Control"] == "no-store"


def test_the_status_needs_the_sessions_own_token(client: Client, stored_session: PaymentSession) -> None:
    assert get_status(client, stored_session.session_id).status_code == 403
    assert get_status(client, stored_session.session_id, "forged").status_code == 403
    assert get_status(client, stored_session.session_id, exit_token(new_session())).status_code == 403


def test_the_status_of_an_unknown_session_is_404(client: Client) -> None:
    unknown = uuid.uuid4()
    response = get_status(client, unknown, exit_token(PaymentSession(session_id=unknown)))
    assert response.status_code == 404


def test_the_token_in_the_query_is_refused_by_default(client: Client, stored_session: PaymentSession) -> None:
    """A token in the URL lands in every access log on the way (the proxy's, gunicorn's): not accepted."""
    response = client.get(
        url("session-status", stored_session.session_id), {"token": exit_token(stored_session)}
    )
    assert response.status_code == 403


def test_a_site_that_still_needs_the_query_form_can_turn_it_on(
    client: Client, stored_session: PaymentSession, settings: Any
) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "STATUS_TOKEN_IN_QUERY": True}
    target = url("session-status", stored_session.session_id)
    assert client.get(target, {"token": exit_token(stored_session)}).status_code == 200
    assert client.get(target, {"token": "forged"}).status_code == 403
    assert get_status(client, stored_session.session_id, exit_token(stored_session)).status_code == 200


def test_checkout_js_sends_the_token_in_a_header_not_in_the_url() -> None:
    """The static half of the check; tests/browser reads the requests a real Chromium sends."""
    from pathlib import Path

    import flinks_sessions

    script = (Path(flinks_sessions.__file__).parent / "static/flinks_sessions/checkout.js").read_text()
    status_function = script[script.index("function status()") :]
    status_function = status_function[: status_function.index("\n  }\n")]
    assert '"X-Flinks-Exit-Token": config.token' in status_function
    assert "token=" not in status_function
    assert "encodeURIComponent(config.token)" not in status_function


def test_the_status_is_read_only(client: Client, stored_session: PaymentSession, token: str) -> None:
    assert post_form(client, url("session-status", stored_session.session_id), token=token).status_code == 405


# -- resume --------------------------------------------------------------------------------------------------


def test_resume_takes_back_a_graced_exit(client: Client, stored_session: PaymentSession, token: str) -> None:
    assert (
        post_form(client, url("session-exit", stored_session.session_id), token=token, grace="1").status_code
        == 202
    )

    response = post_form(client, url("session-resume", stored_session.session_id), token=token)

    assert response.status_code == 200
    assert response.json() == {"sessionId": str(stored_session.session_id), "withdrawn": True}
    stored_session.refresh_from_db()
    assert stored_session.cancel_requested_at is None
    assert (
        SessionEvent.objects.filter(session=stored_session, kind=SessionEvent.Kind.CANCEL_WITHDRAWN).count()
        == 1
    )
    # the page may leave again later, and that exit counts
    assert (
        post_form(client, url("session-exit", stored_session.session_id), token=token).json()["queued"]
        is True
    )


def test_resume_never_takes_back_an_immediate_exit(
    client: Client, stored_session: PaymentSession, token: str
) -> None:
    post_form(client, url("session-exit", stored_session.session_id), token=token, reason="close")
    response = post_form(client, url("session-resume", stored_session.session_id), token=token)
    assert response.json()["withdrawn"] is False
    stored_session.refresh_from_db()
    assert stored_session.cancel_reason == "close"


def test_resume_never_takes_back_someone_elses_cancel(
    client: Client, stored_session: PaymentSession, token: str
) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert request_cancel(stored_session, source="admin", reason="operator")
    response = post_form(client, url("session-resume", stored_session.session_id), token=token)
    assert response.json()["withdrawn"] is False
    stored_session.refresh_from_db()
    assert stored_session.cancel_source == "admin"


def test_resume_needs_the_token_and_a_known_session(client: Client, stored_session: PaymentSession) -> None:
    assert (
        post_form(client, url("session-resume", stored_session.session_id), token="forged").status_code == 403
    )
    unknown = uuid.uuid4()
    token = exit_token(PaymentSession(session_id=unknown))
    assert post_form(client, url("session-resume", unknown), token=token).status_code == 404
    assert client.get(url("session-resume", stored_session.session_id)).status_code == 405


def test_a_logged_url_never_holds_a_token() -> None:
    """For a site that still accepts ``?token=``: its request lines are logged with the token redacted."""
    import logging

    from flinks_sessions.log_context import RedactExitTokens

    record = logging.LogRecord(
        "django.server", logging.INFO, __file__, 1, '"%s" %s %s',
        ("GET /flinks/sessions/9f0c/?token=abc%3A1x2y%3Asig&x=1 HTTP/1.1", "200", "97"), None,
    )  # fmt: skip
    assert RedactExitTokens().filter(record)
    assert record.getMessage() == '"GET /flinks/sessions/9f0c/?token=[redacted]&x=1 HTTP/1.1" 200 97'
