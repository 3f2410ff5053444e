"""Single runs in many threads meet: one caller does the database stage for all who arrived meanwhile.

What makes a pool of single cancels cost what a batch costs (``bench/bulk_cancel.py``, "services only").
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from flinks_sessions.services import pipeline
from flinks_sessions.services.pipeline import _meet


def test_a_caller_alone_works_alone_at_once() -> None:
    batches: list[list[int]] = []

    def work(items: list[int]) -> list[int]:
        batches.append(items)
        return [item * 10 for item in items]

    assert _meet(uuid.uuid4(), 4, work) == 40
    assert batches == [[4]]


def test_callers_who_arrive_while_one_works_are_served_in_one_batch_each_with_its_own_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pipeline, "LEADERS", 1)  # one leader at a time, to see the batches whole
    key = uuid.uuid4()
    first_working = threading.Event()
    release = threading.Event()
    batches: list[list[int]] = []

    def work(items: list[int]) -> list[int]:
        batches.append(sorted(items))
        if items == [0]:
            first_working.set()
            assert release.wait(10)
        return [item * 10 for item in items]

    with ThreadPoolExecutor(7) as pool:
        first = pool.submit(_meet, key, 0, work)
        assert first_working.wait(10)
        others = [pool.submit(_meet, key, item, work) for item in range(1, 6)]
        seated = threading.Event()

        def all_seated() -> None:
            while len(pipeline._MEETINGS[key].seated) < 5:
                threading.Event().wait(0.01)
            seated.set()

        pool.submit(all_seated)
        assert seated.wait(10)
        release.set()
        assert first.result(10) == 0
        assert [future.result(10) for future in others] == [10, 20, 30, 40, 50]
    assert batches == [[0], [1, 2, 3, 4, 5]]


def test_an_error_of_the_shared_work_reaches_every_caller_of_the_batch() -> None:
    key = uuid.uuid4()

    def work(items: list[int]) -> list[int]:
        raise RuntimeError("the transaction failed")

    with pytest.raises(RuntimeError, match="the transaction failed"):
        _meet(key, 1, work)
    # The meeting is free again: the next caller leads.
    assert _meet(key, 2, lambda items: items) == 2
