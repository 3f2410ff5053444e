"""Applying a status Flinks reported to a stored session: the state machine's one write path."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.utils import timezone

from flinks_sessions.client import RemoteStatus
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.signals import SOURCES, send_safely, session_cancelled, session_status_changed
from flinks_sessions.status import Status, is_allowed_transition, is_terminal

logger = logging.getLogger("flinks_sessions.services")


class ApplyOutcome(StrEnum):
    APPLIED = "applied"  # the session changed state; one event stored, signals sent after commit
    DUPLICATE = "duplicate"  # the session already holds this state: nothing stored, nothing sent
    STALE = "stale"  # the session is in a terminal state this report cannot undo
    UNKNOWN_STATUS = "unknown_status"  # Flinks sent a value we do not know: kept raw, nothing changed


@dataclass(frozen=True)
class ApplyResult:
    outcome: ApplyOutcome
    session: PaymentSession
    previous_status: str

    @property
    def changed(self) -> bool:
        return self.outcome is ApplyOutcome.APPLIED


def check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")


def lock(session_pk: int) -> PaymentSession:
    """The session row, locked until the surrounding transaction ends (a no-op on SQLite)."""
    return PaymentSession.objects.select_for_update().get(pk=session_pk)


def apply_remote_status(
    session: PaymentSession,
    remote: RemoteStatus,
    *,
    source: str,
    actor: Any = None,
    reason: str = "",
) -> ApplyResult:
    """Store what Flinks says, if it is a real and allowed change; a duplicate or a late report changes nothing.

    Safe inside a caller's transaction (no HTTP here). ``session`` is refreshed with the stored state.
    """
    check_source(source)
    with transaction.atomic():
        locked = lock(session.pk)
        result = apply_locked(locked, remote, source=source, actor=actor, reason=reason)
    _copy_state(locked, session)
    return ApplyResult(result.outcome, session, result.previous_status)


def apply_locked(
    locked: PaymentSession, remote: RemoteStatus, *, source: str, actor: Any = None, reason: str = ""
) -> ApplyResult:
    """The body of :func:`apply_remote_status` for callers that already hold the row lock."""
    previous = locked.status
    if remote.status is None:
        if remote.raw_status and remote.raw_status != locked.remote_status and not is_terminal(previous):
            locked.remote_status = remote.raw_status[:40]
            locked.save(update_fields=["remote_status", "updated_at"])
        return ApplyResult(ApplyOutcome.UNKNOWN_STATUS, locked, previous)
    if not is_allowed_transition(previous, locked.status_details, remote.status, remote.status_details):
        if remote.status == previous and (remote.status_details or "") in ("", locked.status_details):
            return ApplyResult(ApplyOutcome.DUPLICATE, locked, previous)
        if remote.status == previous and not is_terminal(previous):
            return ApplyResult(ApplyOutcome.DUPLICATE, locked, previous)
        return ApplyResult(ApplyOutcome.STALE, locked, previous)
    transition(locked, remote.status, remote, source=source, actor=actor, reason=reason)
    return ApplyResult(ApplyOutcome.APPLIED, locked, previous)


def transition(
    locked: PaymentSession,
    new_status: Status,
    remote: RemoteStatus,
    *,
    source: str,
    actor: Any = None,
    reason: str = "",
) -> None:
    """Write the change, its audit row, and queue its signals for after commit. The row must be locked."""
    now = timezone.now()
    previous = locked.status
    locked.status = new_status
    locked.remote_status = remote.raw_status[:40]
    locked.status_details = (remote.status_details or "")[:20]
    fields = ["status", "remote_status", "status_details", "updated_at"]
    if is_terminal(new_status):
        locked.cancel_claim = None
        locked.cancel_claimed_at = None
        fields += ["cancel_claim", "cancel_claimed_at"]
    if new_status == Status.CANCELLED:
        locked.cancelled_at = now
        fields.append("cancelled_at")
    locked.save(update_fields=fields)
    SessionEvent.objects.create(
        session=locked,
        kind=SessionEvent.Kind.TRANSITION,
        from_status=previous,
        to_status=new_status,
        status_details=locked.status_details,
        source=source,
        actor=actor if getattr(actor, "pk", None) else None,
        reason=reason[:255],
        payload=dict(remote.payload),
    )
    logger.info(
        "Flinks session %s: %s -> %s (%s) via %s",
        locked.session_id,
        previous,
        new_status,
        locked.status_details,
        source,
    )
    # Who asked for a cancel is the more useful source for session_cancelled: a beacon's cancel confirmed
    # by Flinks' webhook is still the shopper leaving.
    cancel_source = locked.cancel_source or source
    cancel_reason = locked.cancel_reason or reason
    snapshot = locked

    def announce() -> None:
        send_safely(
            session_status_changed,
            PaymentSession,
            session=snapshot,
            previous_status=previous,
            status=new_status,
            source=source,
        )
        if new_status == Status.CANCELLED:
            send_safely(
                session_cancelled,
                PaymentSession,
                session=snapshot,
                source=cancel_source,
                reason=cancel_reason,
            )

    transaction.on_commit(announce)


def _copy_state(source: PaymentSession, target: PaymentSession) -> None:
    """Give the caller's instance the stored state without another query."""
    if source is target:
        return
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
