"""A GEFT guarantee offer Flinks sent (its webhook): found, locked, stored and announced here.

The offer's payload is not public (``docs/flinks-api.md``, "Guarantee decision"), so what is stored is what
:class:`~flinks_sessions.client.GuaranteeOffer` could read plus the raw payload. The decision itself is not
made here: ``guarantee_offered`` is sent after commit, and the task layer's receiver runs the
``GUARANTEE_DECISION`` policy in a worker, so no call to Flinks waits under the delivery's transaction.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.utils import timezone

from flinks_sessions.client import GuaranteeOffer
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services.origin import Origin
from flinks_sessions.services.transitions import audit_event
from flinks_sessions.signals import guarantee_offered, send_safely
from flinks_sessions.status import Product

logger = logging.getLogger("flinks_sessions.services")


class OfferOutcome(StrEnum):
    RECORDED = "recorded"  # stored on an open session and announced
    STALE = "stale"  # the session has ended or its guarantee is decided: stored in the audit trail only
    UNKNOWN_SESSION = "unknown_session"  # no session here has that id


@dataclass(frozen=True)
class OfferResult:
    outcome: OfferOutcome
    session: PaymentSession | None = None


def record_guarantee_offer(offer: GuaranteeOffer, *, source: str, delivery: Any = None) -> OfferResult:
    """Store ``offer`` on its session under the row lock and announce it after commit.

    Safe inside the caller's transaction (the webhook's outcome then commits with it); no HTTP here. An offer
    for a session that has ended, or whose guarantee is already decided, is audited and not announced: there
    is nothing left for a policy to decide.
    """
    origin = Origin(source)
    try:
        session_id = uuid.UUID(offer.session_id)
    except ValueError:  # missing, or not a UUID: no session of ours has it
        return OfferResult(OfferOutcome.UNKNOWN_SESSION)
    with transaction.atomic():
        locked = PaymentSession.objects.select_for_update().filter(session_id=session_id).first()
        if locked is None:
            return OfferResult(OfferOutcome.UNKNOWN_SESSION)
        if locked.product != Product.GEFT:
            logger.warning(
                "A guarantee offer names session %s, which is %s", locked.session_id, locked.product
            )
        audit_event(
            locked,
            SessionEvent.Kind.GUARANTEE_OFFERED,
            origin,
            reason=f"offered {offer.amount}" if offer.amount is not None else "",
            payload=dict(offer.raw),
        ).save()
        if locked.is_terminal or locked.guarantee_decision:
            return OfferResult(OfferOutcome.STALE, locked)
        locked.guarantee_offered_at = timezone.now()
        locked.guarantee_offer = offer.as_json()
        locked.save(update_fields=["guarantee_offered_at", "guarantee_offer", "updated_at"])
        logger.info("Flinks session %s: guarantee offered (%s)", locked.session_id, offer.amount)
        transaction.on_commit(
            lambda: send_safely(
                guarantee_offered, PaymentSession, session=locked, offer=offer, delivery=delivery
            )
        )
    return OfferResult(OfferOutcome.RECORDED, locked)
