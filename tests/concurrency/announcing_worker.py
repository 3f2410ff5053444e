"""A worker for ``test_announce_kill``: stores transitions, announces them, and parks at a chosen announcement.

Run as ``python -m tests.concurrency.announcing_worker LOG PARK_AT WHERE SESSION_PK...`` with the test run's
database (``tests.support.subprocess_env``). Each session goes InProgress then Completed. Every signal a
receiver gets is appended to ``LOG`` as ``event_id attempt``; the ``PARK_AT``-th announcement parks the worker,
printing ``parked``, until the test kills it: ``WHERE`` is ``before-send`` (right after the commit, before any
receiver ran) or ``before-mark`` (every receiver ran, the row is not yet marked announced).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import django


def main(log: Path, park_at: int, where: str, session_pks: list[int]) -> None:
    django.setup()
    from flinks_sessions.models import PaymentSession
    from flinks_sessions.signals import session_status_changed
    from flinks_sessions.status import Status
    from tests.announce_helpers import move

    calls = {"count": 0}

    def park(sender: Any, **kwargs: Any) -> None:
        calls["count"] += 1
        if calls["count"] == park_at:
            print("parked", kwargs["event_id"], flush=True)
            while True:
                time.sleep(1)

    def record(sender: Any, event_id: int, attempt: int, **kwargs: Any) -> None:
        with log.open("a") as out:
            out.write(f"{event_id} {attempt}\n")

    # Receivers run in the order they were connected.
    receivers = [park, record] if where == "before-send" else [record, park]
    for receiver in receivers:
        session_status_changed.connect(receiver, weak=False)
    for pk in session_pks:
        session = PaymentSession.objects.get(pk=pk)
        move(session, Status.IN_PROGRESS, "InProgress")
        move(session, Status.COMPLETED, "Completed", "EFT0301")
    print("done", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], [int(pk) for pk in sys.argv[4:]])
