"""The receiver's background work (``WEBHOOK_ASYNC``): processing a stored delivery in a worker."""

from __future__ import annotations

import logging

from django.utils import timezone

try:  # Django ≥ 6.0
    from django.tasks import task
except ImportError:  # pragma: no cover - Django 5.2 with the backport
    from django_tasks import task  # type: ignore[no-redef,import-not-found,unused-ignore]

from flinks_sessions.models import WebhookDelivery
from flinks_sessions.tasks import route
from flinks_sessions.webhooks.processing import process_delivery

logger = logging.getLogger("flinks_sessions.webhooks")


@task()
def process_webhook_task(delivery_id: int) -> str:
    """Process a stored webhook delivery; a delivery already taken or processed is skipped."""
    # Claim it with one conditional UPDATE, so a task delivered twice is processed once.
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id,
        outcome=WebhookDelivery.Outcome.RECEIVED,
        signature_valid=True,
        processed_at__isnull=True,
    ).update(processed_at=timezone.now())
    if not claimed:
        exists = WebhookDelivery.objects.filter(pk=delivery_id).exists()
        if not exists:
            logger.warning("webhook task: no delivery %s", delivery_id)
        return "skipped" if exists else "missing"
    return process_delivery(WebhookDelivery.objects.get(pk=delivery_id))


def enqueue_webhook(delivery_id: int) -> None:
    """Hand a stored delivery to the task backend. Never raises: it stays ``received`` for the admin's Reprocess."""
    try:
        route(process_webhook_task).enqueue(delivery_id)
    except Exception:
        logger.exception("Could not enqueue webhook delivery %s; reprocess it from the admin", delivery_id)
