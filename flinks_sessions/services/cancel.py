"""Cancelling a session: exactly one upstream call and one stored transition, however many triggers race.

The protocol (DESIGN.md, "The one rule"):

1. *Claim*: in a short durable transaction, lock the row, re-check it, record the intent and a claim token.
   A second caller sees the live claim and backs off; a claim older than :func:`claim_ttl` (its worker died)
   may be taken over.
2. *Call*: ``POST /cancel`` with no lock held and no transaction open.
3. *Finish*: in a new locked transaction, store what Flinks answered and release the claim.

:mod:`~flinks_sessions.services.cancel_many` runs the same three steps over batches of sessions, sharing
:func:`call_flinks` and, for anything but a plain Cancelled, :func:`store_answer`.
"""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, cast

from django.db import connections, router, transaction
from django.db.models import Field, Q
from django.utils import timezone

from flinks_sessions.client import FlinksClient, RemoteStatus, get_client
from flinks_sessions.conf import get_settings
from flinks_sessions.exceptions import FlinksAlreadyTerminal, FlinksError, FlinksNotFound
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services.transitions import (
    ApplyOutcome,
    apply_locked,
    audit_event,
    check_source,
    copy_state,
    decide,
    lock,
    mark_not_found,
    transition_changes,
    write_transition,
)
from flinks_sessions.status import TERMINAL_STATUSES, Status

logger = logging.getLogger("flinks_sessions.services")

OPEN_STATUSES = tuple(status for status in Status if status not in TERMINAL_STATUSES)


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"  # this call ended the session at Flinks
    ALREADY_TERMINAL = "already_terminal"  # it had ended already (here or at Flinks); the truth is stored
    NOT_FOUND = "not_found"  # Flinks does not know it; marked, nothing else changed
    FAILED = "failed"  # a failure outlived the retries; recorded for flinks_cancel_sessions --retry-failed
    PENDING = "pending"  # another worker holds the claim and is cancelling it right now


@dataclass(frozen=True)
class CancelResult:
    outcome: CancelOutcome
    session: PaymentSession
    error: str = ""

    @property
    def ok(self) -> bool:
        """Whether the session is (or is being) dealt with: only FAILED asks for another try."""
        return self.outcome is not CancelOutcome.FAILED


def claim_ttl() -> timedelta:
    """How long a claim protects a cancel in flight: the worst case of one call with all its retries.

    After that, the worker holding it is presumed dead (killed mid-call) and another may take the claim over.
    ``CANCEL_CLAIM_TTL`` overrides the computed value; set it above your worst-case call time.
    """
    settings = get_settings()
    if settings.cancel_claim_ttl is not None:
        return timedelta(seconds=settings.cancel_claim_ttl)
    per_try = settings.connect_timeout + settings.read_timeout
    retry = settings.retry
    backoff = sum(min(retry.backoff_max, retry.backoff * 2**n) for n in range(retry.attempts))
    return timedelta(seconds=max(60.0, 2 * (per_try * (retry.attempts + 1) + backoff)))


def cancel_session(
    session: PaymentSession, *, source: str, reason: str = "", actor: Any = None
) -> CancelResult:
    """Cancel at Flinks now and store the outcome. Must not run inside ``atomic()`` (it makes an HTTP call)."""
    check_source(source)
    claim, early = _claim(session, source=source, reason=reason, actor=actor)
    if early is not None:
        return early
    answer = call_flinks(get_client(session.account), str(session.session_id))
    return store_answer(session, claim, answer, source=source, actor=actor, reason=reason)


class AnswerKind(StrEnum):
    CANCELLED = "cancelled"  # /cancel answered with the session's new state
    ENDED = "ended"  # /cancel said 400 (it had ended upstream); ``remote`` is what /status said
    NOT_FOUND = "not_found"  # Flinks does not know the session
    FAILED = "failed"  # a failure outlived the client's retries


@dataclass(frozen=True)
class Answer:
    """What Flinks said to one cancel: the HTTP half of the protocol, which holds no lock or transaction."""

    kind: AnswerKind
    remote: RemoteStatus | None = None
    error: Exception | None = None


def call_flinks(client: FlinksClient, session_id: str) -> Answer:
    """``POST /cancel`` (and ``GET /status`` after a 400). HTTP only: safe in any thread, no database."""
    try:
        return Answer(AnswerKind.CANCELLED, client.cancel_session(session_id))
    except FlinksAlreadyTerminal:
        # Flinks says 400: it ended on its own. Store the truth rather than an error (REFERENCE.md).
        try:
            return Answer(AnswerKind.ENDED, client.get_status(session_id))
        except FlinksError as exc:
            return Answer(AnswerKind.FAILED, error=exc)
    except FlinksNotFound as exc:
        return Answer(AnswerKind.NOT_FOUND, error=exc)
    except FlinksError as exc:
        return Answer(AnswerKind.FAILED, error=exc)


def store_answer(
    session: PaymentSession, claim: uuid.UUID, answer: Answer, *, source: str, actor: Any, reason: str
) -> CancelResult:
    """The finish, one row at a time: store what Flinks answered and release ``claim``."""
    if answer.kind is AnswerKind.CANCELLED or answer.kind is AnswerKind.ENDED:
        assert answer.remote is not None  # noqa: S101 - both kinds carry the remote state
        ours = answer.kind is AnswerKind.CANCELLED
        return _finish(session, claim, answer.remote, source=source, actor=actor, reason=reason, ours=ours)
    error = answer.error or FlinksError("no answer from Flinks")
    if answer.kind is AnswerKind.NOT_FOUND:
        return _finish_not_found(session, claim, source=source, actor=actor, error=error)
    return _finish_failed(session, claim, source=source, actor=actor, error=error)


def _claim(
    session: PaymentSession, *, source: str, reason: str, actor: Any
) -> tuple[uuid.UUID, CancelResult | None]:
    """Take the claim with one conditional UPDATE; only when it fails is the row read to say why.

    The first asker's intent is kept (a beacon's intent picked up by the sweep still says "beacon"): the intent
    columns are written only on a row that has none, which the WHERE clause checks.
    """
    now = timezone.now()
    claim = uuid.uuid4()
    claimable = Q(cancel_claimed_at__isnull=True) | Q(cancel_claimed_at__lt=now - claim_ttl())
    claimed = 0
    for fresh in (False, True):
        if fresh:  # the caller's copy was out of date (someone asked meanwhile): read it and try once more
            session.refresh_from_db()
        changes: dict[str, Any] = {"cancel_claim": claim, "cancel_claimed_at": now, "updated_at": now}
        intent = session.cancel_requested_at is None
        if intent:
            changes.update(cancel_requested_at=now, cancel_source=source, cancel_reason=reason[:255])
        with transaction.atomic(durable=True):
            claimed = PaymentSession.objects.filter(
                claimable,
                pk=session.pk,
                session_id__isnull=False,
                not_found_at__isnull=True,
                status__in=OPEN_STATUSES,
                cancel_requested_at__isnull=intent,
            ).update(**changes)
            if claimed:
                audit_event(
                    session, SessionEvent.Kind.CANCEL_ATTEMPT, source=source, actor=actor, reason=reason
                ).save()
        if claimed:
            for name, value in changes.items():
                setattr(session, name, value)
            return claim, None
    return claim, unclaimed_result(session)


def unclaimed_result(session: PaymentSession) -> CancelResult:
    """Why a claim failed, read from the stored row: nothing was called and nothing changed."""
    if session.is_terminal:
        return CancelResult(CancelOutcome.ALREADY_TERMINAL, session)
    if session.session_id is None:
        return CancelResult(CancelOutcome.FAILED, session, "the session was never confirmed by Flinks")
    if session.not_found_at is not None:
        return CancelResult(CancelOutcome.NOT_FOUND, session)
    return CancelResult(CancelOutcome.PENDING, session)


def _finish(
    session: PaymentSession,
    claim: uuid.UUID,
    remote: RemoteStatus,
    *,
    source: str,
    actor: Any,
    reason: str,
    ours: bool,
) -> CancelResult:
    now = timezone.now()
    with transaction.atomic(durable=True):
        if not _store_expected_transition(
            session, claim, remote, source=source, actor=actor, reason=reason, now=now
        ):
            locked = lock(session.pk)
            apply_locked(locked, remote, source=source, actor=actor, reason=reason)
            _release(locked, claim, now=now, synced=True)
            copy_state(locked, session)
    if ours and session.status == Status.CANCELLED:
        return CancelResult(CancelOutcome.CANCELLED, session)
    if session.status in TERMINAL_STATUSES:
        return CancelResult(CancelOutcome.ALREADY_TERMINAL, session)
    # Flinks answered but the session is still open (an unknown status): let the sweep look again.
    return CancelResult(CancelOutcome.FAILED, session, f"Flinks reported status {remote.raw_status!r}")


def _store_expected_transition(
    session: PaymentSession,
    claim: uuid.UUID,
    remote: RemoteStatus,
    *,
    source: str,
    actor: Any,
    reason: str,
    now: Any,
) -> bool:
    """The common case in one UPDATE: the row still holds our claim and the state we claimed it in.

    The WHERE clause proves nothing moved since the claim, so the transition decided from the caller's copy
    is the one the locked row would give. Returns ``False`` when anything moved (the caller then locks).
    """
    if (
        remote.status is None
        or decide(session.status, session.status_details, remote) is not ApplyOutcome.APPLIED
    ):
        return False
    changes = {**transition_changes(remote.status, remote, now=now), "last_synced_at": now}
    updated = PaymentSession.objects.filter(
        pk=session.pk, cancel_claim=claim, status=session.status, status_details=session.status_details
    ).update(**changes)
    if not updated:
        return False
    write_transition(
        session, remote.status, remote, source=source, actor=actor, reason=reason, extra=changes, stored=True
    )
    return True


def _finish_not_found(
    session: PaymentSession, claim: uuid.UUID, *, source: str, actor: Any, error: Exception
) -> CancelResult:
    now = timezone.now()
    with transaction.atomic(durable=True):
        locked = lock(session.pk)
        mark_not_found(locked, source=source, reason=str(error), actor=actor, now=now)
        _release(locked, claim, now=now)
    copy_state(locked, session)
    logger.warning("Flinks does not know session %s: %s", session.session_id, error)
    return CancelResult(CancelOutcome.NOT_FOUND, session, str(error))


def _finish_failed(
    session: PaymentSession, claim: uuid.UUID, *, source: str, actor: Any, error: Exception
) -> CancelResult:
    now = timezone.now()
    message = str(error)[:1000]
    with transaction.atomic(durable=True):
        locked = lock(session.pk)
        if not locked.is_terminal:
            locked.attempt_count += 1
            locked.last_error = message
            locked.last_error_at = now
            locked.save(update_fields=["attempt_count", "last_error", "last_error_at", "updated_at"])
            audit_event(
                locked, SessionEvent.Kind.CANCEL_FAILED, source=source, actor=actor, reason=message
            ).save()
        _release(locked, claim, now=now)
    copy_state(locked, session)
    logger.warning("Cancelling Flinks session %s failed: %s", session.session_id, message)
    if locked.is_terminal:
        return CancelResult(CancelOutcome.ALREADY_TERMINAL, session)
    return CancelResult(CancelOutcome.FAILED, session, message)


def _release(locked: PaymentSession, claim: uuid.UUID, *, now: Any, synced: bool = False) -> None:
    """Drop our claim (only ours: a stale claim may have been taken over by another worker)."""
    fields = []
    if locked.cancel_claim == claim:
        locked.cancel_claim = None
        locked.cancel_claimed_at = None
        fields += ["cancel_claim", "cancel_claimed_at"]
    if synced:
        locked.last_synced_at = now
        fields.append("last_synced_at")
    if fields:
        locked.save(update_fields=[*fields, "updated_at"])


def request_cancel(
    session: PaymentSession | uuid.UUID | str,
    *,
    source: str,
    reason: str = "",
    delay: float | None = None,
) -> bool:
    """Record the wish to cancel and hand the call to the task backend after commit; never waits for Flinks.

    ``session`` may be the instance or its Flinks session id (the beacon passes the id, so an accepted beacon
    costs one UPDATE and the task backend's INSERT). Returns ``True`` when this call recorded a new intent and
    enqueued the task, ``False`` when the session is unknown, already terminal, or already asked to cancel (a
    repeated beacon changes nothing). ``delay`` defers the task where the backend supports it (the
    back/forward-cache grace period); :func:`withdraw_cancel` can take the intent back until a worker claims it.
    """
    check_source(source)
    now = timezone.now()
    session_id = str(session.session_id if isinstance(session, PaymentSession) else session)
    if session_id == "None":
        return False
    # One conditional UPDATE is atomic on its own: no explicit transaction, so an accepted beacon costs this
    # statement and the enqueue. Inside a caller's transaction, the enqueue still waits for its commit.
    using = router.db_for_write(PaymentSession)
    if not _record_intent(using, session_id, now=now, source=source, reason=reason[:255]):
        return False
    from flinks_sessions.tasks import enqueue_cancel

    transaction.on_commit(
        lambda: enqueue_cancel(session_id, source=source, reason=reason, delay=delay), using=using
    )
    if isinstance(session, PaymentSession):
        session.cancel_requested_at, session.cancel_source, session.cancel_reason = now, source, reason[:255]
    return True


_INTENT_FIELDS = ("cancel_requested_at", "cancel_source", "cancel_reason", "updated_at")


def _field(name: str) -> Field[Any, Any]:
    return cast("Field[Any, Any]", PaymentSession._meta.get_field(name))  # plain columns, never relations


@functools.cache
def _intent_sql(using: str) -> str:
    """The intent UPDATE for one database, built once: what the ORM's ``filter().update()`` would send."""
    quote = connections[using].ops.quote_name
    column = {name: quote(str(_field(name).column)) for name in (*_INTENT_FIELDS, "session_id", "status")}
    assignments = ", ".join(f"{column[name]} = %s" for name in _INTENT_FIELDS)
    statuses = ", ".join(["%s"] * len(OPEN_STATUSES))
    # Only quoted model identifiers are formatted in; every value is a query parameter.
    return (
        f"UPDATE {quote(PaymentSession._meta.db_table)} SET {assignments}"  # noqa: S608
        f" WHERE {column['session_id']} = %s AND {column['cancel_requested_at']} IS NULL"
        f" AND {column['status']} IN ({statuses})"
    )


def _record_intent(using: str, session_id: str, *, now: Any, source: str, reason: str) -> bool:
    """``filter(session_id=..., cancel_requested_at__isnull=True, status__in=OPEN_STATUSES).update(...)``.

    Written out because it is the beacon's hot path: compiling the queryset cost a measurable share of the
    beacon's CPU (bench/beacon.py), for a statement that never changes. Values are prepared by the model's
    own fields, so every backend gets what the ORM would send (a malformed id still raises
    ``ValidationError``); the row count decides.
    """
    connection = connections[using]
    values = [
        _field(name).get_db_prep_value(value, connection)
        for name, value in zip(_INTENT_FIELDS, (now, source, reason, now), strict=True)
    ]
    values.append(_field("session_id").get_db_prep_value(session_id, connection))
    values.extend(str(status) for status in OPEN_STATUSES)
    with connection.cursor() as cursor:
        cursor.execute(_intent_sql(using), values)
        return bool(cursor.rowcount)


def withdraw_cancel(session: PaymentSession, *, source: str) -> bool:
    """Take back a cancel intent no worker has claimed yet (the shopper came back from the back/forward cache)."""
    check_source(source)
    now = timezone.now()
    with transaction.atomic():
        withdrawn = (
            PaymentSession.objects.filter(
                pk=session.pk, cancel_requested_at__isnull=False, cancel_claim__isnull=True
            )
            .exclude(status__in=TERMINAL_STATUSES)
            .update(cancel_requested_at=None, cancel_source="", cancel_reason="", updated_at=now)
        )
        if withdrawn:
            audit_event(session, SessionEvent.Kind.CANCEL_WITHDRAWN, source=source).save()
            session.cancel_requested_at, session.cancel_source, session.cancel_reason = None, "", ""
    return bool(withdrawn)
