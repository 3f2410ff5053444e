"""The suite in two parts: the tests that share the machine, on pytest-xdist workers, then the ``serial`` ones.

``scripts/pytest-in-parts.sh`` runs pytest twice, with ``FLINKS_TEST_PART=parallel`` (and ``-n``) and then
``FLINKS_TEST_PART=serial``. Each run deselects the other part's tests here rather than with ``-m``, so that a
``-m`` of the caller's (``-m "not browser"``) still applies to both. With ``FLINKS_TEST_COUNTS`` set, a run
writes its outcome counts there, one ``<outcome> <count>`` a line, for the script's combined closing line (the
tests left to the other part are not counted as deselected); the parallel part also writes how many tests it
left to ``<FLINKS_TEST_COUNTS>.serial``, so that the script skips a serial part with nothing to run. Without
``FLINKS_TEST_PART`` nothing changes: a plain ``pytest`` runs everything in one process.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PARTS = ("parallel", "serial")
# pytest's own order in its closing line.
OUTCOMES = ("failed", "passed", "skipped", "deselected", "xfailed", "xpassed", "warnings", "error")
LEFT_TO_THE_OTHER_PART = pytest.StashKey[int]()
# A pytest started by a test (tests/test_safety_net.py runs small sessions) inherits the parts' environment; pytest
# sets PYTEST_CURRENT_TEST while a test runs, so a session that starts with it set is nested: it must neither
# split its tests nor overwrite the outer run's counts (it once wrote "0 serial tests", and CI skipped part 2).
NESTED = "PYTEST_CURRENT_TEST" in os.environ


def setting(name: str) -> str:
    """``FLINKS_TEST_PART`` or ``FLINKS_TEST_COUNTS`` for this session ("" in a nested one)."""
    return "" if NESTED else os.environ.get(name, "")


@pytest.hookimpl(specname="pytest_collection_modifyitems", tryfirst=True)
def pytest_collection_modifyitems_slow_first(items: list[pytest.Item]) -> None:
    """In the parallel part, the ``slow`` tests (tens of seconds each) first, each group in its own order.

    xdist hands the first tests out one by one to every worker, so the slow ones run side by side from the
    start and the part does not end with one worker finishing a long test while the others wait. This runs
    before pytest-django's own ordering (non-transactional tests before transactional ones, as Django
    requires), whose stable sort keeps the slow tests first within each of its groups.
    """
    if setting("FLINKS_TEST_PART") == "parallel":
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.hookimpl(
    trylast=True
)  # after -k and -m, so that the count left to the serial part is what it will run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    part = setting("FLINKS_TEST_PART")
    if part not in PARTS:
        return
    keep: list[pytest.Item] = []
    other: list[pytest.Item] = []
    for item in items:
        serial = item.get_closest_marker("serial") is not None
        (keep if serial == (part == "serial") else other).append(item)
    config.stash[LEFT_TO_THE_OTHER_PART] = len(other)
    counts = setting("FLINKS_TEST_COUNTS")
    if counts and part == "parallel":  # (every xdist worker writes the same figure)
        Path(f"{counts}.serial").write_text(f"{len(other)}\n")
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = keep


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    path = setting("FLINKS_TEST_COUNTS")
    if not path or hasattr(config, "workerinput"):  # the xdist controller reports for its workers
        return
    counts = {
        outcome: sum(
            1
            for report in terminalreporter.stats.get(outcome, [])
            if getattr(report, "count_towards_summary", True)
        )
        for outcome in OUTCOMES
    }
    counts["deselected"] -= config.stash.get(LEFT_TO_THE_OTHER_PART, 0)
    Path(path).write_text("".join(f"{outcome} {count}\n" for outcome, count in counts.items()))
