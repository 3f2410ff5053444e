"""A sweep SIGKILLed between sending an order's recovery notice and recording it: never a second notice.

Real processes on PostgreSQL. The worker's receiver of ``session_abandoned`` (the send) parks; the test kills the
worker there, so the notice row stays as the claim inserted it ("sending") and the session keeps its claim.
Once that claim has passed its TTL (the worker is presumed dead), later sweeps, selecting or naming the session,
send nothing: the guarantee is at most once (README, "Guarantees").
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from flinks_sessions.models import PaymentSession, RecoveryNotice
from flinks_sessions.services import send_recovery_notices
from flinks_sessions.services.engine import claim_ttl
from tests.processes import Child
from tests.recovery.helpers import abandoned, notices, recovery_settings
from tests.support import subprocess_env

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_sweep_killed_between_the_send_and_the_record_sends_nothing_more(
    tmp_path: Path, settings: Any
) -> None:
    recovery_settings(settings)
    session = abandoned(reference_id="KILLED")
    log = tmp_path / "sent.log"
    log.touch()
    worker = Child(
        [sys.executable, "-m", "tests.concurrency.recovering_worker", str(log)],
        log=tmp_path / "worker.log",
        env=subprocess_env(),
    )
    try:
        worker.wait_ready(r"^parked$", timeout=60)
    finally:
        worker.kill()
    assert log.read_text().splitlines() == ["KILLED"]  # sent once, by the worker
    notice = RecoveryNotice.objects.get()
    assert (notice.state, notice.sent_at) == (RecoveryNotice.State.SENDING, None)  # never recorded
    stored = PaymentSession.objects.get(pk=session.pk)
    assert stored.recovery_claim is not None  # the dead worker's claim

    # Its claim passes its TTL: the worker is presumed dead, and any claim of the session may be taken over.
    stale = timezone.now() - claim_ttl() - timedelta(seconds=1)
    PaymentSession.objects.filter(pk=session.pk).update(recovery_claimed_at=stale)
    with notices() as heard:
        assert send_recovery_notices() == []  # not due: the order has its notice
        named = send_recovery_notices([PaymentSession.objects.get(pk=session.pk)])
    assert [result.outcome.value for result in named] == ["already_sent"]
    assert heard == []
    assert RecoveryNotice.objects.get().state == RecoveryNotice.State.SENDING
