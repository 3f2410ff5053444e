"""OpenTelemetry spans around the app's outbound calls and background work, inert without OpenTelemetry.

Only ``opentelemetry-api`` is used (``pip install flinks-sessions[tracing]``): it records nothing until the
site installs and configures an SDK, so a span costs a no-op call there, and nothing at all when the API is
not installed. Span names start with ``flinks_sessions.``; the session a span is about is its
``flinks_sessions.session_id`` attribute (docs/deployment.md, "Traces").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

try:
    from opentelemetry import trace
except ImportError:  # the `tracing` extra is not installed
    trace = None  # type: ignore[assignment]

TRACER_NAME = "flinks_sessions"
SESSION_ID = "flinks_sessions.session_id"


class _NoSpan:
    """What :func:`span` yields without OpenTelemetry: attributes set on it go nowhere."""

    def set_attribute(self, key: str, value: Any) -> None:
        return None

    def is_recording(self) -> bool:
        return False


_NO_SPAN = _NoSpan()


@contextmanager
def span(name: str, *, session_id: object = None, **attributes: Any) -> Iterator[Any]:
    """A span named ``flinks_sessions.<name>`` around the block, current while it runs.

    ``None`` attributes are left out (OpenTelemetry refuses them); ``session_id`` becomes
    :data:`SESSION_ID`. An exception leaving the block is recorded on the span and re-raised.
    """
    if trace is None:
        yield _NO_SPAN
        return
    if session_id is not None:
        attributes[SESSION_ID] = str(session_id)
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(
        f"flinks_sessions.{name}",
        attributes={key: value for key, value in attributes.items() if value is not None},
    ) as current:
        yield current
