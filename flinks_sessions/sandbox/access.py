"""Who may use the ``/_sandbox/`` control routes: a loopback peer that shows the sandbox's control token.

The control API can complete any session and so have the sandbox sign a webhook that a site's receiver
accepts. Binding to loopback is the usual setup, but ``--host 0.0.0.0`` (a container, a VM) must not open that
door: the peer address is checked on every control request, and a token generated at start (printed in the
banner, or given in ``FLINKS_SANDBOX_TOKEN``) must come in the ``X-Sandbox-Token`` header. The API and the
hosted page stay open: they are what a site and a shopper's browser talk to.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets

from .wire import Request, Response, json_response

TOKEN_HEADER = "X-Sandbox-Token"  # noqa: S105 - a header name, not a secret
TOKEN_ENVIRONMENT_VARIABLE = "FLINKS_SANDBOX_TOKEN"  # noqa: S105 - a variable name


def new_token() -> str:
    """The token a sandbox uses when none is given: ``FLINKS_SANDBOX_TOKEN`` when set, else a random one."""
    return os.environ.get(TOKEN_ENVIRONMENT_VARIABLE) or secrets.token_urlsafe(24)


def is_loopback(peer: str) -> bool:
    """Whether an address is loopback, including IPv4 loopback mapped into IPv6 (``::ffff:127.0.0.1``)."""
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def refusal(request: Request, token: str) -> Response | None:
    """The answer refusing a control request, or ``None`` when it may proceed."""
    if not is_loopback(request.peer):
        return json_response(403, {"error": "the sandbox control API only answers loopback clients"})
    offered = request.header(TOKEN_HEADER) or ""
    if not hmac.compare_digest(offered.encode("utf-8"), token.encode("utf-8")):
        return json_response(
            401,
            {"error": f"the sandbox control API needs the {TOKEN_HEADER} header printed at start"},
            {"WWW-Authenticate": TOKEN_HEADER},
        )
    return None
