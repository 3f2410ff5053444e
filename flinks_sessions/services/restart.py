"""Start again: a successor session for the same order after a cancel, an expiry or a failure.

The shopper who left the payment (or whose session expired or failed) clicks "Start again"; a double click or
two tabs must still create one session at Flinks, not two. The claim engine (:mod:`~flinks_sessions.services.engine`)
runs it; what is the restart's own:

- the claim takes the predecessor when it is restartable (``PaymentSessionQuerySet.restartable``: confirmed by
  Flinks, not completed, no successor). A caller that loses answers ``existed`` with the successor when it is
  there by now, ``pending`` while another caller is creating it, ``refused`` for a session that cannot be
  restarted, ``limit_reached`` once the order has ``RESTART_LIMIT`` successors (``services.restart_bound``).
- the call cancels the predecessor through the cancel engine if it is still open, then creates the successor at
  Flinks (``POST /sessions``).
- the finish stores the successor with ``restarted_from`` (one-to-one, so the database itself refuses a second
  successor) and both audit rows, in the same transaction; ``session_restarted`` is sent after commit. A failure
  releases the claim, so the shopper may try again.

A worker that dies between Flinks' creation and the store leaves a session at Flinks that is never stored; once
its claim expires another restart creates a second one at Flinks (``docs/model``, the documented exception).
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.db.models import Q

from flinks_sessions.client import FlinksClient, get_client
from flinks_sessions.exceptions import FlinksNotFound, FlinksUnavailable, RestartRefused
from flinks_sessions.models import PaymentSession, restartable_condition
from flinks_sessions.services import pipeline
from flinks_sessions.services.cancel import cancel_session
from flinks_sessions.services.engine import Action, Answer, Engine, Reply, Result
from flinks_sessions.services.origin import Origin
from flinks_sessions.services.restart_bound import restart_bound_reached
from flinks_sessions.services.start import Creation, prepare, record_ambiguous, store_created
from flinks_sessions.signals import send_safely, session_restarted
from flinks_sessions.status import CancelReason, Status

logger = logging.getLogger("flinks_sessions.services")

# What a restart may change; the reference (the order) and the link to the predecessor never change.
OVERRIDABLE = frozenset({"amount", "payor", "product", "owner", "account", "payee", "options", "metadata"})


class RestartOutcome(StrEnum):
    CREATED = "created"  # a successor was created at Flinks and stored: ``session`` is it
    EXISTED = "existed"  # already done: the session had a successor, which ``session`` is
    PENDING = "pending"  # another caller is creating the successor right now: ask again in a moment
    REFUSED = "refused"  # it cannot be restarted (completed, never confirmed, its cancel failed); ``error`` says why
    LIMIT_REACHED = "limit_reached"  # the order has ``RESTART_LIMIT`` successors already: nothing is created
    NOT_FOUND = "not_found"  # kept for the engine's vocabulary; a restart answers FAILED for a 404
    FAILED = "failed"  # Flinks could not create it: the claim is released, a new try may follow


def successor_of(session: PaymentSession) -> PaymentSession | None:
    """The session that replaced ``session``, read from the database (never a cached relation)."""
    return PaymentSession.objects.filter(restarted_from_id=session.pk).first()


def restart_session(
    session: PaymentSession, *, source: str = "api", actor: Any = None, reason: str = "", **overrides: Any
) -> Result[RestartOutcome]:
    """The successor of ``session`` for the same order, created once however many requests ask at once.

    The predecessor is cancelled first (through the cancel engine, as ``source``) if it is still open. The new
    session repeats the predecessor's amount, reference, product, account, owner, metadata and creation
    parameters (payor, payee, options); ``overrides`` replaces any of :data:`OVERRIDABLE`. The result's
    ``session`` is the successor when the outcome is ``created`` or ``existed`` (a repeated click is answered,
    not refused), the predecessor otherwise.

    Raises ``TypeError`` for an override it does not take, ``ValidationError`` for parameters ``start_session``
    would refuse, :class:`~flinks_sessions.exceptions.RestartRefused` when no payor is stored or given; nothing
    is sent then. Must not run inside ``atomic()``: it calls Flinks.
    """
    origin = Origin(source, actor, reason)
    unknown = set(overrides) - OVERRIDABLE
    if unknown:
        raise TypeError(f"restart_session() cannot override {', '.join(sorted(unknown))}")
    existing = successor_of(session)
    if existing is not None:
        return Result(RestartOutcome.EXISTED, existing)
    refusal = _refusal(session)  # what the session is comes before what the call lacks (a stored payor)
    if refusal:
        return Result(RestartOutcome.REFUSED, session, refusal)
    action = _Restart(prepare(_parameters(session, overrides)), origin)
    result = pipeline.run_one(Engine(action), session)
    if action.successor is None or result.outcome is not RestartOutcome.CREATED:
        return result
    logger.info("Restarted Flinks session %s as %s", session.session_id, action.successor.session_id)
    return Result(RestartOutcome.CREATED, action.successor)


def _refusal(session: PaymentSession) -> str:
    """Why ``session`` can never be restarted, or ``""``."""
    if session.session_id is None:
        return "Flinks never confirmed this session: reconcile it before starting again"
    if session.status == Status.COMPLETED:
        return "this session completed: there is nothing to start again"
    return ""


class _Restart(Action[RestartOutcome]):
    """What is the restart's own in the claim protocol; the engine does the rest."""

    name = "restart"
    outcomes = RestartOutcome

    def __init__(self, creation: Creation, origin: Origin) -> None:
        super().__init__(origin)
        self.creation = creation
        self.successor: PaymentSession | None = None

    def refuse(self, session: PaymentSession) -> Result[RestartOutcome] | None:
        bound = restart_bound_reached(session)
        return Result(RestartOutcome.LIMIT_REACHED, session, bound) if bound else None

    def claimable(self) -> Q:
        return restartable_condition()

    def why_not(self, session: PaymentSession) -> Result[RestartOutcome]:
        existing = successor_of(session)
        if existing is not None:
            return Result(RestartOutcome.EXISTED, existing)
        refusal = _refusal(session)
        if refusal:
            return Result(RestartOutcome.REFUSED, session, refusal)
        return Result(RestartOutcome.PENDING, session)

    def call(self, client: FlinksClient, session: PaymentSession) -> Any:
        """End the predecessor if Flinks could still act on it (never two live sessions for one order); create."""
        if session.is_open:
            source, actor, reason = self.origin.source, self.origin.actor, self.origin.reason
            ended = cancel_session(
                session, source=source, reason=reason or CancelReason.RESTARTED, actor=actor
            )
            if session.is_open:
                return Answer(
                    Reply.REFUSED,
                    error=f"the session could not be cancelled first: {ended.error or ended.outcome}",
                )
        if session.status == Status.COMPLETED:
            return Answer(Reply.REFUSED, error=_refusal(session))
        try:
            return get_client(self.creation.account).create_session(self.creation.body)
        except FlinksNotFound as exc:  # about the creation, not the predecessor: nothing to mark
            return Answer(Reply.FAILED, exc, str(exc))

    def store(self, locked: PaymentSession, answer: Answer, *, now: datetime) -> tuple[RestartOutcome, str]:
        if answer.reply is Reply.ANSWERED:
            successor = store_created(self.creation, answer.value, self.origin, restarted_from=locked)
            self.successor = successor
            previous, source = locked, self.origin.source
            transaction.on_commit(
                lambda: send_safely(
                    session_restarted, PaymentSession, session=successor, previous=previous, source=source
                )
            )
            return RestartOutcome.CREATED, ""
        if isinstance(answer.value, FlinksUnavailable):
            record_ambiguous(self.creation, answer.value, source=self.origin.source)
        outcome = RestartOutcome.REFUSED if answer.reply is Reply.REFUSED else RestartOutcome.FAILED
        return outcome, answer.error


def _parameters(session: PaymentSession, overrides: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {
        "amount": session.amount,
        "reference_id": session.reference_id,
        "product": session.product,
        "account": session.account,
        "owner": session.owner,
        "metadata": session.metadata,
        "recovery_consent": session.recovery_consent,
        **{
            key: session.start_params[key]
            for key in ("payor", "payee", "options")
            if key in session.start_params
        },
    }
    params.update(overrides)
    if "payor" not in params:
        raise RestartRefused("this session was created without stored payor details: pass payor=")
    return params
