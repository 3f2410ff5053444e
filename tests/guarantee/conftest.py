"""A sandbox with a guarantee webhook configured for the client, posting to the app on a live server."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from flinks_sessions import services
from flinks_sessions.models import PaymentSession
from tests.conftest import flinks_settings_for
from tests.factories import GEFT_PAYOR
from tests.webhooks.conftest import signals  # noqa: F401 - the receiver tests' log of every signal sent
from tests.webhooks.helpers import SECRET


@pytest.fixture
def guarantee_sandbox(flinks_sandbox_factory: Any, live_server: Any, settings: Any) -> Any:
    """Guarantee offers go to the app's receiver; retries 0.05 s apart so a failing run stays short."""
    sandbox = flinks_sandbox_factory(
        webhook_url=live_server.url + reverse("flinks_sessions:webhook"),
        webhook_secret=SECRET,
        guarantee_webhook=True,
        guarantee_retry_delay=0.05,
    )
    settings.FLINKS_SESSIONS = flinks_settings_for(sandbox.url)
    return sandbox


def start_geft(reference_id: str = "Happy1", amount: str | None = "100.00") -> PaymentSession:
    return services.start_session(amount=amount, reference_id=reference_id, payor=GEFT_PAYOR, product="geft")


def confirm_calls(sandbox: Any) -> int:
    return int(sandbox.count(method="POST", path_suffix="/guarantees/confirm"))
