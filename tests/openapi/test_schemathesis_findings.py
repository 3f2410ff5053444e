"""What fuzzing the endpoints against their schema turned up, pinned so it stays fixed.

- A session id that is not a UUID got the site's HTML 404 page (the routes used the ``uuid`` converter), where
  the schema promises the endpoints' JSON 404.
- A webhook whose ``when`` lies within a day of the calendar's ends (year 1 at +23:59) crashed while its
  delivery row was saved (OverflowError, a 500), signed or not.
- A signed webhook whose amount is "NaN" or "Infinity" was stored as a processing error (logged at ERROR)
  instead of being refused as malformed.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from flinks_sessions.models import WebhookDelivery
from flinks_sessions.signatures import SignatureForm, sign

SECRET = "findings-secret"


@pytest.fixture
def webhook_secret(settings: Any) -> str:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "WEBHOOK_SECRETS": [SECRET]}
    return SECRET


def post_webhook(client: Client, body: bytes, signature: str) -> Any:
    return client.post(
        reverse("flinks_sessions:webhook"),
        body,
        content_type="application/json",
        headers={SignatureForm.WEBHOOK_SIGNATURE.value: signature},
    )


def envelope(**payload: Any) -> bytes:
    return json.dumps(
        {
            "when": payload.pop("when", "2025-11-18T14:36:48.6078123Z"),
            "type": "SessionSetupStatusChanged",
            "payload": {
                "sessionId": str(uuid.uuid4()),
                "status": "COMPLETED",
                "referenceId": "Happy1",
                **payload,
            },
        }
    ).encode()


@pytest.mark.parametrize("name", ["session-status", "session-exit", "session-resume"])
@pytest.mark.parametrize("session_id", ["null", "not-a-uuid", "1234"])
def test_a_malformed_session_id_gets_the_endpoints_json_404(
    client: Client, name: str, session_id: str
) -> None:
    url = reverse(f"flinks_sessions:{name}", kwargs={"session_id": session_id})
    response = (
        client.get(url, {"token": "x"}) if name == "session-status" else client.post(url, {"token": "x"})
    )

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"])
def test_a_when_at_the_ends_of_the_calendar_is_malformed_not_a_crash(
    client: Client, webhook_secret: str, when: str
) -> None:
    body = envelope(when=when)

    signed = post_webhook(client, body, sign(body, webhook_secret))
    forged = post_webhook(client, body, sign(body, "not-the-secret"))

    assert (signed.status_code, signed.json()["error"]) == (400, "malformed")
    assert forged.status_code == 401
    assert WebhookDelivery.objects.filter(event_when__isnull=True).count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_a_non_finite_amount_is_malformed(client: Client, webhook_secret: str, amount: str) -> None:
    body = envelope(amount=amount)

    response = post_webhook(client, body, sign(body, webhook_secret))

    assert (response.status_code, response.json()["error"]) == (400, "malformed")
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.MALFORMED
    assert "finite" in delivery.error
