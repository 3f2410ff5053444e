"""Announcing stored audit rows: signals sent from the row, at least once, in stored order per session.

A transition is stored with its audit row (``SessionEvent``) in ``announcement = pending`` (in the INSERT that
happens anyway). After commit, :func:`send_after_commit` sends the row's signals and marks every row whose
receivers all returned ``announced`` in one UPDATE; a receiver that raises leaves its row ``failing`` with a
backoff, and holds back the session's later announcements (``PaymentSession.announcements_held``). A worker
that dies between commit and send leaves the row pending. :func:`announce_pending` (``flinks_announce_pending``,
``tasks.announce_pending_task``) finishes the job: per session, in stored order, under a claim with a TTL so two
sweeps never send the same row at the same time. Each signal carries ``event_id`` (the row's id, the same on
every attempt) and ``attempt``: a receiver that deduplicates on ``event_id`` handles each transition once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import connections, transaction
from django.db.models import CharField, Exists, OuterRef, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from flinks_sessions import metrics
from flinks_sessions.models import Announcement, PaymentSession, SessionEvent
from flinks_sessions.signals import amount_reduced, send_safely, session_cancelled, session_status_changed
from flinks_sessions.status import Status

logger = logging.getLogger("flinks_sessions.services")

# A pending row this old lost its worker (the after-commit send takes milliseconds): the sweep sends it.
GRACE = timedelta(minutes=1)
# A sweep that holds a session's rows longer than this died or stalled: another sweep may take them.
CLAIM_TTL = timedelta(minutes=5)
# Failing rows wait 30 s, 1 min, 2 min, ... up to an hour before the next automatic try.
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)

ANNOUNCED_KINDS = (SessionEvent.Kind.TRANSITION, SessionEvent.Kind.AMOUNT_REDUCED)


def backoff(attempt: int) -> timedelta:
    """How long a row that failed its ``attempt``-th try waits for the next one."""
    return min(BACKOFF_FIRST * 2 ** min(attempt - 1, 16), BACKOFF_MAX)


def send(session: PaymentSession, event: SessionEvent, *, attempt: int) -> str:
    """Send the signals ``event`` announces; the receivers' errors, joined ("" when every receiver returned)."""
    common: dict[str, Any] = {"session": session, "event_id": event.pk, "attempt": attempt}
    errors: list[Exception] = []
    if event.kind == SessionEvent.Kind.AMOUNT_REDUCED:
        errors += send_safely(
            amount_reduced,
            PaymentSession,
            requested=Decimal(event.payload["requested"]),
            settled=Decimal(event.payload["settled"]),
            source=event.source,
            **common,
        )
    else:
        errors += send_safely(
            session_status_changed,
            PaymentSession,
            previous_status=event.from_status,
            status=event.to_status,
            source=event.source,
            **common,
        )
        if event.to_status == Status.CANCELLED:
            # Who asked for the cancel is the more useful source: a beacon's cancel confirmed by Flinks' webhook
            # is still the shopper leaving.
            errors += send_safely(
                session_cancelled,
                PaymentSession,
                source=session.cancel_source or event.source,
                reason=session.cancel_reason or event.reason,
                **common,
            )
    if errors:
        metrics.ANNOUNCEMENT_FAILURES.labels(kind=event.kind).inc()
    return "; ".join(f"{type(error).__name__}: {error}" for error in errors)[:1000]


def send_after_commit(announced: Sequence[tuple[PaymentSession, SessionEvent]]) -> None:
    """Queue the announcement of stored rows for after commit (each row saved as ``pending``)."""
    transaction.on_commit(lambda: send_stored(announced))


def send_stored(announced: Sequence[tuple[PaymentSession, SessionEvent]]) -> None:
    """The after-commit step: send each row's signals, then mark those every receiver took, in one UPDATE.

    A session whose earlier announcement is failing keeps its new rows pending: the sweep sends them in order.
    """
    done: list[int] = []
    failed: set[int] = set()
    for session, event in announced:
        if session.announcements_held or session.pk in failed:
            continue
        error = send(session, event, attempt=1)
        if error:
            failed.add(session.pk)
            mark_failing(event, error, attempt=1)
            PaymentSession.objects.filter(pk=session.pk).update(announcements_held=True)
        else:
            done.append(event.pk)
    if done:
        rows = SessionEvent.objects.filter(pk__in=done, announcement=Announcement.PENDING)
        no_flush(rows).update(announcement=Announcement.ANNOUNCED, announce_attempts=1)


def no_flush(rows: QuerySet[SessionEvent]) -> QuerySet[SessionEvent]:
    """``rows`` for an UPDATE whose commit need not wait for the disk (PostgreSQL, outside ``atomic()``).

    The mark that a row was announced is the one write of the protocol whose loss is harmless: a row still
    pending after a crash is sent again by the sweep, which the guarantee allows anyway (at least once; the
    receivers deduplicate on ``event_id``). So it commits with ``synchronous_commit`` off, set for its own
    transaction in the same statement, and saves a wait for the disk per announcement. Inside a caller's
    transaction it would apply to the caller's writes too, so there it is left alone.
    """
    connection = connections[rows.db]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return rows
    setting = RawSQL("set_config('synchronous_commit', 'off', true)", (), output_field=CharField())
    return rows.alias(no_flush=setting).filter(no_flush__isnull=False)


def mark_failing(event: SessionEvent, error: str, *, attempt: int, claim: uuid.UUID | None = None) -> None:
    now = timezone.now()
    SessionEvent.objects.filter(pk=event.pk, announce_claim=claim).update(
        announcement=Announcement.FAILING,
        announce_attempts=attempt,
        announce_error=error,
        announce_next_at=now + backoff(attempt),
        announce_claim=None,
        announce_claimed_at=None,
    )
    logger.warning(
        "Flinks session %s: announcing event %s failed (attempt %s); retried from %s",
        event.session_id, event.pk, attempt, now + backoff(attempt),
    )  # fmt: skip


@dataclass
class AnnounceSummary:
    """What a sweep did: rows announced, rows failing again, sessions another sweep held."""

    announced: int = 0
    failed: int = 0
    busy: int = 0


def announce_pending(
    *, at: Any = None, grace: timedelta = GRACE, ignore_backoff: bool = False, limit: int | None = None
) -> AnnounceSummary:
    """Send what is owed: sessions with a row pending past ``grace`` or failing and due (any failing one with
    ``ignore_backoff``), each session's rows in stored order, stopping at the first that fails again."""
    now = at or timezone.now()
    due = SessionEvent.objects.due(now=now, grace=grace.total_seconds(), ignore_backoff=ignore_backoff)
    sessions = due.order_by("session_id").values_list("session_id", flat=True).distinct()
    summary = AnnounceSummary()
    for session_pk in list(sessions[:limit] if limit else sessions):
        announce_session(session_pk, now=now, grace=grace, ignore_backoff=ignore_backoff, summary=summary)
    return summary


def announce_session(
    session_pk: int, *, now: Any, grace: timedelta, ignore_backoff: bool, summary: AnnounceSummary
) -> None:
    """One session's owed rows, in order, under a claim on all of them (or none: another sweep has them)."""
    owed = list(SessionEvent.objects.filter(session_id=session_pk).unannounced().values_list("pk", flat=True))
    if not owed:
        return
    claim = uuid.uuid4()
    taken = (
        SessionEvent.objects.filter(pk__in=owed)
        .unannounced()
        .unclaimed(stale_before=timezone.now() - CLAIM_TTL)
        .update(announce_claim=claim, announce_claimed_at=timezone.now())
    )
    try:
        if taken != len(owed):
            summary.busy += 1
            return
        session = PaymentSession.objects.get(pk=session_pk)
        rows = SessionEvent.objects.filter(announce_claim=claim).order_by("pk")
        for event in rows:
            if not is_due(event, now=now, grace=grace, ignore_backoff=ignore_backoff):
                return  # it and the rows after it wait (stored order)
            attempt = event.announce_attempts + 1
            error = send(session, event, attempt=attempt)
            if error:
                summary.failed += 1
                mark_failing(event, error, attempt=attempt, claim=claim)
                return
            summary.announced += 1
            SessionEvent.objects.filter(pk=event.pk, announce_claim=claim).update(
                announcement=Announcement.ANNOUNCED,
                announce_attempts=attempt,
                announce_error="",
                announce_next_at=None,
                announce_claim=None,
                announce_claimed_at=None,
            )
        release_hold(session_pk)
    finally:
        SessionEvent.objects.filter(announce_claim=claim).update(
            announce_claim=None, announce_claimed_at=None
        )


def is_due(event: SessionEvent, *, now: Any, grace: timedelta, ignore_backoff: bool) -> bool:
    if event.announcement == Announcement.PENDING:
        return event.created_at < now - grace
    return ignore_backoff or event.announce_next_at is None or event.announce_next_at <= now


def release_hold(session_pk: int) -> None:
    """The session owes nothing any more: its next transitions are announced right after their commit again."""
    owed = SessionEvent.objects.filter(session_id=OuterRef("pk")).unannounced()
    PaymentSession.objects.filter(pk=session_pk, announcements_held=True).exclude(Exists(owed)).update(
        announcements_held=False
    )


def resend(events: Iterable[SessionEvent]) -> AnnounceSummary:
    """The admin's "send again": the chosen rows' sessions, every owed row now (an operator asked for it)."""
    summary = AnnounceSummary()
    for session_pk in sorted({event.session_id for event in events}):
        announce_session(
            session_pk, now=timezone.now(), grace=timedelta(0), ignore_backoff=True, summary=summary
        )
    return summary
