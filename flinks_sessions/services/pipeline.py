"""The one scheduler for work over many sessions: claim ahead, call Flinks in a bounded pool, finish in batches.

Cancelling or syncing a session is a little database work around one or two HTTP calls, so a sweep spends its
time waiting on Flinks; a few threads make it many times faster. The work comes in three stages
(:class:`Stages`): *claim* a chunk of sessions (database), *call* Flinks for one (HTTP only, no transaction,
no lock, no query), *finish* a batch of answers (database). The engine of each job (the cancel, the sync)
supplies the stages; this module only schedules them:

- a claimer thread claims in chunks and keeps the pool fed a little ahead of itself (at most one pool's worth
  claimed and not yet called), so calls never wait for a claim transaction;
- ``concurrency`` threads call Flinks and do nothing else;
- a finisher thread stores answers in batches (up to :data:`FINISH_BATCH`, waiting at most :data:`FINISH_WAIT`
  for company) and hands the results to the calling thread, which only reports them (``on_result``).

Stopping well matters more than speed. Once ``should_stop`` says so, or on Ctrl-C in the calling thread, no new
session is claimed, every claimed one is called and finished (so no claim is left behind), and the results so
far are returned (Ctrl-C is then raised again). Inside ``atomic()`` other connections cannot see the caller's
uncommitted rows, so the stages run one session at a time in the calling thread instead (a test case, or a
caller that chose to). Every thread closes its own database connection when it ends, so a sweep in a
long-lived process (a task worker, the admin) leaks none.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Generic, Protocol, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections

logger = logging.getLogger("flinks_sessions.services")

CLAIM_CHUNK = 200  # most sessions one claim transaction takes (the IN list stays small)
FINISH_BATCH = 100  # most answers one finish transaction stores
FINISH_WAIT = 0.05  # how long (s) an answer may wait for others before it is stored and announced
POLL = 0.2  # how often (s) a waiting thread looks at should_stop

Item = TypeVar("Item")
Claimed = TypeVar("Claimed")
Answer = TypeVar("Answer")
Result = TypeVar("Result")


class Stages(Protocol[Item, Claimed, Answer, Result]):
    """What an engine gives the scheduler. Only ``claim`` may raise; the others turn every failure into a result."""

    def claim(self, items: list[Item]) -> tuple[list[Claimed], list[Result]]:
        """Take what may be worked on; a result for every item that may not (or is not there any more)."""
        ...

    def claim_failed(self, item: Item, error: Exception) -> Result:
        """The result of an item whose claim transaction raised (and so claimed nothing)."""
        ...

    def call(self, claimed: Claimed) -> Answer:
        """Ask Flinks; HTTP only, safe in any thread."""
        ...

    def finish(self, done: list[tuple[Claimed, Answer]]) -> list[Result]:
        """Store the answers, releasing what the claim took; one result per answer."""
        ...


def run(
    stages: Stages[Item, Claimed, Answer, Result],
    items: Iterable[Item],
    *,
    concurrency: int,
    on_result: Callable[[Result], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[Result]:
    """Run the stages over ``items``, at most ``concurrency`` calls at a time; one result per item, as each ends."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    todo: deque[Item] = deque(items)
    stop = threading.Event()

    def stopping() -> bool:
        return stop.is_set() or (should_stop is not None and should_stop())

    results: list[Result] = []
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:

        def emit(result: Result) -> None:
            results.append(result)
            if on_result is not None:
                on_result(result)

        _Run(stages, todo, emit=emit, concurrency=1, stopping=stopping).run_inline()
        return results

    results_queue: queue.SimpleQueue[Result | _End] = queue.SimpleQueue()
    threaded = _Run(stages, todo, emit=results_queue.put, concurrency=concurrency, stopping=stopping)
    failure: list[BaseException] = []

    def coordinate() -> None:
        try:
            threaded.run_threads()
        except BaseException as exc:  # handed to the calling thread, which raises it
            failure.append(exc)
        finally:
            connections.close_all()  # this thread's connection only
            results_queue.put(_END)

    # The database work runs in threads of its own and this thread only reports, so a Ctrl-C (which Python
    # raises in the main thread, wherever it is) never lands between a claim and its call or inside a finish.
    coordinator = threading.Thread(target=coordinate, name="flinks-finisher", daemon=True)
    coordinator.start()
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


def run_one(stages: Stages[Item, Claimed, Answer, Result], item: Item) -> Result:
    """The stages over one item in the calling thread; an error of the claim is the caller's to see."""
    claimed, early = stages.claim([item])
    if early:
        return early[0]
    [one] = claimed
    [result] = stages.finish([(one, stages.call(one))])
    return result


class _End:
    """The finisher's last word on the results queue."""


_END = _End()


def _deliver(
    results_queue: queue.SimpleQueue[Result | _End],
    results: list[Result],
    on_result: Callable[[Result], None] | None,
) -> None:
    while True:
        try:
            # A timeout, so that Ctrl-C is noticed even while every call waits on Flinks.
            result = results_queue.get(timeout=0.5)
        except queue.Empty:
            continue
        if isinstance(result, _End):
            return
        results.append(result)
        if on_result is not None:
            on_result(result)


class _Run(Generic[Item, Claimed, Answer, Result]):
    """One run's state. ``outstanding`` counts sessions claimed and not answered yet.

    The claimer keeps it at most ``room``, twice the pool (a pool's worth claimed ahead, so calls never wait for
    a claim transaction even when the database is slow), and claims in steps of at least half the pool, so
    that a claim's cost is shared by many sessions. Those claimed ahead are what may still be called after a
    stop: at most ``concurrency``.
    """

    def __init__(
        self,
        stages: Stages[Item, Claimed, Answer, Result],
        todo: deque[Item],
        *,
        emit: Callable[[Result], None],
        concurrency: int,
        stopping: Callable[[], bool],
    ) -> None:
        self.stages = stages
        self.todo = todo
        self.emit = emit
        self.room = 2 * concurrency
        self.step = max(1, concurrency // 2)
        self.size = min(concurrency, max(1, len(todo)))
        self.halt = threading.Event()  # set when a finish raised
        self.stopping = lambda: self.halt.is_set() or stopping()
        self.changed = threading.Condition()
        self.outstanding = 0
        self.claimed = 0
        self.claiming = True
        self.calls: queue.SimpleQueue[Claimed | _End] = queue.SimpleQueue()
        self.answers: queue.SimpleQueue[tuple[Claimed, Answer]] = queue.SimpleQueue()
        self.answered = 0  # answers the finisher has taken
        self.done: list[tuple[Claimed, Answer]] = []  # taken and not stored yet

    def claim_next(self, room: int) -> list[Claimed]:
        """Claim up to ``room`` of the items left; emit the result of those that could not be claimed."""
        chunk = [self.todo.popleft() for _ in range(min(room, CLAIM_CHUNK, len(self.todo)))]
        try:
            claimed, early = self.stages.claim(chunk)
        except Exception as exc:  # the transaction rolled back: nothing was claimed, each one failed
            logger.exception("Could not claim %d sessions", len(chunk))
            claimed, early = [], [self.stages.claim_failed(item, exc) for item in chunk]
        for result in early:
            self.emit(result)
        return claimed

    def finish(self, done: list[tuple[Claimed, Answer]]) -> None:
        for result in self.stages.finish(done):
            self.emit(result)

    def run_inline(self) -> None:
        """One item at a time in the calling thread: claim, call, finish."""
        while self.todo and not self.stopping():
            for claimed in self.claim_next(1):
                self.finish([(claimed, self.stages.call(claimed))])

    def run_threads(self) -> None:
        workers = [
            threading.Thread(target=self._call_loop, name=f"flinks-call-{n}", daemon=True)
            for n in range(self.size)
        ]
        claimer = threading.Thread(target=self._claim_loop, name="flinks-claimer", daemon=True)
        for thread in [*workers, claimer]:
            thread.start()
        try:
            self._finish_loop()
        except BaseException:
            # A finish stage broke its promise not to raise (a bug): claim nothing more and let it surface.
            # What was claimed and not stored stays claimed until claim_ttl(), when the retry sweep takes it.
            self.halt.set()
            raise
        finally:
            claimer.join()
            for _worker in workers:
                self.calls.put(_END)
            for worker in workers:
                worker.join()

    # --- the claimer ---------------------------------------------------------------------------------------

    def _claim_loop(self) -> None:
        try:
            while self.todo and not self.stopping():
                with self.changed:
                    while self.outstanding > self.room - self.step and not self.stopping():
                        self.changed.wait(POLL)
                    room = self.room - self.outstanding
                if self.stopping():
                    break
                claimed = self.claim_next(room)
                with self.changed:
                    self.outstanding += len(claimed)
                    self.claimed += len(claimed)
                for item in claimed:
                    self.calls.put(item)
        except BaseException:
            logger.exception("The claimer stopped")
        finally:
            with self.changed:
                self.claiming = False
            connections.close_all()  # this thread's connection only

    # --- the pool ------------------------------------------------------------------------------------------

    def _call_loop(self) -> None:
        try:
            while not isinstance(claimed := self.calls.get(), _End):
                self.answers.put((claimed, self.stages.call(claimed)))
                with self.changed:
                    self.outstanding -= 1
                    self.changed.notify()
        finally:
            connections.close_all()  # a call makes no query, but a site's signal receiver or client hook might

    # --- the finisher --------------------------------------------------------------------------------------

    def _all_answered(self) -> bool:
        with self.changed:
            return not self.claiming and self.answered == self.claimed

    def _collect(self, timeout: float) -> list[tuple[Claimed, Answer]]:
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
                self.finish(done)
                continue
            if not self.done and self._all_answered():
                return
            got = self._collect(POLL if not self.done else first_at + FINISH_WAIT - now)
            if got:
                if not self.done:
                    first_at = time.monotonic()
                self.done.extend(got)
                self.answered += len(got)
