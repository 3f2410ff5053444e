"""How a sandbox instance behaves: credentials, token and session lifetimes, webhooks, error shapes.

One mutable object is shared by every part of a running sandbox and read at request time, so a test (or the
``/_sandbox/config`` route) can change the webhook target or a lifetime while the server runs, exactly as a
merchant's onboarding settings would differ between environments.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from flinks_sessions.signatures import SignatureForm

ErrorStyle = Literal["auto", "problem", "oauth"]
ERROR_STYLES: tuple[str, ...] = ("auto", "problem", "oauth")
PRODUCT_NAMES: tuple[str, ...] = ("eft", "geft", "etransfer")

# Fields that hold secrets: never echoed by the control API.
SECRET_FIELDS = frozenset({"client_secret", "api_key", "webhook_secret"})


@dataclass
class SandboxConfig:
    """Settings of one sandbox; every field may be changed while the server runs."""

    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"  # noqa: S105 - a well-known sandbox credential, like Flinks' own
    # When set, every ``/api/`` call must carry ``x-api-key`` with this value (some Flinks guides require it).
    api_key: str | None = None
    # Seconds; returned as ``expires_in``. Flinks documents 299 or 599.
    token_ttl: float = 599
    # Idle seconds before a session that has not ended becomes Expired/EFT0601; ``None`` never expires.
    expire_after: float | None = 900
    webhook_url: str | None = None
    webhook_secret: str = "sandbox-webhook-secret"  # noqa: S105 - sandbox default, documented
    webhook_form: SignatureForm = SignatureForm.WEBHOOK_SIGNATURE
    # Some Flinks pages document ``/status`` without authentication; the default is the strict reading.
    require_auth_for_status: bool = True
    # ``auto``: GEFT sessions answer OAuth-style errors, EFT v2 and e-Transfer RFC 7807 ProblemDetails.
    error_style: ErrorStyle = "auto"
    webhook_delay: float = 0.0
    # Products this client is not enabled for ("eft", "geft", "etransfer"): creation answers 403.
    disabled_products: set[str] = field(default_factory=set)
    # One e-Transfer page omits ``statusDetails`` entirely; turn this on to exercise that variant.
    etransfer_omit_status_details: bool = False
    # A guarantee webhook configured for this client: each GEFT guarantee is sent to ``webhook_url`` as a
    # signed ``guarantee_event_type`` event (three tries, ``guarantee_retry_delay`` apart, then the session
    # fails EFT0402) and the session waits for /guarantees/confirm. Off, as Flinks does, it is auto-accepted.
    guarantee_webhook: bool = False
    guarantee_event_type: str = "GuaranteeOffered"
    guarantee_retry_delay: float = 1.0

    def copy(self) -> SandboxConfig:
        """An independent copy (the set is not shared), used to restore the initial settings on reset."""
        return dataclasses.replace(self, disabled_products=set(self.disabled_products))

    def public_view(self) -> dict[str, Any]:
        """The settings as JSON, with secrets replaced by whether they are set."""
        view: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name in SECRET_FIELDS:
                view[item.name + "_set"] = bool(value)
            elif isinstance(value, SignatureForm):
                view[item.name] = value.value
            elif isinstance(value, set):
                view[item.name] = sorted(value)
            else:
                view[item.name] = value
        return view

    def update(self, changes: dict[str, Any]) -> None:
        """Apply changes given as JSON-like values, validating all of them before touching any field."""
        known = {item.name for item in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        cleaned = {name: _clean(name, value) for name, value in changes.items()}
        for name, value in cleaned.items():
            setattr(self, name, value)


def parse_signature_form(value: object) -> SignatureForm:
    """Accept a form by header name (any case) or by enum member name."""
    if isinstance(value, SignatureForm):
        return value
    if isinstance(value, str):
        for form in SignatureForm:
            if value.strip().lower() in (form.value.lower(), form.name.lower()):
                return form
    choices = ", ".join(form.value for form in SignatureForm)
    raise ValueError(f"webhook_form must be one of {choices}, not {value!r}")


def _number(name: str, value: object, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a non-negative number")
    return float(value)


def _clean(name: str, value: object) -> Any:  # noqa: PLR0911, PLR0912 - one branch per field kind
    if name in ("client_id", "client_secret", "webhook_secret", "guarantee_event_type"):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string")
        return value
    if name in ("api_key", "webhook_url"):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{name} must be a string or null")
        if name == "webhook_url" and value and not str(value).startswith(("http://", "https://")):
            raise ValueError("webhook_url must be an http:// or https:// URL")
        return value or None
    if name in ("token_ttl", "webhook_delay", "guarantee_retry_delay"):
        return _number(name, value)
    if name == "expire_after":
        return _number(name, value, optional=True)
    if name == "webhook_form":
        return parse_signature_form(value)
    if name in ("require_auth_for_status", "etransfer_omit_status_details", "guarantee_webhook"):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return value
    if name == "error_style":
        if value not in ERROR_STYLES:
            raise ValueError(f"error_style must be one of {', '.join(ERROR_STYLES)}")
        return value
    if name == "disabled_products":
        if not isinstance(value, list | set | tuple) or not all(item in PRODUCT_NAMES for item in value):
            raise ValueError(f"disabled_products must be a list of {', '.join(PRODUCT_NAMES)}")
        return set(value)
    raise ValueError(f"{name} cannot be changed")  # pragma: no cover - every field is handled above
