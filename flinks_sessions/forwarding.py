"""Which address a request came from, behind ``TRUST_X_FORWARDED_FOR`` trusted proxies (DRF's ``NUM_PROXIES``).

Each proxy appends the address it received the request from to ``X-Forwarded-For``; whatever stands before the
hops our own proxies appended was written by the client and proves nothing. With ``N`` trusted proxies the
client is therefore the ``N``-th entry from the right (the first entry when there are fewer). ``0`` (the
default) ignores the header: the peer address is all there is. One rule for the beacon throttle and the
webhook log alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def forwarded_client(meta: Mapping[str, Any], trusted_proxies: int) -> str:
    """The client address: ``REMOTE_ADDR``, or the hop our ``trusted_proxies`` appended to X-Forwarded-For.

    An empty string when there is no address at all; the caller decides what to do with a non-address.
    """
    remote = str(meta.get("REMOTE_ADDR") or "").strip()
    forwarded = str(meta.get("HTTP_X_FORWARDED_FOR") or "")
    if trusted_proxies <= 0 or not forwarded.strip():
        return remote
    hops = [hop.strip() for hop in forwarded.split(",")]
    return hops[-min(trusted_proxies, len(hops))] or remote
