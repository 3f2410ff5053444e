"""Reading a request body whole and bounded, including one sent ``Transfer-Encoding: chunked``.

One implementation for every endpoint that reads a body a browser or Flinks may send without a
``Content-Length``: the webhook receiver and the browser endpoints (beacon, resume, Start again). Django reads
only ``CONTENT_LENGTH`` bytes, so a chunked body reads as empty unless the WSGI server de-chunks it and marks
where it ends (``wsgi.input_terminated``, as gunicorn does); where it does not (Django's runserver hands over
the raw socket), nothing can be read safely and the caller answers 411.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from flinks_sessions.exceptions import FlinksError


class LengthRequired(FlinksError):
    """A chunked body the WSGI server cannot frame for us (answered 411: send ``Content-Length``)."""


def is_chunked(meta: Mapping[str, Any]) -> bool:
    """A body announced by ``Transfer-Encoding: chunked`` and no length (Django would read it as empty)."""
    return not _declared(meta) and "chunked" in str(meta.get("HTTP_TRANSFER_ENCODING", "")).lower()


def read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The raw body, or ``None`` when it is larger than ``limit`` bytes (answered 413, nothing stored).

    ``Content-Length`` is checked first so an oversized body is never read; the read itself is bounded too,
    for servers that stream a body without announcing its length. A chunked body is read from ``wsgi.input``
    when the server marks its end, and refused with :class:`LengthRequired` otherwise.
    """
    if _declared(request.META) > limit:
        return None
    if is_chunked(request.META):
        if not request.META.get("wsgi.input_terminated"):
            raise LengthRequired
        body = _read_terminated(request.META["wsgi.input"], limit + 1)
    else:
        body = request.read(limit + 1)
    return None if len(body) > limit else body


def _declared(meta: Mapping[str, Any]) -> int:
    try:
        return int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _read_terminated(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes of a stream that ends where the body ends (a read may return less than asked)."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        part = stream.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)
