"""The sandbox's own request and response values, and the two error shapes Flinks uses.

Keeping the endpoints free of ``http.server`` means they can be read (and tested) as plain functions from a
request to a response; ``server.py`` is the only place that touches sockets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qs

JSON_TYPE = "application/json; charset=utf-8"
PROBLEM_TYPE = "application/problem+json; charset=utf-8"

Style = Literal["problem", "oauth"]


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request; header names are lower-cased."""

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    # Set when the body was larger than the server accepts; it was not read.
    body_too_large: bool = False
    # The client's IP address as the socket saw it (no proxy header is trusted): the control routes check it.
    peer: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        """The body as JSON; raises ``ValueError`` with a readable message when it is not."""
        if not self.body.strip():
            raise ValueError("request body is empty; a JSON object is required")
        try:
            return json.loads(self.body.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise ValueError("request body is not UTF-8") from error
        except json.JSONDecodeError as error:
            raise ValueError(
                f"request body is not valid JSON: {error.msg} at position {error.pos}"
            ) from error

    def form(self) -> dict[str, str]:
        """A form-encoded body (the authorize endpoint), first value of each field."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            return {}
        return {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}


@dataclass
class Response:
    """What the server writes back; ``close`` ends the keep-alive connection after it."""

    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False


class _Drop:
    """Marker: close the connection without answering (a fault)."""

    def __repr__(self) -> str:
        return "DROP"


DROP = _Drop()


def _default(value: object) -> Any:
    if isinstance(value, Decimal):
        return json_amount(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def json_amount(amount: Decimal) -> int | float:
    """Amounts as JSON numbers the way Flinks writes them (``65``, ``12.5``), never as strings."""
    if amount == amount.to_integral_value():
        return int(amount)
    return float(amount)


def dumps(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":"), default=_default).encode("utf-8")


def json_response(status: int, data: object, headers: dict[str, str] | None = None) -> Response:
    return Response(status=status, body=dumps(data), headers=dict(headers or {}))


_PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
    401: "https://tools.ietf.org/html/rfc7235#section-3.1",
    403: "https://tools.ietf.org/html/rfc7231#section-6.5.3",
    404: "https://tools.ietf.org/html/rfc7231#section-6.5.4",
    405: "https://tools.ietf.org/html/rfc7231#section-6.5.5",
    409: "https://tools.ietf.org/html/rfc7231#section-6.5.8",
    413: "https://tools.ietf.org/html/rfc7231#section-6.5.11",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: "https://tools.ietf.org/html/rfc7231#section-6.6.1",
    502: "https://tools.ietf.org/html/rfc7231#section-6.6.3",
    503: "https://tools.ietf.org/html/rfc7231#section-6.6.4",
    504: "https://tools.ietf.org/html/rfc7231#section-6.6.5",
}

_OAUTH_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    429: "too_many_requests",
}


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(
    status: int, detail: str, instance: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """An RFC 7807 body as the EFT v2 OpenAPI describes it."""
    body = {
        "type": _PROBLEM_TYPES.get(status, "about:blank"),
        "title": reason(status),
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    return Response(status=status, body=dumps(body), content_type=PROBLEM_TYPE, headers=dict(headers or {}))


def oauth_error(
    status: int, description: str, code: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """The ``{error, error_description}`` body of the GEFT pages."""
    error = code or _OAUTH_CODES.get(status, "server_error" if status >= 500 else "invalid_request")
    return json_response(status, {"error": error, "error_description": description}, headers)


def error(
    style: Style,
    status: int,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An error in the requested shape."""
    if style == "oauth":
        return oauth_error(status, detail, headers=headers)
    return problem(status, detail, instance, headers)
