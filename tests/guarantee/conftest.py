"""A sandbox with a guarantee webhook configured for the client, posting to the app on a live server."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from flinks_sessions import services
from flinks_sessions.models import PaymentSession
from tests.conftest import flinks_settings_for
from tests.webhooks.helpers import SECRET

GEFT_PAYOR = {"firstName": "John", "lastName": "Doe"}


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


@pytest.fixture
def signals() -> Any:
    """Every flinks_sessions signal sent while the test runs (the receiver tests' log)."""
    yield from _signal_log()


def _signal_log() -> Any:
    from flinks_sessions import signals as app_signals
    from tests.webhooks.conftest import SignalLog

    log = SignalLog()
    receivers = {}
    for name, signal in (
        ("status_changed", app_signals.session_status_changed),
        ("webhook_received", app_signals.webhook_received),
        ("amount_reduced", app_signals.amount_reduced),
        ("guarantee_offered", app_signals.guarantee_offered),
        ("guarantee_decided", app_signals.guarantee_decided),
    ):

        def receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
            kwargs.pop("signal", None)
            log.sent.append((_name, kwargs))

        signal.connect(receiver, weak=False)
        receivers[signal] = receiver
    yield log
    for signal, receiver in receivers.items():
        signal.disconnect(receiver)
