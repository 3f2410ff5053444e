"""A signed delivery sent with ``Transfer-Encoding: chunked`` and no ``Content-Length``, against real servers.

gunicorn decodes the chunks and marks ``wsgi.input`` as terminated (the body ends where the chunks end): the
receiver reads it up to ``WEBHOOK_MAX_BODY`` and processes it. Django's development server (``runserver``,
``live_server``) hands over the raw socket and no length, so nothing can be read safely: it answers 411.
"""

from __future__ import annotations

from typing import Any

import pytest

from flinks_sessions.models import PaymentSession, WebhookDelivery
from tests.factories import new_session
from tests.servers import post_chunked
from tests.webhooks.helpers import status_webhook

pytestmark = pytest.mark.django_db(transaction=True)


def _post_chunked(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    return post_chunked(port, "/flinks/webhooks/", body, {"Content-Type": "application/json", **headers})


def _session() -> PaymentSession:
    return new_session(reference_id="chunked", amount="65.00", remote_status="Initiated")


def test_a_chunked_delivery_is_read_and_applied_under_gunicorn(gunicorn_port: int) -> None:
    session = _session()
    webhook = status_webhook(session, "Completed", "EFT0301", padding="c" * 5000)

    status, answer = _post_chunked(gunicorn_port, webhook.body, webhook.headers)

    assert (status, answer) == (200, b'{"outcome": "applied"}')
    delivery = WebhookDelivery.objects.get()
    assert bytes(delivery.body) == webhook.body
    assert delivery.signature_valid is True
    session.refresh_from_db()
    assert session.status == PaymentSession.Status.COMPLETED


def test_a_chunked_delivery_over_the_limit_is_413_under_gunicorn(gunicorn_port: int) -> None:
    webhook = status_webhook(_session(), "Completed", "EFT0301", padding="c" * 70_000)
    status, _answer = _post_chunked(gunicorn_port, webhook.body, webhook.headers)
    assert status == 413
    assert not WebhookDelivery.objects.exists()


def test_a_chunked_delivery_is_411_where_the_server_cannot_frame_it(live_server: Any) -> None:
    webhook = status_webhook(_session(), "Completed", "EFT0301")
    port = int(live_server.url.rsplit(":", 1)[1])
    status, answer = _post_chunked(port, webhook.body, webhook.headers)
    assert status == 411
    assert b"Content-Length" in answer
    assert not WebhookDelivery.objects.exists()
