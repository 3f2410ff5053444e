"""The status poll and the back/forward-cache resume, guarded by the same token as the beacon."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client, TestCase

from flinks_sessions.api import exit_token
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services import request_cancel
from flinks_sessions.status import Status
from tests.api.conftest import post_form, url
from tests.factories import new_session

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("recorded_tasks")]


# -- status --------------------------------------------------------------------------------------------------


def test_the_status_is_the_public_view_of_the_session(client: Client) -> None:
    session = new_session(status=Status.CANCELLED, status_details="EFT0501")
    response = client.get(url("session-status", session.session_id), {"token": exit_token(session)})
    assert response.status_code == 200
    assert response.json() == {
        "sessionId": str(session.session_id),
        "status": "cancelled",
        "statusDetails": "EFT0501",
        "isTerminal": True,
    }
    assert response["Cache-Control"] == "no-store"


def test_the_status_needs_the_sessions_own_token(client: Client, stored_session: PaymentSession) -> None:
    target = url("session-status", stored_session.session_id)
    assert client.get(target).status_code == 403
    assert client.get(target, {"token": "forged"}).status_code == 403
    assert client.get(target, {"token": exit_token(new_session())}).status_code == 403


def test_the_status_of_an_unknown_session_is_404(client: Client) -> None:
    unknown = uuid.uuid4()
    response = client.get(
        url("session-status", unknown), {"token": exit_token(PaymentSession(session_id=unknown))}
    )
    assert response.status_code == 404


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
