"""Builders shared by the webhook tests."""

from __future__ import annotations

from typing import Any

from flinks_sessions.models import PaymentSession
from flinks_sessions.testing import SignedWebhook, signed_webhook

# The envelope of seed 000, byte for byte as the Flinks page shows it (seven fractional digits in "when").
SEED_BODY = b"""{
  "when": "2025-11-18T14:36:48.6078123Z",
  "payload": {
    "sessionId": "c14b050b-6268-4f5c-9c73-80713c80edb3",
    "amount": 65,
    "referenceId": "Happy1",
    "status": "Canceled",
    "statusDetails": "EFT0501"
  },
  "type": "SessionSetupStatusChanged"
}"""
SEED_SESSION_ID = "c14b050b-6268-4f5c-9c73-80713c80edb3"
SECRET = "sandbox-webhook-secret"  # tests/settings.py


def status_webhook(
    session: PaymentSession, status: str, details: str | None = None, **kwargs: Any
) -> SignedWebhook:
    """The webhook Flinks sends when ``session`` reaches ``status``."""
    payload = {
        "sessionId": str(session.session_id),
        "amount": float(session.amount),
        "referenceId": session.reference_id,
        "status": status,
        "statusDetails": details,
    }
    return signed_webhook(payload, **kwargs)
