"""A signed delivery sent with ``Transfer-Encoding: chunked`` and no ``Content-Length``, against real servers.

gunicorn decodes the chunks and marks ``wsgi.input`` as terminated (the body ends where the chunks end): the
receiver reads it up to ``WEBHOOK_MAX_BODY`` and processes it. Django's development server (``runserver``,
``live_server``) hands over the raw socket and no length, so nothing can be read safely: it answers 411.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flinks_sessions.models import PaymentSession, WebhookDelivery
from tests.support import ROOT, gunicorn_url, subprocess_env
from tests.webhooks.helpers import status_webhook

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[int]:
    """The test settings served by a real gunicorn worker on a free loopback port (sharing the test database)."""
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1",
             "example_project.wsgi:application"],
            cwd=ROOT, env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield int(gunicorn_url(log_path, process).rsplit(":", 1)[1])
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a crowded machine: don't leave it behind
            process.kill()
            process.wait()


def _post_chunked(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    chunks = (body[start : start + 1000] for start in range(0, len(body), 1000))
    try:
        connection.request(
            "POST",
            "/flinks/webhooks/",
            body=chunks,
            headers={"Content-Type": "application/json", **headers},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _session() -> PaymentSession:
    import uuid

    return PaymentSession.objects.create(
        session_id=uuid.uuid4(), reference_id="chunked", amount="65.00", remote_status="Initiated"
    )


def test_a_chunked_delivery_is_read_and_applied_under_gunicorn(gunicorn: int) -> None:
    session = _session()
    webhook = status_webhook(session, "Completed", "EFT0301", padding="c" * 5000)

    status, answer = _post_chunked(gunicorn, webhook.body, webhook.headers)

    assert (status, answer) == (200, b'{"outcome": "applied"}')
    delivery = WebhookDelivery.objects.get()
    assert bytes(delivery.body) == webhook.body
    assert delivery.signature_valid is True
    session.refresh_from_db()
    assert session.status == PaymentSession.Status.COMPLETED


def test_a_chunked_delivery_over_the_limit_is_413_under_gunicorn(gunicorn: int) -> None:
    webhook = status_webhook(_session(), "Completed", "EFT0301", padding="c" * 70_000)
    status, _answer = _post_chunked(gunicorn, webhook.body, webhook.headers)
    assert status == 413
    assert not WebhookDelivery.objects.exists()


def test_a_chunked_delivery_is_411_where_the_server_cannot_frame_it(live_server: Any) -> None:
    webhook = status_webhook(_session(), "Completed", "EFT0301")
    port = int(live_server.url.rsplit(":", 1)[1])
    status, answer = _post_chunked(port, webhook.body, webhook.headers)
    assert status == 411
    assert b"Content-Length" in answer
    assert not WebhookDelivery.objects.exists()
