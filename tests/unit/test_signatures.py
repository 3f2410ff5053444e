"""The signature check against an oracle of its own: the HMAC-SHA256 of the body, whole, or nothing.

A value that is the right digest cut short (one byte, four bytes, all but the last), or the right digest with
anything after it, does not sign the body, whatever form it comes in. The expected answers are computed here
with ``hmac`` and ``hashlib``, not with the module under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from flinks_sessions.signatures import SignatureForm, matches

BODY = b'{"type": "SessionSetupStatusChanged", "payload": {"status": "Completed"}}'
SECRET = "the-webhook-secret"
DIGEST = hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()


def written(digest: bytes, form: SignatureForm) -> str:
    if form is SignatureForm.WEBHOOK_SIGNATURE:
        return "sha256=" + digest.hex()
    return base64.b64encode(digest).decode()


@pytest.mark.parametrize("form", list(SignatureForm))
def test_the_whole_digest_signs_the_body(form: SignatureForm) -> None:
    assert matches(BODY, written(DIGEST, form), form, [SECRET])
    assert matches(BODY, written(DIGEST, form), form, ["an-old-secret", SECRET])
    assert not matches(BODY, written(DIGEST, form), form, ["another-secret"])
    assert not matches(BODY + b" ", written(DIGEST, form), form, [SECRET])


@pytest.mark.parametrize("form", list(SignatureForm))
@pytest.mark.parametrize("length", [1, 2, 4, 16, 31])
def test_the_digest_cut_short_signs_nothing(form: SignatureForm, length: int) -> None:
    """``sha256=`` and two right hex digits is one right byte: not a signature."""
    assert not matches(BODY, written(DIGEST[:length], form), form, [SECRET])


@pytest.mark.parametrize("form", list(SignatureForm))
@pytest.mark.parametrize("extra", [b"\x00", b"\xff" * 4, DIGEST])
def test_the_digest_with_more_after_it_signs_nothing(form: SignatureForm, extra: bytes) -> None:
    assert not matches(BODY, written(DIGEST + extra, form), form, [SECRET])


@pytest.mark.parametrize("form", list(SignatureForm))
def test_a_digest_wrong_in_its_last_byte_signs_nothing(form: SignatureForm) -> None:
    assert not matches(BODY, written(DIGEST[:-1] + bytes([DIGEST[-1] ^ 1]), form), form, [SECRET])
