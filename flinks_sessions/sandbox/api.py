"""The Flinks Pay endpoints of docs/flinks-api.md, as functions from a ``Request`` to a ``Response``.

Error bodies follow the product the way the documentation shows them (``error_style="auto"``): GEFT pages
show OAuth-style ``{error, error_description}``, the EFT v2 OpenAPI shows RFC 7807 ProblemDetails, so a
client tested against the sandbox has to read both.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import uuid
from collections.abc import Callable

from .config import SandboxConfig
from .state import (
    NotGuaranteedError,
    Product,
    SandboxState,
    Session,
    SessionNotFoundError,
    SessionTerminalError,
    Token,
    TokenAlreadyUsedError,
)
from .validation import InvalidSessionError, validate_new_session
from .wire import Request, Response, Style, error, json_response, oauth_error, problem

AUTHORIZE_PATH = "/api/v1/authorize"
SESSIONS_PATH = "/api/v2/sessions"
SESSION_ROUTE = re.compile(
    r"^/api/v2/sessions/(?P<id>[^/]+)/(?P<action>status|details|cancel|guarantees/confirm)$"
)
ACTION_METHODS = {"status": "GET", "details": "GET", "cancel": "POST", "guarantees/confirm": "POST"}
UNAUTHORIZED = "Valid access token required"


def _session_id(raw: str) -> str | None:
    """The canonical form of a session id, or ``None`` when it is not a UUID (answered as not found)."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return None


class FlinksApi:
    """Routes ``/api/...`` requests to the endpoint methods below."""

    def __init__(self, config: SandboxConfig, state: SandboxState) -> None:
        self.config = config
        self.state = state

    # -- plumbing --------------------------------------------------------------------------------------------

    def style(self, product: Product | None) -> Style:
        configured = self.config.error_style
        if configured == "problem":
            return "problem"
        if configured == "oauth":
            return "oauth"
        return "oauth" if product is Product.GEFT else "problem"

    def _product_of(self, session_id: str | None) -> Product | None:
        if session_id is None:
            return None
        try:
            return self.state.get(session_id).product
        except SessionNotFoundError:
            return None

    def _unauthorized(self, style: Style, detail: str, path: str) -> Response:
        return error(style, 401, detail, path, {"WWW-Authenticate": 'Bearer realm="flinks"'})

    def _bearer(self, request: Request) -> tuple[Token | None, str]:
        header = request.header("authorization") or ""
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None, UNAUTHORIZED
        return self.state.check_token(value.strip())

    def _api_key_ok(self, request: Request) -> bool:
        expected = self.config.api_key
        if not expected:
            return True
        given = request.header("x-api-key") or ""
        return hmac.compare_digest(given.encode(), expected.encode())

    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        handler: Callable[[Request, str | None], Response] | None = None
        session_id: str | None = None
        if path == AUTHORIZE_PATH:
            allowed, handler = "POST", self.authorize
        elif path == SESSIONS_PATH:
            allowed, handler = "POST", self.create_session
        elif match := SESSION_ROUTE.match(path):
            action = match["action"]
            allowed = ACTION_METHODS[action]
            session_id = _session_id(match["id"])
            handler = {
                "status": self.status,
                "details": self.details,
                "cancel": self.cancel,
                "guarantees/confirm": self.confirm_guarantee,
            }[action]
            if session_id is None and request.method == allowed:
                return self._not_found(None, path)
        else:
            return problem(404, f"No API route for {request.method} {request.path}", request.path)
        if request.method != allowed:
            return problem(
                405, f"{request.method} is not allowed here; use {allowed}", path, {"Allow": allowed}
            )
        if not self._api_key_ok(request):
            return error(
                self.style(self._product_of(session_id)), 401, "Valid x-api-key header required", path
            )
        return handler(request, session_id)

    def _not_found(self, product: Product | None, path: str, client_id: str | None = None) -> Response:
        detail = f"Session not found for client {client_id or self.config.client_id}"
        return error(self.style(product), 404, detail, path)

    # -- endpoints -------------------------------------------------------------------------------------------

    def authorize(self, request: Request, _session_id: str | None) -> Response:
        """Client credentials by HTTP Basic or by ``Username``/``Password`` form fields (both documented)."""
        style: Style = "problem" if self.config.error_style == "problem" else "oauth"
        form = request.form()
        grant = form.get("grant_type")
        if grant != "client_credentials":
            detail = "grant_type must be client_credentials"
            if style == "oauth":
                code = "invalid_request" if grant is None else "unsupported_grant_type"
                return oauth_error(400, detail, code)
            return problem(400, detail, request.path)
        client_id, secret = self._credentials(request, form)
        valid = client_id is not None and secret is not None
        valid = valid and hmac.compare_digest(str(client_id).encode(), self.config.client_id.encode())
        valid = valid and hmac.compare_digest(str(secret).encode(), self.config.client_secret.encode())
        if not valid:
            headers = {"WWW-Authenticate": 'Basic realm="flinks"'}
            if style == "oauth":
                return oauth_error(401, "Invalid client credentials", "invalid_client", headers)
            return problem(401, "Invalid client credentials", request.path, headers)
        token = self.state.issue_token(self.config.client_id)
        ttl = float(self.config.token_ttl)
        body = {
            "access_token": token.value,
            "token_type": "bearer",
            "expires_in": int(ttl) if ttl.is_integer() else ttl,
        }
        return json_response(200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    @staticmethod
    def _credentials(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
        header = request.header("authorization") or ""
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "basic" and value:
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None, None
            client_id, separator, secret = decoded.partition(":")
            return (client_id, secret) if separator else (None, None)
        lowered = {key.lower(): item for key, item in form.items()}
        return (
            lowered.get("username", lowered.get("client_id")),
            lowered.get("password", lowered.get("client_secret")),
        )

    def create_session(self, request: Request, _session_id: str | None) -> Response:
        style = self.style(None)
        token, reason = self._bearer(request)
        if token is None:
            return self._unauthorized(style, reason, request.path)
        if token.session_id is not None:
            return self._token_spent(style, request.path)
        try:
            new = validate_new_session(request.json())
        except (ValueError, InvalidSessionError) as invalid:
            return problem(400, str(invalid), request.path)
        if new.product.value in self.config.disabled_products:
            detail = f"Product {new.product.value} is not enabled for client {token.client_id}"
            return problem(403, detail, request.path)
        try:
            session = self.state.create_session(new, client_id=token.client_id, token_value=token.value)
        except TokenAlreadyUsedError:
            return self._token_spent(style, request.path)
        return json_response(201, {"sessionId": session.session_id, "referenceId": session.reference_id})

    def _token_spent(self, style: Style, path: str) -> Response:
        detail = "This access token has already created a session; request a new token for each session"
        return self._unauthorized(style, detail, path)

    def _session_call(
        self,
        request: Request,
        session_id: str | None,
        action: Callable[[str, str], Session],
        *,
        auth: bool = True,
    ) -> Session | Response:
        """Authenticate, then run ``action(session_id, client_id)``; errors come back as responses."""
        assert session_id is not None  # noqa: S101 - the router answers 404 for malformed ids
        style = self.style(self._product_of(session_id))
        client_id = self.config.client_id
        if auth:
            token, reason = self._bearer(request)
            if token is None:
                return self._unauthorized(style, reason, request.path)
            client_id = token.client_id
        try:
            return action(session_id, client_id)
        except SessionNotFoundError:
            return self._not_found(None, request.path, client_id)

    def status(self, request: Request, session_id: str | None) -> Response:
        """EFT v2 and GEFT only: the e-Transfer pages document no ``/status`` (``docs/flinks-api.md``).

        An e-Transfer session is answered with Flinks' own not-found, as a route that does not serve that
        product would; a client that still reads e-Transfer through ``/status`` marks it unknown, visibly.
        """
        result = self._session_call(
            request,
            session_id,
            self.state.get,
            auth=self.config.require_auth_for_status,
        )
        if isinstance(result, Response):
            return result
        if result.product is Product.ETRANSFER:
            return self._not_found(result.product, request.path)
        return json_response(200, result.status_body())

    def details(self, request: Request, session_id: str | None) -> Response:
        result = self._session_call(request, session_id, self.state.get)
        return result if isinstance(result, Response) else json_response(200, result.details_body())

    def cancel(self, request: Request, session_id: str | None) -> Response:
        """200 with the product's spelling, or 400 when the session has already ended."""
        try:
            result = self._session_call(
                request,
                session_id,
                lambda sid, client: self.state.cancel(sid, source="api", client_id=client),
            )
        except SessionTerminalError as ended:
            detail = f"Session {ended.session.session_id} cannot be Cancelled"
            return error(self.style(ended.session.product), 400, detail, request.path)
        return result if isinstance(result, Response) else json_response(200, result.cancel_body())

    def confirm_guarantee(self, request: Request, session_id: str | None) -> Response:  # noqa: PLR0911
        """GEFT only: record the merchant's answer to the guarantee offer; the status does not change."""
        assert session_id is not None  # noqa: S101 - the router answers 404 for malformed ids
        style = self.style(self._product_of(session_id))
        token, reason = self._bearer(request)
        if token is None:
            return self._unauthorized(style, reason, request.path)
        try:
            body = request.json()
        except ValueError as invalid:
            return error(style, 400, str(invalid), request.path)
        accepted = body.get("guaranteeAccepted") if isinstance(body, dict) else None
        if not isinstance(accepted, bool):
            return error(style, 400, "guaranteeAccepted must be true or false", request.path)
        try:
            session = self.state.confirm_guarantee(session_id, accepted, client_id=token.client_id)
        except SessionNotFoundError:
            return self._not_found(None, request.path, token.client_id)
        except SessionTerminalError as ended:
            detail = f"Session {session_id} cannot be confirmed: it is {ended.session.status}"
            return error(style, 400, detail, request.path)
        except NotGuaranteedError:
            return error(style, 400, f"Session {session_id} is not a guaranteed EFT session", request.path)
        return json_response(200, {**session.cancel_body(), "guaranteeAccepted": accepted})
