"""``WEBHOOK_ASYNC``: the request stores, verifies and answers 202; a task worker applies the delivery."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from flinks_sessions.models import PaymentSession, WebhookDelivery
from flinks_sessions.testing import signed_webhook
from flinks_sessions.webhooks.tasks import process_webhook_task
from tests.support import db_workers, wait_for
from tests.webhooks.helpers import status_webhook

Outcome = WebhookDelivery.Outcome
Status = PaymentSession.Status


@pytest.fixture
def async_webhooks(settings: Any) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "WEBHOOK_ASYNC": True}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("async_webhooks", "database_tasks")
def test_a_real_db_worker_applies_the_delivery(make_session: Any, signals: Any) -> None:
    from django_tasks_db.models import DBTaskResult

    session, other = make_session(), make_session()
    client = Client(enforce_csrf_checks=True)
    first = status_webhook(session, "Completed", "EFT0301").post(client)
    second = status_webhook(other, "Failed", "EFT0403").post(client)
    assert (first.status_code, first.json()) == (202, {"outcome": "received"})
    assert second.status_code == 202
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {Outcome.RECEIVED}
    assert DBTaskResult.objects.count() == 2
    session.refresh_from_db()
    assert session.status == Status.INITIATED

    with db_workers(1):
        wait_for(
            lambda: not WebhookDelivery.objects.filter(outcome=Outcome.RECEIVED).exists(),
            timeout=30,
            message="the worker to process both deliveries",
        )
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {Outcome.APPLIED}
    assert [s.status for s in PaymentSession.objects.order_by("pk")] == [Status.COMPLETED, Status.FAILED]


@pytest.mark.django_db
@pytest.mark.usefixtures("async_webhooks")
def test_async_rejections_are_still_immediate(deliver: Any, make_session: Any) -> None:
    """Signature and shape are checked in the request, so Flinks still hears 401 and 400 at once."""
    session = make_session()
    assert deliver(status_webhook(session, "Completed", "EFT0301", secret="wrong")).status_code == 401
    assert deliver(signed_webhook(body=b"{}")).status_code == 400
    assert not any(
        outcome == Outcome.RECEIVED for outcome in WebhookDelivery.objects.values_list("outcome", flat=True)
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("async_webhooks")
def test_immediate_backend_processes_inside_the_request(
    deliver: Any, make_session: Any, signals: Any
) -> None:
    session = make_session()
    response = deliver(status_webhook(session, "Completed", "EFT0301"))
    assert response.status_code == 202
    assert WebhookDelivery.objects.get().outcome == Outcome.APPLIED
    assert len(signals.named("webhook_received")) == 1


@pytest.mark.django_db
def test_the_task_is_idempotent(make_session: Any, deliver: Any) -> None:
    session = make_session()
    deliver(status_webhook(session, "Completed", "EFT0301"))
    delivery = WebhookDelivery.objects.get()
    assert process_webhook_task.call(delivery.pk) == "skipped"
    assert process_webhook_task.call(delivery.pk + 1000) == "missing"


@pytest.mark.django_db
def test_a_task_delivered_twice_processes_once(make_session: Any) -> None:
    session = make_session()
    webhook = status_webhook(session, "Completed", "EFT0301")
    delivery = WebhookDelivery.objects.create(body=webhook.body, signature_valid=True)
    assert process_webhook_task.call(delivery.pk) == Outcome.APPLIED
    assert process_webhook_task.call(delivery.pk) == "skipped"
    delivery.refresh_from_db()
    assert delivery.outcome == Outcome.APPLIED
