"""A bounded thread pool for sweeps over many sessions, with progress, a summary and a clean Ctrl-C.

Cancelling or syncing a session is one or two HTTP calls to Flinks, so a sweep spends its time waiting; a
few threads make it many times faster. What matters more than speed is stopping well: on Ctrl-C no new item
starts, the items in flight run to their end (each cancel stores its outcome and releases its claim), and
the run reports what it did and what it never started. Each worker thread closes its own database connection
when it ends, so a sweep in a long-lived process (a task worker, the admin) leaks none.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TextIO, TypeVar

from django.core.management.base import OutputWrapper
from django.db import connections

T = TypeVar("T")

FAILED = "failed"


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one item: a key counted in the summary (``"cancelled"``), and an error for failures."""

    key: str
    label: str = ""
    error: str = ""
    failed: bool = False


@dataclass
class RunSummary:
    """What a run did: outcome counts, the first failure, and how many items an interruption left unstarted."""

    total: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    first_error: str = ""
    interrupted: bool = False

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    @property
    def not_started(self) -> int:
        return self.total - self.done

    def add(self, result: ItemResult) -> None:
        self.counts[result.key] += 1
        if result.failed:
            self.failed += 1
            if not self.first_error:
                self.first_error = f"{result.label}: {result.error}" if result.label else result.error


class Progress:
    """Reports each finished item: a tqdm bar on a terminal (when tqdm is installed), plain lines otherwise.

    Verbosity 0 reports nothing (the command still prints its summary); 1 shows the bar, or one line per item
    when the output is not a terminal (cron logs keep the ids); 2 also prints every item above the bar.
    """

    def __init__(
        self, total: int, *, stdout: Any, verbosity: int = 1, description: str = "", force_plain: bool = False
    ) -> None:
        self.verbosity = verbosity
        self.stdout = stdout
        self._bar: Any = None
        if verbosity <= 0 or total <= 0 or force_plain or not _isatty(stdout):
            return
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover - tqdm is optional
            return
        self._bar = tqdm(total=total, desc=description, unit="session", file=_raw_stream(stdout), leave=True)

    def update(self, result: ItemResult) -> None:
        if self.verbosity <= 0:
            return
        line = f"{result.label} {result.key}" + (f": {result.error}" if result.error else "")
        if self._bar is None:
            # Django's OutputWrapper ends the line itself; a plain stream needs the newline.
            self.stdout.write(line if isinstance(self.stdout, OutputWrapper) else line + "\n")
            return
        if result.failed or self.verbosity >= 2:
            self._bar.write(line, file=_raw_stream(self.stdout))
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _raw_stream(stdout: Any) -> TextIO:
    """The real stream behind Django's ``OutputWrapper`` (tqdm writes carriage returns, not lines)."""
    return getattr(stdout, "_out", stdout) or sys.stdout


def _isatty(stdout: Any) -> bool:
    try:
        return bool(_raw_stream(stdout).isatty())
    except (AttributeError, ValueError):
        return False


class BoundedRunner(Generic[T]):
    """Run ``work`` over items with at most ``concurrency`` threads; ``on_result`` runs in the calling thread.

    ``work`` must not raise for an expected failure (return a failed :class:`ItemResult`); an unexpected
    exception is caught, counted as a failure and never stops the run.

    When the calling thread is inside a transaction its uncommitted rows are invisible to other connections,
    so the items run one by one in the calling thread instead (a test case, or a caller that chose to).
    """

    def __init__(
        self,
        work: Callable[[T], ItemResult],
        *,
        concurrency: int = 8,
        on_result: Callable[[ItemResult], None] | None = None,
        label: Callable[[T], str] = str,
        using: str = "default",
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.work = work
        self.concurrency = concurrency
        self.on_result = on_result
        self.label = label
        self.using = using
        self.stop = threading.Event()

    def run(self, items: Iterable[T]) -> RunSummary:
        pending: Sequence[T] = list(items)
        summary = RunSummary(total=len(pending))
        if not pending:
            return summary
        if connections[self.using].in_atomic_block:
            return self._run_inline(pending, summary)
        return self._run_threads(pending, summary)

    # -- the two ways of running -------------------------------------------------------------------------

    def _run_inline(self, items: Sequence[T], summary: RunSummary) -> RunSummary:
        for item in items:
            if self.stop.is_set():
                summary.interrupted = True
                break
            self._record(summary, self._call(item))
        return summary

    def _run_threads(self, items: Sequence[T], summary: RunSummary) -> RunSummary:
        todo: queue.SimpleQueue[T] = queue.SimpleQueue()
        for item in items:
            todo.put(item)
        # Each worker posts its results, then ``None`` when it ends, so the run is over as soon as it is.
        results: queue.SimpleQueue[ItemResult | None] = queue.SimpleQueue()
        threads = [
            threading.Thread(target=self._worker, args=(todo, results), name=f"flinks-sweep-{n}", daemon=True)
            for n in range(min(self.concurrency, len(items)))
        ]
        for thread in threads:
            thread.start()
        running = [len(threads)]
        try:
            self._collect(running, results, summary)
        except KeyboardInterrupt:
            # Ctrl-C: start nothing new; the calls in flight finish and store their outcome.
            self.stop.set()
            summary.interrupted = True
            self._drain(running, results, summary)
        for thread in threads:
            thread.join()
        return summary

    def _collect(
        self, running: list[int], results: queue.SimpleQueue[ItemResult | None], summary: RunSummary
    ) -> None:
        """Record results until every worker has ended; ``running`` survives an interruption mid-loop."""
        while running[0]:
            try:
                # A timeout, so that Ctrl-C is noticed even while every worker waits on Flinks.
                result = results.get(timeout=0.5)
            except queue.Empty:
                continue
            if result is None:
                running[0] -= 1
            else:
                self._record(summary, result)

    def _drain(
        self, running: list[int], results: queue.SimpleQueue[ItemResult | None], summary: RunSummary
    ) -> None:
        """Wait for the in-flight items even through further Ctrl-Cs: they end within the client's timeouts."""
        while True:
            try:
                self._collect(running, results, summary)
                return
            except KeyboardInterrupt:
                continue

    # -- per item ----------------------------------------------------------------------------------------

    def _worker(self, todo: queue.SimpleQueue[T], results: queue.SimpleQueue[ItemResult | None]) -> None:
        try:
            while not self.stop.is_set():
                try:
                    item = todo.get_nowait()
                except queue.Empty:
                    return
                results.put(self._call(item))
        finally:
            connections.close_all()  # this thread's connections only: they are thread-local
            results.put(None)

    def _call(self, item: T) -> ItemResult:
        try:
            return self.work(item)
        except Exception as exc:  # one failing item never stops the run
            return ItemResult(
                FAILED, label=self.label(item), error=f"{type(exc).__name__}: {exc}", failed=True
            )

    def _record(self, summary: RunSummary, result: ItemResult) -> None:
        summary.add(result)
        if self.on_result is not None:
            self.on_result(result)
