"""The cancel engine: one upstream call and one stored transition per session, however many triggers race.

The protocol (``docs/architecture.md``, "The claim protocol"), the same for one session and for many:

1. *Claim*, in one short durable transaction: one conditional UPDATE takes every session of a chunk that is
   open and has no live claim, setting a claim token and, on rows that have none, the cancel intent (the first
   asker's intent is kept); one SELECT reads the rows back (which were taken, in which state); one INSERT
   writes their CANCEL_ATTEMPT rows. A session someone else is cancelling answers PENDING. A claim older than
   :func:`claim_ttl` (its worker died or stalled) may be taken over. The client is had before any claim, per
   account: an account that is not configured fails its own sessions and claims nothing.
2. *Call*, with no transaction open and no lock held: ``POST /cancel`` (and ``GET /status`` after a 400).
   Every exception, typed or not, becomes a failed answer: nothing can leave a claim behind.
3. *Finish*. The common answer (a terminal state, reached from the state the row was claimed in) is stored for
   a whole group of rows with one UPDATE whose WHERE clause proves each row still holds our claim and that
   state. Anything else (a row that moved meanwhile, a 404, a failure, an answer that is not terminal) is
   stored row by row under the row lock, through the state machine. Either way the finish releases its own
   claim, and only its own.

:func:`cancel_session` runs the stages in the calling thread; :func:`cancel_sessions` hands them to the one
scheduler (:mod:`~flinks_sessions.services.pipeline`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from flinks_sessions import metrics, tracing
from flinks_sessions.client import FlinksClient, RemoteStatus
from flinks_sessions.conf import get_settings
from flinks_sessions.exceptions import FlinksAlreadyTerminal, FlinksError, FlinksNotFound
from flinks_sessions.log_context import session_extra
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services import pipeline
from flinks_sessions.services.accounts import Clients, describe_error
from flinks_sessions.services.products import read_status
from flinks_sessions.services.transitions import (
    ApplyOutcome,
    apply_locked,
    audit_event,
    check_source,
    copy_state,
    decide,
    lock,
    mark_not_found,
    record_failure,
    transition_changes,
    write_transitions,
)
from flinks_sessions.status import Status, is_terminal

logger = logging.getLogger("flinks_sessions.services")


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"  # this call ended the session at Flinks
    ALREADY_TERMINAL = "already_terminal"  # it had ended already (here or at Flinks); the truth is stored
    NOT_FOUND = "not_found"  # Flinks does not know it; marked, nothing else changed
    FAILED = "failed"  # no answer that ends it: recorded for flinks_cancel_sessions --retry-failed
    PENDING = "pending"  # another worker holds the claim and is cancelling it right now
    WITHDRAWN = "withdrawn"  # asked ``if_requested``, and the intent had been taken back: nothing was called


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
    session: PaymentSession, *, source: str, reason: str = "", actor: Any = None, if_requested: bool = False
) -> CancelResult:
    """Cancel at Flinks now and store the outcome: the engine over one session, in the calling thread.

    ``if_requested`` is for triggers that act on a recorded intent (the beacon's task, the retry sweep): the
    claim then also requires the intent to stand, so a resume that withdrew it after the trigger read it wins
    (WITHDRAWN). Must not run inside ``atomic()``: it makes an HTTP call, which must never wait under a
    caller's row lock (the claim's durable transaction refuses to start there).
    """
    check_source(source)
    engine = _CancelEngine(source=source, reason=reason, actor=actor, if_requested=if_requested)
    with tracing.span("cancel", session_id=session.session_id, **{"flinks_sessions.source": source}) as span:
        result = pipeline.run_one(engine, session)
        span.set_attribute("flinks_sessions.outcome", result.outcome.value)
    return result


def cancel_sessions(
    sessions: Iterable[PaymentSession],
    *,
    source: str,
    reason: str = "",
    actor: Any = None,
    if_requested: bool = False,
    concurrency: int = 8,
    on_result: Callable[[CancelResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[CancelResult]:
    """Cancel every session at Flinks, ``concurrency`` calls at a time; one result per session, as each ends.

    The guarantees are :func:`cancel_session`'s, and both may race over the same sessions: one upstream call,
    one transition, one audit row and one signal (after commit) per session; a session named twice is
    cancelled once (the second gets PENDING); ``if_requested`` as for :func:`cancel_session`. Each session is
    updated in place with what the cancel read and stored. ``on_result`` runs in the calling thread as results
    arrive (progress bars); ``should_stop`` and Ctrl-C stop the run as
    :func:`~flinks_sessions.services.pipeline.run` describes. Must not run inside ``atomic()``, except in a
    test case, where the sessions are cancelled one by one in the calling thread.
    """
    check_source(source)
    engine = _CancelEngine(source=source, reason=reason, actor=actor, if_requested=if_requested)
    return pipeline.run(
        engine, sessions, concurrency=concurrency, on_result=on_result, should_stop=should_stop
    )


class AnswerKind(StrEnum):
    CANCELLED = "cancelled"  # /cancel answered with the session's new state
    ENDED = "ended"  # /cancel said 400 (it had ended upstream); ``remote`` is what /status said
    NOT_FOUND = "not_found"  # Flinks does not know the session
    FAILED = "failed"  # a failure outlived the client's retries, or something unexpected broke the call


@dataclass(frozen=True)
class Answer:
    """What Flinks said to one cancel."""

    kind: AnswerKind
    remote: RemoteStatus | None = None
    error: str = ""


@dataclass(frozen=True)
class _Call:
    """A claimed session on its way to Flinks."""

    session: PaymentSession
    claim: uuid.UUID
    client: FlinksClient


class _Moved(Exception):
    """A row of a finish group changed since its claim: the group is rolled back and stored row by row."""


class _CancelEngine:
    """The three stages of one cancel run (one session or many), for the caller or the scheduler."""

    def __init__(self, *, source: str, reason: str, actor: Any, if_requested: bool) -> None:
        self.source = source
        self.reason = reason
        self.actor = actor
        self.if_requested = if_requested
        self.ttl = claim_ttl()
        self.clients = Clients()
        self.seen: set[int] = set()
        meta = PaymentSession._meta
        # Every column, the primary key first: what a claim reads back into the caller's objects.
        self.fields = (meta.pk.attname, *(f.attname for f in meta.concrete_fields if f is not meta.pk))

    # --- claim ---------------------------------------------------------------------------------------------

    def claim(self, sessions: list[PaymentSession]) -> tuple[list[_Call], list[CancelResult]]:
        early: list[CancelResult] = []
        ready: dict[int, tuple[PaymentSession, FlinksClient]] = {}
        for session in sessions:
            if session.pk is None:
                early.append(CancelResult(CancelOutcome.FAILED, session, "the session was never saved"))
            elif session.pk in self.seen:  # named twice: this very run is cancelling it
                early.append(CancelResult(CancelOutcome.PENDING, session))
            else:
                self.seen.add(session.pk)
                client = self.clients.get(session.account)
                if isinstance(client, FlinksClient):
                    ready[session.pk] = (session, client)
                else:
                    early.append(CancelResult(CancelOutcome.FAILED, session, str(client)))
        if not ready:
            return [], self.report(early)
        claimed, unclaimed = self._take(ready)
        return claimed, self.report(early + unclaimed)

    def _take(
        self, ready: dict[int, tuple[PaymentSession, FlinksClient]]
    ) -> tuple[list[_Call], list[CancelResult]]:
        """One transaction: the conditional UPDATE, one SELECT of the rows, one INSERT of the attempts."""
        now = timezone.now()
        claim = uuid.uuid4()
        no_intent = Q(cancel_requested_at__isnull=True)
        claimed: list[_Call] = []
        early: list[CancelResult] = []
        claimable = (
            PaymentSession.objects.filter(pk__in=list(ready)).open().unclaimed(stale_before=now - self.ttl)
        )
        if self.if_requested:
            claimable = claimable.filter(cancel_requested_at__isnull=False)
        with transaction.atomic(durable=True):
            claimable.update(
                cancel_claim=claim,
                cancel_claimed_at=now,
                updated_at=now,
                cancel_requested_at=Coalesce(F("cancel_requested_at"), Value(now)),
                cancel_source=Case(When(no_intent, then=Value(self.source)), default=F("cancel_source")),
                cancel_reason=Case(
                    When(no_intent, then=Value(self.reason[:255])), default=F("cancel_reason")
                ),
            )
            attempts: list[SessionEvent] = []
            for row in PaymentSession.objects.filter(pk__in=list(ready)).order_by().values_list(*self.fields):
                session, client = ready.pop(row[0])
                for name, value in zip(self.fields, row, strict=True):
                    setattr(session, name, value)
                if session.cancel_claim != claim:
                    early.append(self._unclaimed_result(session))
                    continue
                attempts.append(
                    audit_event(
                        session,
                        SessionEvent.Kind.CANCEL_ATTEMPT,
                        source=self.source,
                        actor=self.actor,
                        reason=self.reason,
                    )
                )
                claimed.append(_Call(session, claim, client))
            if attempts:
                SessionEvent.objects.bulk_create(attempts)
        gone = "the session no longer exists"
        early.extend(CancelResult(CancelOutcome.FAILED, session, gone) for session, _client in ready.values())
        return claimed, early

    def _unclaimed_result(self, session: PaymentSession) -> CancelResult:
        """Why a claim failed, read from the stored row: nothing was called and nothing changed."""
        if session.is_terminal:
            return CancelResult(CancelOutcome.ALREADY_TERMINAL, session)
        if session.session_id is None:
            return CancelResult(CancelOutcome.FAILED, session, "the session was never confirmed by Flinks")
        if session.not_found_at is not None:
            return CancelResult(CancelOutcome.NOT_FOUND, session)
        if self.if_requested and session.cancel_requested_at is None:
            return CancelResult(CancelOutcome.WITHDRAWN, session)
        return CancelResult(CancelOutcome.PENDING, session)

    def claim_failed(self, session: PaymentSession, error: Exception) -> CancelResult:
        [result] = self.report([CancelResult(CancelOutcome.FAILED, session, describe_error(error))])
        return result

    # --- results -------------------------------------------------------------------------------------------

    def report(self, results: list[CancelResult]) -> list[CancelResult]:
        """Count and log each result: every result of a run, one session or many, leaves the engine here.

        A failure (or a session Flinks does not know) is a WARNING with the reason, anything else INFO; each
        record carries the :mod:`~flinks_sessions.log_context` keys, so every cancel can be found by session.
        """
        for result in results:
            outcome = result.outcome.value
            metrics.CANCELS.labels(source=self.source, outcome=outcome).inc()
            extra = session_extra(result.session, source=self.source, outcome=outcome)
            if result.outcome is CancelOutcome.FAILED or result.outcome is CancelOutcome.NOT_FOUND:
                logger.warning(
                    "Cancel of Flinks session %s (%s): %s %s",
                    extra["session_id"], self.source, outcome, result.error, extra=extra,
                )  # fmt: skip
            else:
                logger.info(
                    "Cancel of Flinks session %s (%s): %s",
                    extra["session_id"],
                    self.source,
                    outcome,
                    extra=extra,
                )
        return results

    # --- call ----------------------------------------------------------------------------------------------

    def call(self, call: _Call) -> Answer:
        session_id = str(call.session.session_id)
        try:
            try:
                return Answer(AnswerKind.CANCELLED, call.client.cancel_session(session_id))
            except FlinksAlreadyTerminal:
                # Flinks says 400: it ended on its own. Store the truth rather than an error.
                return Answer(AnswerKind.ENDED, read_status(call.client, session_id, call.session.product))
        except FlinksNotFound as exc:
            return Answer(AnswerKind.NOT_FOUND, error=str(exc))
        except FlinksError as exc:
            return Answer(AnswerKind.FAILED, error=str(exc))
        except Exception as exc:
            logger.exception(
                "Cancelling Flinks session %s raised",
                session_id,
                extra=session_extra(call.session, source=self.source, outcome=CancelOutcome.FAILED),
            )
            return Answer(AnswerKind.FAILED, error=describe_error(exc))

    # --- finish --------------------------------------------------------------------------------------------

    def finish(self, done: list[tuple[_Call, Answer]]) -> list[CancelResult]:
        """Store a batch of answers: the common ones a group per UPDATE, anything else row by row."""
        groups: dict[tuple[Any, ...], list[tuple[_Call, Answer]]] = {}
        one_by_one: list[tuple[_Call, Answer]] = []
        for call, answer in done:
            session, remote = call.session, answer.remote
            if (
                remote is not None
                and remote.status is not None
                and is_terminal(remote.status)
                and decide(session.status, session.status_details, remote) is ApplyOutcome.APPLIED
                # A new amount (a reduced offer) is noted and audited row by row, by apply_locked.
                and (remote.amount is None or remote.amount == session.settled_amount)
            ):
                key = (
                    call.claim,
                    session.status,
                    session.status_details,
                    remote.raw_status,
                    remote.status_details,
                )
                groups.setdefault(key, []).append((call, answer))
            else:
                one_by_one.append((call, answer))
        results: list[CancelResult] = []
        if groups:
            try:
                results = self._store_groups(groups)
            except Exception as exc:
                if not isinstance(exc, _Moved):
                    logger.exception(
                        "Could not store %d cancels together; storing them one by one", len(done)
                    )
                one_by_one.extend(item for items in groups.values() for item in items)
        results.extend(self._store_one(call, answer) for call, answer in one_by_one)
        return self.report(results)

    def _store_groups(self, groups: dict[tuple[Any, ...], list[tuple[_Call, Answer]]]) -> list[CancelResult]:
        """One transaction: per group, an UPDATE that proves every row still holds its claim and claimed state."""
        now = timezone.now()
        changed: list[tuple[PaymentSession, Status, RemoteStatus, dict[str, Any]]] = []
        results: list[CancelResult] = []
        with transaction.atomic(durable=True):
            for (claim, status, details, _raw, _details), items in groups.items():
                remote = _remote(items[0][1])
                assert remote.status is not None  # noqa: S101 - only known terminal states are grouped
                changes = {
                    **transition_changes(remote.status, remote, now=now),
                    "cancel_claim": None,
                    "cancel_claimed_at": None,
                    "last_synced_at": now,
                }
                updated = PaymentSession.objects.filter(
                    pk__in=[call.session.pk for call, _answer in items],
                    cancel_claim=claim,
                    status=status,
                    status_details=details,
                ).update(**changes)
                if updated != len(items):
                    raise _Moved  # rolls this transaction back: nothing was written
                for call, answer in items:
                    changed.append((call.session, remote.status, _remote(answer), changes))
                    ours = answer.kind is AnswerKind.CANCELLED and remote.status == Status.CANCELLED
                    outcome = CancelOutcome.CANCELLED if ours else CancelOutcome.ALREADY_TERMINAL
                    results.append(CancelResult(outcome, call.session))
            write_transitions(changed, source=self.source, actor=self.actor, reason=self.reason)
        return results

    def _store_one(self, call: _Call, answer: Answer) -> CancelResult:
        """Under the row lock: apply what Flinks said, mark or record a failure, release our claim."""
        session = call.session
        now = timezone.now()
        try:
            with transaction.atomic(durable=True):
                locked = lock(session.pk)
                error = answer.error
                if answer.remote is not None:
                    apply_locked(
                        locked, answer.remote, source=self.source, actor=self.actor, reason=self.reason
                    )
                    locked.last_synced_at = now
                    if not locked.is_terminal:
                        error = f"Flinks reported status {answer.remote.raw_status!r}"
                elif answer.kind is AnswerKind.NOT_FOUND:
                    mark_not_found(locked, source=self.source, reason=error, actor=self.actor, now=now)
                if error and answer.kind is not AnswerKind.NOT_FOUND and not locked.is_terminal:
                    record_failure(
                        locked,
                        SessionEvent.Kind.CANCEL_FAILED,
                        error,
                        source=self.source,
                        actor=self.actor,
                        now=now,
                    )
                if locked.cancel_claim == call.claim:  # a stale claim may have been taken over meanwhile
                    locked.cancel_claim = None
                    locked.cancel_claimed_at = None
                locked.save(
                    update_fields=["cancel_claim", "cancel_claimed_at", "last_synced_at", "updated_at"]
                )
            copy_state(locked, session)
        except Exception as exc:  # the claim stays until claim_ttl(); the sweep picks the session up then
            logger.exception(
                "Could not store the cancel of Flinks session %s",
                session.session_id,
                extra=session_extra(session, source=self.source, outcome=CancelOutcome.FAILED),
            )
            return CancelResult(CancelOutcome.FAILED, session, describe_error(exc))
        return self._result(session, answer, error)

    @staticmethod
    def _result(session: PaymentSession, answer: Answer, error: str) -> CancelResult:
        if answer.kind is AnswerKind.NOT_FOUND:
            return CancelResult(CancelOutcome.NOT_FOUND, session, error)
        if answer.kind is AnswerKind.CANCELLED and session.status == Status.CANCELLED:
            return CancelResult(CancelOutcome.CANCELLED, session)
        if session.is_terminal:
            return CancelResult(CancelOutcome.ALREADY_TERMINAL, session)
        return CancelResult(CancelOutcome.FAILED, session, error)


def _remote(answer: Answer) -> RemoteStatus:
    assert answer.remote is not None  # noqa: S101 - only answers that carry Flinks' state are grouped
    return answer.remote
