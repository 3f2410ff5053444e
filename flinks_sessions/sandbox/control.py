"""``SandboxControl``: a typed client for the ``/_sandbox/`` routes, for tests and benchmarks elsewhere.

It sends the sandbox's control token (given, or read from ``FLINKS_SANDBOX_TOKEN``) in ``X-Sandbox-Token``.
It uses its own ``requests.Session`` that ignores proxy settings from the environment (a loopback sandbox
must be reached directly), and it raises on any unexpected answer so a test fails where the problem is.
"""

from __future__ import annotations

import os
import time
from types import TracebackType
from typing import Any, Unpack

import requests

from .access import TOKEN_ENVIRONMENT_VARIABLE, TOKEN_HEADER
from .requestlog import Match, filter_entries


class SandboxControlError(RuntimeError):
    """The control API answered something unexpected."""


class SandboxControl:
    """Steer and inspect a running sandbox, e.g. ``SandboxControl(url, token=...).fail_next(503, 503)``.

    In-process, ``server.control()`` builds one with the server's token.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = session or requests.Session()
        self._session.trust_env = False
        token = token or os.environ.get(TOKEN_ENVIRONMENT_VARIABLE)
        if token:
            self._session.headers[TOKEN_HEADER] = token

    def __repr__(self) -> str:
        return f"<SandboxControl {self.base_url}>"

    def _call(self, method: str, path: str, json: Any = None, expect: tuple[int, ...] = (200,)) -> Any:
        response = self._session.request(
            method, f"{self.base_url}/_sandbox{path}", json=json, timeout=self.timeout
        )
        if response.status_code not in expect:
            raise SandboxControlError(
                f"{method} /_sandbox{path} answered {response.status_code}: {response.text}"
            )
        return response.json()

    # -- health ----------------------------------------------------------------------------------------------

    def health(self) -> bool:
        try:
            return bool(self._call("GET", "/health").get("ok"))
        except (requests.RequestException, SandboxControlError):
            return False

    def wait_until_ready(self, timeout: float = 10.0) -> None:
        """Poll until the sandbox answers (after starting it in another process)."""
        deadline = time.monotonic() + timeout
        while not self.health():
            if time.monotonic() >= deadline:
                raise SandboxControlError(f"sandbox at {self.base_url} not ready after {timeout}s")
            time.sleep(0.05)

    # -- request log -----------------------------------------------------------------------------------------

    def request_log(self) -> list[dict[str, Any]]:
        """Every API call answered: ``method``, ``path``, ``status``, ``at``, ``authorization``, ``fault``."""
        return list(self._call("GET", "/requests")["requests"])

    def clear_requests(self) -> int:
        return int(self._call("DELETE", "/requests")["cleared"])

    def count(self, **match: Unpack[Match]) -> int:
        """How many logged API calls match, e.g. ``count(method="POST", path_suffix="/cancel")``."""
        return len(filter_entries(self.request_log(), **match))

    # -- faults ----------------------------------------------------------------------------------------------

    def faults(self) -> dict[str, Any]:
        return dict(self._call("GET", "/faults"))

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Replace every fault setting (unnamed ones go back to their defaults).

        Keys: ``latency``, ``error_rates`` ({status: rate}), ``retry_after``, ``timeout_rate``,
        ``timeout_seconds``, ``drop_rate``, ``paths``, ``fail_next``, ``seed``.
        """
        if "error_rates" in settings and settings["error_rates"] is not None:
            settings["error_rates"] = {str(key): value for key, value in settings["error_rates"].items()}
        return dict(self._call("POST", "/faults", settings))

    def update_faults(self, **changes: Any) -> dict[str, Any]:
        """Change some fault settings and keep the others."""
        if "error_rates" in changes and changes["error_rates"] is not None:
            changes["error_rates"] = {str(key): value for key, value in changes["error_rates"].items()}
        return dict(self._call("PATCH", "/faults", changes))

    def clear_faults(self) -> dict[str, Any]:
        return dict(self._call("DELETE", "/faults"))

    def fail_next(self, *outcomes: int | str) -> dict[str, Any]:
        """Queue outcomes for the next API calls, in order: statuses (503, 401), ``"drop"``, ``"timeout"``."""
        return dict(self._call("POST", "/faults/fail-next", {"outcomes": list(outcomes)}))

    # -- sessions --------------------------------------------------------------------------------------------

    def sessions(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/sessions")["sessions"])

    def session(self, session_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/sessions/{session_id}"))

    def create_session(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a session directly (no token spent), with a body as ``POST /api/v2/sessions`` takes it."""
        return dict(self._call("POST", "/sessions", body, expect=(201,)))

    def _drive(self, session_id: str, action: str, status_details: str | None = None) -> dict[str, Any]:
        body = {"statusDetails": status_details} if status_details else {}
        return dict(self._call("POST", f"/sessions/{session_id}/{action}", body))

    def complete(self, session_id: str, status_details: str | None = None) -> dict[str, Any]:
        """Completed (EFT0301 unless told, e.g. ``"EFT0302"``); sends the webhook."""
        return self._drive(session_id, "complete", status_details)

    def fail(self, session_id: str, status_details: str | None = None) -> dict[str, Any]:
        """Failed (the scenario's code, EFT0402, unless told); sends the webhook."""
        return self._drive(session_id, "fail", status_details)

    def expire(self, session_id: str) -> dict[str, Any]:
        """Expired/EFT0601 now; no webhook, as upstream."""
        return self._drive(session_id, "expire")

    def start(self, session_id: str) -> dict[str, Any]:
        """InProgress, as if the shopper opened the hosted page."""
        return self._drive(session_id, "start")

    def cancel(self, session_id: str) -> dict[str, Any]:
        """Cancel without a token (not logged as an API call); sends the webhook."""
        return self._drive(session_id, "cancel")

    def pay(self, session_id: str) -> dict[str, Any]:
        """The shopper authorises the payment: GEFT reaches the guarantee step when its webhook is configured."""
        return self._drive(session_id, "pay")

    # -- tokens, config, webhooks, reset ---------------------------------------------------------------------

    def revoke_tokens(self) -> int:
        """Invalidate every issued access token: the next API call with one answers 401."""
        return int(self._call("POST", "/tokens/revoke")["revoked"])

    def config(self) -> dict[str, Any]:
        return dict(self._call("GET", "/config"))

    def set_config(self, **changes: Any) -> dict[str, Any]:
        """Change settings at run time: ``webhook_url``, ``webhook_secret``, ``webhook_form``, ``token_ttl``,
        ``expire_after``, ``require_auth_for_status``, ``error_style``, ``disabled_products``..."""
        if "disabled_products" in changes:
            changes["disabled_products"] = sorted(changes["disabled_products"])
        return dict(self._call("POST", "/config", changes))

    def webhooks(self) -> list[dict[str, Any]]:
        """Finished deliveries: ``url``, ``status_code`` or ``error``, ``body``, ``signature_header``..."""
        return list(self._call("GET", "/webhooks")["deliveries"])

    def wait_for_webhooks(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            deliveries = self.webhooks()
            if len(deliveries) >= count or time.monotonic() >= deadline:
                return deliveries
            time.sleep(0.02)

    def clear_webhooks(self) -> int:
        return int(self._call("DELETE", "/webhooks")["cleared"])

    def reset(self) -> None:
        """No sessions, tokens, log or deliveries; the config and faults the sandbox started with."""
        self._call("POST", "/reset")

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> SandboxControl:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
