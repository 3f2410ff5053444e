"""Cancelling many sessions at once: the single cancel's guarantees for a fraction of its database work.

:func:`~flinks_sessions.services.cancel_session` spends a few milliseconds of Python per session on its two
transactions, so a sweep over thousands of sessions is bound by that rather than by Flinks.
:func:`cancel_sessions` runs the same protocol (claim, call, finish) over batches:

1. *Claim* a chunk in one durable transaction: one conditional UPDATE over ``pk IN (...)``, with the single
   claim's conditions, sets a claim token unique to the chunk on every row it may take, and the intent
   columns only on rows that have none (the first asker's intent is kept); one SELECT reads the rows back
   (which were taken, and the state they were taken in); one INSERT writes their CANCEL_ATTEMPT rows.
2. *Call* Flinks from a bounded pool of threads that do nothing else: no transaction, no lock, no query.
3. *Finish* in batches. For the common answer (Cancelled) one conditional UPDATE per group of rows taken in
   the same state re-checks the claim and that state, as the single finish does; if any row moved meanwhile,
   the batch is rolled back and each of its answers is stored the single cancel's way (under the row lock).
   Failures, 404s and sessions that had ended upstream always go that way.

Claims and finishes run in two threads of their own, each with one connection, so the pool is fed while a
batch is being stored. A session claimed is a session called: the pool is fed only a little ahead of itself,
and on Ctrl-C (or ``should_stop``) no new session is claimed while every claimed one is called and its outcome
stored, so no claim is left to block a session until :func:`~flinks_sessions.services.claim_ttl` passes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from flinks_sessions.client import FlinksClient, RemoteStatus, get_client
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services.cancel import (
    OPEN_STATUSES,
    Answer,
    AnswerKind,
    CancelOutcome,
    CancelResult,
    call_flinks,
    claim_ttl,
    store_answer,
    unclaimed_result,
)
from flinks_sessions.services.transitions import (
    ApplyOutcome,
    audit_event,
    check_source,
    decide,
    transition_changes,
    write_transitions,
)
from flinks_sessions.status import Status

logger = logging.getLogger("flinks_sessions.services")

CLAIM_CHUNK = 200  # most rows one claim transaction takes (the IN list stays small)
FINISH_BATCH = 100  # most answers one finish transaction stores
FINISH_WAIT = 0.05  # how long (s) an answer may wait for others before it is stored and announced
POLL = 0.2  # how often (s) a waiting thread looks at should_stop

Emit = Callable[[CancelResult], None]


def cancel_sessions(
    sessions: Iterable[PaymentSession],
    *,
    source: str,
    reason: str = "",
    actor: Any = None,
    concurrency: int = 8,
    on_result: Callable[[CancelResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[CancelResult]:
    """Cancel every session at Flinks, ``concurrency`` calls at a time; one result per session, as each ends.

    The guarantees are :func:`cancel_session`'s, and both may race over the same sessions: one upstream call,
    one transition, one audit row and one signal (after commit) per session; a session named twice is
    cancelled once (the second gets PENDING). Each session is updated in place with what the cancel read and
    stored. ``on_result`` runs in the calling thread as results arrive (progress bars).

    ``should_stop`` is polled (from the claiming thread): once true, no new session is claimed; the ones
    already claimed (those in flight, and at most ``concurrency`` claimed ahead) are called and stored, and
    the results so far are returned. Ctrl-C in the calling thread does the same, then raises
    ``KeyboardInterrupt``. Must not run inside ``atomic()``, except in a test case, where the calls are made
    one by one in the calling thread (other threads cannot see the test's uncommitted rows).
    """
    check_source(source)
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    stop = threading.Event()

    def stopping() -> bool:
        return stop.is_set() or (should_stop is not None and should_stop())

    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        results: list[CancelResult] = []

        def emit(result: CancelResult) -> None:
            results.append(result)
            if on_result is not None:
                on_result(result)

        _Batch(sessions, source=source, reason=reason, actor=actor, emit=emit).run_inline(stopping)
        return results

    results_queue: queue.SimpleQueue[CancelResult | None] = queue.SimpleQueue()
    batch = _Batch(sessions, source=source, reason=reason, actor=actor, emit=results_queue.put)
    run = _ThreadedRun(batch, concurrency=concurrency, stopping=stopping)
    failure: list[BaseException] = []

    def coordinate() -> None:
        try:
            run.run()
        except BaseException as exc:  # handed to the calling thread, which raises it
            failure.append(exc)
        finally:
            connections.close_all()  # this thread's connection only
            results_queue.put(None)

    # The database work runs in threads of its own and this thread only reports, so a Ctrl-C (which Python
    # raises in the main thread, wherever it is) never lands between a claim and its call or inside a finish.
    coordinator = threading.Thread(target=coordinate, name="flinks-cancel-finisher", daemon=True)
    coordinator.start()
    results = []
    interrupted = False
    callback_error: Exception | None = None
    while True:
        try:
            _deliver(results_queue, results, on_result if callback_error is None else None)
            break
        except KeyboardInterrupt:
            # Ctrl-C: claim nothing new; what is claimed is called and stored. Further Ctrl-Cs wait too.
            interrupted = True
            stop.set()
        except Exception as exc:  # on_result raised: stop as for Ctrl-C, then raise it
            callback_error = callback_error or exc
            stop.set()
    coordinator.join()
    if failure:
        raise failure[0]
    if callback_error is not None:
        raise callback_error
    if interrupted:
        raise KeyboardInterrupt
    return results


def _deliver(
    results_queue: queue.SimpleQueue[CancelResult | None],
    results: list[CancelResult],
    on_result: Callable[[CancelResult], None] | None,
) -> None:
    while True:
        try:
            # A timeout, so that Ctrl-C is noticed even while every call waits on Flinks.
            result = results_queue.get(timeout=0.5)
        except queue.Empty:
            continue
        if result is None:
            return
        results.append(result)
        if on_result is not None:
            on_result(result)


class _Moved(Exception):
    """A row of a finish batch changed since its claim: the batch is rolled back and stored row by row."""


@dataclass(frozen=True)
class _Call:
    """A claimed session on its way to Flinks."""

    session: PaymentSession
    claim: uuid.UUID
    client: FlinksClient


@dataclass(frozen=True)
class _Done:
    call: _Call
    answer: Answer


def _ask(call: _Call) -> Answer:
    """A call's whole job: HTTP only. An unexpected error becomes a recorded failure, not a stranded claim."""
    try:
        return call_flinks(call.client, str(call.session.session_id))
    except Exception as exc:
        logger.exception("Cancelling Flinks session %s raised", call.session.session_id)
        return Answer(AnswerKind.FAILED, error=RuntimeError(f"{type(exc).__name__}: {exc}"))


class _Batch:
    """The database half of a bulk cancel: claiming chunks and storing answers. Emits one result per session."""

    def __init__(
        self, sessions: Iterable[PaymentSession], *, source: str, reason: str, actor: Any, emit: Emit
    ) -> None:
        self.source = source
        self.reason = reason
        self.actor = actor
        self.emit = emit
        self.ttl = claim_ttl()
        self.clients: dict[str, FlinksClient] = {}
        meta = PaymentSession._meta
        # Every column, the primary key first: what a claim reads back into the caller's objects.
        self.fields = (meta.pk.attname, *(f.attname for f in meta.concrete_fields if f is not meta.pk))
        self.todo: deque[PaymentSession] = deque()
        self.skipped: list[CancelResult] = []
        seen: set[int] = set()
        for session in sessions:
            if session.pk is None:
                self.skipped.append(
                    CancelResult(CancelOutcome.FAILED, session, "the session was never saved")
                )
            elif session.pk in seen:  # named twice: this very run is cancelling it
                self.skipped.append(CancelResult(CancelOutcome.PENDING, session))
            else:
                seen.add(session.pk)
                self.todo.append(session)

    def run_inline(self, stopping: Callable[[], bool]) -> None:
        """One session at a time in the calling thread: claim, call, finish."""
        for result in self.skipped:
            self.emit(result)
        while self.todo and not stopping():
            for call in self.claim_next(1):
                self.finish([_Done(call, _ask(call))])

    # --- claim ---------------------------------------------------------------------------------------------

    def claim_next(self, room: int) -> list[_Call]:
        """Claim up to ``room`` of the sessions left; emit the outcome of those that could not be claimed."""
        chunk = [self.todo.popleft() for _ in range(min(room, CLAIM_CHUNK, len(self.todo)))]
        try:
            claimed, early = self._claim(chunk)
        except Exception as exc:  # the transaction rolled back: nothing was claimed, each one failed
            logger.exception("Could not claim %d sessions to cancel", len(chunk))
            error = f"{type(exc).__name__}: {exc}"
            claimed, early = [], [CancelResult(CancelOutcome.FAILED, session, error) for session in chunk]
        for result in early:
            self.emit(result)
        return claimed

    def _claim(self, chunk: list[PaymentSession]) -> tuple[list[_Call], list[CancelResult]]:
        """One transaction: the conditional UPDATE, one SELECT of the rows, one INSERT of the attempts."""
        now = timezone.now()
        claim = uuid.uuid4()
        by_pk = {session.pk: session for session in chunk}
        no_intent = Q(cancel_requested_at__isnull=True)
        claimed: list[_Call] = []
        early: list[CancelResult] = []
        with transaction.atomic(durable=True):
            PaymentSession.objects.filter(
                Q(cancel_claimed_at__isnull=True) | Q(cancel_claimed_at__lt=now - self.ttl),
                pk__in=list(by_pk),
                session_id__isnull=False,
                not_found_at__isnull=True,
                status__in=OPEN_STATUSES,
            ).update(
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
            rows = PaymentSession.objects.filter(pk__in=list(by_pk)).order_by().values_list(*self.fields)
            for row in rows:
                session = by_pk.pop(row[0])
                for name, value in zip(self.fields, row, strict=True):
                    setattr(session, name, value)
                if session.cancel_claim != claim:
                    early.append(unclaimed_result(session))
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
                claimed.append(_Call(session, claim, self._client(session.account)))
            if attempts:
                SessionEvent.objects.bulk_create(attempts)
        gone = "the session no longer exists"
        early.extend(CancelResult(CancelOutcome.FAILED, session, gone) for session in by_pk.values())
        return claimed, early

    def _client(self, account: str) -> FlinksClient:
        client = self.clients.get(account)
        if client is None:
            client = self.clients[account] = get_client(account)
        return client

    # --- finish --------------------------------------------------------------------------------------------

    def finish(self, done: list[_Done]) -> None:
        """Store a batch of answers, the plain cancels together and anything else row by row; emit each."""
        together: dict[tuple[Any, ...], list[_Done]] = {}
        one_by_one: list[_Done] = []
        for item in done:
            session, remote = item.call.session, item.answer.remote
            if (
                item.answer.kind is AnswerKind.CANCELLED
                and remote is not None
                and remote.status == Status.CANCELLED
                and decide(session.status, session.status_details, remote) is ApplyOutcome.APPLIED
            ):
                key = (
                    item.call.claim,
                    session.status,
                    session.status_details,
                    remote.raw_status,
                    remote.status_details,
                )
                together.setdefault(key, []).append(item)
            else:
                one_by_one.append(item)
        if together:
            try:
                stored = self._store_cancelled(together)
            except Exception as exc:
                if not isinstance(exc, _Moved):
                    logger.exception(
                        "Could not store %d cancels together; storing them one by one", len(done)
                    )
                stored = []
                one_by_one.extend(item for items in together.values() for item in items)
            for session in stored:
                self.emit(CancelResult(CancelOutcome.CANCELLED, session))
        for item in one_by_one:
            self.emit(self.store_one(item))

    def _store_cancelled(self, together: dict[tuple[Any, ...], list[_Done]]) -> list[PaymentSession]:
        """One transaction: per group, an UPDATE that proves every row still holds its claim and claimed state."""
        now = timezone.now()
        changed: list[tuple[PaymentSession, Status, RemoteStatus, dict[str, Any]]] = []
        with transaction.atomic(durable=True):
            for (claim, status, details, _raw, _details), items in together.items():
                changes = {
                    **transition_changes(Status.CANCELLED, _remote(items[0]), now=now),
                    "last_synced_at": now,
                }
                updated = PaymentSession.objects.filter(
                    pk__in=[item.call.session.pk for item in items],
                    cancel_claim=claim,
                    status=status,
                    status_details=details,
                ).update(**changes)
                if updated != len(items):
                    raise _Moved  # rolls this transaction back: nothing was written
                changed.extend(
                    (item.call.session, Status.CANCELLED, _remote(item), changes) for item in items
                )
            write_transitions(changed, source=self.source, actor=self.actor, reason=self.reason)
        return [session for session, *_rest in changed]

    def store_one(self, item: _Done) -> CancelResult:
        """The single cancel's finish (row lock when needed)."""
        session = item.call.session
        try:
            return store_answer(
                session,
                item.call.claim,
                item.answer,
                source=self.source,
                actor=self.actor,
                reason=self.reason,
            )
        except Exception as exc:  # the claim stays until claim_ttl(); the sweep picks the session up then
            logger.exception("Could not store the cancel of Flinks session %s", session.session_id)
            return CancelResult(CancelOutcome.FAILED, session, f"{type(exc).__name__}: {exc}")


def _remote(item: _Done) -> RemoteStatus:
    remote = item.answer.remote
    assert remote is not None  # noqa: S101 - only answers that carry Flinks' state are stored together
    return remote


class _ThreadedRun:
    """Three roles: a claimer thread feeds the call pool, the pool calls Flinks, this thread stores answers.

    ``outstanding`` counts sessions claimed and not answered yet. The claimer keeps it at most ``room``, twice
    the pool (a pool's worth claimed ahead, so calls never wait for a claim transaction even when the database
    is slow), and claims in steps of at least half the pool, so that a claim's cost is shared by many
    sessions. Those claimed ahead are what may still be called after Ctrl-C: at most ``concurrency``.
    """

    def __init__(self, batch: _Batch, *, concurrency: int, stopping: Callable[[], bool]) -> None:
        self.batch = batch
        self.room = 2 * concurrency
        self.step = max(1, concurrency // 2)
        self.size = min(concurrency, max(1, len(batch.todo)))
        self.halt = threading.Event()  # set when storing fails unexpectedly
        self.stopping = lambda: self.halt.is_set() or stopping()
        self.changed = threading.Condition()
        self.outstanding = 0
        self.claimed = 0
        self.claiming = True
        self.calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self.answers: queue.SimpleQueue[_Done] = queue.SimpleQueue()
        self.answered = 0  # answers the finisher has taken
        self.done: list[_Done] = []  # taken and not stored yet

    def run(self) -> None:
        for result in self.batch.skipped:
            self.batch.emit(result)
        workers = [
            threading.Thread(target=self._call_loop, name=f"flinks-cancel-{n}", daemon=True)
            for n in range(self.size)
        ]
        claimer = threading.Thread(target=self._claim_loop, name="flinks-cancel-claimer", daemon=True)
        for thread in [*workers, claimer]:
            thread.start()
        try:
            self._finish_loop()
        except BaseException:
            self.halt.set()
            self._salvage()
            raise
        finally:
            claimer.join()
            for _worker in workers:
                self.calls.put(None)
            for worker in workers:
                worker.join()

    # --- the claimer ---------------------------------------------------------------------------------------

    def _claim_loop(self) -> None:
        try:
            while self.batch.todo and not self.stopping():
                with self.changed:
                    while self.outstanding > self.room - self.step and not self.stopping():
                        self.changed.wait(POLL)
                    room = self.room - self.outstanding
                if self.stopping():
                    break
                calls = self.batch.claim_next(room)
                with self.changed:
                    self.outstanding += len(calls)
                    self.claimed += len(calls)
                for call in calls:
                    self.calls.put(call)
        except BaseException:
            logger.exception("The cancel claimer stopped")
        finally:
            with self.changed:
                self.claiming = False
            connections.close_all()  # this thread's connection only

    # --- the pool ------------------------------------------------------------------------------------------

    def _call_loop(self) -> None:
        while (call := self.calls.get()) is not None:
            self.answers.put(_Done(call, _ask(call)))
            with self.changed:
                self.outstanding -= 1
                self.changed.notify()

    # --- the finisher --------------------------------------------------------------------------------------

    def _all_answered(self) -> bool:
        with self.changed:
            return not self.claiming and self.answered == self.claimed

    def _collect(self, timeout: float) -> list[_Done]:
        try:
            got = [self.answers.get(timeout=timeout) if timeout > 0 else self.answers.get_nowait()]
        except queue.Empty:
            return []
        while True:
            try:
                got.append(self.answers.get_nowait())
            except queue.Empty:
                return got

    def _finish_loop(self) -> None:
        first_at = 0.0
        while True:
            now = time.monotonic()
            if self.done and (
                len(self.done) >= FINISH_BATCH or now - first_at >= FINISH_WAIT or self._all_answered()
            ):
                done, self.done = self.done, []
                self.batch.finish(done)
                continue
            if not self.done and self._all_answered():
                return
            got = self._collect(POLL if not self.done else first_at + FINISH_WAIT - now)
            if got:
                if not self.done:
                    first_at = time.monotonic()
                self.done.extend(got)
                self.answered += len(got)

    def _salvage(self) -> None:
        """After an unexpected error in the finisher: wait for every claimed call and store it row by row."""
        deadline = time.monotonic() + self.batch.ttl.total_seconds()
        while True:
            done, self.done = self.done, []
            for item in done:
                self.batch.emit(self.batch.store_one(item))
            if self._all_answered() or time.monotonic() > deadline:
                return
            got = self._collect(POLL)
            self.done.extend(got)
            self.answered += len(got)
