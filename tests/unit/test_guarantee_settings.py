"""``GUARANTEE_DECISION``, ``GUARANTEE_EVENT_TYPES`` and ``TRANSACTION_EVENT_TYPES``: parsed, checked, named."""

from __future__ import annotations

from typing import Any

import pytest

from flinks_sessions.checks import check_settings
from flinks_sessions.client import GuaranteeOffer
from flinks_sessions.conf import parse_settings
from flinks_sessions.exceptions import FlinksConfigurationError

ACCOUNT = {"BASE_URL": "https://api.example.test", "CLIENT_ID": "id", "CLIENT_SECRET": "s3cret"}
BASE = {"ACCOUNTS": {"default": ACCOUNT}, "WEBHOOK_SECRETS": ["s"]}


def not_callable() -> None:
    """Stands for a site's policy module."""


NOT_A_FUNCTION = 42


def test_defaults_accept_as_flinks_does_without_a_webhook() -> None:
    parsed = parse_settings(BASE)
    assert parsed.guarantee_decision == "accept"
    assert parsed.guarantee_event_types == ("GuaranteeOffered",)
    assert parsed.is_guarantee_event("guaranteeoffered")
    assert parsed.is_transaction_event("TransactionStatusChanged")
    assert not parsed.is_guarantee_event("SessionSetupStatusChanged")


@pytest.mark.parametrize("policy", ["Accept", " reject ", "MANUAL", "shop.policies.decide"])
def test_policies_are_read(policy: str) -> None:
    parsed = parse_settings({**BASE, "GUARANTEE_DECISION": policy})
    expected = policy.strip().lower() if "." not in policy else policy
    assert parsed.guarantee_decision == expected


@pytest.mark.parametrize("policy", ["yes", True, "shop policies.decide", ""])
def test_a_malformed_policy_names_the_key(policy: Any) -> None:
    with pytest.raises(FlinksConfigurationError, match="GUARANTEE_DECISION"):
        parse_settings({**BASE, "GUARANTEE_DECISION": policy})


@pytest.mark.parametrize(
    "policy",
    ["tests.unit.test_guarantee_settings.missing", "tests.unit.test_guarantee_settings.NOT_A_FUNCTION"],
)
def test_a_policy_that_cannot_be_called_fails_the_checks(settings: Any, policy: str) -> None:
    settings.FLINKS_SESSIONS = {**BASE, "GUARANTEE_DECISION": policy}
    [message] = [m for m in check_settings() if m.id == "flinks_sessions.E020"]
    assert policy in message.msg
    assert message.hint


def test_a_callable_policy_passes_the_checks(settings: Any) -> None:
    settings.FLINKS_SESSIONS = {**BASE, "GUARANTEE_DECISION": f"{__name__}.not_callable"}
    assert check_settings() == []


def test_one_event_type_cannot_be_both(settings: Any) -> None:
    settings.FLINKS_SESSIONS = {**BASE, "TRANSACTION_EVENT_TYPES": ["guaranteeOffered"]}
    assert "flinks_sessions.E021" in {m.id for m in check_settings()}


@pytest.mark.parametrize("value", ["GuaranteeOffered", 3, [1]])
def test_event_types_are_a_list_of_strings(value: Any) -> None:
    if isinstance(value, str):
        assert parse_settings({**BASE, "GUARANTEE_EVENT_TYPES": value}).guarantee_event_types == (value,)
    else:
        with pytest.raises(FlinksConfigurationError, match="GUARANTEE_EVENT_TYPES"):
            parse_settings({**BASE, "GUARANTEE_EVENT_TYPES": value})


@pytest.mark.parametrize(
    ("payload", "amount", "offer_type"),
    [
        ({"sessionId": "s", "offeredAmount": 50, "offerType": "Reduced"}, "50", "Reduced"),
        ({"guaranteeDetails": {"sessionId": "s", "guaranteedAmount": "12.5"}}, "12.5", ""),
        ({"sessionId": "s", "guarantee": {"amount": "NaN"}}, None, ""),
        ({"sessionId": "s", "amount": True, "offerType": ["x"]}, None, ""),
        ("not an object", None, ""),
    ],
)
def test_an_offer_is_read_defensively(payload: Any, amount: str | None, offer_type: str) -> None:
    offer = GuaranteeOffer.from_payload(payload)
    assert (None if offer.amount is None else str(offer.amount)) == amount
    assert offer.offer_type == offer_type
    assert offer.session_id == ("s" if isinstance(payload, dict) else "")
