"""The three documented ways Flinks signs a webhook, in one place.

Both the receiver (which verifies) and the sandbox (which signs) use this module, so the two can never drift
apart. Every form is an HMAC-SHA256 of the raw body bytes keyed with the shared secret
(``docs/flinks-api.md``, "Webhooks"); they differ only in the header name and in how the digest is written.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from enum import StrEnum


class SignatureForm(StrEnum):
    """A documented signature header; the value is the header name as Flinks sends it."""

    # GEFT: ``X-Webhook-Signature: sha256=<HEX>``, hex upper case in the docs; either case is accepted.
    WEBHOOK_SIGNATURE = "X-Webhook-Signature"
    # ``X-Flinks-Signature: <base64 digest>``.
    FLINKS_SIGNATURE = "X-Flinks-Signature"
    # ``flinks-authenticity-key: <base64 digest>``.
    AUTHENTICITY_KEY = "flinks-authenticity-key"


ALL_FORMS: tuple[SignatureForm, ...] = tuple(SignatureForm)


def _digest(body: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()


def sign(body: bytes, secret: str, form: SignatureForm = SignatureForm.WEBHOOK_SIGNATURE) -> str:
    """Return the header value Flinks would send for ``body`` in the given form."""
    digest = _digest(body, secret)
    if form is SignatureForm.WEBHOOK_SIGNATURE:
        return "sha256=" + digest.hex().upper()
    return base64.b64encode(digest).decode("ascii")


def decode_signature(value: str, form: SignatureForm) -> bytes | None:
    """Turn a received header value into raw digest bytes, or ``None`` when it is not of the form's shape."""
    value = value.strip()
    try:
        if form is SignatureForm.WEBHOOK_SIGNATURE:
            prefix, _, hex_digest = value.partition("=")
            if prefix.strip().lower() != "sha256" or not hex_digest:
                return None
            return bytes.fromhex(hex_digest.strip())
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        return None


def matches(body: bytes, value: str, form: SignatureForm, secrets: Iterable[str]) -> bool:
    """Whether ``value`` signs ``body`` under any of ``secrets`` (rotation), compared in constant time."""
    received = decode_signature(value, form)
    if received is None:
        return False
    found = False
    for secret in secrets:
        # No early exit: every secret is tried, so timing does not reveal which one matched.
        found |= hmac.compare_digest(received, _digest(body, secret))
    return found
