"""The GEFT guarantee decision: one ``POST /guarantees/confirm`` per session, however many callers race.

When a guarantee webhook is configured, Flinks offers each guarantee to the merchant and waits for its answer;
a rejection fails the session, an acceptance lets it complete (``docs/flinks-api.md``, "Guarantee decision").
The decision is final, so it follows the cancel engine's claim protocol (``docs/architecture.md``):

1. *Claim*, in one short durable transaction: one conditional UPDATE takes the session when it is open, GEFT,
   undecided and has no live guarantee claim (one older than :func:`~flinks_sessions.services.claim_ttl` counts
   as gone). A caller that finds the guarantee decided, or being decided, gets
   :class:`~flinks_sessions.exceptions.GuaranteeAlreadyDecided`: nothing is sent.
2. *Call*, with no transaction and no lock: ``POST /guarantees/confirm``. Every exception becomes an answer.
3. *Finish*, under the row lock: Flinks' acceptance of the decision is stored, audited and announced
   (``guarantee_decided``, after commit); an error answer is a typed outcome and a recorded failure, with
   nothing decided. The finish releases its own claim, and only its own.

It works on any open GEFT session, whether or not the offer's webhook reached the site (a webhook can be lost):
Flinks' answer is the authority.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from flinks_sessions.client import FlinksClient, GuaranteeOffer
from flinks_sessions.conf import get_settings
from flinks_sessions.exceptions import (
    FlinksAPIError,
    FlinksError,
    FlinksNotFound,
    FlinksUnavailable,
    GuaranteeAlreadyDecided,
)
from flinks_sessions.models import GuaranteeDecision, PaymentSession, SessionEvent
from flinks_sessions.services import pipeline
from flinks_sessions.services.accounts import Clients, describe_error
from flinks_sessions.services.cancel import claim_ttl
from flinks_sessions.services.transitions import (
    audit_event,
    check_source,
    copy_state,
    lock,
    mark_not_found,
    record_failure,
)
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
    FAILED = "failed"  # no answer (network, 5xx after the retries): nothing is decided, a new try may follow


@dataclass(frozen=True)
class GuaranteeResult:
    outcome: GuaranteeOutcome
    session: PaymentSession
    error: str = ""

    @property
    def decided(self) -> bool:
        """Whether Flinks took this decision (and it is stored)."""
        return self.outcome in (GuaranteeOutcome.ACCEPTED, GuaranteeOutcome.REJECTED)


def decide_guarantee(
    session: PaymentSession, accepted: bool, *, source: str, actor: Any = None
) -> GuaranteeResult:
    """Accept or reject the session's guarantee at Flinks, once; store, audit and announce what Flinks took.

    Raises :class:`~flinks_sessions.exceptions.GuaranteeAlreadyDecided` when the guarantee was decided already
    or another caller is deciding it now, and ``ValueError`` for a session that is not GEFT. Must not run
    inside ``atomic()``: it makes an HTTP call, which never waits under a row lock.
    """
    check_source(source)
    if session.product != Product.GEFT:
        raise ValueError(f"session {session.session_id} is {session.product}, not GEFT: it has no guarantee")
    return pipeline.run_one(_GuaranteeEngine(accepted=accepted, source=source, actor=actor), session)


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


def apply_guarantee_policy(session: PaymentSession) -> GuaranteeResult | None:
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
    try:
        return decide_guarantee(session, accepted, source="webhook")
    except GuaranteeAlreadyDecided as exc:
        logger.info("Guarantee of session %s not decided by the policy: %s", session.session_id, exc)
        return None


@dataclass(frozen=True)
class _Call:
    session: PaymentSession
    claim: uuid.UUID
    client: FlinksClient


@dataclass(frozen=True)
class _Answer:
    outcome: GuaranteeOutcome
    body: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class _GuaranteeEngine:
    """The three stages of one decision, for :func:`pipeline.run_one`."""

    def __init__(self, *, accepted: bool, source: str, actor: Any) -> None:
        self.accepted = accepted
        self.source = source
        self.actor = actor
        self.clients = Clients()

    def claim(self, sessions: list[PaymentSession]) -> tuple[list[_Call], list[GuaranteeResult]]:
        [session] = sessions
        if session.pk is None:
            return [], [GuaranteeResult(GuaranteeOutcome.FAILED, session, "the session was never saved")]
        client = self.clients.get(session.account)
        if not isinstance(client, FlinksClient):
            return [], [GuaranteeResult(GuaranteeOutcome.FAILED, session, str(client))]
        now = timezone.now()
        claim = uuid.uuid4()
        with transaction.atomic(durable=True):
            taken = (
                PaymentSession.objects.filter(pk=session.pk, product=Product.GEFT, guarantee_decision="")
                .open()
                .filter(Q(guarantee_claimed_at__isnull=True) | Q(guarantee_claimed_at__lt=now - claim_ttl()))
                .update(guarantee_claim=claim, guarantee_claimed_at=now, updated_at=now)
            )
        session.refresh_from_db()
        if taken:
            return [_Call(session, claim, client)], []
        return [], [self._unclaimed(session)]

    @staticmethod
    def _unclaimed(session: PaymentSession) -> GuaranteeResult:
        """Why the claim failed, from the stored row: raised when it is a second decision."""
        if session.guarantee_decision:
            raise GuaranteeAlreadyDecided(
                f"The guarantee of session {session.session_id} was already decided: "
                f"{session.get_guarantee_decision_display()} at {session.guarantee_decided_at:%Y-%m-%d %H:%M:%S}.",
                decision=session.guarantee_decision,
            )
        if session.is_terminal:
            return GuaranteeResult(GuaranteeOutcome.ALREADY_TERMINAL, session)
        if session.not_found_at is not None:
            return GuaranteeResult(GuaranteeOutcome.NOT_FOUND, session)
        if session.session_id is None:
            return GuaranteeResult(
                GuaranteeOutcome.FAILED, session, "the session was never confirmed by Flinks"
            )
        raise GuaranteeAlreadyDecided(
            f"The guarantee of session {session.session_id} is being decided by another caller right now."
        )

    def claim_failed(self, session: PaymentSession, error: Exception) -> GuaranteeResult:
        return GuaranteeResult(GuaranteeOutcome.FAILED, session, describe_error(error))

    def call(self, call: _Call) -> _Answer:
        session_id = str(call.session.session_id)
        try:
            body = call.client.confirm_guarantee(session_id, accepted=self.accepted)
        except FlinksNotFound as exc:
            return _Answer(GuaranteeOutcome.NOT_FOUND, error=str(exc))
        except FlinksUnavailable as exc:
            return _Answer(GuaranteeOutcome.FAILED, error=str(exc))
        except FlinksAPIError as exc:  # Flinks read the request and said no: its answer, not an outage
            return _Answer(GuaranteeOutcome.REFUSED, error=str(exc))
        except FlinksError as exc:
            return _Answer(GuaranteeOutcome.FAILED, error=str(exc))
        except Exception as exc:
            logger.exception("Confirming the guarantee of Flinks session %s raised", session_id)
            return _Answer(GuaranteeOutcome.FAILED, error=describe_error(exc))
        outcome = GuaranteeOutcome.ACCEPTED if self.accepted else GuaranteeOutcome.REJECTED
        return _Answer(outcome, body=body if isinstance(body, dict) else {})

    def finish(self, done: list[tuple[_Call, _Answer]]) -> list[GuaranteeResult]:
        return [self._store(call, answer) for call, answer in done]

    def _store(self, call: _Call, answer: _Answer) -> GuaranteeResult:
        session = call.session
        now = timezone.now()
        decided = answer.outcome in (GuaranteeOutcome.ACCEPTED, GuaranteeOutcome.REJECTED)
        try:
            with transaction.atomic(durable=True):
                locked = lock(session.pk)
                if decided and not locked.guarantee_decision:
                    self._record_decision(locked, answer, now=now)
                elif answer.outcome is GuaranteeOutcome.NOT_FOUND:
                    mark_not_found(locked, source=self.source, reason=answer.error, actor=self.actor, now=now)
                elif not decided:
                    record_failure(
                        locked,
                        SessionEvent.Kind.GUARANTEE_FAILED,
                        answer.error,
                        source=self.source,
                        actor=self.actor,
                        now=now,
                    )
                if locked.guarantee_claim == call.claim:  # a stale claim may have been taken over meanwhile
                    locked.guarantee_claim = None
                    locked.guarantee_claimed_at = None
                locked.save(update_fields=["guarantee_claim", "guarantee_claimed_at", "updated_at"])
            copy_state(locked, session)
        except Exception as exc:  # the claim stays until claim_ttl(); nothing was stored
            logger.exception(
                "Could not store the guarantee decision of Flinks session %s", session.session_id
            )
            return GuaranteeResult(GuaranteeOutcome.FAILED, session, describe_error(exc))
        if not decided:
            logger.warning(
                "The guarantee decision of Flinks session %s was not taken (%s): %s",
                session.session_id, answer.outcome, answer.error,
            )  # fmt: skip
        return GuaranteeResult(answer.outcome, session, answer.error)

    def _record_decision(self, locked: PaymentSession, answer: _Answer, *, now: Any) -> None:
        decision = GuaranteeDecision.ACCEPTED if self.accepted else GuaranteeDecision.REJECTED
        locked.guarantee_decision = decision
        locked.guarantee_decided_at = now
        locked.save(update_fields=["guarantee_decision", "guarantee_decided_at", "updated_at"])
        audit_event(
            locked,
            SessionEvent.Kind.GUARANTEE_DECIDED,
            source=self.source,
            actor=self.actor,
            reason=decision.value,
            payload={"guaranteeAccepted": self.accepted, "answer": answer.body},
        ).save()
        logger.info("Flinks session %s: guarantee %s via %s", locked.session_id, decision, self.source)
        session, accepted, source, actor = locked, self.accepted, self.source, self.actor
        transaction.on_commit(
            lambda: send_safely(
                guarantee_decided,
                PaymentSession,
                session=session,
                accepted=accepted,
                source=source,
                actor=actor,
            )
        )
