"""Racing deliveries for one session over real HTTP: the row lock lets exactly one of them change it."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from django.urls import reverse

from flinks_sessions.models import PaymentSession, SessionEvent, WebhookDelivery
from tests.webhooks.helpers import status_webhook

Outcome = WebhookDelivery.Outcome

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_conflicting_deliveries_apply_once_per_session(
    live_server: Any, make_session: Any, signals: Any
) -> None:
    rng = random.Random(7)
    sessions = [make_session() for _ in range(10)]
    choices = [("Completed", "EFT0301"), ("Cancelled", "EFT0501"), ("Failed", "EFT0403")]
    webhooks = [status_webhook(s, *rng.choice(choices)) for s in sessions for _ in range(12)]
    rng.shuffle(webhooks)
    url = live_server.url + reverse("flinks_sessions:webhook")
    http = requests.Session()
    http.trust_env = False

    def post(webhook: Any) -> int:
        headers = {**webhook.headers, "Content-Type": "application/json"}
        return http.post(url, data=webhook.body, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(post, webhooks))

    assert set(codes) == {200}
    per_session = Counter(
        WebhookDelivery.objects.filter(outcome=Outcome.APPLIED).values_list("session_id", flat=True)
    )
    assert per_session == {s.pk: 1 for s in sessions}
    assert SessionEvent.objects.filter(kind=SessionEvent.Kind.TRANSITION).count() == len(sessions)
    assert Counter(WebhookDelivery.objects.values_list("outcome", flat=True)).keys() <= {
        Outcome.APPLIED,
        Outcome.DUPLICATE,
        Outcome.STALE,
    }
    for session in PaymentSession.objects.all():
        applied = WebhookDelivery.objects.get(session=session, outcome=Outcome.APPLIED)
        assert (session.remote_status, session.status_details) == (
            applied.remote_status,
            applied.status_details,
        )
    assert len(signals.named("status_changed")) == len(sessions)
