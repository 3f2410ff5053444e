"""The one scheduler, on its own: bounded, every item counted once, a stop starts nothing new.

The stages here are toys (no database, no Flinks) so that only the scheduling is under test; the engines that
really use it are tested with the sandbox (``test_cancel_many.py``, ``test_cancel_engine_faults.py``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from flinks_sessions.services import pipeline
from flinks_sessions.services.accounts import describe_error
from flinks_sessions.sweeps.summary import FAILED, ItemResult, RunSummary

pytestmark = pytest.mark.django_db(transaction=True)  # outside atomic(): the threaded path


class Toy:
    """Stages whose call runs ``work``; an exception in it is an answer, as the engines make it."""

    def __init__(self, work: Callable[[int], str]) -> None:
        self.work = work

    def claim(self, items: list[int]) -> tuple[list[int], list[ItemResult]]:
        return items, []

    def claim_failed(self, item: int, error: Exception) -> ItemResult:
        return ItemResult(FAILED, label=str(item), error=describe_error(error), failed=True)

    def call(self, item: int) -> str | Exception:
        try:
            return self.work(item)
        except Exception as exc:
            return exc

    def finish(self, done: list[tuple[int, str | Exception]]) -> list[ItemResult]:
        return [
            self.claim_failed(item, answer)
            if isinstance(answer, Exception)
            else ItemResult(answer, label=str(item))
            for item, answer in done
        ]


def test_the_pool_is_bounded_and_counts_every_outcome() -> None:
    lock = threading.Lock()
    running = 0
    peak = 0

    def work(item: int) -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        if item % 5 == 0:
            raise RuntimeError("boom")  # unexpected: counted as a failure, the run goes on
        return "odd" if item % 2 else "even"

    seen: list[ItemResult] = []
    summary = RunSummary(total=40)

    def record(result: ItemResult) -> None:
        seen.append(result)
        summary.add(result)

    pipeline.run(Toy(work), range(1, 41), concurrency=4, on_result=record)

    assert peak <= 4
    assert summary.total == summary.done == len(seen) == 40
    assert summary.failed == 8
    assert summary.counts == {"odd": 16, "even": 16, "failed": 8}
    assert summary.first_error.endswith("RuntimeError: boom")
    assert not summary.interrupted


def test_a_stop_starts_nothing_new() -> None:
    started: list[int] = []

    def work(item: int) -> str:
        started.append(item)
        time.sleep(0.01)
        return "done"

    summary = RunSummary(total=99)
    pipeline.run(
        Toy(work), range(1, 100), concurrency=2, on_result=summary.add, should_stop=lambda: 3 in started
    )
    assert summary.done == len(started) < 10
    assert summary.not_started == 99 - len(started)


def test_a_claim_that_raises_fails_its_chunk_and_the_run_goes_on() -> None:
    class BrokenClaim(Toy):
        def claim(self, items: list[int]) -> tuple[list[int], list[ItemResult]]:
            if 3 in items:
                raise RuntimeError("the database went away")
            return items, []

    results = pipeline.run(BrokenClaim(lambda item: "done"), range(1, 6), concurrency=1)
    outcome = {int(result.label): result.key for result in results}
    assert sorted(outcome) == [1, 2, 3, 4, 5]  # one result each: a failed claim loses nothing
    assert outcome[3] == FAILED  # and its chunk (at most the pool's room: 3, perhaps 4) failed with it
    assert outcome[1] == outcome[2] == outcome[5] == "done"  # the chunks before and after went on


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        pipeline.run(Toy(lambda item: "done"), [1], concurrency=0)
