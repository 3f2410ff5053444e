"""Chaos: 5,000 deliveries over many sessions, duplicated, reordered, forged and broken, through the real view.

In four independent parts of 1,250, each from its own seed over its own sessions, so that pytest-xdist can run
them side by side (as one test it was the suite's longest, a third of ``make test``'s parallel part).

The truth is computed here, independently of the app, from the authentic and well-formed deliveries in the order
they arrive, under the documented rules: the first terminal status wins, a repeat is a duplicate, anything else
after a terminal status is stale, except Completed EFT0302 → Completed EFT0301 (the PAD signature arrived).
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from flinks_sessions.models import PaymentSession, SessionEvent, WebhookDelivery
from flinks_sessions.signatures import SignatureForm, sign
from flinks_sessions.status import normalise_status
from tests.webhooks.helpers import SECRET

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

PARTS = 4
TOTAL = 5000 // PARTS  # deliveries per part
SEED = int(os.environ.get("FLINKS_CHAOS_SEED", "20251118"))
Outcome = WebhookDelivery.Outcome
# What Flinks sends per session (docs/flinks-api.md: webhooks only for Completed, Failed, Canceled), with weights.
SCENARIOS = [
    (50, [("Completed", "EFT0301")]),
    (15, [("Completed", "EFT0302"), ("Completed", "EFT0301")]),
    (15, [("Failed", "EFT0403")]),
    (10, [("Canceled", "EFT0501")]),
    (10, [("Cancelled", "EFT0501"), ("Completed", "EFT0301")]),  # a late completion after a cancel
]


@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]
    kind: str  # "valid", "forged" or "malformed"
    session_id: str = ""
    status: str = ""
    details: str = ""


def _signed(body: bytes, rng: random.Random, secret: str = SECRET) -> dict[str, str]:
    form = rng.choice(list(SignatureForm))
    return {form.value: sign(body, secret, form)}


def _event(session_id: str, status: str, details: str, rng: random.Random) -> Delivery:
    when = f"2025-11-18T14:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(10**7):07d}Z"
    payload = {
        "sessionId": session_id,
        "amount": 65,
        "referenceId": None,
        "status": status,
        "statusDetails": details,
    }
    body = json.dumps({"when": when, "payload": payload, "type": "SessionSetupStatusChanged"}).encode()
    return Delivery(body, _signed(body, rng), "valid", session_id, status, details)


def _build(rng: random.Random) -> tuple[list[str], list[Delivery]]:
    duplicates, forged, malformed = TOTAL * 20 // 100, TOTAL * 5 // 100, TOTAL * 5 // 100
    base_target = TOTAL - duplicates - forged - malformed
    weights = [weight for weight, _ in SCENARIOS]
    sessions: list[str] = []
    streams: list[list[Delivery]] = []
    count = 0
    while count < base_target:
        session_id = str(uuid.uuid4())
        events = rng.choices(SCENARIOS, weights)[0][1][: base_target - count]
        sessions.append(session_id)
        streams.append([_event(session_id, status, details, rng) for status, details in events])
        count += len(events)
    # Interleave the sessions while keeping each one's own order: the order Flinks would send them in.
    ordered: list[Delivery] = []
    cursors = [0] * len(streams)
    pending = [i for i, stream in enumerate(streams) for _ in stream]
    rng.shuffle(pending)
    for index in pending:
        ordered.append(streams[index][cursors[index]])
        cursors[index] += 1
    valid = list(ordered)
    for _ in range(duplicates):
        original = rng.choice(valid)
        ordered.insert(rng.randrange(ordered.index(original), len(ordered) + 1), original)
    for _ in range(forged):
        target = rng.choice(sessions)
        status, details = rng.choice(
            [("Completed", "EFT0301"), ("Failed", "EFT0401"), ("Canceled", "EFT0501")]
        )
        event = _event(target, status, details, rng)
        event.headers = _signed(event.body, rng, secret=rng.choice(["old-leaked-secret", SECRET + "x", "x"]))
        event.kind = "forged"
        ordered.insert(rng.randrange(len(ordered) + 1), event)
    broken_bodies = [
        b"{",
        b"[]",
        b'{"type": "SessionSetupStatusChanged"}',
        b'{"type": "SessionSetupStatusChanged", "payload": {"sessionId": "not-a-uuid", "status": "Completed"}}',
        b'{"type": "SessionSetupStatusChanged", "when": "noon", "payload": {}}',
    ]
    for _ in range(malformed):
        body = rng.choice(broken_bodies) + b" " * rng.randrange(3)
        ordered.insert(rng.randrange(len(ordered) + 1), Delivery(body, _signed(body, rng), "malformed"))
    # Reorder 20%: each picked delivery jumps to a random position, possibly before its session's earlier events.
    for _ in range(TOTAL * 20 // 100):
        moved = ordered.pop(rng.randrange(len(ordered)))
        ordered.insert(rng.randrange(len(ordered) + 1), moved)
    assert len(ordered) == TOTAL
    return sessions, ordered


def _truth(deliveries: list[Delivery]) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """Final (status, details) per session and the expected outcome of every delivery, from first principles."""
    state: dict[str, tuple[str, str]] = {}
    outcomes: list[str] = []
    for delivery in deliveries:
        if delivery.kind != "valid":
            outcomes.append(Outcome.INVALID_SIGNATURE if delivery.kind == "forged" else Outcome.MALFORMED)
            continue
        new = (str(normalise_status(delivery.status)), delivery.details)
        current = state.get(delivery.session_id)
        if current is None or (current == ("completed", "EFT0302") and new == ("completed", "EFT0301")):
            state[delivery.session_id] = new
            outcomes.append(Outcome.APPLIED)
        elif new == current:
            outcomes.append(Outcome.DUPLICATE)
        else:
            outcomes.append(Outcome.STALE)
    return state, outcomes


@pytest.mark.parametrize("part", range(PARTS))
def test_chaos_every_final_state_equals_the_truth(settings: Any, part: int) -> None:
    # Every forged delivery is to be logged here: lift the per-minute cap on rejected rows above the run's size.
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "WEBHOOK_REJECTED_PER_MINUTE": TOTAL}
    rng = random.Random(SEED + part)
    sessions, deliveries = _build(rng)
    PaymentSession.objects.bulk_create(
        PaymentSession(session_id=session_id, reference_id=f"chaos-{n}", amount=Decimal("65.00"))
        for n, session_id in enumerate(sessions)
    )
    truth, expected_outcomes = _truth(deliveries)
    kinds = Counter(delivery.kind for delivery in deliveries)
    assert kinds["forged"] == kinds["malformed"] == TOTAL * 5 // 100

    client = Client(enforce_csrf_checks=True)
    url = reverse("flinks_sessions:webhook")
    answers = [
        client.post(url, data=d.body, content_type="application/json", headers=d.headers).status_code
        for d in deliveries
    ]

    assert not [code for code in answers if code >= 500]
    expected_codes = {Outcome.INVALID_SIGNATURE: 401, Outcome.MALFORMED: 400}
    assert answers == [expected_codes.get(outcome, 200) for outcome in expected_outcomes]
    logged = list(WebhookDelivery.objects.order_by("pk").values_list("outcome", flat=True))
    assert logged == expected_outcomes, Counter(
        (want, got) for want, got in zip(expected_outcomes, logged, strict=True) if want != got
    )
    stored = {
        str(session_id): (status, details)
        for session_id, status, details in PaymentSession.objects.values_list(
            "session_id", "status", "status_details"
        )
    }
    expected = {session_id: truth.get(session_id, ("initiated", "")) for session_id in sessions}
    assert stored == expected
    transitions = SessionEvent.objects.filter(kind=SessionEvent.Kind.TRANSITION).count()
    assert transitions == expected_outcomes.count(Outcome.APPLIED)
