"""A record of every API call the sandbox answered, so tests can assert what a client actually sent.

Tests count calls ("exactly one cancel reached Flinks however many triggers raced") rather than trusting the
client's own bookkeeping. Tokens are never recorded, only which kind of credentials came with the call.
"""

from __future__ import annotations

import threading
import time
from typing import Any, TypedDict, Unpack


def authorization_kind(header: str | None) -> str | None:
    """``"bearer"``, ``"basic"`` or ``None``: enough to check a client's behaviour, never the secret."""
    if not header:
        return None
    scheme = header.strip().split(" ", 1)[0].lower()
    if scheme in ("bearer", "basic"):
        return scheme
    return None


class Match(TypedDict, total=False):
    """What a request-log query may name; a call matches every key given."""

    method: str
    path_suffix: str
    path_contains: str
    status: int


class RequestLog:
    """A thread-safe, append-only (until cleared) list of ``{"method","path","status","at","authorization"}``.

    ``status`` is ``None`` for a dropped connection; ``fault`` names the injected fault, if any; ``at`` is a
    Unix timestamp (float seconds) so benchmarks can compute rates.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def record(
        self,
        method: str,
        path: str,
        status: int | None,
        authorization: str | None,
        fault: str | None = None,
    ) -> None:
        entry = {
            "method": method,
            "path": path,
            "status": status,
            "at": time.time(),
            "authorization": authorization,
            "fault": fault,
        }
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        """A copy; later requests do not change it."""
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def clear(self) -> int:
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
        return count

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def filter(self, **match: Unpack[Match]) -> list[dict[str, Any]]:
        return filter_entries(self.entries(), **match)

    def count(self, **match: Unpack[Match]) -> int:
        """How many calls match, e.g. ``count(method="POST", path_suffix="/cancel")``."""
        return len(self.filter(**match))


def filter_entries(entries: list[dict[str, Any]], **match: Unpack[Match]) -> list[dict[str, Any]]:
    """Shared by the in-process log and the HTTP control client, so both count the same way."""
    method, status = match.get("method"), match.get("status")
    path_suffix, path_contains = match.get("path_suffix"), match.get("path_contains")
    return [
        entry
        for entry in entries
        if (method is None or entry["method"] == method.upper())
        and (path_suffix is None or entry["path"].endswith(path_suffix))
        and (path_contains is None or path_contains in entry["path"])
        and (status is None or entry["status"] == status)
    ]
