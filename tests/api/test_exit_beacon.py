"""The exit beacon, one test per answer the README documents for bad input, plus what it records.

The page sends ``token`` (and optionally ``reason`` and ``grace``) as a form; the endpoint records the cancel
intent and enqueues the task, and never calls Flinks itself. Tasks are recorded here, not run.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from flinks_sessions.api import exit_token
from flinks_sessions.models import PaymentSession
from flinks_sessions.status import Status
from tests.factories import new_session

pytestmark = pytest.mark.django_db


def exit_url(session_id: uuid.UUID | str) -> str:
    return reverse("flinks_sessions:session-exit", kwargs={"session_id": session_id})


def post(client: Client, url: str, *args: Any, **kwargs: Any) -> Any:
    """``client.post``, running the on-commit callbacks (the task enqueue) as a real commit would."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, *args, **kwargs)


def beacon(client: Client, session_id: uuid.UUID | str, **fields: str) -> Any:
    """What ``navigator.sendBeacon(url, new URLSearchParams(fields))`` sends."""
    return post(
        client,
        exit_url(session_id),
        urlencode(fields),
        content_type="application/x-www-form-urlencoded;charset=UTF-8",
    )


def refreshed(session: PaymentSession) -> PaymentSession:
    session.refresh_from_db()
    return session


# -- accepted ------------------------------------------------------------------------------------------------


def test_an_accepted_beacon_records_the_intent_and_enqueues_the_cancel(
    csrf_client: Client, stored_session: PaymentSession, token: str, recorded_tasks: list[Any]
) -> None:
    response = beacon(csrf_client, stored_session.session_id, token=token)

    assert response.status_code == 202
    assert response.json() == {"sessionId": str(stored_session.session_id), "queued": True}
    session = refreshed(stored_session)
    assert session.cancel_requested_at is not None
    assert (session.cancel_source, session.cancel_reason) == ("beacon", "pagehide")
    assert session.status == Status.INITIATED  # the worker cancels; the beacon never waits for Flinks
    [task] = recorded_tasks
    assert task.task.name == "cancel_session_task"
    assert task.args == [str(stored_session.session_id), "beacon", "pagehide"]
    assert task.task.run_after is None


def test_a_repeated_beacon_is_accepted_and_changes_nothing(
    client: Client, stored_session: PaymentSession, token: str, recorded_tasks: list[Any]
) -> None:
    assert beacon(client, stored_session.session_id, token=token).status_code == 202
    first = refreshed(stored_session).cancel_requested_at

    again = beacon(client, stored_session.session_id, token=token, reason="close")

    assert again.status_code == 202
    assert again.json()["queued"] is False
    session = refreshed(stored_session)
    assert (session.cancel_requested_at, session.cancel_reason) == (first, "pagehide")
    assert len(recorded_tasks) == 1


def test_a_beacon_for_an_ended_session_is_accepted_and_changes_nothing(
    client: Client, recorded_tasks: list[Any]
) -> None:
    session = new_session(status=Status.COMPLETED, status_details="EFT0301")
    response = beacon(client, session.session_id, token=exit_token(session))
    assert response.status_code == 202
    assert response.json()["queued"] is False
    assert refreshed(session).cancel_requested_at is None
    assert recorded_tasks == []


@pytest.mark.usefixtures("recorded_tasks")
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain;charset=UTF-8", "token={token}&reason=close"),  # sendBeacon(url, "a=b&c=d")
        ("application/json", '{{"token": "{token}", "reason": "close"}}'),  # a site's own handler
    ],
)
def test_other_body_types_a_beacon_may_send(
    client: Client,
    stored_session: PaymentSession,
    token: str,
    content_type: str,
    body: str,
) -> None:
    response = post(
        client, exit_url(stored_session.session_id), body.format(token=token), content_type=content_type
    )
    assert response.status_code == 202
    assert refreshed(stored_session).cancel_reason == "close"


def test_multipart_bodies_are_read_too(
    client: Client, stored_session: PaymentSession, token: str, recorded_tasks: list[Any]
) -> None:
    response = post(client, exit_url(stored_session.session_id), {"token": token, "reason": "pad_exit"})
    assert response.status_code == 202
    assert refreshed(stored_session).cancel_reason == "pad_exit"


@pytest.mark.usefixtures("recorded_tasks")
@pytest.mark.parametrize(
    ("sent", "stored"),
    [("close", "close"), ("PAD_EXIT", "pad_exit"), ("<script>", "other"), ("", "pagehide")],
)
def test_reasons_are_whitelisted(
    client: Client,
    stored_session: PaymentSession,
    token: str,
    sent: str,
    stored: str,
) -> None:
    assert beacon(client, stored_session.session_id, token=token, reason=sent).status_code == 202
    assert refreshed(stored_session).cancel_reason == stored


def test_grace_defers_the_cancel_by_the_grace_period(
    client: Client, settings: Any, stored_session: PaymentSession, token: str, recorded_tasks: list[Any]
) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "EXIT_GRACE_PERIOD": 30}
    before = timezone.now()
    assert beacon(client, stored_session.session_id, token=token, grace="1").status_code == 202
    [task] = recorded_tasks
    assert before + timedelta(seconds=29) < task.task.run_after < timezone.now() + timedelta(seconds=31)
    assert refreshed(stored_session).cancel_reason == "bfcache"


# -- refused -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("forged", ["", "forged", "0" * 32 + ":1:abc"])
def test_a_bad_token_is_403_and_nothing_is_recorded(
    csrf_client: Client, stored_session: PaymentSession, recorded_tasks: list[Any], forged: str
) -> None:
    response = beacon(csrf_client, stored_session.session_id, token=forged)
    assert response.status_code == 403
    assert refreshed(stored_session).cancel_requested_at is None
    assert recorded_tasks == []


def test_a_missing_token_is_403(
    client: Client, stored_session: PaymentSession, recorded_tasks: list[Any]
) -> None:
    assert beacon(client, stored_session.session_id, reason="pagehide").status_code == 403
    assert refreshed(stored_session).cancel_requested_at is None


def test_an_expired_token_is_403(
    client: Client, stored_session: PaymentSession, recorded_tasks: list[Any]
) -> None:
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 7 * 3600):
        old = exit_token(stored_session)
    assert beacon(client, stored_session.session_id, token=old).status_code == 403
    assert refreshed(stored_session).cancel_requested_at is None
    assert recorded_tasks == []


def test_a_token_for_another_session_is_403_and_neither_is_touched(
    client: Client, stored_session: PaymentSession, recorded_tasks: list[Any]
) -> None:
    mine = new_session()
    response = beacon(client, stored_session.session_id, token=exit_token(mine))
    assert response.status_code == 403
    assert refreshed(stored_session).cancel_requested_at is None
    assert refreshed(mine).cancel_requested_at is None
    assert recorded_tasks == []


def test_an_unknown_session_is_404(client: Client, recorded_tasks: list[Any]) -> None:
    unknown = uuid.uuid4()
    response = beacon(client, unknown, token=exit_token(PaymentSession(session_id=unknown)))
    assert response.status_code == 404
    assert recorded_tasks == []


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "options"])
def test_other_methods_are_405(
    client: Client, stored_session: PaymentSession, token: str, recorded_tasks: list[Any], method: str
) -> None:
    response = getattr(client, method)(exit_url(stored_session.session_id) + f"?token={token}")
    assert response.status_code == 405
    assert refreshed(stored_session).cancel_requested_at is None


def test_a_body_over_the_limit_is_413_before_anything_is_read(
    client: Client, settings: Any, stored_session: PaymentSession, token: str, recorded_tasks: list[Any]
) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "BEACON_MAX_BODY": 1024}
    response = beacon(client, stored_session.session_id, token=token, padding="x" * 1100)
    assert response.status_code == 413
    assert refreshed(stored_session).cancel_requested_at is None
    assert recorded_tasks == []


@pytest.mark.parametrize("parser", ["BeaconFormParser", "BeaconTextParser", "BeaconJSONParser"])
def test_parsers_stop_at_the_limit_whatever_the_headers_said(settings: Any, parser: str) -> None:
    """A body that omits or understates its length is still cut at the limit, by the parser itself."""
    import io

    from flinks_sessions.api import parsers
    from flinks_sessions.api.parsers import PayloadTooLarge

    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "BEACON_MAX_BODY": 1024}
    with pytest.raises(PayloadTooLarge):
        getattr(parsers, parser)().parse(io.BytesIO(b"token=" + b"x" * 2000))
    assert getattr(parsers, parser)().parse(io.BytesIO(b"")) is not None


def test_too_many_beacons_are_429(
    client: Client, settings: Any, stored_session: PaymentSession, token: str, recorded_tasks: list[Any]
) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "BEACON_THROTTLE_RATE": "2/min"}
    assert [beacon(client, stored_session.session_id, token=token).status_code for _ in range(3)] == [
        202,
        202,
        429,
    ]
    other = new_session()  # counted per session (and address): another session is not held back
    assert beacon(client, other.session_id, token=exit_token(other)).status_code == 202


def test_the_throttle_can_be_switched_off(
    client: Client, settings: Any, stored_session: PaymentSession, token: str, recorded_tasks: list[Any]
) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "BEACON_THROTTLE_RATE": None}
    assert {beacon(client, stored_session.session_id, token=token).status_code for _ in range(70)} == {202}


def test_answers_are_json_without_the_browsable_api(
    client: Client, stored_session: PaymentSession, recorded_tasks: list[Any]
) -> None:
    response = client.post(exit_url(stored_session.session_id), {}, HTTP_ACCEPT="text/html")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert "detail" in json.loads(response.content)


# -- cost ----------------------------------------------------------------------------------------------------

_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def statements(queries: CaptureQueriesContext) -> list[str]:
    """The SQL that reads or writes data; Django also logs transaction control (BEGIN, COMMIT) since 4.2."""
    return [query["sql"] for query in queries if not query["sql"].lstrip().upper().startswith(_CONTROL)]


@pytest.mark.django_db(transaction=True)
def test_an_accepted_beacon_costs_at_most_three_queries(database_tasks: None) -> None:
    """One conditional UPDATE, then the task backend's INSERT after commit (a real commit: transaction=True)."""
    from django_tasks_db.models import DBTaskResult

    session = new_session()
    token = exit_token(session)
    with CaptureQueriesContext(connection) as queries:
        response = beacon(Client(), session.session_id, token=token)
    assert response.status_code == 202
    sql = statements(queries)
    assert len(sql) <= 3, "\n".join(sql)
    assert [text.split()[0] for text in sql] == ["UPDATE", "INSERT"]
    assert len(queries) - len(sql) <= 2  # request_cancel's own BEGIN and COMMIT, nothing else
    assert DBTaskResult.objects.count() == 1

    with CaptureQueriesContext(connection) as repeat:
        assert beacon(Client(), session.session_id, token=token).status_code == 202
    assert [text.split()[0] for text in statements(repeat)] == [
        "UPDATE",
        "SELECT",
    ]  # matched nothing; 404 or 202?
    assert DBTaskResult.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_beacon_stays_out_of_atomic_requests(database_tasks: None, monkeypatch: Any) -> None:
    """Under ``ATOMIC_REQUESTS`` the intent still commits on its own and costs no savepoints."""
    from django_tasks_db.models import DBTaskResult

    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    session = new_session()
    with CaptureQueriesContext(connection) as queries:
        assert beacon(Client(), session.session_id, token=exit_token(session)).status_code == 202
    assert [text.split()[0] for text in statements(queries)] == ["UPDATE", "INSERT"]
    assert not any(query["sql"].startswith(("SAVEPOINT", "RELEASE")) for query in queries)
    assert DBTaskResult.objects.count() == 1
