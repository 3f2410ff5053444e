"""Which address a request came from, behind ``TRUST_X_FORWARDED_FOR`` trusted proxies (DRF's ``NUM_PROXIES``).

Each proxy appends the address it received the request from to ``X-Forwarded-For``; whatever stands before the
hops our own proxies appended was written by the client and proves nothing. With ``N`` trusted proxies the
client is therefore the ``N``-th entry from the right (the first entry when there are fewer). ``0`` (the
default) ignores the header: the peer address is all there is. One rule for the beacon throttle and the
webhook log alike.

The entry chosen may have been written by the client (with fewer hops than trusted proxies, or a request that
did not pass the proxies), so only an IP address is returned, in its normal spelling: anything else would
reach a cache key (memcached refuses a space or 250 characters) or a column as written.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any


def forwarded_client(meta: Mapping[str, Any], trusted_proxies: int) -> str:
    """The client address: ``REMOTE_ADDR``, or the hop our ``trusted_proxies`` appended to X-Forwarded-For.

    An empty string when there is no address, or when what stands there is not an IP address.
    """
    remote = str(meta.get("REMOTE_ADDR") or "").strip()
    forwarded = str(meta.get("HTTP_X_FORWARDED_FOR") or "")
    chosen = remote
    if trusted_proxies > 0 and forwarded.strip():
        hops = [hop.strip() for hop in forwarded.split(",")]
        chosen = hops[-min(trusted_proxies, len(hops))] or remote
    try:
        return str(ipaddress.ip_address(chosen))
    except ValueError:
        return ""
