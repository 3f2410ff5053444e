"""Settings are read at call time, validated with clear messages, and checked with stable ids."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks as django_checks
from django.core.exceptions import ImproperlyConfigured

from flinks_sessions.checks import check_settings
from flinks_sessions.conf import get_settings, parse_settings
from flinks_sessions.exceptions import FlinksConfigurationError
from flinks_sessions.signatures import SignatureForm

ACCOUNT = {"BASE_URL": "https://api.example.test", "CLIENT_ID": "id", "CLIENT_SECRET": "s3cret"}


def ids(messages: list[django_checks.CheckMessage]) -> set[str]:
    return {m.id for m in messages if m.id}


def test_defaults_and_several_accounts() -> None:
    parsed = parse_settings(
        {
            "ACCOUNTS": {"default": ACCOUNT, "geft": {**ACCOUNT, "API_KEY": "k", "X_CLIENT_ID": "x"}},
            "PRODUCT_ACCOUNTS": {"geft": "geft"},
            "WEBHOOK_SECRETS": "one",
        }
    )
    assert parsed.account().client_id == "id"
    assert parsed.account_name_for("geft") == "geft"
    assert parsed.account_name_for("eft") == "default"
    assert parsed.account("geft").api_key == "k"
    assert parsed.webhook_secrets == ("one",)
    assert parsed.webhook_signature_forms == tuple(SignatureForm)
    assert parsed.retry.attempts == 4
    assert parsed.read_timeout == 15.0


def test_secrets_never_in_reprs() -> None:
    parsed = parse_settings(
        {"ACCOUNTS": {"default": {**ACCOUNT, "API_KEY": "key-123"}}, "WEBHOOK_SECRETS": ["wh-9"]}
    )
    text = repr(parsed)
    assert "s3cret" not in text
    assert "key-123" not in text
    assert "wh-9" not in text


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ([], "must be a dict"),
        ({"ACCOUNTS": {"default": {"BASE_URL": "https://x"}}}, "missing CLIENT_ID, CLIENT_SECRET"),
        ({"ACCOUNTS": {"default": ACCOUNT}, "READ_TIMEOUT": "slow"}, "READ_TIMEOUT"),
        ({"ACCOUNTS": {"default": ACCOUNT}, "WEBHOOK_SECRETS": [1]}, "WEBHOOK_SECRETS"),
        ({"ACCOUNTS": {"default": ACCOUNT}, "WEBHOOK_SIGNATURE_HEADERS": ["X-Nope"]}, "X-Nope"),
        ({"ACCOUNTS": {"default": ACCOUNT}, "PRODUCT_ACCOUNTS": {"bitcoin": "default"}}, "bitcoin"),
        ({"ACCOUNTS": {"default": ACCOUNT}, "RETRY": {"ATTEMPTS": 0}}, "ATTEMPTS"),
    ],
)
def test_malformed_settings_name_the_key(raw: Any, needle: str) -> None:
    with pytest.raises(FlinksConfigurationError, match=needle) as info:
        parse_settings(raw)
    assert isinstance(info.value, ImproperlyConfigured)


def test_settings_are_read_at_call_time(settings: Any) -> None:
    settings.FLINKS_SESSIONS = {"ACCOUNTS": {"default": ACCOUNT}, "READ_TIMEOUT": 1.5}
    assert get_settings().read_timeout == 1.5
    settings.FLINKS_SESSIONS = {"ACCOUNTS": {"default": ACCOUNT}, "READ_TIMEOUT": 2.5}
    assert get_settings().read_timeout == 2.5


def test_unknown_account_is_a_clear_error(settings: Any) -> None:
    settings.FLINKS_SESSIONS = {"ACCOUNTS": {"default": ACCOUNT}}
    with pytest.raises(FlinksConfigurationError, match="No Flinks account named 'geft'"):
        get_settings().account("geft")


def test_checks_pass_on_the_test_settings() -> None:
    assert check_settings() == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "flinks_sessions.E001"),
        ({"ACCOUNTS": {"default": {"BASE_URL": "https://x"}}}, "flinks_sessions.E002"),
        ({"ACCOUNTS": {}, "WEBHOOK_SECRETS": ["s"]}, "flinks_sessions.E003"),
        (
            {"ACCOUNTS": {"default": ACCOUNT}, "DEFAULT_ACCOUNT": "eft", "WEBHOOK_SECRETS": ["s"]},
            "flinks_sessions.E004",
        ),
        ({"ACCOUNTS": {"default": ACCOUNT}, "PRODUCT_ACCOUNTS": {"geft": "geft"}}, "flinks_sessions.E004"),
        (
            {"ACCOUNTS": {"default": {**ACCOUNT, "BASE_URL": "http://api.example.test"}}},
            "flinks_sessions.W001",
        ),
        ({"ACCOUNTS": {"default": ACCOUNT}}, "flinks_sessions.W002"),
        (
            {"ACCOUNTS": {"default": ACCOUNT}, "WEBHOOK_SECRETS": ["s"], "TRUST_X_FORWARDED_FOR": True},
            "flinks_sessions.W003",
        ),
        (
            {"ACCOUNTS": {"default": ACCOUNT}, "WEBHOOK_SECRETS": ["s"], "TRUST_X_FORWARDED_FOR": -1},
            "flinks_sessions.E002",
        ),
    ],
)
def test_each_check_has_an_id_and_a_hint(settings: Any, value: Any, expected: str) -> None:
    if value is None:
        del settings.FLINKS_SESSIONS
    else:
        settings.FLINKS_SESSIONS = value
    messages = check_settings()
    assert expected in ids(messages)
    assert all(m.hint for m in messages)


def test_plain_http_is_fine_in_debug_and_on_loopback(settings: Any) -> None:
    settings.FLINKS_SESSIONS = {
        "ACCOUNTS": {"default": {**ACCOUNT, "BASE_URL": "http://127.0.0.1:8765"}},
        "WEBHOOK_SECRETS": ["s"],
    }
    assert check_settings() == []
    settings.DEBUG = True
    settings.FLINKS_SESSIONS["ACCOUNTS"]["default"]["BASE_URL"] = "http://flinks.internal"
    assert check_settings() == []


def test_rest_framework_is_required(settings: Any) -> None:
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "rest_framework"]
    assert "flinks_sessions.E005" in ids(check_settings())


@pytest.mark.parametrize(("value", "proxies"), [(False, 0), (True, 1), (0, 0), (2, 2)])
def test_trusted_proxies_are_a_number_and_a_boolean_still_reads(value: Any, proxies: int) -> None:
    parsed = parse_settings({"ACCOUNTS": {"default": ACCOUNT}, "TRUST_X_FORWARDED_FOR": value})
    assert parsed.trusted_proxies == proxies


def test_a_number_of_proxies_is_not_warned_about(settings: Any) -> None:
    settings.FLINKS_SESSIONS = {
        "ACCOUNTS": {"default": ACCOUNT},
        "WEBHOOK_SECRETS": ["s"],
        "TRUST_X_FORWARDED_FOR": 1,
    }
    assert check_settings() == []


@pytest.mark.parametrize(
    ("raw", "unknown", "closest"),
    [
        ({"ACCOUNTS": {"default": ACCOUNT}, "WEBHOOK_SECRET": ["s"]}, "WEBHOOK_SECRET", "WEBHOOK_SECRETS"),
        ({"ACCOUNTS": {"default": {**ACCOUNT, "CLIENTID": "x"}}}, "CLIENTID", "CLIENT_ID"),
        ({"ACCOUNTS": {"default": ACCOUNT}, "RETRY": {"ATTEMPT": 2}}, "ATTEMPT", "ATTEMPTS"),
    ],
)
def test_an_unknown_key_is_an_error_that_names_the_closest_known_key(
    settings: Any, raw: dict[str, Any], unknown: str, closest: str
) -> None:
    """A misspelt key would otherwise be ignored in silence and its default used in its place."""
    settings.FLINKS_SESSIONS = {"WEBHOOK_SECRETS": ["s"], **raw}
    [message] = [m for m in check_settings() if m.id == "flinks_sessions.E006"]
    assert isinstance(message, django_checks.Error)
    assert f"'{unknown}'" in message.msg
    assert f"'{closest}'" in (message.hint or "")


def test_an_unknown_key_far_from_every_known_one_is_still_an_error(settings: Any) -> None:
    settings.FLINKS_SESSIONS = {"ACCOUNTS": {"default": ACCOUNT}, "WEBHOOK_SECRETS": ["s"], "COLOUR": "blue"}
    [message] = [m for m in check_settings() if m.id == "flinks_sessions.E006"]
    assert "'COLOUR'" in message.msg
    assert message.hint
