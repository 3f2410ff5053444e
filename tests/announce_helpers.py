"""A receiver of the announced signals for the announcement tests: it records, deduplicates, and can fail."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flinks_sessions.client import RemoteStatus
from flinks_sessions.models import PaymentSession
from flinks_sessions.services.transitions import apply_remote_status
from flinks_sessions.signals import amount_reduced, session_cancelled, session_status_changed
from flinks_sessions.status import Status

ANNOUNCED_SIGNALS = {
    "status_changed": session_status_changed,
    "cancelled": session_cancelled,
    "amount_reduced": amount_reduced,
}


class Receiver:
    """Every call, in order; ``handled`` is what a receiver that deduplicates on ``event_id`` acted on."""

    def __init__(self, fail: Callable[[str, dict[str, Any]], bool] = lambda name, kwargs: False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.handled: list[tuple[str, int]] = []
        self._seen: set[tuple[str, int]] = set()

    def __call__(self, name: str, kwargs: dict[str, Any]) -> None:
        self.calls.append((name, kwargs))
        if self.fail(name, kwargs):
            raise RuntimeError(f"receiver down for {name} {kwargs['event_id']}")
        key = (name, kwargs["event_id"])
        if key in self._seen:  # the three lines the README shows
            return
        self._seen.add(key)
        self.handled.append(key)

    def statuses(self, session: PaymentSession) -> list[str]:
        """The statuses the deduplicating receiver handled for ``session``, in the order it handled them."""
        by_event = {
            kwargs["event_id"]: kwargs["status"]
            for name, kwargs in self.calls
            if name == "status_changed" and kwargs["session"].pk == session.pk
        }
        return [by_event[event_id] for name, event_id in self.handled if event_id in by_event]


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    connected = {}
    for name, signal in ANNOUNCED_SIGNALS.items():

        def receive(sender: Any, _name: str = name, **kwargs: Any) -> None:
            kwargs.pop("signal", None)
            receiver(_name, kwargs)

        signal.connect(receive, weak=False)
        connected[signal] = receive
    try:
        yield receiver
    finally:
        for signal, receive in connected.items():
            signal.disconnect(receive)


def report(session: PaymentSession, status: Status, raw: str, details: str | None = None) -> RemoteStatus:
    return RemoteStatus(
        session_id=str(session.session_id), raw_status=raw, status=status, status_details=details
    )


def move(session: PaymentSession, status: Status, raw: str, details: str | None = None) -> None:
    """Flinks reports ``status`` for ``session`` (as a webhook would): one transition stored."""
    apply_remote_status(session, report(session, status, raw, details), source="webhook")
