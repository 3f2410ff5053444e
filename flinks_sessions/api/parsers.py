"""Body parsers for what a beacon actually sends.

``navigator.sendBeacon`` posts ``application/x-www-form-urlencoded`` for ``URLSearchParams``,
``multipart/form-data`` for ``FormData`` and ``text/plain`` for a string, and a site's own handler may post
JSON; all of them are read the same way. Bodies are tiny: each parser reads at most
``FLINKS_SESSIONS['BEACON_MAX_BODY']`` bytes and answers 413 beyond that, even when no ``Content-Length`` was
sent (the view checks that header before anything is parsed). A body sent ``Transfer-Encoding: chunked`` is
read like the webhook's (:func:`read_chunked`): under a server that marks its end, or 411. JSON nested deeper than
:data:`flinks_sessions.safejson.MAX_DEPTH` levels is a 400 like any malformed body.
"""

from __future__ import annotations

from typing import IO, Any

from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError

from flinks_sessions.bodies import LengthRequired, is_chunked, read_body
from flinks_sessions.conf import get_settings
from flinks_sessions.safejson import JSONTooDeep, loads


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "payload_too_large"


class ChunkedBodyRefused(APIException):
    """A chunked body the server cannot frame (``flinks_sessions.bodies``): the same 411 as the webhook's."""

    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_detail = _("Send Content-Length: this server cannot read chunked bodies.")
    default_code = "length_required"


def read_chunked(request: HttpRequest) -> None:
    """Read a chunked body now (the one reader, :func:`flinks_sessions.bodies.read_body`) so the parsers see it.

    Django would hand the parsers an empty body (it reads ``CONTENT_LENGTH`` bytes: none). The body read here
    is kept on the request with its length, as if it had been announced; 413 beyond the beacon limit, 411
    where the server does not mark where the body ends.
    """
    if not is_chunked(request.META):
        return
    try:
        body = read_body(request, get_settings().beacon_max_body)
    except LengthRequired:
        raise ChunkedBodyRefused() from None
    if body is None:
        raise PayloadTooLarge()
    request._body = body  # what HttpRequest.body returns; DRF then parses a BytesIO of it
    request._read_started = True  # type: ignore[attr-defined]  # HttpRequest's own flag, set by read()
    request.META["CONTENT_LENGTH"] = str(len(body))


def read_limited(stream: IO[bytes] | None) -> bytes:
    """The whole body, or 413 when it is longer than the beacon limit."""
    if stream is None:
        return b""
    limit = get_settings().beacon_max_body
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge()
    return body


def _encoding(parser_context: dict[str, Any] | None) -> str:
    request = (parser_context or {}).get("request")
    return getattr(request, "encoding", None) or "utf-8"


class BeaconFormParser(parsers.BaseParser):
    """``application/x-www-form-urlencoded``: what ``sendBeacon(url, new URLSearchParams(...))`` sends."""

    media_type = "application/x-www-form-urlencoded"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> QueryDict:
        body = read_limited(stream)
        try:
            return QueryDict(body, encoding=_encoding(parser_context))
        except LookupError as exc:  # a codec that is no text encoding (``charset=rot13``, ``hex``)
            raise ParseError(_("The body's charset is not a text encoding.")) from exc


class BeaconTextParser(BeaconFormParser):
    """``text/plain``: ``sendBeacon(url, "token=...&reason=...")``; the string is read as a query string."""

    media_type = "text/plain"


class BeaconJSONParser(parsers.BaseParser):
    """``application/json``, for a site that posts from its own ``beforeunload`` handler."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> dict[str, Any]:
        body = read_limited(stream)
        try:
            data = loads(body.decode(_encoding(parser_context))) if body.strip() else {}
        except JSONTooDeep as exc:
            raise ParseError(_("The body is JSON nested too deeply.")) from exc
        except (UnicodeDecodeError, ValueError, LookupError) as exc:
            raise ParseError(_("The body is not valid JSON.")) from exc
        if not isinstance(data, dict):
            raise ParseError(_("The body must be a JSON object."))
        return data


class BeaconMultiPartParser(parsers.MultiPartParser):
    """``multipart/form-data``: ``sendBeacon(url, formData)``. The view's Content-Length check bounds it."""


BEACON_PARSERS = (BeaconFormParser, BeaconTextParser, BeaconMultiPartParser, BeaconJSONParser)
