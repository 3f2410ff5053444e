"""``kill -9`` of the web process during a burst of webhooks, and of the worker processing async deliveries.

Flinks sends each webhook once. Whatever was answered 2xx must end applied, exactly once, after the recovery a
site runs from cron (``flinks_reprocess_webhooks``). Real processes on PostgreSQL: gunicorn serving the test
settings, ``db_worker`` for ``WEBHOOK_ASYNC``, both on the test database. To make the kill cut processing off
at a known point rather than by luck, the test holds row locks on a few sessions: the deliveries for those are
stored and claimed, then wait for the lock inside their processing transaction when the process dies.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import requests
from django.core.management import call_command
from django.db import transaction
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from flinks_sessions.models import PaymentSession, SessionEvent, WebhookDelivery
from flinks_sessions.testing import SignedWebhook
from tests.faults.processes import gunicorn
from tests.support import db_workers, wait_for
from tests.webhooks.helpers import status_webhook

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BURST = 300  # webhooks per burst; the held session is the 151st
Outcome = WebhookDelivery.Outcome
ASYNC = {"DJANGO_SETTINGS_MODULE": "tests.faults.web_settings", "FLINKS_TEST_WEBHOOK_ASYNC": "1"}


def make_sessions(count: int) -> list[PaymentSession]:
    return PaymentSession.objects.bulk_create(
        PaymentSession(session_id=uuid.uuid4(), reference_id=f"KILL-{n}", amount="65.00")
        for n in range(count)
    )


@contextmanager
def locked(sessions: list[PaymentSession]) -> Iterator[None]:
    """Hold the row locks the webhook processing takes, until the block ends (then the waiters go on)."""
    with transaction.atomic():
        assert len(PaymentSession.objects.select_for_update().filter(pk__in=[s.pk for s in sessions])) == len(
            sessions
        )
        yield


def post_burst(
    url: str, webhooks: list[SignedWebhook], *, on_answer: Any = None, concurrency: int = 16
) -> dict[int, int | None]:
    """POST every webhook with ``concurrency`` clients; the status answered to each, ``None`` for no answer."""
    local = threading.local()
    answers: dict[int, int | None] = {}

    def send(index: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = requests.Session()
            client.trust_env = False
        webhook = webhooks[index]
        try:
            response = client.post(
                f"{url}/flinks/webhooks/",
                data=webhook.body,
                headers={**webhook.headers, "Content-Type": "application/json"},
                timeout=30,
            )
        except requests.RequestException:
            answers[index] = None
            return
        answers[index] = response.status_code
        if on_answer is not None:
            on_answer(response.status_code)

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(send, range(len(webhooks))))
    return answers


def reprocess() -> str:
    out = StringIO()
    call_command("flinks_reprocess_webhooks", "--older-than", "0s", stdout=out, stderr=StringIO())
    return out.getvalue()


def transitions() -> Counter[int]:
    return Counter(
        SessionEvent.objects.filter(kind=SessionEvent.Kind.TRANSITION).values_list("session_id", flat=True)
    )


def report(capsys: pytest.CaptureFixture[str], title: str, figures: dict[str, int]) -> None:
    with capsys.disabled():
        print(f"\n{title}: " + ", ".join(f"{name} {value}" for name, value in figures.items()))


def test_web_process_killed_during_a_burst(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sessions = make_sessions(BURST)
    webhooks = [status_webhook(session, "Completed", "EFT0301") for session in sessions]
    held = sessions[100:103]  # their processing waits for the test's locks when the server dies
    kill_at = BURST // 2

    with gunicorn(tmp_path / "gunicorn.log") as server:
        answered = 0
        lock = threading.Lock()

        def on_answer(status: int) -> None:
            nonlocal answered
            with lock:
                answered += 1
                if answered == kill_at:
                    server.kill()

        with locked(held):
            answers = post_burst(server.url, webhooks, on_answer=on_answer)
            held_ids = {str(session.session_id) for session in held}
            stored_held = WebhookDelivery.objects.filter(flinks_session_id__in=held_ids)
            assert stored_held.count() == len(held)  # stored, and cut off before their outcome
            assert set(stored_held.values_list("outcome", flat=True)) == {Outcome.RECEIVED}

    ok = {index for index, status in answers.items() if status is not None and 200 <= status < 300}
    assert {answers[index] for index in ok} == {200}
    assert not [status for status in answers.values() if status is not None and status >= 500]
    assert kill_at <= len(ok) < BURST
    stranded_before = WebhookDelivery.objects.filter(outcome=Outcome.RECEIVED).count()
    assert stranded_before >= len(held)

    summary = reprocess()
    assert f"Reprocessed {stranded_before} of {stranded_before}" in summary

    applied_sessions = set(
        WebhookDelivery.objects.filter(outcome=Outcome.APPLIED).values_list("flinks_session_id", flat=True)
    )
    for index in ok:
        assert sessions[index].session_id in applied_sessions, f"answered 200 but not applied: {index}"
    assert not WebhookDelivery.objects.filter(outcome=Outcome.RECEIVED).exists()
    assert WebhookDelivery.objects.exclude(outcome=Outcome.APPLIED).count() == 0
    counts = transitions()
    assert set(counts.values()) == {1}  # no session changed twice
    completed = PaymentSession.objects.filter(status=PaymentSession.Status.COMPLETED)
    assert completed.count() == len(counts) == WebhookDelivery.objects.count()
    report(
        capsys,
        "web process killed mid-burst",
        {
            "sent": BURST,
            "answered 2xx": len(ok),
            "unanswered": BURST - len(ok),
            "stored": WebhookDelivery.objects.count(),
            "left received": stranded_before,
            "applied after reprocess": len(applied_sessions),
            "answered 2xx and applied": sum(sessions[index].session_id in applied_sessions for index in ok),
            "duplicates": sum(count - 1 for count in counts.values()),
        },
    )


def test_worker_killed_while_processing_async_deliveries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sessions = make_sessions(BURST)
    webhooks = [status_webhook(session, "Completed", "EFT0301") for session in sessions]
    held = sessions[150]

    with gunicorn(tmp_path / "gunicorn.log", FLINKS_TEST_WEBHOOK_ASYNC="1") as server:
        answers = post_burst(server.url, webhooks)
    assert Counter(answers.values()) == Counter({202: BURST})
    assert DBTaskResult.objects.count() == BURST

    held_delivery = WebhookDelivery.objects.get(flinks_session_id=held.session_id)
    with locked([held]), db_workers(1, log_dir=tmp_path, env=ASYNC) as [worker]:
        # The worker claims the held delivery, then waits for the lock inside its processing transaction.
        wait_for(
            lambda: WebhookDelivery.objects.filter(pk=held_delivery.pk, processed_at__isnull=False).exists(),
            timeout=120,
            interval=0.05,
            message="the worker to reach the held delivery",
        )
        worker.kill()
        worker.wait()

    applied_by_worker = WebhookDelivery.objects.filter(outcome=Outcome.APPLIED).count()
    stranded_before = WebhookDelivery.objects.filter(outcome=Outcome.RECEIVED).count()
    assert applied_by_worker + stranded_before == BURST
    assert stranded_before > 1  # the dead claim, and what the worker never reached
    held_delivery.refresh_from_db()
    assert (held_delivery.outcome, held_delivery.processed_at is not None) == (Outcome.RECEIVED, True)

    summary = reprocess()
    assert f"Reprocessed {stranded_before} of {stranded_before}" in summary

    # The tasks still queued for deliveries the sweep processed: a new worker finds each one taken.
    with db_workers(1, log_dir=tmp_path / "after", env=ASYNC):
        wait_for(
            lambda: not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists(),
            timeout=120,
            interval=0.1,
            message="the queue to drain",
        )
    returns = Counter(
        DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL).values_list("return_value", flat=True)
    )
    assert returns == Counter({"applied": applied_by_worker, "skipped": stranded_before - 1})
    assert DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).count() == 1  # the killed one's

    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {Outcome.APPLIED}
    counts = transitions()
    assert counts == Counter({session.pk: 1 for session in sessions})
    report(
        capsys,
        "worker killed mid-processing (WEBHOOK_ASYNC)",
        {
            "answered 202": BURST,
            "applied by the worker": applied_by_worker,
            "left received": stranded_before,
            "applied after reprocess": BURST,
            "queued tasks skipped afterwards": returns["skipped"],
            "duplicates": sum(count - 1 for count in counts.values()),
        },
    )
