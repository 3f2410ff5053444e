"""Rate limits for the browser endpoints, owned by the app rather than by the site's DRF settings.

A site's ``DEFAULT_THROTTLE_CLASSES`` are tuned for its own API; a page-exit beacon needs its own rule. The rate
is ``FLINKS_SESSIONS['BEACON_THROTTLE_RATE']`` (``"60/min"`` by default, ``None`` to switch it off), counted per
session and client address in Django's default cache. Use a shared cache (Redis, Memcached, the database) when
the site runs several processes, or each process counts on its own.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from flinks_sessions.conf import get_settings
from flinks_sessions.forwarding import forwarded_client

logger = logging.getLogger("flinks_sessions.api")


def client_address(request: Request) -> str:
    """The address the request came from: the hop the ``TRUST_X_FORWARDED_FOR`` proxies appended, if any."""
    return forwarded_client(request.META, get_settings().trusted_proxies) or "unknown"


class BeaconThrottle(SimpleRateThrottle):
    """Counts requests per (session, client address) for the exit and resume endpoints."""

    scope = "flinks_sessions_beacon"

    def get_rate(self) -> str | None:
        return get_settings().beacon_throttle_rate

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        """DRF's parsing, except that a malformed rate is logged and not applied (never a 500 on every beacon)."""
        try:
            return super().parse_rate(rate)
        except (ValueError, KeyError, IndexError, AttributeError):
            logger.error("Ignoring the %s rate %r: use a rate like '60/min'", self.scope, rate)
            return None, None

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None or getattr(self, "num_requests", None) is None:
            return True
        return bool(super().allow_request(request, view))

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        raw = view.kwargs.get("session_id")
        if raw is None:
            return None
        try:
            # One bucket per session however the URL spells its id: UUID() also reads upper case, braces,
            # "urn:uuid:" and bare hex, and each spelling must not get an allowance of its own.
            session_id = uuid.UUID(str(raw))
        except ValueError:
            return None  # the view answers 404 before the throttle runs
        ident = f"{session_id}:{client_address(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class StatusThrottle(BeaconThrottle):
    """The same rate for the status poll, counted apart so polling never eats the beacon's allowance."""

    scope = "flinks_sessions_status"


class RestartThrottle(BeaconThrottle):
    """Start again per client address, across sessions and orders: ``RESTART_THROTTLE_RATE`` (``"10/hour"``).

    The per-session count cannot stop a client that restarts each successor with the fresh token it was just
    given; the per-order bound (``RESTART_LIMIT``) cannot stop one that walks many orders. This one counts
    every Start again from one address.
    """

    scope = "flinks_sessions_restart"

    def get_rate(self) -> str | None:
        return get_settings().restart_throttle_rate

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}
