"""Typed access to the ``FLINKS_SESSIONS`` setting.

Read at call time (and re-read whenever Django's ``setting_changed`` fires, as ``override_settings`` does) so
tests and multi-tenant sites can change it without restarting. Malformed values raise
:class:`~flinks_sessions.exceptions.FlinksConfigurationError`, which the system checks turn into a message with
an id and a hint.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from flinks_sessions.exceptions import FlinksConfigurationError
from flinks_sessions.signatures import ALL_FORMS, SignatureForm
from flinks_sessions.status import Product

SETTING_NAME = "FLINKS_SESSIONS"
DEFAULT_ACCOUNT = "default"
# The built-in guarantee policies; anything else is a dotted path to a callable ``(session, offer) -> bool``.
GUARANTEE_POLICIES = ("accept", "reject", "manual")
# Flinks does not publish these events' names or payloads (docs/flinks-api.md, "Guarantee decision" and
# "e-Transfer transaction status"): a site sets the names its Flinks contact gives it.
DEFAULT_GUARANTEE_EVENT_TYPES = ("GuaranteeOffered",)
DEFAULT_TRANSACTION_EVENT_TYPES = ("TransactionStatusChanged",)
_DOTTED_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")


@dataclass(frozen=True)
class AccountSettings:
    """One set of Flinks credentials. GEFT often comes with its own, so a site may hold several."""

    name: str
    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    api_key: str | None = field(default=None, repr=False)
    x_client_id: str | None = None
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    hosted_url: str = ""

    @property
    def hosted_page_base(self) -> str:
        """Where the hosted flow lives: ``HOSTED_URL`` when the widget host differs from the API host."""
        return (self.hosted_url or self.base_url).rstrip("/")


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures (network, timeouts, 429, 502/503/504) are retried: exponential backoff, full jitter."""

    attempts: int = 4
    backoff: float = 0.25
    backoff_max: float = 8.0
    statuses: tuple[int, ...] = (429, 502, 503, 504)
    retry_after_max: float = 30.0


@dataclass(frozen=True)
class FlinksSettings:
    """The whole of ``FLINKS_SESSIONS`` with its defaults filled in."""

    accounts: Mapping[str, AccountSettings]
    default_account: str = DEFAULT_ACCOUNT
    product_accounts: Mapping[str, str] = field(default_factory=dict)
    connect_timeout: float = 3.05
    read_timeout: float = 15.0
    pool_size: int = 64
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    webhook_signature_forms: tuple[SignatureForm, ...] = ALL_FORMS
    webhook_max_age: float | None = None
    webhook_max_body: int = 64 * 1024
    webhook_async: bool = False
    webhook_rejected_per_minute: int = 60
    # TRUST_X_FORWARDED_FOR: how many proxies of the site's own append to X-Forwarded-For (True reads as 1).
    trusted_proxies: int = 0
    exit_token_max_age: int = 6 * 3600
    exit_grace_period: float = 10.0
    beacon_max_body: int = 4096
    beacon_throttle_rate: str | None = "60/min"
    task_backend: str = "default"
    task_queue: str = "default"
    task_priority: int = 0
    claim_ttl: float | None = None
    guarantee_decision: str = "accept"
    guarantee_event_types: tuple[str, ...] = DEFAULT_GUARANTEE_EVENT_TYPES
    transaction_event_types: tuple[str, ...] = DEFAULT_TRANSACTION_EVENT_TYPES

    def is_guarantee_event(self, event_type: str) -> bool:
        """Whether a webhook of ``event_type`` is a GEFT guarantee offer (compared case-insensitively)."""
        return event_type.lower() in {name.lower() for name in self.guarantee_event_types}

    def is_transaction_event(self, event_type: str) -> bool:
        """Whether a webhook of ``event_type`` is an e-Transfer transaction status (never a session status)."""
        return event_type.lower() in {name.lower() for name in self.transaction_event_types}

    def account(self, name: str | None = None) -> AccountSettings:
        """The named account (the default when ``name`` is empty); a clear error when it is not configured."""
        key = name or self.default_account
        try:
            return self.accounts[key]
        except KeyError:
            known = ", ".join(sorted(self.accounts)) or "none"
            raise FlinksConfigurationError(
                f"No Flinks account named {key!r} in {SETTING_NAME}['ACCOUNTS'] (configured: {known})."
            ) from None

    def account_name_for(self, product: str) -> str:
        """Which account a new session of ``product`` uses: ``PRODUCT_ACCOUNTS`` first, then the default."""
        return self.product_accounts.get(product, self.default_account)


_cache_lock = threading.Lock()
_cached: FlinksSettings | None = None


def get_settings() -> FlinksSettings:
    """The current settings, parsed once per value of ``settings.FLINKS_SESSIONS``."""
    global _cached  # noqa: PLW0603 - a cache cleared by setting_changed, never a client or a connection
    current = _cached
    if current is not None:
        return current
    with _cache_lock:
        if _cached is None:
            _cached = parse_settings(getattr(django_settings, SETTING_NAME, None))
        return _cached


@receiver(setting_changed)
def _forget_cached_settings(*, setting: str, **kwargs: Any) -> None:
    global _cached  # noqa: PLW0603
    if setting == SETTING_NAME:
        with _cache_lock:
            _cached = None


def _require_mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FlinksConfigurationError(f"{where} must be a dict, not {type(value).__name__}.")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return tuple(item for item in value if item)
    raise FlinksConfigurationError(f"{where} must be a list of strings.")


def _number(raw: Mapping[str, Any], key: str, default: float, *, minimum: float = 0) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise FlinksConfigurationError(
            f"{SETTING_NAME}['{key}'] must be a number ≥ {minimum}, not {value!r}."
        )
    return float(value)


def _integer(raw: Mapping[str, Any], key: str, default: int, *, minimum: int = 0) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FlinksConfigurationError(
            f"{SETTING_NAME}['{key}'] must be an integer ≥ {minimum}, not {value!r}."
        )
    return value


def _trusted_proxies(value: object) -> int:
    """``TRUST_X_FORWARDED_FOR``: a number of proxies; ``True``/``False`` (the old spelling) read as 1 and 0."""
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, int) or value < 0:
        raise FlinksConfigurationError(
            f"{SETTING_NAME}['TRUST_X_FORWARDED_FOR'] must be the number of trusted proxies (0, 1, 2...), "
            f"not {value!r}."
        )
    return value


def _parse_account(name: str, raw: object) -> AccountSettings:
    where = f"{SETTING_NAME}['ACCOUNTS'][{name!r}]"
    values = _require_mapping(raw, where)
    missing = [key for key in ("BASE_URL", "CLIENT_ID", "CLIENT_SECRET") if not values.get(key)]
    if missing:
        raise FlinksConfigurationError(f"{where} is missing {', '.join(missing)}.")
    for key in ("BASE_URL", "CLIENT_ID", "CLIENT_SECRET", "API_KEY", "X_CLIENT_ID", "HOSTED_URL"):
        if values.get(key) is not None and not isinstance(values[key], str):
            raise FlinksConfigurationError(f"{where}['{key}'] must be a string.")
    return AccountSettings(
        name=name,
        base_url=values["BASE_URL"].rstrip("/"),
        client_id=values["CLIENT_ID"],
        client_secret=values["CLIENT_SECRET"],
        api_key=values.get("API_KEY") or None,
        x_client_id=values.get("X_CLIENT_ID") or None,
        webhook_secrets=_strings(values.get("WEBHOOK_SECRETS"), f"{where}['WEBHOOK_SECRETS']"),
        hosted_url=values.get("HOSTED_URL") or "",
    )


def _parse_retry(raw: object) -> RetryPolicy:
    values = _require_mapping(raw or {}, f"{SETTING_NAME}['RETRY']")
    defaults = RetryPolicy()
    statuses = values.get("STATUSES", defaults.statuses)
    if not isinstance(statuses, list | tuple) or not all(isinstance(code, int) for code in statuses):
        raise FlinksConfigurationError(
            f"{SETTING_NAME}['RETRY']['STATUSES'] must be a list of HTTP status codes."
        )
    return RetryPolicy(
        attempts=_integer(values, "ATTEMPTS", defaults.attempts, minimum=1),
        backoff=_number(values, "BACKOFF", defaults.backoff),
        backoff_max=_number(values, "BACKOFF_MAX", defaults.backoff_max),
        statuses=tuple(statuses),
        retry_after_max=_number(values, "RETRY_AFTER_MAX", defaults.retry_after_max),
    )


def _parse_forms(raw: object) -> tuple[SignatureForm, ...]:
    if raw is None:
        return ALL_FORMS
    by_name = {form.value.lower(): form for form in SignatureForm}
    forms = []
    for name in _strings(raw, f"{SETTING_NAME}['WEBHOOK_SIGNATURE_HEADERS']"):
        form = by_name.get(name.lower())
        if form is None:
            raise FlinksConfigurationError(
                f"Unknown webhook signature header {name!r}; use one of {', '.join(f.value for f in ALL_FORMS)}."
            )
        forms.append(form)
    return tuple(forms)


def _parse_guarantee_decision(value: object) -> str:
    if value is None:
        return "accept"
    if not isinstance(value, str) or not (
        value.strip().lower() in GUARANTEE_POLICIES or _DOTTED_PATH.match(value.strip())
    ):
        raise FlinksConfigurationError(
            f"{SETTING_NAME}['GUARANTEE_DECISION'] must be 'accept', 'reject', 'manual' or the dotted path of "
            f"a callable (session, offer) -> bool, not {value!r}."
        )
    value = value.strip()
    return value.lower() if value.lower() in GUARANTEE_POLICIES else value


def _event_types(values: Mapping[str, Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    if key not in values:
        return default
    return tuple(name.strip() for name in _strings(values[key], f"{SETTING_NAME}['{key}']") if name.strip())


def parse_settings(raw: object) -> FlinksSettings:
    """Validate and fill in defaults. Raises FlinksConfigurationError with a message that names the key."""
    values = _require_mapping(raw if raw is not None else {}, SETTING_NAME)
    accounts_raw = _require_mapping(values.get("ACCOUNTS", {}), f"{SETTING_NAME}['ACCOUNTS']")
    accounts = {str(name): _parse_account(str(name), account) for name, account in accounts_raw.items()}
    product_accounts = dict(
        _require_mapping(values.get("PRODUCT_ACCOUNTS", {}), f"{SETTING_NAME}['PRODUCT_ACCOUNTS']")
    )
    unknown_products = set(product_accounts) - set(Product.values)
    if unknown_products:
        raise FlinksConfigurationError(
            f"{SETTING_NAME}['PRODUCT_ACCOUNTS'] names unknown products {sorted(unknown_products)}; "
            f"use {', '.join(Product.values)}."
        )
    max_age = values.get("WEBHOOK_MAX_AGE")
    throttle = values.get("BEACON_THROTTLE_RATE", "60/min")
    if throttle is not None and not isinstance(throttle, str):
        raise FlinksConfigurationError(
            f"{SETTING_NAME}['BEACON_THROTTLE_RATE'] must be like '60/min' or None."
        )
    for key in ("DEFAULT_ACCOUNT", "TASK_BACKEND", "TASK_QUEUE"):
        if key in values and not isinstance(values[key], str):
            raise FlinksConfigurationError(f"{SETTING_NAME}['{key}'] must be a string.")
    return FlinksSettings(
        accounts=accounts,
        default_account=values.get("DEFAULT_ACCOUNT", DEFAULT_ACCOUNT),
        product_accounts=product_accounts,
        connect_timeout=_number(values, "CONNECT_TIMEOUT", 3.05, minimum=0.001),
        read_timeout=_number(values, "READ_TIMEOUT", 15.0, minimum=0.001),
        pool_size=_integer(values, "POOL_SIZE", 64, minimum=1),
        retry=_parse_retry(values.get("RETRY")),
        webhook_secrets=_strings(values.get("WEBHOOK_SECRETS"), f"{SETTING_NAME}['WEBHOOK_SECRETS']"),
        webhook_signature_forms=_parse_forms(values.get("WEBHOOK_SIGNATURE_HEADERS")),
        webhook_max_age=None if max_age is None else _number(values, "WEBHOOK_MAX_AGE", 0, minimum=1),
        webhook_max_body=_integer(values, "WEBHOOK_MAX_BODY", 64 * 1024, minimum=1024),
        webhook_async=bool(values.get("WEBHOOK_ASYNC", False)),
        webhook_rejected_per_minute=_integer(values, "WEBHOOK_REJECTED_PER_MINUTE", 60, minimum=1),
        trusted_proxies=_trusted_proxies(values.get("TRUST_X_FORWARDED_FOR", 0)),
        exit_token_max_age=_integer(values, "EXIT_TOKEN_MAX_AGE", 6 * 3600, minimum=1),
        exit_grace_period=_number(values, "EXIT_GRACE_PERIOD", 10.0),
        beacon_max_body=_integer(values, "BEACON_MAX_BODY", 4096, minimum=256),
        beacon_throttle_rate=throttle,
        task_backend=values.get("TASK_BACKEND", "default"),
        task_queue=values.get("TASK_QUEUE", "default"),
        task_priority=_integer(values, "TASK_PRIORITY", 0, minimum=-100),
        claim_ttl=(None if values.get("CLAIM_TTL") is None else _number(values, "CLAIM_TTL", 0, minimum=1)),
        guarantee_decision=_parse_guarantee_decision(values.get("GUARANTEE_DECISION")),
        guarantee_event_types=_event_types(values, "GUARANTEE_EVENT_TYPES", DEFAULT_GUARANTEE_EVENT_TYPES),
        transaction_event_types=_event_types(
            values, "TRANSACTION_EVENT_TYPES", DEFAULT_TRANSACTION_EVENT_TYPES
        ),
    )
