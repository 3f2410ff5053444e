"""Applying a status Flinks reported to a stored session: the state machine's one write path."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.utils import timezone

from flinks_sessions import metrics
from flinks_sessions.client import RemoteStatus
from flinks_sessions.log_context import session_extra
from flinks_sessions.models import Announcement, PaymentSession, SessionEvent
from flinks_sessions.services.announcements import ANNOUNCED_KINDS, send_after_commit
from flinks_sessions.services.origin import Origin
from flinks_sessions.services.result import Result
from flinks_sessions.status import Status, is_allowed_transition, is_terminal

logger = logging.getLogger("flinks_sessions.services")

# One more than the largest amount the amount columns hold (9 digits, 2 of them decimals).
_MAX_STORED_AMOUNT = Decimal("10000000")


class ApplyOutcome(StrEnum):
    APPLIED = "applied"  # the session changed state; one event stored, signals sent after commit
    DUPLICATE = "duplicate"  # the session already holds this state: nothing stored, nothing sent
    STALE = "stale"  # the session is in a terminal state this report cannot undo
    UNKNOWN_STATUS = "unknown_status"  # Flinks sent a value we do not know: kept raw, nothing changed


def audit_event(
    session: PaymentSession,
    kind: str,
    origin: Origin,
    *,
    reason: str | None = None,
    from_status: str | None = None,
    **fields: Any,
) -> SessionEvent:
    """An unsaved audit row for ``session``: the one place that decides how actor and reason are stored.

    ``reason`` replaces the origin's for a row that carries its own (an error, an amount); ``from_status``
    defaults to the session's current status; an actor without a primary key (an anonymous user, a plain
    string) is not a user row and is stored as none. A kind that announces itself is stored pending
    (``services.announcements``).
    """
    actor = origin.actor
    return SessionEvent(
        announcement=Announcement.PENDING if kind in ANNOUNCED_KINDS else Announcement.NONE,
        session_id=session.pk,
        kind=kind,
        from_status=session.status if from_status is None else from_status,
        source=origin.source,
        actor=actor if getattr(actor, "pk", None) else None,
        reason=(origin.reason if reason is None else reason)[:255],
        **fields,
    )


def lock(session_pk: int) -> PaymentSession:
    """The session row, locked until the surrounding transaction ends (a no-op on SQLite)."""
    return PaymentSession.objects.select_for_update().get(pk=session_pk)


def decide(current: str, current_details: str, remote: RemoteStatus) -> ApplyOutcome:
    """What a report from Flinks means for a session in ``(current, current_details)``; no side effects."""
    if remote.status is None:
        return ApplyOutcome.UNKNOWN_STATUS
    if is_allowed_transition(current, current_details, remote.status, remote.status_details):
        return ApplyOutcome.APPLIED
    # The same state again (dedupe key: status + statusDetails), or new details on an open state.
    same_state = remote.status == current and (
        (remote.status_details or "") in ("", current_details) or not is_terminal(current)
    )
    return ApplyOutcome.DUPLICATE if same_state else ApplyOutcome.STALE


def apply_remote_status(
    session: PaymentSession,
    remote: RemoteStatus,
    *,
    source: str,
    actor: Any = None,
    reason: str = "",
) -> Result[ApplyOutcome]:
    """Store what Flinks says, if it is a real and allowed change; a duplicate or a late report changes nothing.

    Safe inside a caller's transaction (no HTTP here). ``session`` is refreshed with the stored state.
    """
    origin = Origin(source, actor, reason)
    with transaction.atomic():
        locked = lock(session.pk)
        result = apply_locked(locked, remote, origin)
    copy_state(locked, session)
    return Result(result.outcome, session)


def apply_locked(locked: PaymentSession, remote: RemoteStatus, origin: Origin) -> Result[ApplyOutcome]:
    """The body of :func:`apply_remote_status` for callers that already hold the row lock.

    The amount Flinks reports is stored whatever the status means (:func:`note_amount`), in the same UPDATE as
    the transition or the raw status when there is one: one statement for the row, whatever changed.
    """
    previous = locked.status
    track_again(locked, remote, origin)
    now = timezone.now()
    columns: dict[str, Any] = {}
    if note_amount(locked, remote, origin):
        columns.update(settled_amount=locked.settled_amount, updated_at=now)
    outcome = decide(previous, locked.status_details, remote)
    if outcome is ApplyOutcome.UNKNOWN_STATUS:
        if remote.raw_status and remote.raw_status[:40] != locked.remote_status and not is_terminal(previous):
            locked.remote_status = remote.raw_status[:40]
            columns.update(remote_status=locked.remote_status, updated_at=now)
    elif outcome is ApplyOutcome.APPLIED:
        assert remote.status is not None  # noqa: S101 - decide() returned APPLIED
        changes = transition_changes(remote.status, remote, now=now)
        PaymentSession.objects.filter(pk=locked.pk).update(**{**columns, **changes})
        write_transitions([(locked, remote.status, remote, changes)], origin)
        return Result(outcome, locked)
    if columns:
        PaymentSession.objects.filter(pk=locked.pk).update(**columns)
    return Result(outcome, locked)


def track_again(locked: PaymentSession, remote: RemoteStatus, origin: Origin) -> None:
    """Flinks reports a session it once said it did not know: clear the mark, so the sweeps see it again.

    A not-found answer may have been wrong (a replica behind, an account mix-up since fixed); a status from
    Flinks itself, by webhook or by sync, is the better evidence. The row must be locked by the caller.
    """
    if locked.not_found_at is None or remote.status is None:
        return
    locked.not_found_at = None
    PaymentSession.objects.filter(pk=locked.pk).update(not_found_at=None, updated_at=timezone.now())
    logger.info(
        "Flinks session %s, marked unknown to Flinks, was reported %s: tracked again",
        locked.session_id,
        remote.raw_status[:40],
        extra=session_extra(locked, source=origin.source, outcome="tracked_again"),
    )


def note_amount(locked: PaymentSession, remote: RemoteStatus, origin: Origin) -> bool:
    """Store the amount Flinks reports in ``settled_amount``; audit and announce it when below the request.

    With Next Best Offer Flinks may settle less than was asked for, even for a preset amount
    (``docs/flinks-api.md``, "Amounts"). A repeated report of the same amount changes nothing; a terminal
    session keeps the amount it ended with. The row must be locked by the caller. Returns whether it changed:
    the caller writes ``settled_amount`` (:func:`apply_locked`, with the row's other changes).
    """
    settled = remote.amount
    if settled is None or settled == locked.settled_amount:
        return False
    if not Decimal(0) <= settled < _MAX_STORED_AMOUNT:  # no such payment: the column could not hold it
        logger.warning("Flinks session %s: ignoring a reported amount of %s", locked.session_id, settled)
        return False
    if locked.is_terminal and locked.settled_amount is not None:
        return False
    settled = settled.quantize(Decimal("0.01"))
    if settled == locked.settled_amount:
        return False
    locked.settled_amount = settled
    requested = locked.amount
    if requested is not None and settled > requested:
        logger.warning(
            "Flinks session %s: settled amount %s is above the %s requested",
            locked.session_id,
            settled,
            requested,
        )
    if requested is None or settled >= requested:
        return True
    event = audit_event(
        locked,
        SessionEvent.Kind.AMOUNT_REDUCED,
        origin,
        reason=f"Flinks settles {settled} of the {requested} requested",
        payload={"requested": str(requested), "settled": str(settled)},
    )
    event.save()
    logger.info("Flinks session %s: reduced offer, %s of %s requested", locked.session_id, settled, requested)
    send_after_commit([(locked, event)])
    return True


def transition_changes(new_status: Status, remote: RemoteStatus, *, now: Any) -> dict[str, Any]:
    """The columns a transition to ``new_status`` writes."""
    changes: dict[str, Any] = {
        "status": new_status,
        "remote_status": remote.raw_status[:40],
        "status_details": (remote.status_details or "")[:20],
        "updated_at": now,
    }
    if is_terminal(new_status):
        # A terminal state ends any cancel in flight: its claim has nothing left to protect.
        changes["cancel_claim"] = None
        changes["cancel_claimed_at"] = None
    if new_status == Status.CANCELLED:
        changes["cancelled_at"] = now
    return changes


def write_transitions(
    changed: Sequence[tuple[PaymentSession, Status, RemoteStatus, dict[str, Any]]], origin: Origin
) -> None:
    """The audit rows of transitions already written (one INSERT), and their signals queued for after commit.

    Each item is ``(session, new_status, remote, changes)`` whose ``changes`` the caller has written in the
    current transaction, under the row lock or with a conditional UPDATE that proves the row was in
    ``session.status``. Each session is updated in place and is what its signals carry; every session gets its
    own audit row and its own signals, sent after commit in the order given.
    """
    announced: list[tuple[PaymentSession, SessionEvent]] = []
    source = origin.source
    for session, new_status, remote, changes in changed:
        previous = session.status
        for name, value in changes.items():
            setattr(session, name, value)
        event = audit_event(
            session,
            SessionEvent.Kind.TRANSITION,
            origin,
            from_status=previous,
            to_status=new_status,
            status_details=session.status_details,
            payload=dict(remote.payload),
        )
        metrics.TRANSITIONS.labels(from_status=previous, to_status=new_status, source=source).inc()
        logger.info(
            "Flinks session %s: %s -> %s (%s) via %s",
            session.session_id, previous, new_status, session.status_details, source,
            extra=session_extra(session, source=source, outcome=new_status),
        )  # fmt: skip
        announced.append((session, event))
    SessionEvent.objects.bulk_create([event for _, event in announced])
    send_after_commit(announced)


def mark_not_found(locked: PaymentSession, origin: Origin, *, reason: str, now: Any) -> None:
    """Flinks does not know the session: mark it once (the sweeps skip it) and audit it; nothing else changes.

    The row must be locked by the caller.
    """
    if locked.not_found_at is not None or locked.is_terminal:
        return
    locked.not_found_at = now
    locked.save(update_fields=["not_found_at", "updated_at"])
    audit_event(locked, SessionEvent.Kind.NOT_FOUND, origin, reason=reason).save()


def record_failure(locked: PaymentSession, kind: str, error: str, origin: Origin, *, now: Any) -> None:
    """A call to Flinks for this session failed: count it, keep the error, and audit it as ``kind``.

    Every action's failure is counted in ``attempt_count`` and ``last_error``; a failed cancel is also marked
    in ``cancel_failed_at``, the only mark that makes a cancel "failed" (``models.FAILED_CANCEL``). The row
    must be locked by the caller.
    """
    locked.attempt_count += 1
    locked.last_error = error[:1000]
    locked.last_error_at = now
    fields = ["attempt_count", "last_error", "last_error_at", "updated_at"]
    if kind == SessionEvent.Kind.CANCEL_FAILED:
        locked.cancel_failed_at = now
        fields.append("cancel_failed_at")
    locked.save(update_fields=fields)
    audit_event(locked, kind, origin, reason=error).save()


def copy_state(source: PaymentSession, target: PaymentSession) -> None:
    """Give the caller's instance the stored state without another query."""
    if source is target:
        return
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
