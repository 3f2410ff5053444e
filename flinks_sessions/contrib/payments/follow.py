"""The payment follows its session: each of the app's signals brings it to the status :mod:`.statuses` gives.

The app sends its signals after its own transaction commits, so a payment never shows a state the database
may still roll back; this receiver locks the payment row (no HTTP call is made here), and django-payments'
``status_changed`` goes out after that commit in turn.

A payment carries one session at a time (``Payment.transaction_id``, the session's Flinks id). Start again
moves it to the successor; the predecessor's events (its cancel during the restart, a webhook that arrives
late) never move it again. The lookup walks the successor's chain of predecessors, so the payment follows the
successor even if the ``session_restarted`` announcement itself was missed.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from payments import PaymentStatus, get_payment_model
from payments.core import provider_factory
from payments.signals import status_changed

from flinks_sessions import signals
from flinks_sessions.contrib.payments.statuses import captured_amount, payment_status
from flinks_sessions.models import PaymentSession
from flinks_sessions.services import successor_of
from flinks_sessions.services.engine import claim_ttl

MAX_RESTARTS = 50  # how far back a payment's chain of sessions is followed

FOLLOWED = (
    signals.session_status_changed,
    signals.session_restarted,
    signals.guarantee_offered,
    signals.guarantee_decided,
    signals.amount_reduced,
)


def connect() -> None:
    for signal in FOLLOWED:
        signal.connect(on_session_signal, sender=PaymentSession, dispatch_uid=f"flinks_payments.{id(signal)}")


def on_session_signal(sender: type, *, session: PaymentSession, **kwargs: Any) -> None:
    follow(session)


def replaced(session: PaymentSession) -> bool:
    """Start again has replaced this session, or is replacing it right now: it no longer speaks for the payment."""
    restarting = (
        session.restart_claimed_at is not None and session.restart_claimed_at > timezone.now() - claim_ttl()
    )
    return restarting or successor_of(session) is not None


def chain(session: PaymentSession) -> list[str]:
    """The Flinks ids of ``session`` and of the sessions it replaced, newest first."""
    ids = [str(session.session_id)]
    previous = session.restarted_from_id
    while previous is not None and len(ids) < MAX_RESTARTS:
        row = PaymentSession.objects.filter(pk=previous).values("session_id", "restarted_from_id").first()
        if row is None:
            break
        ids.append(str(row["session_id"]))
        previous = row["restarted_from_id"]
    return ids


def flinks_variants() -> list[str]:
    """The ``PAYMENT_VARIANTS`` served by this provider (read from their dotted paths: nothing is constructed)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    from flinks_sessions.contrib.payments.provider import FlinksProvider

    variants = getattr(settings, "PAYMENT_VARIANTS", {})
    return [
        name for name, (path, _config) in variants.items() if issubclass(import_string(path), FlinksProvider)
    ]


def follow(session: PaymentSession) -> Any:
    """Bring the payment that carries ``session`` (or one of its predecessors) to the status ``session`` means.

    Returns the payment, or ``None`` when no payment follows this session (another provider's, a replaced one).
    """
    session = PaymentSession.objects.get(pk=session.pk)
    if session.session_id is None or replaced(session):
        return None
    model = get_payment_model()
    with transaction.atomic():
        payment = (
            model.objects.select_for_update()
            .filter(transaction_id__in=chain(session), variant__in=flinks_variants())
            .first()
        )
        if payment is None:
            return None
        fields = ["transaction_id"]
        payment.transaction_id = str(session.session_id)
        status = payment_status(session, capture=provider_factory(payment.variant).captures)
        if payment.status == PaymentStatus.REFUNDED:  # release() ended it: django-payments' own last word
            status = payment.status
        if status == PaymentStatus.CONFIRMED:
            payment.captured_amount = captured_amount(session) or payment.total
            fields.append("captured_amount")
        changed = status != payment.status
        if changed:
            payment.status = status
            payment.message = ""
            fields += ["status", "message"]
        payment.save(update_fields=fields)
        if changed:
            transaction.on_commit(lambda: status_changed.send(sender=type(payment), instance=payment))
    return payment
