"""Acting on a stored delivery: find the session, apply the status through the services, record the outcome.

Runs in the request (the default) or in a worker (``WEBHOOK_ASYNC``), and again from the admin's "Reprocess"
action; a delivery processed twice changes nothing the second time, because terminal states are sinks and a
repeated status is a duplicate. All writes happen in one transaction (the row lock, the transition, its audit
row, the outcome), so a failure leaves the session untouched and the delivery marked ``error`` with the reason.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from flinks_sessions import metrics
from flinks_sessions.client import GuaranteeOffer
from flinks_sessions.conf import get_settings
from flinks_sessions.exceptions import WebhookPayloadError
from flinks_sessions.log_context import session_extra
from flinks_sessions.models import PaymentSession, WebhookDelivery
from flinks_sessions.services import ApplyOutcome
from flinks_sessions.services.offers import OfferOutcome, record_guarantee_offer
from flinks_sessions.services.reports import Mismatch, apply_report
from flinks_sessions.signals import send_safely, webhook_received
from flinks_sessions.webhooks.envelope import Envelope, parse_envelope

logger = logging.getLogger("flinks_sessions.webhooks")

Outcome = WebhookDelivery.Outcome

_OUTCOMES: dict[ApplyOutcome, str] = {
    ApplyOutcome.APPLIED: Outcome.APPLIED,
    ApplyOutcome.DUPLICATE: Outcome.DUPLICATE,
    ApplyOutcome.STALE: Outcome.STALE,
    ApplyOutcome.UNKNOWN_STATUS: Outcome.IGNORED,
}
_OFFER_OUTCOMES: dict[OfferOutcome, str] = {
    OfferOutcome.RECORDED: Outcome.GUARANTEE_OFFERED,
    OfferOutcome.STALE: Outcome.STALE,
    OfferOutcome.UNKNOWN_SESSION: Outcome.UNKNOWN_SESSION,
}


def process_delivery(
    delivery: WebhookDelivery, envelope: Envelope | None = None, *, announce: bool = True
) -> str:
    """Apply ``delivery`` and store its outcome; returns the outcome. Never raises for a bad delivery.

    ``envelope`` saves re-parsing the body when the caller has just parsed it. ``announce`` sends
    ``webhook_received`` after commit and counts the outcome in ``flinks_sessions_webhooks_total`` (the
    admin's reprocessing does neither: nothing was received).

    An unexpected exception rolls the processing back, is logged at ERROR with its traceback, and is stored
    as outcome ``error`` with its message; the view still answers 200. Flinks sends a webhook once and never
    retries, so a 5xx would change nothing on its side and only hide that the delivery is safely kept here,
    where the admin's "Reprocess" action picks it up once the cause is fixed.
    """
    outcome: str
    error: str
    try:
        parsed = envelope if envelope is not None else parse_envelope(bytes(delivery.body))
    except WebhookPayloadError as exc:
        outcome, error = Outcome.MALFORMED, str(exc)
        _save_outcome(delivery, outcome, error)
    else:
        previous_session = delivery.session_id
        try:
            with transaction.atomic():
                outcome, error = _apply(delivery, parsed)
                _save_outcome(delivery, outcome, error)
        except Exception as exc:
            logger.exception(
                "Processing webhook delivery %s failed; it is stored with outcome 'error'",
                delivery.pk,
                extra=session_extra(
                    source="webhook",
                    outcome=Outcome.ERROR,
                    session_id=parsed.session_id,
                    delivery_id=delivery.pk,
                ),
            )
            delivery.session_id = previous_session
            outcome, error = Outcome.ERROR, f"{type(exc).__name__}: {exc}"[:2000]
            _save_outcome(delivery, outcome, error)
    if announce:
        metrics.WEBHOOKS.labels(outcome=outcome).inc()
        announce_delivery(delivery)
    return outcome


def announce_delivery(delivery: WebhookDelivery) -> None:
    """Send ``webhook_received`` after commit, for authenticated deliveries only."""
    if delivery.signature_valid:
        transaction.on_commit(lambda: send_safely(webhook_received, WebhookDelivery, delivery=delivery))


def _apply(delivery: WebhookDelivery, envelope: Envelope) -> tuple[str, str]:
    settings = get_settings()
    if settings.is_guarantee_event(envelope.event_type):
        return _apply_offer(delivery, envelope)
    if settings.is_transaction_event(envelope.event_type):
        return _record_transaction(delivery, envelope)
    return _apply_status(delivery, envelope)


def _apply_status(delivery: WebhookDelivery, envelope: Envelope) -> tuple[str, str]:
    remote = envelope.remote
    if remote is None:
        return Outcome.IGNORED, f"event type {envelope.event_type!r} is not handled"
    result = apply_report(remote, source="webhook")
    if result is None:
        logger.info(
            "Webhook delivery %s names unknown Flinks session %s",
            delivery.pk,
            envelope.session_id,
            extra=session_extra(
                source="webhook",
                outcome=Outcome.UNKNOWN_SESSION,
                session_id=envelope.session_id,
                delivery_id=delivery.pk,
            ),
        )
        return Outcome.UNKNOWN_SESSION, ""
    delivery.session = result.session
    if isinstance(result, Mismatch):
        return Outcome.MISMATCH, (
            f"referenceId {result.reported_reference!r} is not the session's {result.session.reference_id!r}: "
            "not applied"
        )[:2000]
    outcome = _OUTCOMES[result.outcome]
    logger.info(
        "Webhook delivery %s for session %s: %s",
        delivery.pk,
        envelope.session_id,
        outcome,
        extra=session_extra(result.session, source="webhook", outcome=outcome, delivery_id=delivery.pk),
    )
    if result.outcome is ApplyOutcome.UNKNOWN_STATUS:
        return outcome, f"unknown status {remote.raw_status!r} kept raw, nothing changed"
    return outcome, ""


def _payload(envelope: Envelope) -> dict[str, object]:
    """The event's payload, or the whole body when it has none (these payloads are not public)."""
    payload = envelope.raw.get("payload")
    return dict(payload) if isinstance(payload, dict) else dict(envelope.raw)


def _apply_offer(delivery: WebhookDelivery, envelope: Envelope) -> tuple[str, str]:
    """A GEFT guarantee offer: stored on the session and announced; the policy decides after commit."""
    offer = GuaranteeOffer.from_payload(_payload(envelope))
    if not offer.session_id and envelope.session_id is not None:
        offer = GuaranteeOffer.from_payload({**offer.raw, "sessionId": str(envelope.session_id)})
    result = record_guarantee_offer(offer, source="webhook", delivery=delivery)
    if result.session is not None:
        delivery.session = result.session
    logger.info(
        "Webhook delivery %s: guarantee offer for %s: %s", delivery.pk, offer.session_id, result.outcome
    )
    if result.outcome is OfferOutcome.UNKNOWN_SESSION and envelope.session_id is None:
        return Outcome.UNKNOWN_SESSION, "no sessionId (a UUID) could be read from the guarantee event"
    return _OFFER_OUTCOMES[result.outcome], ""


def _record_transaction(delivery: WebhookDelivery, envelope: Envelope) -> tuple[str, str]:
    """An e-Transfer transaction status: kept with its session for the site, never read as a session status."""
    if envelope.session_id is not None:
        delivery.session = PaymentSession.objects.filter(session_id=envelope.session_id).first()
    return Outcome.RECORDED, ""


def _save_outcome(delivery: WebhookDelivery, outcome: str, error: str) -> None:
    delivery.outcome = outcome
    delivery.error = error
    delivery.processed_at = timezone.now()
    # A queryset update: one UPDATE without the save() machinery (signals, field walk) on the hot path.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        outcome=outcome, error=error, processed_at=delivery.processed_at, session_id=delivery.session_id
    )
