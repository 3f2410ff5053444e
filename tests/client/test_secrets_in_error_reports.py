"""No client secret and no bearer token in an error page, an error e-mail, or any ``repr``.

An upstream fault that escapes the client (here a response that claims gzip and is not) is rendered the way
Django renders an unhandled exception: the DEBUG technical 500 page, and the filtered report that
``AdminEmailHandler`` mails with DEBUG off. Neither may show the credentials held in the call's frames.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.views.debug import ExceptionReporter

from flinks_sessions.client import FlinksClient, _Token
from flinks_sessions.conf import get_settings, parse_settings

CLIENT_SECRET = "cs-7f3a9d2e-very-secret"
API_KEY = "ak-5b1c-very-secret"
BEARER = "tok-0e9d8c7b-bearer"
WEBHOOK_SECRET = "wh-2a4c-very-secret"


class _BrokenGzip(BaseHTTPRequestHandler):
    """Authorizes, then answers every call with a body that says gzip and is not."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"access_token": BEARER, "expires_in": 299}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        body = b"this is not gzip at all"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


@pytest.fixture
def broken_upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BrokenGzip)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _settings(base_url: str) -> dict[str, Any]:
    return {
        "ACCOUNTS": {
            "default": {
                "BASE_URL": base_url,
                "CLIENT_ID": "the-client",
                "CLIENT_SECRET": CLIENT_SECRET,
                "API_KEY": API_KEY,
                "WEBHOOK_SECRETS": [WEBHOOK_SECRET],
            }
        },
        "WEBHOOK_SECRETS": [WEBHOOK_SECRET],
        "RETRY": {"ATTEMPTS": 1},
    }


def _failure(client: FlinksClient) -> tuple[Any, Any, Any]:
    try:
        client.get_status("c14b050b-6268-4f5c-9c73-80713c80edb3")
    except Exception:
        return sys.exc_info()
    raise AssertionError("the broken upstream did not fail the call")


@pytest.mark.parametrize("debug", [True, False], ids=["debug-page", "error-email"])
def test_an_error_report_from_the_client_shows_no_secret(
    broken_upstream: str, settings: Any, *, debug: bool
) -> None:
    settings.FLINKS_SESSIONS = _settings(broken_upstream)
    settings.DEBUG = debug
    client = FlinksClient(get_settings().account())
    exc_type, exc, tb = _failure(client)
    assert client.access_token() == BEARER  # the token was fetched and is held in the call's frames

    reporter = ExceptionReporter(None, exc_type, exc, tb)
    for page in (reporter.get_traceback_html(), reporter.get_traceback_text()):
        assert "_send" in page  # the frames are there...
        for secret in (CLIENT_SECRET, BEARER, API_KEY, WEBHOOK_SECRET):
            assert secret not in page  # ...without what they held


def test_no_repr_shows_a_secret(broken_upstream: str) -> None:
    flinks_settings = parse_settings(_settings(broken_upstream))
    client = FlinksClient(flinks_settings.account(), flinks_settings)
    token = client.access_token()
    texts = [
        repr(client),
        repr(client._token),
        repr(_Token(value=BEARER, refresh_at=0.0)),
        repr(token),
        repr(flinks_settings),
        repr(flinks_settings.account()),
        repr(client.http.headers),
        repr(vars(client)),
    ]
    for text in texts:
        for secret in (CLIENT_SECRET, BEARER, API_KEY, WEBHOOK_SECRET):
            assert secret not in text, text
    assert token == BEARER  # still the token where it is used
    assert f"Bearer {token}" == f"Bearer {BEARER}"
