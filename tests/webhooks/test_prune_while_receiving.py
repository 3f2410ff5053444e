"""A prune never stops the webhook receiver: deliveries are received and stored while old ones are deleted.

PostgreSQL, real threads: the prune runs ``call_command`` in a thread of its own (its own connection, one short
transaction per batch) while this thread posts signed webhooks through the full middleware stack. The receiver's
connection has a ``lock_timeout``, so a table lock held by the prune would fail a delivery instead of delaying it.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from flinks_sessions.models import WebhookDelivery
from flinks_sessions.testing import signed_webhook

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

OLD = 1500
ARRIVALS = 5


def test_deliveries_are_stored_while_a_prune_runs() -> None:
    rows = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(body=b"{}", outcome=WebhookDelivery.Outcome.APPLIED) for _ in range(OLD)
    )
    WebhookDelivery.objects.filter(pk__in=[row.pk for row in rows]).update(
        received_at=timezone.now() - timedelta(days=100)
    )
    output = StringIO()
    failures: list[BaseException] = []

    def prune() -> None:
        try:
            call_command("flinks_prune_webhooks", "--older-than", "90d", "--batch-size", "2", stdout=output)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            connections.close_all()

    pruning = threading.Thread(target=prune)
    pruning.start()
    deadline = time.monotonic() + 30
    while WebhookDelivery.objects.count() == OLD and time.monotonic() < deadline:
        time.sleep(0.005)  # until the first batch is gone

    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '500ms'")
    client = Client(enforce_csrf_checks=True)
    stored: list[int] = []
    remaining_old: list[int] = []
    for n in range(ARRIVALS):
        webhook = signed_webhook(sessionId=f"00000000-0000-4000-8000-{n:012d}", status="Completed")
        response = webhook.post(client)
        assert response.status_code == 200, response.content
        stored.append(WebhookDelivery.objects.latest("pk").pk)
        remaining_old.append(
            WebhookDelivery.objects.filter(received_at__lt=timezone.now() - timedelta(days=90)).count()
        )
    prune_was_running = pruning.is_alive()
    pruning.join(timeout=300)  # 750 batches: minutes on a machine crowded by other tests
    assert not pruning.is_alive(), "the prune did not finish"

    assert not failures, failures
    assert prune_was_running, "the prune finished before the deliveries arrived: nothing was shown"
    assert 0 < remaining_old[-1] < OLD, remaining_old  # each delivery was stored mid-prune
    assert remaining_old == sorted(remaining_old, reverse=True)
    assert f"Deleted {OLD} of" in output.getvalue()
    assert list(WebhookDelivery.objects.order_by("pk").values_list("pk", flat=True)) == stored
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {"unknown_session"}
