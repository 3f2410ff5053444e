"""Helpers for a shop's own tests: a real Flinks Pay emulator on a free loopback port.

Register the plugin once, in the project's ``conftest.py``::

    pytest_plugins = ["flinks_sessions.testing"]

then point the app at the sandbox and drive outcomes the way Flinks would::

    import requests

    def test_leaving_checkout_cancels_the_session(flinks_sandbox, settings, client):
        settings.FLINKS_SESSIONS = {
            "ACCOUNTS": {"default": {
                "BASE_URL": flinks_sandbox.url,
                "CLIENT_ID": flinks_sandbox.config.client_id,
                "CLIENT_SECRET": flinks_sandbox.config.client_secret,
            }},
            "WEBHOOK_SECRETS": [flinks_sandbox.config.webhook_secret],
        }
        ...  # start a checkout, send the exit beacon
        assert flinks_sandbox.count(method="POST", path_suffix="/cancel") == 1

    def test_cancel_survives_two_503s(flinks_sandbox):
        flinks_sandbox.faults.fail_next = [503, 503]   # then normal service
        ...

    def test_webhooks_reach_the_site(flinks_sandbox_factory, live_server):
        sandbox = flinks_sandbox_factory(webhook_url=live_server.url + "/flinks/webhooks/")
        ...

The fixtures need pytest; the rest of this module does not, so ``running_sandbox()`` also works in a
script or another test runner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flinks_sessions.sandbox import FaultSettings, SandboxConfig, SandboxServer


@contextmanager
def running_sandbox(
    config: SandboxConfig | None = None, *, faults: FaultSettings | None = None, **config_fields: Any
) -> Iterator[SandboxServer]:
    """A started sandbox on a free loopback port, stopped on exit; keyword arguments set config fields."""
    from flinks_sessions.sandbox import SandboxConfig, SandboxServer

    if config is None:
        config = SandboxConfig(**config_fields)
    elif config_fields:
        config.update(config_fields)
    server = SandboxServer("127.0.0.1", 0, config, faults=faults)
    server.start()
    try:
        yield server
    finally:
        server.stop()


SandboxFactory = Callable[..., "SandboxServer"]

try:
    import pytest
except ImportError:  # pragma: no cover - the fixtures simply do not exist without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def flinks_sandbox_factory() -> Iterator[SandboxFactory]:
        """Start sandboxes with custom settings: ``flinks_sandbox_factory(webhook_url=..., token_ttl=1)``.

        Accepts a ``SandboxConfig`` as first argument and/or config fields as keywords, plus ``faults=``.
        Every sandbox made is stopped when the test ends.
        """
        stack: list[Any] = []

        def make(config: SandboxConfig | None = None, **kwargs: Any) -> SandboxServer:
            manager = running_sandbox(config, **kwargs)
            server = manager.__enter__()
            stack.append(manager)
            return server

        try:
            yield make
        finally:
            while stack:
                stack.pop().__exit__(None, None, None)

    @pytest.fixture
    def flinks_sandbox() -> Iterator[SandboxServer]:
        """A running sandbox with the default config (``sandbox-client`` / ``sandbox-secret``)."""
        with running_sandbox() as server:
            yield server


# --- Signed webhooks for a site's own tests (the receiver's side) ------------------------------------------


class SignedWebhook:
    """A webhook body and the headers Flinks would send with it; ``post(client)`` delivers it to the app."""

    def __init__(self, body: bytes, headers: dict[str, str]) -> None:
        self.body = body
        self.headers = headers

    def post(self, client: Any, url: str | None = None, **extra: Any) -> Any:
        """POST through a Django test client (``client``, ``Client(enforce_csrf_checks=True)``...)."""
        from django.urls import reverse

        return client.post(
            url or reverse("flinks_sessions:webhook"),
            data=self.body,
            content_type="application/json",
            headers={**self.headers, **extra.pop("headers", {})},
            **extra,
        )


def signed_webhook(
    payload: dict[str, Any] | None = None,
    *,
    secret: str | None = None,
    form: Any = None,
    when: Any = None,
    event_type: str = "SessionSetupStatusChanged",
    body: bytes | None = None,
    **payload_fields: Any,
) -> SignedWebhook:
    """Build a ``SessionSetupStatusChanged`` envelope and sign it the way Flinks does.

    ``signed_webhook(sessionId=str(session.session_id), status="Completed", statusDetails="EFT0301")``; the
    secret defaults to the first of ``FLINKS_SESSIONS["WEBHOOK_SECRETS"]``, ``form`` to ``X-Webhook-Signature``
    (a ``SignatureForm`` or a header name), ``when`` to now in Flinks' seven-digit form. ``body`` signs exact
    bytes instead (a malformed body, the seed's text).
    """
    import json

    from flinks_sessions.conf import get_settings
    from flinks_sessions.sandbox.config import parse_signature_form
    from flinks_sessions.signatures import SignatureForm, sign
    from flinks_sessions.webhooks.envelope import build_envelope

    if body is None:
        envelope = build_envelope({**(payload or {}), **payload_fields}, event_type=event_type, when=when)
        body = json.dumps(envelope).encode("utf-8")
    if secret is None:
        secrets = get_settings().webhook_secrets
        if not secrets:
            raise ValueError("pass secret=...: FLINKS_SESSIONS has no WEBHOOK_SECRETS")
        secret = secrets[0]
    chosen = SignatureForm.WEBHOOK_SIGNATURE if form is None else parse_signature_form(form)
    return SignedWebhook(body, {chosen.value: sign(body, secret, chosen)})
