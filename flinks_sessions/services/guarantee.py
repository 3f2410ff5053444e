"""The GEFT guarantee decision: one ``POST /guarantees/confirm`` per session, however many callers race.

When a guarantee webhook is configured, Flinks offers each guarantee to the merchant and waits for its answer;
a rejection fails the session, an acceptance lets it complete (``docs/flinks-api.md``, "Guarantee decision").
The decision is final, so the claim engine runs it (:mod:`~flinks_sessions.services.engine`,
``docs/architecture.md``); what is the decision's own:

- the claim takes a session that is open, GEFT and undecided. A caller that finds the guarantee decided gets
  ``already_decided``, one that finds it being decided ``pending``: nothing is sent.
- the call is ``POST /guarantees/confirm``.
- the finish stores Flinks' acceptance of the decision, audited and announced (``guarantee_decided``, after
  commit); an error answer is a typed outcome and a recorded failure of the guarantee, with nothing decided.

It works on any open GEFT session, whether or not the offer's webhook reached the site (a webhook can be lost):
Flinks' answer is the authority.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.module_loading import import_string

from flinks_sessions.client import FlinksClient, GuaranteeOffer
from flinks_sessions.conf import get_settings
from flinks_sessions.models import OPEN, GuaranteeDecision, PaymentSession, SessionEvent
from flinks_sessions.services import pipeline
from flinks_sessions.services.engine import Action, Answer, Engine, Reply, Result
from flinks_sessions.services.origin import Origin
from flinks_sessions.services.transitions import audit_event
from flinks_sessions.signals import guarantee_decided, send_safely
from flinks_sessions.status import Product

logger = logging.getLogger("flinks_sessions.services")


class GuaranteeOutcome(StrEnum):
    ACCEPTED = "accepted"  # Flinks took the acceptance: the session may complete
    REJECTED = "rejected"  # Flinks took the rejection: the session will fail
    REFUSED = (
        "refused"  # Flinks answered with an error (a 400, a 403): nothing is decided; ``error`` says why
    )
    NOT_FOUND = "not_found"  # Flinks does not know the session; marked
    ALREADY_TERMINAL = "already_terminal"  # the session has ended: there is nothing left to decide
    ALREADY_DECIDED = "already_decided"  # decided before: nothing sent, the stored decision stands
    PENDING = "pending"  # another caller is deciding it right now: nothing sent
    FAILED = "failed"  # no answer (network, 5xx after the retries): nothing is decided, a new try may follow


DECIDED = (GuaranteeOutcome.ACCEPTED, GuaranteeOutcome.REJECTED)


def decide_guarantee(
    session: PaymentSession, accepted: bool, *, source: str, actor: Any = None
) -> Result[GuaranteeOutcome]:
    """Accept or reject the session's guarantee at Flinks, once; store, audit and announce what Flinks took.

    A guarantee decided already answers ``already_decided`` (``error`` says what and when), one another caller
    is deciding now ``pending``. Raises ``ValueError`` for a session that is not GEFT. Must not run inside
    ``atomic()``: it makes an HTTP call, which never waits under a row lock.
    """
    origin = Origin(source, actor)
    if session.product != Product.GEFT:
        raise ValueError(f"session {session.session_id} is {session.product}, not GEFT: it has no guarantee")
    return pipeline.run_one(Engine(_Decide(origin, accepted=accepted)), session)


def policy_decision(session: PaymentSession, offer: GuaranteeOffer) -> bool | None:
    """What ``GUARANTEE_DECISION`` says of this offer: accept, reject, or ``None`` for an operator to decide.

    A dotted path names a callable ``(session, offer) -> bool``; one that raises leaves the guarantee to the
    operator (logged with its traceback) rather than guessing.
    """
    policy = get_settings().guarantee_decision
    if policy == "manual":
        return None
    if policy in ("accept", "reject"):
        return policy == "accept"
    try:
        return bool(import_string(policy)(session, offer))
    except Exception:
        logger.exception(
            "GUARANTEE_DECISION %r raised for session %s: left undecided", policy, session.session_id
        )
        return None


def apply_guarantee_policy(session: PaymentSession) -> Result[GuaranteeOutcome] | None:
    """Decide the stored offer as the policy says (the task the offer's webhook enqueues); ``None`` if not."""
    if session.product != Product.GEFT:
        logger.warning(
            "A guarantee offer named session %s, which is not GEFT: nothing decided", session.session_id
        )
        return None
    offer = GuaranteeOffer.from_payload(session.guarantee_offer.get("payload") or {})
    accepted = policy_decision(session, offer)
    if accepted is None:
        return None
    result = decide_guarantee(session, accepted, source="webhook")
    if result.outcome in (GuaranteeOutcome.ALREADY_DECIDED, GuaranteeOutcome.PENDING):
        logger.info(
            "Guarantee of session %s not decided by the policy: %s", session.session_id, result.outcome
        )
        return None
    return result


class _Decide(Action[GuaranteeOutcome]):
    """What is the guarantee decision's own in the claim protocol; the engine does the rest."""

    name = "guarantee"
    outcomes = GuaranteeOutcome
    failure = SessionEvent.Kind.GUARANTEE_FAILED

    def __init__(self, origin: Origin, *, accepted: bool) -> None:
        super().__init__(origin)
        self.accepted = accepted

    def claimable(self) -> Q:
        return OPEN & Q(product=Product.GEFT, guarantee_decision="")

    def why_not(self, session: PaymentSession) -> Result[GuaranteeOutcome]:
        if session.guarantee_decision:
            decided = f"{session.get_guarantee_decision_display()} at {session.guarantee_decided_at:%Y-%m-%d %H:%M:%S}"
            error = f"The guarantee of session {session.session_id} was already decided: {decided}."
            return Result(GuaranteeOutcome.ALREADY_DECIDED, session, error)
        if session.is_terminal:
            return Result(GuaranteeOutcome.ALREADY_TERMINAL, session)
        if session.not_found_at is not None:
            return Result(GuaranteeOutcome.NOT_FOUND, session)
        if session.session_id is None:
            return Result(GuaranteeOutcome.FAILED, session, "the session was never confirmed by Flinks")
        return Result(GuaranteeOutcome.PENDING, session)

    def call(self, client: FlinksClient, session: PaymentSession) -> dict[str, Any]:
        body = client.confirm_guarantee(str(session.session_id), accepted=self.accepted)
        return body if isinstance(body, dict) else {}

    def store(self, locked: PaymentSession, answer: Answer, *, now: datetime) -> tuple[GuaranteeOutcome, str]:
        if answer.reply is Reply.ANSWERED:
            if not locked.guarantee_decision:
                self._record_decision(locked, answer.value, now=now)
            return (GuaranteeOutcome.ACCEPTED if self.accepted else GuaranteeOutcome.REJECTED), ""
        outcome = GuaranteeOutcome.REFUSED if answer.reply is Reply.REFUSED else GuaranteeOutcome.FAILED
        return outcome, answer.error

    def _record_decision(self, locked: PaymentSession, body: dict[str, Any], *, now: datetime) -> None:
        decision = GuaranteeDecision.ACCEPTED if self.accepted else GuaranteeDecision.REJECTED
        locked.guarantee_decision = decision
        locked.guarantee_decided_at = now
        locked.save(update_fields=["guarantee_decision", "guarantee_decided_at", "updated_at"])
        origin, accepted = self.origin, self.accepted
        payload = {"guaranteeAccepted": accepted, "answer": body}
        audit_event(
            locked, SessionEvent.Kind.GUARANTEE_DECIDED, origin, reason=decision.value, payload=payload
        ).save()
        logger.info("Flinks session %s: guarantee %s via %s", locked.session_id, decision, origin.source)
        decided = {"session": locked, "accepted": accepted, "source": origin.source, "actor": origin.actor}
        transaction.on_commit(lambda: send_safely(guarantee_decided, PaymentSession, **decided))
