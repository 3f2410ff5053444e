"""The recovery settings are checked when the site starts, not when a payer clicks the link."""

from __future__ import annotations

from typing import Any

import pytest

from flinks_sessions.checks import check_settings
from tests.recovery.helpers import recovery_settings


def ids(settings: Any, **recovery: Any) -> set[str]:
    recovery_settings(settings, **recovery)
    return {message.id for message in check_settings() if message.id}


@pytest.mark.parametrize(
    "checkout",
    [
        "no-such-url",
        "flinks_sessions:webhook",
        "tests.recovery.checkout.nothing",
        "flinks_sessions.conf.SETTING_NAME",
    ],
)
def test_a_checkout_destination_that_cannot_be_used_is_an_error(settings: Any, checkout: str) -> None:
    assert "flinks_sessions.E022" in ids(settings, RECOVERY_CHECKOUT=checkout)


@pytest.mark.parametrize(
    "checkout", [None, "flinks_sessions:session-status", "tests.recovery.checkout.for_session"]
)
def test_a_usable_checkout_destination_passes(settings: Any, checkout: str | None) -> None:
    assert "flinks_sessions.E022" not in ids(settings, RECOVERY_CHECKOUT=checkout)


def test_an_emailed_link_needs_the_sites_address(settings: Any) -> None:
    assert "flinks_sessions.W004" in ids(settings, RECOVERY_EMAIL=True)
    assert "flinks_sessions.W004" not in ids(
        settings, RECOVERY_EMAIL=True, RECOVERY_SITE_URL="https://shop.example"
    )
    assert "flinks_sessions.W004" not in ids(settings)
