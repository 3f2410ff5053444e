"""Outbound webhooks, delivered the way Flinks delivers them: status changes once, signed, never retried.

The receiver under test must cope with exactly that, so the emulator does not help it: a status delivery that
fails (connection refused, 500, timeout) is recorded and forgotten. A GEFT guarantee offer is the exception
Flinks documents: it is tried three times, and when none is acknowledged (2xx) the session fails EFT0402.
Deliveries run on their own threads so the API call that caused them answers at once, as it does upstream.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flinks_sessions.signatures import sign

from .config import SandboxConfig
from .state import CANCELLED, COMPLETED, FAILED, Session, Transition
from .wire import dumps

logger = logging.getLogger("flinks_sessions.sandbox")

EVENT_TYPE = "SessionSetupStatusChanged"
# Expired is terminal too, but Flinks sends nothing for it.
NOTIFIED_STATUSES = frozenset({COMPLETED, FAILED, CANCELLED})
DELIVERY_TIMEOUT = 10.0
GUARANTEE_TRIES = 3


def flinks_timestamp(now_ns: int | None = None) -> str:
    """UTC with seven fractional digits and a ``Z``, like ``2025-11-18T14:36:48.6078123Z`` (.NET ticks)."""
    ns = time.time_ns() if now_ns is None else now_ns
    seconds, remainder = divmod(ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{remainder // 100:07d}Z"


def envelope(
    payload: dict[str, Any], when: str | None = None, event_type: str = EVENT_TYPE
) -> dict[str, Any]:
    return {"when": when or flinks_timestamp(), "type": event_type, "payload": payload}


# A direct opener: a proxy from the environment must never see (or swallow) a loopback delivery.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class WebhookSender:
    """A state listener that posts a signed envelope for every Completed, Failed or Cancelled transition."""

    def __init__(
        self,
        config: SandboxConfig,
        stopping: threading.Event | None = None,
        *,
        offer_undelivered: Callable[[str], object] | None = None,
    ) -> None:
        self._config = config
        self._stopping = stopping or threading.Event()
        self._offer_undelivered = offer_undelivered
        self._condition = threading.Condition()
        self._deliveries: list[dict[str, Any]] = []
        self._threads: set[threading.Thread] = set()

    def __call__(self, transition: Transition) -> None:
        session = transition.session
        url = self._config.webhook_url
        if session.status not in NOTIFIED_STATUSES or not url:
            return
        body = dumps(envelope(session.webhook_payload()))
        self._start(self._deliver, url, body, self._headers(body), self._config.webhook_delay)

    def offer(self, session: Session) -> None:
        """An offer listener: post the guarantee event, up to three tries; fail the session if none lands."""
        url = self._config.webhook_url
        if not self._config.guarantee_webhook:
            return
        body = dumps(envelope(session.offer_payload(), event_type=self._config.guarantee_event_type))
        self._start(self._offer, url or "", body, self._headers(body), session.session_id)

    def _headers(self, body: bytes) -> dict[str, str]:
        form = self._config.webhook_form
        return {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "flinks-sessions-sandbox",
            form.value: sign(body, self._config.webhook_secret, form),
        }

    def _start(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name="flinks-sandbox-webhook", daemon=True)
        with self._condition:
            self._threads.add(thread)
        thread.start()

    def _offer(self, url: str, body: bytes, headers: dict[str, str], session_id: str) -> None:
        delivered = False
        try:
            for attempt in range(GUARANTEE_TRIES):
                if attempt and self._stopping.wait(self._config.guarantee_retry_delay):
                    return
                record = self._record(url, body, headers, kind="guarantee", attempt=attempt + 1)
                self._post(record, body, headers)
                self._keep(record)
                code = record["status_code"]
                if code is not None and 200 <= code < 300:
                    delivered = True
                    return
        finally:
            with self._condition:
                self._threads.discard(threading.current_thread())
                self._condition.notify_all()
            if not delivered and not self._stopping.is_set() and self._offer_undelivered is not None:
                logger.info("guarantee event for %s undelivered after %d tries", session_id, GUARANTEE_TRIES)
                self._offer_undelivered(session_id)

    def _record(self, url: str, body: bytes, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
        """A delivery attempt's record, before the attempt: what is sent, and how it is signed."""
        header = self._config.webhook_form.value
        return {
            "url": url,
            "status_code": None,
            "error": None,
            "body": body.decode("utf-8"),
            "signature_header": header,
            "signature": headers.get(header),
            **extra,
        }

    def _post(self, record: dict[str, Any], body: bytes, headers: dict[str, str]) -> None:
        """One attempt to ``record["url"]``: its status code or error, and its duration, go into ``record``."""
        url = record["url"]
        started = time.monotonic()
        try:
            if not url:
                raise ValueError("no webhook_url configured")
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
            with _OPENER.open(request, timeout=DELIVERY_TIMEOUT) as response:
                record["status_code"] = response.status
        except urllib.error.HTTPError as error:
            record["status_code"] = error.code
        except (OSError, ValueError) as error:
            record["error"] = f"{type(error).__name__}: {error}"
        record["duration"] = time.monotonic() - started

    def _keep(self, record: dict[str, Any], *, finished: threading.Thread | None = None) -> None:
        """Add a finished attempt to :attr:`deliveries` (and forget the thread that ``finished``)."""
        record["at"] = time.time()
        with self._condition:
            self._deliveries.append(record)
            if finished is not None:
                self._threads.discard(finished)
            self._condition.notify_all()

    def _deliver(self, url: str, body: bytes, headers: dict[str, str], delay: float) -> None:
        record = self._record(url, body, headers)
        try:
            if delay and self._stopping.wait(delay):
                record["error"] = "sandbox stopped before delivery"
                return
            self._post(record, body, headers)
        finally:
            self._keep(record, finished=threading.current_thread())
            logger.debug("webhook to %s: %s", url, record["status_code"] or record["error"])

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        """Finished delivery attempts, oldest first: ``url``, ``status_code`` or ``error``, ``body``..."""
        with self._condition:
            return [dict(record) for record in self._deliveries]

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` deliveries have finished (or ``timeout``); returns them all."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while len(self._deliveries) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
            return [dict(record) for record in self._deliveries]

    def pending(self) -> int:
        with self._condition:
            return len(self._threads)

    def clear(self) -> int:
        with self._condition:
            count = len(self._deliveries)
            self._deliveries.clear()
        return count

    def join(self, timeout: float = 2.0) -> None:
        """Give in-flight deliveries a moment to finish (called when the server stops)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
