"""``POST flinks/sessions/<id>/restart/``: "Start again" through the page's exit token, against the sandbox."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from flinks_sessions.api import exit_token, read_exit_token
from flinks_sessions.models import PaymentSession
from flinks_sessions.services import start_session
from flinks_sessions.status import Status
from tests.factories import PAYOR, new_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("recorded_tasks")]


def restart(client: Client, session_id: uuid.UUID | str, token: str) -> Any:
    return client.post(
        reverse("flinks_sessions:session-restart", kwargs={"session_id": session_id}),
        urlencode({"token": token}),
        content_type="application/x-www-form-urlencoded",
    )


@pytest.fixture
def ended(sandbox: Any) -> PaymentSession:
    session = start_session(amount="39.99", reference_id="order-9", payor=PAYOR)
    PaymentSession.objects.filter(pk=session.pk).update(status=Status.EXPIRED, status_details="EFT0601")
    session.refresh_from_db()
    return session


def test_start_again_answers_the_successor_and_then_the_same_one(
    client: Client, sandbox: Any, ended: PaymentSession
) -> None:
    first = restart(client, ended.session_id, exit_token(ended))
    assert first.status_code == 201
    body = first.json()
    successor = PaymentSession.objects.get(restarted_from=ended)
    assert body["sessionId"] == str(successor.session_id)
    assert body["previousSessionId"] == str(ended.session_id)
    assert body["hostedUrl"].startswith(successor.hosted_url() + "&parentOrigin=")
    assert read_exit_token(body["token"], session_id=successor.session_id) == successor.session_id
    assert body["restartUrl"] == reverse(
        "flinks_sessions:session-restart", kwargs={"session_id": successor.session_id}
    )
    again = restart(client, ended.session_id, exit_token(ended))
    assert again.status_code == 200
    assert again.json()["sessionId"] == body["sessionId"]
    assert sandbox.count(method="POST", path_suffix="/api/v2/sessions") == 2


def test_start_again_refuses_a_completed_session_and_bad_tokens(
    client: Client, ended: PaymentSession
) -> None:
    other = new_session(reference_id="x", amount="1.00")
    assert restart(client, ended.session_id, "forged").status_code == 403
    assert restart(client, ended.session_id, exit_token(other)).status_code == 403
    assert restart(client, uuid.uuid4(), exit_token(ended)).status_code == 403
    unknown = uuid.uuid4()
    assert restart(client, unknown, exit_token(unknown)).status_code == 404
    assert restart(client, "not-a-uuid", "x").status_code == 404
    assert (
        client.get(
            reverse("flinks_sessions:session-restart", kwargs={"session_id": ended.session_id})
        ).status_code
        == 405
    )
    PaymentSession.objects.filter(pk=ended.pk).update(status=Status.COMPLETED)
    refused = restart(client, ended.session_id, exit_token(ended))
    assert refused.status_code == 409
    assert refused.json()["pending"] is False
    assert not PaymentSession.objects.filter(restarted_from=ended).exists()


def test_start_again_cancels_an_open_session_with_the_one_restart_reason(
    client: Client, sandbox: Any
) -> None:
    """The page's Start again and a site's ``restart_session`` record the same reason (once two spellings)."""
    session = start_session(amount="39.99", reference_id="order-10", payor=PAYOR)

    assert restart(client, session.session_id, exit_token(session)).status_code == 201

    session.refresh_from_db()
    assert (session.status, session.cancel_reason) == (Status.CANCELLED, "restarted")
    assert set(session.events.exclude(reason="").values_list("reason", flat=True)) == {"restarted"}
