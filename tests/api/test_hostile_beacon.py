"""Hostile and unlucky beacons: nested JSON, one session id spelled five ways, a close between exit and resume."""

from __future__ import annotations

import io
import itertools
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from rest_framework.exceptions import ParseError

from flinks_sessions.api.parsers import BeaconJSONParser
from flinks_sessions.models import PaymentSession, SessionEvent
from tests.api.conftest import post_form, url
from tests.support import error_report_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("recorded_tasks")]


def test_deeply_nested_json_beacon_is_400(
    client: Client, settings: Any, stored_session: PaymentSession
) -> None:
    """10,000 nested arrays (20 KB, under a raised BEACON_MAX_BODY): a parse error, not a RecursionError."""
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "BEACON_MAX_BODY": 64 * 1024}
    body = b"[" * 10_000 + b"]" * 10_000
    response = client.post(
        url("session-exit", stored_session.session_id), body, content_type="application/json"
    )
    assert response.status_code == 400
    stored_session.refresh_from_db()
    assert stored_session.cancel_requested_at is None


def test_the_json_parser_refuses_depth_before_decoding(settings: Any) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "BEACON_MAX_BODY": 64 * 1024}
    with pytest.raises(ParseError):
        BeaconJSONParser().parse(io.BytesIO(b'{"token": ' + b"[" * 5000 + b"]" * 5000 + b"}"))
    assert BeaconJSONParser().parse(io.BytesIO(b'{"token": "t", "reason": [[["close"]]]}'))["token"] == "t"


def spellings(session_id: uuid.UUID) -> list[str]:
    """What ``uuid.UUID()`` accepts for one id (the URL is routed as ``str``)."""
    text = str(session_id)
    return [text, text.upper(), "{" + text + "}", f"urn:uuid:{text}", session_id.hex, session_id.hex.upper()]


def test_the_throttle_counts_every_spelling_of_a_session_id_once(
    client: Client, settings: Any, stored_session: PaymentSession, token: str
) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "BEACON_THROTTLE_RATE": "60/min"}
    forms = itertools.cycle(spellings(stored_session.session_id))
    answers = [
        client.post(
            url("session-exit", next(forms)),
            urlencode({"token": token}),
            content_type="application/x-www-form-urlencoded",
        ).status_code
        for _ in range(150)
    ]
    assert answers[:60] == [202] * 60
    assert answers[60:] == [429] * 90


def test_resume_does_not_take_back_a_close_that_followed_a_graced_exit(
    client: Client, stored_session: PaymentSession, token: str, recorded_tasks: list[Any]
) -> None:
    """bfcache exit, then the hosted page's CLOSE, then pageshow: the shopper closed the flow; the intent stays."""
    exit_url = url("session-exit", stored_session.session_id)
    assert post_form(client, exit_url, token=token, grace="1").json()["queued"] is True
    close = post_form(client, exit_url, token=token, reason="close")
    assert close.status_code == 202
    assert close.json()["queued"] is True  # made explicit, and enqueued without the grace delay

    response = post_form(client, url("session-resume", stored_session.session_id), token=token)

    assert response.json()["withdrawn"] is False
    stored_session.refresh_from_db()
    assert stored_session.cancel_requested_at is not None
    assert (stored_session.cancel_source, stored_session.cancel_reason) == ("beacon", "close")
    assert not SessionEvent.objects.filter(kind=SessionEvent.Kind.CANCEL_WITHDRAWN).exists()
    assert len(recorded_tasks) == 2


def test_a_second_graced_exit_does_not_make_the_intent_explicit(
    client: Client, stored_session: PaymentSession, token: str
) -> None:
    exit_url = url("session-exit", stored_session.session_id)
    post_form(client, exit_url, token=token, grace="1")
    assert post_form(client, exit_url, token=token, grace="1").json()["queued"] is False
    response = post_form(client, url("session-resume", stored_session.session_id), token=token)
    assert response.json()["withdrawn"] is True


def test_the_throttle_counts_the_hop_the_trusted_proxy_appended(
    client: Client, settings: Any, stored_session: PaymentSession, token: str
) -> None:
    """Behind one proxy, a client that writes its own X-Forwarded-For entries still shares one bucket.

    The bucket is the hop the proxy appended: another client behind the same proxy (the same REMOTE_ADDR) has
    an allowance of its own, also when it writes the first client's address in front of its own.
    """
    settings.FLINKS_SESSIONS = {
        **settings.FLINKS_SESSIONS,
        "BEACON_THROTTLE_RATE": "2/min",
        "TRUST_X_FORWARDED_FOR": 1,
    }

    def exit_from(forwarded: str) -> int:
        return int(
            client.post(
                url("session-exit", stored_session.session_id),
                urlencode({"token": token}),
                content_type="application/x-www-form-urlencoded",
                headers={"X-Forwarded-For": forwarded},
            ).status_code
        )

    answers = [exit_from(f"198.51.100.{n}, 203.0.113.7") for n in range(3)]
    assert answers == [202, 202, 429]
    assert [exit_from("203.0.113.7, 203.0.113.8"), exit_from("203.0.113.8")] == [202, 202]
    assert exit_from("203.0.113.8") == 429
    assert exit_from("203.0.113.7") == 429


@pytest.mark.parametrize("endpoint", ["session-exit", "session-resume", "session-restart"])
@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded; charset=rot13",
        "text/plain; charset=hex",
        "text/plain; charset=base64",
        "application/json; charset=rot13",
    ],
)
def test_a_charset_that_is_no_text_encoding_is_400(
    client: Client, stored_session: PaymentSession, token: str, endpoint: str, content_type: str
) -> None:
    """Python knows ``rot13``, ``hex`` and ``base64`` as codecs, but they do not decode bytes to text: reading the
    body with one raised ``LookupError``, a 500, before the token was even read. Nothing is recorded."""
    response = client.generic(
        "POST", url(endpoint, stored_session.session_id), f"token={token}".encode(), content_type=content_type
    )
    assert response.status_code == 400
    stored_session.refresh_from_db()
    assert stored_session.cancel_requested_at is None
    assert PaymentSession.objects.count() == 1


@pytest.mark.parametrize("endpoint", ["session-exit", "session-resume", "session-restart"])
def test_an_error_report_from_a_browser_endpoint_shows_no_exit_token(
    settings: Any, monkeypatch: pytest.MonkeyPatch, stored_session: PaymentSession, token: str, endpoint: str
) -> None:
    """A bug that escapes the exit, resume or Start again endpoint is mailed to the admins with the request's POST
    data. ``checkout.js`` posts the exit token as a form field: whoever reads the e-mail could cancel or restart
    the session with it, so the report must show it only as hidden."""
    from flinks_sessions.api import restart, views

    settings.DEBUG = False

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug behind the endpoint")

    for module, name in ((views, "request_cancel"), (views, "withdraw_cancel"), (restart, "restart_session")):
        monkeypatch.setattr(module, name, broken)
    response, pages = error_report_of(
        lambda: Client(raise_request_exception=False).post(
            url(endpoint, stored_session.session_id),
            urlencode({"token": token, "reason": "pagehide"}),
            content_type="application/x-www-form-urlencoded",
        )
    )
    assert response.status_code == 500
    for page in pages:
        assert "pagehide" in page  # the POST data is there...
        assert token not in page  # ...without the token


@pytest.mark.parametrize("forwarded", ["a b", "x" * 300, "203.0.113.7 junk", "\u0663\u0660\u0663.0.113.7"])
def test_a_forwarded_entry_that_is_no_address_counts_as_unknown(
    client: Client, settings: Any, stored_session: PaymentSession, token: str, forwarded: str
) -> None:
    """With fewer hops than trusted proxies the entry counted was written by the client. Put in the throttle's
    cache key as written, a space or 300 characters made a key memcached refuses (``InvalidCacheKey``: a 500 on
    every browser endpoint); the local-memory cache warns (an error here). It counts as one unknown address."""
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "TRUST_X_FORWARDED_FOR": 2}
    response = client.post(
        url("session-exit", stored_session.session_id),
        urlencode({"token": token}),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Forwarded-For": forwarded},
    )
    assert response.status_code == 202


@pytest.mark.parametrize("endpoint", ["session-exit", "session-resume", "session-restart"])
def test_a_database_outage_is_a_503_logged_at_error(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    stored_session: PaymentSession,
    token: str,
    endpoint: str,
) -> None:
    """An outage of the site's own database is answered as one, as the webhook receiver answers it: 503, logged at
    ERROR on ``flinks_sessions.api``. It was an unhandled 500, indistinguishable from a bug."""
    from django.db import OperationalError

    from flinks_sessions.api import restart, views

    def outage(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("the database went away")

    for module, name in ((views, "request_cancel"), (views, "withdraw_cancel"), (restart, "restart_session")):
        monkeypatch.setattr(module, name, outage)
    with caplog.at_level("ERROR", logger="flinks_sessions.api"):
        response = Client(raise_request_exception=False).post(
            url(endpoint, stored_session.session_id),
            urlencode({"token": token}),
            content_type="application/x-www-form-urlencoded",
        )
    assert response.status_code == 503
    assert response.json()["detail"] == "The service is unavailable. Try again later."
    assert [record.levelname for record in caplog.records if record.name == "flinks_sessions.api"] == [
        "ERROR"
    ]
