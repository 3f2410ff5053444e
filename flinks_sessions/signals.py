"""Signals a site listens to. All are sent after the transaction that caused them commits.

``session_cancelled``      sender=PaymentSession, session, source, reason, event_id, attempt
``session_status_changed`` sender=PaymentSession, session, previous_status, status, source, event_id, attempt
``webhook_received``       sender=WebhookDelivery, delivery
``cancel_requested``       sender=PaymentSession, session_id, source, reason, delay
``guarantee_offered``      sender=PaymentSession, session, offer (a ``GuaranteeOffer``), delivery
``guarantee_decided``      sender=PaymentSession, session, accepted, source, actor
``amount_reduced``         sender=PaymentSession, session, requested, settled, source, event_id, attempt
``session_restarted``      sender=PaymentSession, session (the successor), previous, source
``session_abandoned``      sender=PaymentSession, session (the ended one), url (its recovery link), emailed

``session_abandoned`` is an order's one recovery notice (``services.recovery``): sent once per order of a payer
who consented, at most once (a crash after the claim sends nothing more); ``url`` is the signed link that starts
the payment again (absolute with ``RECOVERY_SITE_URL``), ``emailed`` whether the app emails it too
(``RECOVERY_EMAIL``, sent after the signal).

``guarantee_offered`` announces a GEFT guarantee Flinks is waiting on; the app's own receiver applies the
``GUARANTEE_DECISION`` policy in a task (nothing is enqueued for ``"manual"``). ``amount_reduced`` announces a
settled amount below the requested one (Next Best Offer), once per new amount.

``cancel_requested`` announces a recorded cancel intent (``services.request_cancel``); the app's own receiver
(connected when the app is ready) hands the cancel to the task backend, ``delay`` seconds later when given.

The three signals with an ``event_id`` announce a stored audit row (``SessionEvent``), at least once: a worker
that dies before sending, or a receiver that raises, leaves the row pending or failing, and
``flinks_announce_pending`` sends it again, with the same ``event_id`` and the next ``attempt``. Their receivers
must be idempotent; deduplicating on ``event_id`` is enough (README, "Signals").

``source`` is one of :data:`SOURCES`. A receiver that raises is logged and never breaks the request, admin
action or worker that triggered it (``send_robust``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

from flinks_sessions.status import Source

logger = logging.getLogger("flinks_sessions.signals")

SOURCES: tuple[str, ...] = tuple(Source.values)  # "beacon", "admin", "command", "api", "webhook", "sync"

session_cancelled = Signal()
session_status_changed = Signal()
webhook_received = Signal()
cancel_requested = Signal()
guarantee_offered = Signal()
guarantee_decided = Signal()
amount_reduced = Signal()
session_restarted = Signal()
session_abandoned = Signal()


def send_safely(signal: Signal, sender: type, **kwargs: Any) -> list[Exception]:
    """Send to every receiver; log (with traceback) instead of raising when one fails; return what they raised."""
    errors: list[Exception] = []
    for receiver, result in signal.send_robust(sender=sender, **kwargs):
        if isinstance(result, Exception):
            errors.append(result)
            logger.error(
                "Receiver %s of a flinks_sessions signal raised; the change it reports is already stored",
                getattr(receiver, "__qualname__", repr(receiver)),
                exc_info=(type(result), result, result.__traceback__),
            )
    return errors
