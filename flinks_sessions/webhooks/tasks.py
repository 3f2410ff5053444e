"""The receiver's background work: processing a stored delivery in a worker (``WEBHOOK_ASYNC``), and the
scheduled sweep over deliveries whose processing was cut off (``flinks_reprocess_webhooks`` as a task)."""

from __future__ import annotations

import logging

from flinks_sessions import tracing
from flinks_sessions.models import WebhookDelivery
from flinks_sessions.sweeps.selection import parse_duration
from flinks_sessions.tasks import route, task
from flinks_sessions.webhooks.processing import process_delivery
from flinks_sessions.webhooks.reprocess import claim, reprocess_stranded

logger = logging.getLogger("flinks_sessions.webhooks")


@task()
def process_webhook_task(delivery_id: int) -> str:
    """Process a stored webhook delivery; a delivery already taken or processed is skipped."""
    with tracing.span("task.process_webhook", **{"flinks_sessions.delivery_id": delivery_id}):
        # Claim it with one conditional UPDATE, so a task delivered twice (or one whose delivery a reprocessing
        # sweep already took) is processed once.
        if not claim(delivery_id):
            exists = WebhookDelivery.objects.filter(pk=delivery_id).exists()
            if not exists:
                logger.warning("webhook task: no delivery %s", delivery_id)
            return "skipped" if exists else "missing"
        return process_delivery(WebhookDelivery.objects.get(pk=delivery_id))


@task()
def reprocess_webhooks_task(older_than: str = "5m", limit: int | None = None) -> dict[str, int]:
    """The ``flinks_reprocess_webhooks`` sweep as a task, for a site that schedules tasks instead of cron.

    Processes deliveries left ``received`` for longer than ``older_than`` (a killed web process or worker, a
    failed enqueue); returns the counts (found, processed, claimed_elsewhere, and one per outcome).
    """
    with tracing.span("task.reprocess_webhooks"):
        done = reprocess_stranded(parse_duration(older_than), limit=limit)
    if done.found:
        logger.info("webhook reprocessing sweep: %s", done.as_dict())
    return done.as_dict()


def enqueue_webhook(delivery_id: int) -> None:
    """Hand a stored delivery to the task backend. Never raises: it stays ``received``, and the
    ``flinks_reprocess_webhooks`` sweep (or the admin's Reprocess) processes it later."""
    try:
        route(process_webhook_task).enqueue(delivery_id)
    except Exception:
        logger.exception(
            "Could not enqueue webhook delivery %s; flinks_reprocess_webhooks will process it", delivery_id
        )
