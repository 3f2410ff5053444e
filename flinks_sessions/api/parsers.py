"""Body parsers for what a beacon actually sends.

``navigator.sendBeacon`` posts ``application/x-www-form-urlencoded`` for ``URLSearchParams``,
``multipart/form-data`` for ``FormData`` and ``text/plain`` for a string, and a site's own handler may post
JSON; all of them are read the same way. Bodies are tiny: each parser reads at most
``FLINKS_SESSIONS['BEACON_MAX_BODY']`` bytes and answers 413 beyond that, even when no ``Content-Length`` was
sent (the view checks that header before anything is parsed). JSON nested deeper than
:data:`flinks_sessions.safejson.MAX_DEPTH` levels is a 400 like any malformed body.
"""

from __future__ import annotations

from typing import IO, Any

from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError

from flinks_sessions.conf import get_settings
from flinks_sessions.safejson import JSONTooDeep, loads


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "payload_too_large"


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
        return QueryDict(read_limited(stream), encoding=_encoding(parser_context))


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
