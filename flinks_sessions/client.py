"""FlinksClient: the only code that speaks HTTP to Flinks.

One pooled ``requests.Session`` per account, explicit timeouts on every call, a cached bearer token shared by
every thread, retries with backoff for the failures Flinks documents as transient, and errors parsed into typed
exceptions. It holds no database code: services decide what a response means for a stored session.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from django.views.decorators.debug import sensitive_variables
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from flinks_sessions import __version__, metrics, tracing
from flinks_sessions.conf import AccountSettings, FlinksSettings, get_settings
from flinks_sessions.credentials import BasicAuth, BearerAuth, Secret
from flinks_sessions.exceptions import (
    FlinksAlreadyTerminal,
    FlinksAPIError,
    FlinksAuthError,
    FlinksBadRequest,
    FlinksNotFound,
    FlinksPermissionError,
    FlinksRequestError,
    FlinksUnavailable,
)
from flinks_sessions.log_context import session_extra
from flinks_sessions.status import Status, normalise_status

logger = logging.getLogger("flinks_sessions.client")

USER_AGENT = f"flinks-sessions/{__version__} python-requests/{requests.__version__}"
_MAX_MESSAGE = 300
# Flinks' words for an unknown session: "Session not found for client ...", "Session ... not found".
_SESSION_NOT_FOUND = re.compile(r"\bsession\b.*\bnot found\b", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class RemoteStatus:
    """What Flinks says a session is: the ``/status`` and ``/cancel`` bodies and the webhook payload alike."""

    session_id: str
    raw_status: str
    status: Status | None
    status_details: str | None
    reference_id: str | None = None
    amount: Decimal | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> RemoteStatus:
        raw = payload.get("status")
        details = payload.get("statusDetails")
        return cls(
            session_id=str(payload.get("sessionId") or ""),
            raw_status=raw if isinstance(raw, str) else "",
            status=normalise_status(raw),
            status_details=details if isinstance(details, str) and details else None,
            reference_id=payload.get("referenceId") if isinstance(payload.get("referenceId"), str) else None,
            amount=_amount(payload.get("amount")),
            payload=dict(payload),
        )


@dataclass(frozen=True)
class GuaranteeOffer:
    """A GEFT guarantee Flinks offers, read defensively from an event whose payload Flinks does not publish.

    ``session_id`` and ``amount`` are looked for under the names Flinks uses elsewhere (``sessionId``,
    ``offeredAmount``/``guaranteedAmount``/``amount``, ``offerType``), flat or under ``guarantee`` /
    ``guaranteeDetails``; ``raw`` is the whole payload, for a policy that knows more than we do.
    """

    session_id: str
    amount: Decimal | None = None
    requested_amount: Decimal | None = None
    offer_type: str = ""
    reference_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, payload: object) -> GuaranteeOffer:
        data: Mapping[str, Any] = payload if isinstance(payload, Mapping) else {}
        nested: Mapping[str, Any] = next(
            (data[key] for key in ("guarantee", "guaranteeDetails") if isinstance(data.get(key), Mapping)), {}
        )

        def pick(*names: str) -> object:
            for source in (nested, data):
                for name in names:
                    value = source.get(name)
                    if value not in (None, ""):
                        return value
            return None

        session_id = pick("sessionId", "SessionId", "session_id")
        offer_type = pick("offerType", "type")
        reference = pick("referenceId")
        return cls(
            session_id=session_id.strip()[:64] if isinstance(session_id, str) else "",
            amount=_amount(pick("offeredAmount", "guaranteedAmount", "amount")),
            requested_amount=_amount(pick("requestedAmount")),
            offer_type=offer_type[:40] if isinstance(offer_type, str) else "",
            reference_id=reference if isinstance(reference, str) else None,
            raw=dict(data),
        )

    def as_json(self) -> dict[str, Any]:
        """What is stored on the session: the fields read and the raw payload."""
        return {
            "amount": None if self.amount is None else str(self.amount),
            "requested_amount": None if self.requested_amount is None else str(self.requested_amount),
            "offer_type": self.offer_type,
            "payload": dict(self.raw),
        }


def _amount(value: object) -> Decimal | None:
    """A payload's amount, or ``None`` when it is missing or not a finite number (``"NaN"``, ``"Infinity"``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str) or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return None
    return amount if amount.is_finite() else None


@dataclass(frozen=True)
class CreatedSession:
    """The answer to a session creation."""

    session_id: str
    reference_id: str | None


@dataclass
class _Token:
    value: str = field(repr=False)
    refresh_at: float


def parse_error(response: requests.Response) -> tuple[str, str]:
    """Flinks' message and code from any documented error shape: ProblemDetails, OAuth-style, or plain text."""
    try:
        body = response.json()
    except ValueError:
        text = (response.text or "").strip()
        return (text[:_MAX_MESSAGE] or response.reason or "no message"), ""
    if isinstance(body, dict):
        if "error" in body or "error_description" in body:
            return str(body.get("error_description") or body.get("error"))[:_MAX_MESSAGE], str(
                body.get("error") or ""
            )
        message = body.get("detail") or body.get("title") or body.get("message")
        if message:
            return str(message)[:_MAX_MESSAGE], str(body.get("type") or body.get("title") or "")
    return str(body)[:_MAX_MESSAGE], ""


def is_flinks_not_found(response: requests.Response) -> bool:
    """Whether a 404 is Flinks' own "no such session" (``docs/flinks-api.md``, "Cancel").

    Flinks says it two ways: the OAuth-style object ``{"error": "not_found", "error_description": "Session not
    found for client ..."}`` and an RFC 7807 ProblemDetails whose ``status`` is 404 and whose ``detail`` (or
    ``title``) says the session was not found. Anything else (a proxy's HTML page, an empty body, a framework's
    "no route" page when ``BASE_URL`` has a wrong path) did not come from Flinks' sessions API.
    """
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    if body.get("error") == "not_found":
        return True
    if body.get("status") not in (404, "404"):
        return False
    words = str(body.get("detail") or body.get("title") or "")
    return _SESSION_NOT_FOUND.search(words) is not None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class FlinksClient:
    """A client for one Flinks account. Thread-safe: build one per account and share it (see :func:`get_client`)."""

    def __init__(self, account: AccountSettings, settings: FlinksSettings | None = None) -> None:
        self.account = account
        self.settings = settings or get_settings()
        self.http = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.settings.pool_size, max_retries=0)
        self.http.mount("https://", adapter)
        self.http.mount("http://", adapter)
        self.http.headers["User-Agent"] = USER_AGENT
        # requests re-reads proxy variables and ~/.netrc on every call (a measurable cost at high rates);
        # read them once here instead. HTTP(S)_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE are still honoured.
        self.http.trust_env = False
        self.http.proxies.update(requests.utils.get_environ_proxies(account.base_url))
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if ca_bundle:
            self.http.verify = ca_bundle
        if account.api_key:
            self.http.headers["x-api-key"] = Secret(account.api_key)
        if account.x_client_id:
            self.http.headers["x-client-id"] = account.x_client_id
        self._token: _Token | None = None
        self._token_lock = threading.Lock()
        self.authorize_count = 0

    def __repr__(self) -> str:
        return f"<FlinksClient account={self.account.name!r} base_url={self.account.base_url!r}>"

    def close(self) -> None:
        self.http.close()

    # --- public API -------------------------------------------------------------------------------------

    @sensitive_variables("token")
    def create_session(self, body: Mapping[str, Any]) -> CreatedSession:
        """POST /api/v2/sessions with a fresh token (a token may start only one session).

        Never retried once the request may have been sent: Flinks has no idempotency key, so a timeout or a
        5xx raises :class:`FlinksUnavailable` with ``ambiguous=True`` and the caller reconciles by referenceId.
        """
        token = self._authorize()
        response = self._send(
            "POST", "/api/v2/sessions", endpoint="create", token=token, json=dict(body), idempotent=False
        )
        data = self._json(response)
        session_id = data.get("sessionId")
        if not session_id:
            raise FlinksAPIError(
                "Flinks created a session but sent no sessionId", status_code=response.status_code
            )
        return CreatedSession(session_id=str(session_id), reference_id=data.get("referenceId"))

    def get_status(self, session_id: str) -> RemoteStatus:
        """GET /status: the same fields a webhook carries."""
        return RemoteStatus.from_payload(
            self._call(
                "GET", f"/api/v2/sessions/{session_id}/status", endpoint="status", session_id=session_id
            )
        )

    def get_details(self, session_id: str) -> dict[str, Any]:
        """GET /details: the full session (step, masked payor account, guarantee details)."""
        return self._call(
            "GET", f"/api/v2/sessions/{session_id}/details", endpoint="details", session_id=session_id
        )

    def cancel_session(self, session_id: str) -> RemoteStatus:
        """POST /cancel. A 400 means the session already ended upstream: :class:`FlinksAlreadyTerminal`."""
        return RemoteStatus.from_payload(
            self._call(
                "POST",
                f"/api/v2/sessions/{session_id}/cancel",
                endpoint="cancel",
                session_id=session_id,
                cancel=True,
            )
        )

    def confirm_guarantee(self, session_id: str, *, accepted: bool) -> dict[str, Any]:
        """POST /guarantees/confirm (GEFT): ``{"sessionId", "referenceId"}``; 400 when Flinks refuses it."""
        return self._call(
            "POST",
            f"/api/v2/sessions/{session_id}/guarantees/confirm",
            endpoint="guarantee",
            session_id=session_id,
            json={"guaranteeAccepted": accepted},
        )

    # --- tokens -----------------------------------------------------------------------------------------

    @sensitive_variables("token", "value", "stale")
    def access_token(self, *, stale: str | None = None) -> str:
        """The shared token, fetched by exactly one thread while the others wait.

        ``stale`` is a token Flinks just refused: it is replaced only if it is still the cached one, so sixteen
        threads hitting the same 401 cause one authorize, not sixteen.
        """
        with self._token_lock:
            token = self._token
            if token is not None and token.value != stale and time.monotonic() < token.refresh_at:
                return token.value
            value, expires_in = self._fetch_token()
            # Renew shortly before expiry: 10% of the lifetime, at most 30 s (expires_in is 299 or 599 in prod).
            margin = min(30.0, expires_in * 0.1)
            self._token = _Token(value=value, refresh_at=time.monotonic() + max(0.0, expires_in - margin))
            return value

    @sensitive_variables()
    def _authorize(self) -> str:
        return self._fetch_token()[0]

    @sensitive_variables()
    def _fetch_token(self) -> tuple[str, float]:
        response = self._send(
            "POST",
            "/api/v1/authorize",
            endpoint="token",
            data={"grant_type": "client_credentials"},
            auth=BasicAuth(self.account.client_id, self.account.client_secret),
            idempotent=True,
        )
        self.authorize_count += 1
        data = self._json(response)
        value = data.get("access_token")
        if not isinstance(value, str) or not value:
            raise FlinksAuthError("Flinks sent no access_token", status_code=response.status_code)
        value = Secret(value)
        try:
            expires_in = float(data.get("expires_in", 299))
        except (TypeError, ValueError):
            expires_in = 299.0
        return value, expires_in

    # --- transport --------------------------------------------------------------------------------------

    @sensitive_variables("token")
    def _call(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        session_id: str,
        json: Mapping[str, Any] | None = None,
        cancel: bool = False,
    ) -> dict[str, Any]:
        """An authorized, retried call. On 401 the token is renewed and the call made once more."""
        token = self.access_token()
        send = functools.partial(
            self._send,
            method,
            path,
            endpoint=endpoint,
            session_id=session_id,
            json=json,
            idempotent=True,
            cancel=cancel,
        )
        try:
            response = send(token=token)
        except FlinksAuthError:
            response = send(token=self.access_token(stale=token))
        return self._json(response)

    @sensitive_variables()  # this frame and every frame below it (requests, urllib3) when DEBUG is off
    def _send(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        session_id: str | None = None,
        token: str | None = None,
        json: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        auth: AuthBase | None = None,
        idempotent: bool,
        cancel: bool = False,
    ) -> requests.Response:
        """Send with retries. ``idempotent`` calls retry network errors, timeouts and 429/502/503/504.

        Every attempt is counted and timed under ``endpoint`` (a fixed name, never the URL: it holds ids) and
        runs in a span of its own.
        """
        policy = self.settings.retry
        url = f"{self.account.base_url}{path}"
        auth = BearerAuth(token) if token else auth  # never a plain "Authorization" header in this frame
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            started = time.monotonic()
            try:
                response = self._attempt(
                    method, url, endpoint, session_id, attempt, json=json, data=data, auth=auth
                )
            except requests.ConnectTimeout as exc:
                # Nothing reached Flinks: safe to retry even a creation.
                failure = FlinksUnavailable(f"could not connect to Flinks ({type(exc).__name__})")
            except (requests.ConnectionError, requests.Timeout) as exc:
                failure = FlinksUnavailable(
                    f"no answer from Flinks ({type(exc).__name__})", ambiguous=not idempotent
                )
                if not idempotent:
                    raise failure from None
            except (
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as exc:
                # Flinks answered, but the body broke in transit or is not the encoding it announced.
                failure = FlinksUnavailable(
                    f"an unreadable answer from Flinks ({type(exc).__name__})", ambiguous=not idempotent
                )
                if not idempotent:
                    raise failure from None
            except requests.RequestException as exc:
                # Anything else requests raises (an invalid URL or header, a missing schema) happened before
                # the request left: retrying would fail the same way.
                raise FlinksRequestError(
                    f"could not send the request to Flinks ({type(exc).__name__})"
                ) from None
            else:
                elapsed = time.monotonic() - started
                logger.debug(
                    "%s %s -> %s in %.3fs",
                    method,
                    path,
                    response.status_code,
                    elapsed,
                    extra=session_extra(
                        outcome=str(response.status_code), session_id=session_id, account=self.account.name
                    ),
                )
                if response.status_code < 400:
                    return response
                if response.status_code not in policy.statuses:
                    raise self._error(response, cancel=cancel, endpoint=endpoint)
                message, code = parse_error(response)
                # A 429 was refused before any work; a 5xx on creation may have created the session.
                ambiguous = not idempotent and response.status_code != 429
                failure = FlinksUnavailable(
                    message, status_code=response.status_code, code=code, ambiguous=ambiguous
                )
                if ambiguous:
                    raise failure
                retry_after = _retry_after(response)
            if attempt >= policy.attempts:
                raise failure
            delay = self._backoff(attempt, retry_after)
            logger.info(
                "Flinks %s %s failed (%s); retry %d/%d in %.2fs",
                method,
                path,
                failure.message,
                attempt,
                policy.attempts - 1,
                delay,
                extra=session_extra(outcome="retry", session_id=session_id, account=self.account.name),
            )
            time.sleep(delay)

    @sensitive_variables()  # ``request`` holds the auth object
    def _attempt(
        self, method: str, url: str, endpoint: str, session_id: str | None, attempt: int, **request: Any
    ) -> requests.Response:
        """One HTTP request, counted, timed and traced whatever it ends in."""
        timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        status = metrics.ERROR_STATUS
        started = time.monotonic()
        with tracing.span(
            f"flinks.{endpoint}",
            session_id=session_id,
            **{
                "http.request.method": method,
                "flinks_sessions.endpoint": endpoint,
                "flinks_sessions.attempt": attempt,
            },
        ) as span:
            try:
                response = self.http.request(method, url, timeout=timeout, **request)
                status = str(response.status_code)
                span.set_attribute("http.response.status_code", response.status_code)
                return response
            finally:
                metrics.FLINKS_REQUESTS.labels(endpoint=endpoint, status=status).inc()
                metrics.FLINKS_REQUEST_DURATION.labels(endpoint=endpoint).observe(time.monotonic() - started)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Full-jitter exponential backoff; a ``Retry-After`` from Flinks is honoured up to a cap."""
        policy = self.settings.retry
        if retry_after is not None:
            return min(retry_after, policy.retry_after_max)
        ceiling = min(policy.backoff_max, policy.backoff * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography

    def _error(self, response: requests.Response, *, cancel: bool, endpoint: str) -> FlinksAPIError:
        message, code = parse_error(response)
        status = response.status_code
        if status == 400 and cancel:
            return FlinksAlreadyTerminal(message, status_code=status, code=code)
        if status == 404 and not is_flinks_not_found(response):
            return self._foreign_not_found(response, endpoint, message)
        error_class: type[FlinksAPIError] = {
            400: FlinksBadRequest,
            401: FlinksAuthError,
            403: FlinksPermissionError,
            404: FlinksNotFound,
        }.get(status, FlinksAPIError)
        return error_class(message, status_code=status, code=code)

    def _foreign_not_found(self, response: requests.Response, endpoint: str, message: str) -> FlinksAPIError:
        """A 404 that is not Flinks speaking: a failed call, loud, counted, and never a verdict on a session."""
        metrics.FOREIGN_NOT_FOUND.labels(endpoint=endpoint).inc()
        path = urlsplit(response.url).path if response.url else ""
        logger.error(
            "Flinks account %r: %s answered 404 without Flinks' not-found body (%s); check the account's "
            "BASE_URL: a wrong path or a proxy in front of Flinks answers this way",
            self.account.name,
            endpoint,
            message[:80],
            extra=session_extra(outcome="foreign_not_found", account=self.account.name),
        )
        return FlinksAPIError(
            f"404 that is not Flinks' not-found answer ({message[:80]}) on {path or endpoint}: check BASE_URL",
            status_code=404,
        )

    @staticmethod
    def _json(response: requests.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise FlinksAPIError(
                "Flinks answered with a body that is not JSON", status_code=response.status_code
            ) from None
        if not isinstance(body, dict):
            raise FlinksAPIError(
                "Flinks answered with JSON that is not an object", status_code=response.status_code
            )
        return body


class ClientRegistry:
    """One client per account configuration, so every thread shares its connection pool and its token.

    Owned by the app config (not a module global) and emptied when ``FLINKS_SESSIONS`` changes.
    """

    def __init__(self) -> None:
        self._clients: dict[AccountSettings, FlinksClient] = {}
        self._lock = threading.Lock()

    def get(self, account_name: str | None = None) -> FlinksClient:
        settings = get_settings()
        account = settings.account(account_name)
        client = self._clients.get(account)
        if client is not None and client.settings is settings:
            return client
        with self._lock:
            client = self._clients.get(account)
            if client is None or client.settings is not settings:
                if client is not None:
                    client.close()
                client = FlinksClient(account, settings)
                self._clients[account] = client
            return client

    def clear(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


def get_client(account_name: str | None = None) -> FlinksClient:
    """The shared client for ``account_name`` (the default account when empty)."""
    from django.apps import apps

    config = apps.get_app_config("flinks_sessions")
    registry: ClientRegistry = config.clients  # type: ignore[attr-defined]
    return registry.get(account_name)
