"""Tests of the Flinks Pay emulator, over real HTTP; helpers shared by its test modules live here.

The helpers deliberately talk raw HTTP with ``requests`` (not the app's client), so these tests pin down the
wire contract of docs/flinks-api.md that the client is later tested against.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from tests.factories import PAYOR

CLIENT = ("sandbox-client", "sandbox-secret")


def http() -> requests.Session:
    """A session that never goes through a proxy from the environment."""
    session = requests.Session()
    session.trust_env = False
    return session


def session_body(product: str = "eft", **overrides: Any) -> dict[str, Any]:
    """A valid creation body for ``eft``, ``geft`` or ``etransfer``; keyword arguments replace fields."""
    body: dict[str, Any] = {
        "type": "e-Transfer" if product == "etransfer" else "EFT",
        "direction": "DEBIT",
        "referenceId": "Happy1",
        "amount": 100,
        "currency": "CAD",
        "payor": dict(PAYOR),
    }
    if product == "geft":
        body["options"] = {"guarantee": {"enable": True}}
    elif product == "eft":
        body["options"] = {"guarantee": {"enable": False}}
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def token(url: str, client: requests.Session | None = None) -> str:
    response = (client or http()).post(
        f"{url}/api/v1/authorize", auth=CLIENT, data={"grant_type": "client_credentials"}, timeout=5
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def control_header(sandbox: Any) -> dict[str, str]:
    """The header the ``/_sandbox/`` routes require, with this sandbox's control token."""
    return {"X-Sandbox-Token": sandbox.control_token}


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def create(url: str, product: str = "eft", **overrides: Any) -> tuple[str, str]:
    """Create a session with a fresh token; returns ``(session_id, token)``."""
    client = http()
    access = token(url, client)
    response = client.post(
        f"{url}/api/v2/sessions", json=session_body(product, **overrides), headers=bearer(access), timeout=5
    )
    assert response.status_code == 201, response.text
    return str(response.json()["sessionId"]), access


class WebhookReceiver:
    """A tiny site on loopback that records every POST it gets (lower-cased headers and the raw body)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._event = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._event:
                    headers = {name.lower(): value for name, value in self.headers.items()}
                    receiver.received.append((headers, body))
                    receiver._event.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/flinks/webhook/"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def wait(self, count: int = 1, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        with self._event:
            self._event.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    @contextmanager
    def running(self) -> Iterator[WebhookReceiver]:
        self._thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
