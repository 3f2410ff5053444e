"""The cancel: one upstream call and one stored transition per session, however many triggers race.

The claim engine (:mod:`~flinks_sessions.services.engine`) runs it; this module says what is the cancel's own:

- the claim takes an open session, and on a row that has none it also records the cancel intent (the first
  asker's intent is kept); ``if_requested`` also requires the intent to stand. The claim's transaction writes
  the CANCEL_ATTEMPT audit rows. A row not taken answers ``already_terminal``, ``not_found``, ``withdrawn``
  or ``pending``, read from the row.
- the call is ``POST /cancel``, and ``GET /status`` after a 400 (the session had ended upstream).
- the common answer (a terminal state, reached from the state the row was claimed in) is stored for a whole
  group of rows with one UPDATE whose WHERE clause proves each row still holds our claim and that state;
  anything else goes to the engine's locked finish, row by row, through the state machine.

:func:`cancel_session` runs the stages in the calling thread; :func:`cancel_sessions` hands them to the one
scheduler (:mod:`~flinks_sessions.services.pipeline`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from flinks_sessions import metrics, tracing
from flinks_sessions.client import FlinksClient, RemoteStatus
from flinks_sessions.exceptions import FlinksAlreadyTerminal
from flinks_sessions.log_context import session_extra
from flinks_sessions.models import OPEN, PaymentSession, SessionEvent
from flinks_sessions.services import pipeline
from flinks_sessions.services.engine import Action, Answer, Call, Engine, Reply, Result
from flinks_sessions.services.origin import Origin
from flinks_sessions.services.products import read_status
from flinks_sessions.services.transitions import (
    ApplyOutcome,
    apply_locked,
    audit_event,
    decide,
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


def cancel_session(
    session: PaymentSession, *, source: str, reason: str = "", actor: Any = None, if_requested: bool = False
) -> Result[CancelOutcome]:
    """Cancel at Flinks now and store the outcome: the engine over one session, in the calling thread.

    ``if_requested`` is for triggers that act on a recorded intent (the beacon's task, the retry sweep): the
    claim then also requires the intent to stand, so a resume that withdrew it after the trigger read it wins
    (WITHDRAWN). Must not run inside ``atomic()``: it makes an HTTP call, which must never wait under a
    caller's row lock (the claim's durable transaction refuses to start there).
    """
    engine = Engine(_Cancel(Origin(source, actor, reason), if_requested=if_requested))
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
    on_result: Callable[[Result[CancelOutcome]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[Result[CancelOutcome]]:
    """Cancel every session at Flinks, ``concurrency`` calls at a time; one result per session, as each ends.

    The guarantees are :func:`cancel_session`'s, and both may race over the same sessions: one upstream call,
    one transition, one audit row and one signal (after commit) per session; a session named twice is
    cancelled once (the second gets PENDING); ``if_requested`` as for :func:`cancel_session`. Each session is
    updated in place with what the cancel read and stored. ``on_result`` runs in the calling thread as results
    arrive (progress bars); ``should_stop`` and Ctrl-C stop the run as
    :func:`~flinks_sessions.services.pipeline.run` describes. Must not run inside ``atomic()``, except in a
    test case, where the sessions are cancelled one by one in the calling thread.
    """
    engine = Engine(_Cancel(Origin(source, actor, reason), if_requested=if_requested))
    return pipeline.run(
        engine, sessions, concurrency=concurrency, on_result=on_result, should_stop=should_stop
    )


class _Said(NamedTuple):
    """What Flinks said to one cancel: the session's state, and whether /cancel said it (or /status, after a 400)."""

    remote: RemoteStatus
    ours: bool


class _Moved(Exception):
    """A row of a finish group changed since its claim: the group is rolled back and stored row by row."""


class _Cancel(Action[CancelOutcome]):
    """What is the cancel's own in the claim protocol; the engine does the rest."""

    name = "cancel"
    outcomes = CancelOutcome
    failure = SessionEvent.Kind.CANCEL_FAILED
    finish_fields = ("last_synced_at",)

    def __init__(self, origin: Origin, *, if_requested: bool) -> None:
        super().__init__(origin)
        self.if_requested = if_requested

    # --- claim ---------------------------------------------------------------------------------------------

    def claimable(self) -> Q:
        return OPEN & Q(cancel_requested_at__isnull=False) if self.if_requested else OPEN

    def claim_values(self, now: datetime) -> dict[str, Any]:
        no_intent = Q(cancel_requested_at__isnull=True)
        return {
            "cancel_requested_at": Coalesce(F("cancel_requested_at"), Value(now)),
            "cancel_source": Case(
                When(no_intent, then=Value(self.origin.source)), default=F("cancel_source")
            ),
            "cancel_reason": Case(
                When(no_intent, then=Value(self.origin.reason[:255])), default=F("cancel_reason")
            ),
        }

    def claimed(self, sessions: list[PaymentSession]) -> None:
        kind, origin = SessionEvent.Kind.CANCEL_ATTEMPT, self.origin
        SessionEvent.objects.bulk_create([audit_event(session, kind, origin) for session in sessions])

    def why_not(self, session: PaymentSession) -> Result[CancelOutcome]:
        if session.is_terminal:
            return Result(CancelOutcome.ALREADY_TERMINAL, session)
        if session.session_id is None:
            return Result(CancelOutcome.FAILED, session, "the session was never confirmed by Flinks")
        if session.not_found_at is not None:
            return Result(CancelOutcome.NOT_FOUND, session)
        if self.if_requested and session.cancel_requested_at is None:
            return Result(CancelOutcome.WITHDRAWN, session)
        return Result(CancelOutcome.PENDING, session)

    # --- results -------------------------------------------------------------------------------------------

    def report(self, results: list[Result[CancelOutcome]]) -> list[Result[CancelOutcome]]:
        """Count and log each result: every result of a run, one session or many, leaves the engine here.

        A failure (or a session Flinks does not know) is a WARNING with the reason, anything else INFO; each
        record carries the :mod:`~flinks_sessions.log_context` keys, so every cancel can be found by session.
        """
        source = self.origin.source
        for result in results:
            outcome = result.outcome.value
            metrics.CANCELS.labels(source=source, outcome=outcome).inc()
            extra = session_extra(result.session, source=source, outcome=outcome)
            if result.outcome is CancelOutcome.FAILED or result.outcome is CancelOutcome.NOT_FOUND:
                logger.warning(
                    "Cancel of Flinks session %s (%s): %s %s",
                    extra["session_id"], source, outcome, result.error, extra=extra,
                )  # fmt: skip
            else:
                logger.info(
                    "Cancel of Flinks session %s (%s): %s",
                    extra["session_id"],
                    source,
                    outcome,
                    extra=extra,
                )
        return results

    # --- call ----------------------------------------------------------------------------------------------

    def call(self, client: FlinksClient, session: PaymentSession) -> _Said:
        session_id = str(session.session_id)
        try:
            return _Said(client.cancel_session(session_id), ours=True)
        except FlinksAlreadyTerminal:
            # Flinks says 400: it ended on its own. Store the truth rather than an error.
            return _Said(read_status(client, session_id, session.product), ours=False)

    # --- finish --------------------------------------------------------------------------------------------

    def store_many(
        self, done: list[tuple[Call, Answer]]
    ) -> tuple[list[Result[CancelOutcome]], list[tuple[Call, Answer]]]:
        """The common answers a group per UPDATE; the rest is left to the engine's locked finish."""
        groups: dict[tuple[Any, ...], list[tuple[Call, _Said]]] = {}
        one_by_one: list[tuple[Call, Answer]] = []
        for call, answer in done:
            session, said = call.session, answer.value
            if (
                answer.reply is Reply.ANSWERED
                and said.remote.status is not None
                and is_terminal(said.remote.status)
                and decide(session.status, session.status_details, said.remote) is ApplyOutcome.APPLIED
                # A new amount (a reduced offer) is noted and audited row by row, by apply_locked.
                and (said.remote.amount is None or said.remote.amount == session.settled_amount)
            ):
                remote = said.remote
                key = (
                    call.claim,
                    session.status,
                    session.status_details,
                    remote.raw_status,
                    remote.status_details,
                )
                groups.setdefault(key, []).append((call, said))
            else:
                one_by_one.append((call, answer))
        if not groups:
            return [], one_by_one
        try:
            return self._store_groups(groups), one_by_one
        except Exception as exc:
            if not isinstance(exc, _Moved):
                logger.exception("Could not store %d cancels together; storing them one by one", len(done))
            return [], [
                (call, Answer(Reply.ANSWERED, said)) for items in groups.values() for call, said in items
            ] + one_by_one

    def _store_groups(
        self, groups: dict[tuple[Any, ...], list[tuple[Call, _Said]]]
    ) -> list[Result[CancelOutcome]]:
        """One transaction: per group, an UPDATE that proves every row still holds its claim and claimed state."""
        now = timezone.now()
        changed: list[tuple[PaymentSession, Status, RemoteStatus, dict[str, Any]]] = []
        results: list[Result[CancelOutcome]] = []
        with transaction.atomic(durable=True):
            for (claim, status, details, _raw, _details), items in groups.items():
                remote = items[0][1].remote
                assert remote.status is not None  # noqa: S101 - only known terminal states are grouped
                changes = {
                    **transition_changes(remote.status, remote, now=now),
                    "cancel_claim": None,
                    "cancel_claimed_at": None,
                    "last_synced_at": now,
                }
                updated = PaymentSession.objects.filter(
                    pk__in=[call.session.pk for call, _said in items],
                    cancel_claim=claim,
                    status=status,
                    status_details=details,
                ).update(**changes)
                if updated != len(items):
                    raise _Moved  # rolls this transaction back: nothing was written
                for call, said in items:
                    changed.append((call.session, remote.status, said.remote, changes))
                    ours = said.ours and remote.status == Status.CANCELLED
                    outcome = CancelOutcome.CANCELLED if ours else CancelOutcome.ALREADY_TERMINAL
                    results.append(Result(outcome, call.session))
            write_transitions(changed, self.origin)
        return results

    def store(self, locked: PaymentSession, answer: Answer, *, now: datetime) -> tuple[CancelOutcome, str]:
        """Under the row lock: apply what Flinks said; a failure, unless the session ended meanwhile."""
        if answer.reply is Reply.ANSWERED:
            said: _Said = answer.value
            apply_locked(locked, said.remote, self.origin)
            locked.last_synced_at = now
            if not locked.is_terminal:
                return CancelOutcome.FAILED, f"Flinks reported status {said.remote.raw_status!r}"
            ours = said.ours and locked.status == Status.CANCELLED
            return (CancelOutcome.CANCELLED if ours else CancelOutcome.ALREADY_TERMINAL), ""
        if locked.is_terminal:
            return CancelOutcome.ALREADY_TERMINAL, ""
        return CancelOutcome.FAILED, answer.error
