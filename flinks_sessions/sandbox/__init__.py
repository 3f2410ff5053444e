"""A local Flinks Pay emulator: the v2 session API, the hosted page, signed webhooks, expiry and faults.

Tests and the demo talk to it over real HTTP on loopback, so the client's retries, timeouts and connection
handling are exercised for real. The server is pure standard library (``SandboxControl``, the client for its
``/_sandbox/`` routes, needs ``requests`` and is imported lazily)::

    from flinks_sessions.sandbox import SandboxConfig, SandboxServer

    with SandboxServer(config=SandboxConfig(webhook_url="http://127.0.0.1:8000/flinks/webhooks/")) as sandbox:
        sandbox.faults.fail_next = [503, 503]     # the next two API calls fail, then normal service
        ...
        assert sandbox.count(method="POST", path_suffix="/cancel") == 1
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import SandboxConfig
from .faults import Faults, FaultSettings
from .requestlog import RequestLog
from .scenarios import SCENARIOS, Scenario
from .server import SandboxServer
from .state import Product, SandboxState, Session

if TYPE_CHECKING:
    from .control import SandboxControl, SandboxControlError

__all__ = [
    "SCENARIOS",
    "FaultSettings",
    "Faults",
    "Product",
    "RequestLog",
    "SandboxConfig",
    "SandboxControl",
    "SandboxControlError",
    "SandboxServer",
    "SandboxState",
    "Scenario",
    "Session",
]


def __getattr__(name: str) -> Any:
    """``SandboxControl`` imports ``requests``; load it only when asked so the server stays stdlib-only."""
    if name in ("SandboxControl", "SandboxControlError"):
        from . import control

        return getattr(control, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
