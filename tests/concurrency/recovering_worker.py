"""A worker for ``test_recovery_kill``: runs the recovery sweep and parks right after the notice was sent.

Run as ``python -m tests.concurrency.recovering_worker LOG`` with the test run's database
(``tests.support.subprocess_env``). Its ``session_abandoned`` receiver appends the session's reference to ``LOG``
(the send) and then parks, printing ``parked``, before the engine's finish records the notice: the test kills
it there, between the send and the record.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import django


def main(log: Path) -> None:
    django.setup()
    from flinks_sessions.services import send_recovery_notices
    from flinks_sessions.signals import session_abandoned

    def sent_then_park(sender: Any, session: Any, **kwargs: Any) -> None:
        with log.open("a") as out:
            out.write(f"{session.reference_id}\n")
        print("parked", flush=True)
        while True:
            time.sleep(1)

    session_abandoned.connect(sent_then_park, weak=False)
    send_recovery_notices(concurrency=1)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
