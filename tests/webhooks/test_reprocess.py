"""``flinks_reprocess_webhooks``: a delivery left ``received`` (processing cut off) is processed, once.

Flinks never sends a webhook twice, so a stored delivery nothing processed is lost unless this sweep finds it.
The sweep claims each row with a conditional UPDATE, as ``process_webhook_task`` does, so a task still queued
for the same delivery, or a second sweep, never processes it again.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from flinks_sessions.models import PaymentSession, SessionEvent, WebhookDelivery
from flinks_sessions.webhooks import processing
from flinks_sessions.webhooks.reprocess import claim, reprocess_stranded, stranded
from flinks_sessions.webhooks.tasks import process_webhook_task, reprocess_webhooks_task
from tests.webhooks.helpers import status_webhook

Outcome = WebhookDelivery.Outcome
Status = PaymentSession.Status


@pytest.fixture
def enqueue_fails(settings: Any) -> None:
    """``WEBHOOK_ASYNC`` with a task backend alias that does not exist: every enqueue fails (and is logged)."""
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "WEBHOOK_ASYNC": True, "TASK_BACKEND": "gone"}


def backdate(minutes: float, *, claimed_minutes_ago: float | None = None) -> None:
    """Make every delivery look ``minutes`` old (and, when given, its claim ``claimed_minutes_ago``)."""
    now = timezone.now()
    changes: dict[str, Any] = {"received_at": now - timedelta(minutes=minutes)}
    if claimed_minutes_ago is not None:
        changes["processed_at"] = now - timedelta(minutes=claimed_minutes_ago)
    WebhookDelivery.objects.update(**changes)


def reprocess(*args: str) -> str:
    out = StringIO()
    call_command("flinks_reprocess_webhooks", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def transitions() -> Counter[int]:
    return Counter(
        SessionEvent.objects.filter(kind=SessionEvent.Kind.TRANSITION).values_list("session_id", flat=True)
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("enqueue_fails")
def test_a_delivery_whose_enqueue_failed_is_processed_once_it_is_old_enough(
    deliver: Any, make_session: Any, caplog: pytest.LogCaptureFixture
) -> None:
    session = make_session()
    with caplog.at_level(logging.ERROR, logger="flinks_sessions.webhooks"):
        response = deliver(status_webhook(session, "Completed", "EFT0301"))
    assert response.status_code == 202
    assert "flinks_reprocess_webhooks will process it" in caplog.text
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.processed_at) == (Outcome.RECEIVED, None)

    # Younger than the default 5 minutes: its task may still be on its way.
    assert "Reprocessed 0 of 0" in reprocess()
    backdate(minutes=6)
    assert "Reprocessed 1 of 1 webhook deliveries left received (1 applied)" in reprocess()
    session.refresh_from_db()
    assert session.status == Status.COMPLETED
    delivery.refresh_from_db()
    assert delivery.outcome == Outcome.APPLIED
    assert "Reprocessed 0 of 0" in reprocess()  # nothing left: a second run changes nothing
    assert transitions() == Counter({session.pk: 1})


@pytest.mark.django_db
@pytest.mark.usefixtures("enqueue_fails")
def test_dry_run_and_limit(deliver: Any, make_session: Any) -> None:
    sessions = [make_session() for _ in range(3)]
    for session in sessions:
        deliver(status_webhook(session, "Failed", "EFT0403"))
    backdate(minutes=10)
    assert "Would reprocess 3 webhook deliveries left received." in reprocess("--dry-run")
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {Outcome.RECEIVED}
    assert "Reprocessed 2 of 2" in reprocess("--limit", "2")
    assert WebhookDelivery.objects.filter(outcome=Outcome.RECEIVED).count() == 1
    # --limit keeps the oldest first: the last one delivered is the one left.
    left = WebhookDelivery.objects.get(outcome=Outcome.RECEIVED)
    assert left.pk == WebhookDelivery.objects.order_by("pk").last().pk  # type: ignore[union-attr]
    assert "Reprocessed 1 of 1" in reprocess("--older-than", "0s")


@pytest.mark.django_db
@pytest.mark.usefixtures("database_tasks")
def test_the_sweep_and_a_queued_task_process_a_delivery_once(
    deliver: Any, make_session: Any, settings: Any
) -> None:
    """The task is still queued (a worker backlog) when the sweep runs: whichever claims first processes it."""
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "WEBHOOK_ASYNC": True}
    first, second = make_session(), make_session()
    deliver(status_webhook(first, "Completed", "EFT0301"))
    deliver(status_webhook(second, "Completed", "EFT0301"))
    one, two = WebhookDelivery.objects.order_by("pk")
    backdate(minutes=6)

    # The task for the second delivery runs before the sweep, the one for the first after it.
    assert process_webhook_task.call(two.pk) == Outcome.APPLIED
    assert "Reprocessed 1 of 1 webhook deliveries left received (1 applied)" in reprocess()
    assert process_webhook_task.call(one.pk) == "skipped"
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {Outcome.APPLIED}
    assert transitions() == Counter({first.pk: 1, second.pk: 1})


@pytest.mark.django_db
def test_a_claim_is_exclusive_until_it_is_as_old_as_the_age(
    make_session: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The synchronous view claims the row as it inserts it; if it dies, the sweep takes the claim over later."""
    session = make_session()

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the process dies before recording the outcome")

    monkeypatch.setattr(processing, "process_delivery", killed)
    response = status_webhook(session, "Completed", "EFT0301").post(Client(raise_request_exception=False))
    assert response.status_code == 500
    monkeypatch.undo()
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == Outcome.RECEIVED
    assert delivery.processed_at is not None  # claimed at insert
    assert not claim(delivery.pk)  # a task for it (there is none here) would not take it

    backdate(minutes=10, claimed_minutes_ago=1)
    assert (
        "Reprocessed 0 of 0" in reprocess()
    )  # the claim is younger than 5 minutes: its owner may be working
    backdate(minutes=10, claimed_minutes_ago=6)
    with caplog.at_level(logging.WARNING, logger="flinks_sessions.webhooks"):
        assert "(1 applied)" in reprocess()
    assert f"Webhook delivery {delivery.pk}: its claimant died" in caplog.text
    session.refresh_from_db()
    assert session.status == Status.COMPLETED


@pytest.mark.django_db
def test_a_claim_taken_in_between_is_not_taken_again(make_session: Any) -> None:
    """The sweep read a stale claim; someone else took it over before the sweep's UPDATE: the sweep skips it."""
    session = make_session()
    status_webhook(session, "Completed", "EFT0301").post(Client())
    backdate(minutes=10, claimed_minutes_ago=10)
    WebhookDelivery.objects.update(outcome=Outcome.RECEIVED)
    [pk] = stranded(timedelta(minutes=5)).values_list("pk", flat=True)
    stale_before = timezone.now() - timedelta(minutes=5)
    assert claim(pk, stale_before)  # another sweep wins...
    assert not claim(pk, stale_before)  # ...so this one, reading the same stale claim, loses
    assert not claim(pk)


@pytest.mark.django_db
def test_only_authentic_received_deliveries_are_stranded(deliver: Any, make_session: Any) -> None:
    session = make_session()
    deliver(status_webhook(session, "Completed", "EFT0301", secret="forged"))
    deliver(body=b"{", headers={"X-Webhook-Signature": "x"})
    backdate(minutes=60, claimed_minutes_ago=60)
    assert not stranded(timedelta(0)).exists()
    assert reprocess_stranded(timedelta(0)).found == 0


@pytest.mark.django_db
@pytest.mark.usefixtures("enqueue_fails")
def test_the_scheduled_task(deliver: Any, make_session: Any) -> None:
    session = make_session()
    deliver(status_webhook(session, "Completed", "EFT0301"))
    assert reprocess_webhooks_task.call(older_than="5m") == {
        "found": 0,
        "processed": 0,
        "claimed_elsewhere": 0,
    }
    backdate(minutes=6)
    assert reprocess_webhooks_task.call() == {
        "found": 1,
        "processed": 1,
        "claimed_elsewhere": 0,
        "applied": 1,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--older-than", "99999999d"), "--older-than"),
        (("--older-than", "999999999999999999999w"), "--older-than"),
        (("--older-than", "soon"), "--older-than"),
        (("--older-than", "-5m"), "--older-than"),
        (("--limit", "0"), "--limit"),
    ],
)
def test_bad_arguments_are_a_clean_command_error(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        reprocess(*args)


@pytest.mark.django_db
@pytest.mark.usefixtures("enqueue_fails")
def test_an_error_outcome_fails_the_run(
    deliver: Any, make_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(status_webhook(make_session(), "Completed", "EFT0301"))
    backdate(minutes=6)
    monkeypatch.setattr(processing, "apply_report", lambda *a, **k: 1 / 0)
    with pytest.raises(CommandError, match="1 deliveries ended in error"):
        reprocess()
    assert WebhookDelivery.objects.get().outcome == Outcome.ERROR


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("enqueue_fails")
def test_concurrent_sweeps_process_each_delivery_once(make_session: Any) -> None:
    """Four sweeps at once over 200 stranded deliveries (PostgreSQL, one connection each): each applied once."""
    sessions = [make_session() for _ in range(200)]
    client = Client()
    for session in sessions:
        assert status_webhook(session, "Completed", "EFT0301").post(client).status_code == 202
    backdate(minutes=6)
    summaries: list[Any] = []
    barrier = threading.Barrier(4)

    def sweep() -> None:
        try:
            barrier.wait()
            summaries.append(reprocess_stranded())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(summaries) == 4
    assert sum(summary.processed for summary in summaries) == 200
    assert sum(summary.outcomes[Outcome.APPLIED] for summary in summaries) == 200
    assert sum(summary.found for summary in summaries) == 200 + sum(s.claimed_elsewhere for s in summaries)
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {Outcome.APPLIED}
    assert transitions() == Counter({session.pk: 1 for session in sessions})
