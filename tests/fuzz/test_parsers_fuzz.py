"""Fuzzing what an attacker controls: nothing but the documented errors, ever.

Each parser that reads untrusted bytes is fed generated input (random bytes, arbitrary JSON, deep nesting,
near-miss envelopes, tokens and signatures) and may only succeed or raise its documented error: the webhook
envelope :class:`WebhookPayloadError` (→ 400), a signature check ``False`` (→ 401), the beacon parsers
``ParseError``/``PayloadTooLarge`` (→ 400/413), the exit token :class:`BadExitToken` (→ 403). Each test is
bounded (``max_examples``, no per-example deadline) so the everyday run stays a few seconds per test;
``make fuzz`` (a CI step) runs longer with random seeds under a five-minute timeout.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import io
import json
import os
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError

from flinks_sessions.api.parsers import (
    BeaconFormParser,
    BeaconJSONParser,
    BeaconTextParser,
    PayloadTooLarge,
)
from flinks_sessions.api.serializers import ExitRequest
from flinks_sessions.api.tokens import BadExitToken, exit_token, read_exit_token
from flinks_sessions.conf import get_settings
from flinks_sessions.exceptions import WebhookPayloadError
from flinks_sessions.signatures import ALL_FORMS, SignatureForm, decode_signature, matches, sign
from flinks_sessions.webhooks.envelope import Envelope, parse_envelope, parse_timestamp
from flinks_sessions.webhooks.verification import signature_headers, verify

# 300 examples with a fixed seed in the everyday suite (a few seconds per test, reproducible); ``make fuzz`` (CI)
# sets FLINKS_FUZZ_EXAMPLES for a longer run with fresh random seeds.
_EXAMPLES = os.environ.get("FLINKS_FUZZ_EXAMPLES")
BOUNDED = settings(
    max_examples=int(_EXAMPLES or 300),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=_EXAMPLES is None,
    database=None,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
uuid_spellings = st.uuids().flatmap(
    lambda u: st.sampled_from([str(u), str(u).upper(), "{" + str(u) + "}", f"urn:uuid:{u}", u.hex])
)
envelopes = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["SessionSetupStatusChanged", "sessionsetupstatuschanged", "Other", ""])
        | json_values,
        "when": st.sampled_from(
            ["2025-11-18T14:36:48.6078123Z", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"]
        )
        | st.text(max_size=40)
        | json_values,
        "payload": st.fixed_dictionaries(
            {
                "sessionId": uuid_spellings | st.just(" x ") | json_values,
                "status": st.sampled_from(["Completed", "Canceled", "Cancelled", ""]) | json_values,
                "statusDetails": st.text(max_size=12) | json_values,
                "amount": st.sampled_from(["NaN", "Infinity", "-0", "1e999999", "65.00"]) | json_values,
                "referenceId": json_values,
            }
        )
        | json_values,
    }
)


def nested(depth: int, opener: bytes, closer: bytes) -> bytes:
    return opener * depth + closer * depth


nesting = st.builds(
    nested,
    st.integers(min_value=1, max_value=30_000),
    st.sampled_from([b"[", b'{"a":', b"[{}, "]),
    st.sampled_from([b"]", b"}", b""]),
)


def _envelope_or_documented_error(body: bytes) -> None:
    with contextlib.suppress(WebhookPayloadError):
        assert isinstance(parse_envelope(body), Envelope)


@BOUNDED
@given(st.binary(max_size=2000) | nesting)
def test_envelope_parser_on_arbitrary_bytes(body: bytes) -> None:
    _envelope_or_documented_error(body)


@BOUNDED
@given(envelopes)
def test_envelope_parser_on_near_miss_envelopes(data: dict[str, Any]) -> None:
    _envelope_or_documented_error(json.dumps(data, allow_nan=True).encode())


@BOUNDED
@given(
    st.text(max_size=60)
    | st.from_regex(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?([Zz]|[+-]\d\d:?\d\d)?\Z")
)
def test_timestamp_parser(value: str) -> None:
    """An aware datetime, or the documented error; never a naive one (it could not be compared with now)."""
    try:
        parsed = parse_timestamp(value)
    except WebhookPayloadError:
        return
    assert isinstance(parsed, datetime)
    assert parsed.utcoffset() is not None


@BOUNDED
@given(
    when=st.datetimes(
        min_value=datetime(2, 1, 1),
        max_value=datetime(9998, 12, 31),
        timezones=st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
            lambda minutes: timezone(timedelta(minutes=minutes))
        ),
    ),
    extra_digits=st.text(alphabet="0123456789", max_size=3),
)
def test_timestamp_parser_reads_the_instant_written(when: datetime, extra_digits: str) -> None:
    """Any ISO 8601 instant with an offset is read as that instant; fractions beyond µs are cut off."""
    written = when.isoformat(timespec="microseconds")  # YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM
    assert parse_timestamp(written[:26] + extra_digits + written[26:]) == when
    assert parse_timestamp(written[:26] + written[26:].replace(":", "")) == when  # +HHMM
    in_utc = when.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    assert parse_timestamp(in_utc + extra_digits + "Z") == when


# The oracle of the signature tests, written from the documented header forms (docs/flinks-api.md, "Webhooks")
# with hmac and hashlib, and nothing from flinks_sessions.signatures.
WEBHOOK_SECRET = "sandbox-webhook-secret"  # tests/settings.py: the only secret the test settings accept


def hmac_sha256(body: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()


def spelled(digest: bytes, form: SignatureForm) -> str:
    """The header value Flinks sends: ``sha256=<HEX>`` for X-Webhook-Signature, base64 for the other two."""
    if form is SignatureForm.WEBHOOK_SIGNATURE:
        return "sha256=" + digest.hex().upper()
    return base64.b64encode(digest).decode("ascii")


def carries(value: str, form: SignatureForm, digest: bytes) -> bool:
    """Whether ``value`` spells exactly ``digest`` in ``form`` (hex in either case; spaces around ignored)."""
    value = value.strip()
    if form is SignatureForm.WEBHOOK_SIGNATURE:
        prefix, _, digits = value.partition("=")
        return prefix.strip().lower() == "sha256" and "".join(digits.split()).lower() == digest.hex()
    return value == base64.b64encode(digest).decode("ascii")


def authentic(body: bytes, value: str, form: SignatureForm, secrets: list[str]) -> bool:
    return any(carries(value, form, hmac_sha256(body, secret)) for secret in secrets)


@BOUNDED
@given(
    body=st.binary(max_size=500),
    value=st.text(max_size=120) | st.from_regex(r"\Asha256=[0-9a-fA-F ]{0,70}\Z"),
    form=st.sampled_from(ALL_FORMS),
    secrets=st.lists(st.text(min_size=1, max_size=30), max_size=3),
)
def test_signature_check_is_a_yes_or_no(
    body: bytes, value: str, form: SignatureForm, secrets: list[str]
) -> None:
    decoded = decode_signature(value, form)
    assert decoded is None or isinstance(decoded, bytes)
    verdict = matches(body, value, form, secrets)
    assert verdict in (True, False)
    assert verdict is authentic(body, value, form, secrets)
    for secret in secrets:
        assert matches(body, sign(body, secret, form), form, secrets) is True
        assert matches(body, spelled(hmac_sha256(body, secret), form), form, secrets) is True


@st.composite
def near_misses(draw: st.DrawFn) -> tuple[bytes, str, str, SignatureForm]:
    """A body, a secret, and the secret's signature cut short, padded, or with one byte changed."""
    body = draw(st.binary(max_size=200))
    secret = draw(st.text(min_size=1, max_size=30))
    form = draw(st.sampled_from(ALL_FORMS))
    digest = hmac_sha256(body, secret)
    kind = draw(st.sampled_from(["truncated", "padded", "one byte off"]))
    if kind == "one byte off":  # the last bytes too: a check of a prefix must not pass
        at = draw(st.integers(0, len(digest) - 1))
        changed = digest[:at] + bytes([digest[at] ^ draw(st.integers(1, 255))]) + digest[at + 1 :]
        return body, secret, spelled(changed, form), form
    if form is SignatureForm.WEBHOOK_SIGNATURE:
        digits = digest.hex().upper()
        if kind == "truncated":  # down to "sha256=" and a digit or two
            return body, secret, "sha256=" + digits[: draw(st.integers(0, len(digits) - 1))], form
        extra = draw(st.text(alphabet="0123456789abcdefABCDEF", min_size=1, max_size=16))
        return body, secret, "sha256=" + digits + extra, form
    if kind == "truncated":
        return body, secret, base64.b64encode(digest[: draw(st.integers(0, len(digest) - 1))]).decode(), form
    return body, secret, base64.b64encode(digest + draw(st.binary(min_size=1, max_size=8))).decode(), form


@BOUNDED
@given(near_misses(), st.lists(st.text(min_size=1, max_size=30), max_size=2))
def test_a_truncated_padded_or_altered_signature_is_refused(
    case: tuple[bytes, str, str, SignatureForm], others: list[str]
) -> None:
    """Refused by construction, whatever matches() would say of it; the exact signature is accepted."""
    body, secret, value, form = case
    assert matches(body, value, form, [*others, secret]) is False
    assert matches(body, spelled(hmac_sha256(body, secret), form), form, [*others, secret]) is True


@pytest.mark.django_db
@BOUNDED
@given(
    body=st.binary(max_size=500),
    headers=st.dictionaries(
        st.sampled_from([form.value for form in ALL_FORMS] + ["X-Other"]), st.text(max_size=100), max_size=4
    ),
    data=st.data(),
)
def test_webhook_verification_never_raises(body: bytes, headers: dict[str, str], data: st.DataObject) -> None:
    """Valid exactly when a header carries the body's HMAC under the configured secret (computed here)."""
    for name in list(headers):  # some headers carry a real signature, under the right secret or another
        form = next((form for form in ALL_FORMS if form.value == name), None)
        if form is not None and data.draw(st.booleans()):
            secret = data.draw(st.sampled_from([WEBHOOK_SECRET, "another-secret"]))
            headers[name] = spelled(hmac_sha256(body, secret), form)
    config = get_settings()
    candidates = signature_headers(headers, config)
    if candidates:
        form, valid = verify(body, candidates, config)
        assert form in ALL_FORMS
        assert valid is any(authentic(body, v, f, [WEBHOOK_SECRET]) for f, v in candidates)
        if valid:  # the header it names is one that authenticates
            assert authentic(body, headers[form.value], form, [WEBHOOK_SECRET])


beacon_bodies = (
    st.binary(max_size=6000)
    | json_values.map(lambda value: json.dumps(value).encode())
    | nesting
    | st.dictionaries(st.text(max_size=10), st.text(max_size=40), max_size=6).map(
        lambda fields: "&".join(f"{k}={v}" for k, v in fields.items()).encode("utf-8", "surrogatepass")
    )
)


@BOUNDED
@given(body=beacon_bodies, parser=st.sampled_from([BeaconFormParser, BeaconTextParser, BeaconJSONParser]))
def test_beacon_parsers(body: bytes, parser: type[Any]) -> None:
    try:
        data = parser().parse(io.BytesIO(body))
    except (ParseError, PayloadTooLarge):
        return
    request = ExitRequest.from_data(data)
    assert isinstance(request.stored_reason, str)


session_ids = st.uuids()


@BOUNDED
@given(
    token=st.text(max_size=250)
    | session_ids.map(exit_token).flatmap(
        lambda good: st.sampled_from([good, good[:-1], good + "x", good.upper(), good.replace(":", "::")])
    ),
    session_id=session_ids | uuid_spellings,
)
def test_exit_token(token: str, session_id: str | uuid.UUID) -> None:
    with contextlib.suppress(BadExitToken):
        assert isinstance(read_exit_token(token, session_id=session_id), uuid.UUID)
