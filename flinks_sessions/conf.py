"""Typed access to the ``FLINKS_SESSIONS`` setting.

Read at call time (and re-read whenever Django's ``setting_changed`` fires, as ``override_settings`` does) so
tests and multi-tenant sites can change it without restarting. Malformed values raise
:class:`~flinks_sessions.exceptions.FlinksConfigurationError`, which the system checks turn into a message with
an id and a hint. Every key is defined once, in :data:`SETTINGS` (type, default, bounds): parsing, the
unknown-key check and the README's table all follow it.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Callable, Mapping
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
_DOTTED_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")


@dataclass(frozen=True)
class AccountSettings:
    """One set of Flinks credentials. GEFT often comes with its own, so a site may hold several."""

    name: str
    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    api_key: str | None = field(repr=False)
    x_client_id: str | None
    webhook_secrets: tuple[str, ...] = field(repr=False)
    hosted_url: str | None

    @property
    def hosted_page_base(self) -> str:
        """Where the hosted flow lives: ``HOSTED_URL`` when the widget host differs from the API host."""
        return (self.hosted_url or self.base_url).rstrip("/")


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures (network, timeouts, 429, 502/503/504) are retried: exponential backoff, full jitter."""

    attempts: int
    backoff: float
    backoff_max: float
    statuses: tuple[int, ...]
    retry_after_max: float


@dataclass(frozen=True)
class FlinksSettings:
    """The whole of ``FLINKS_SESSIONS`` with its defaults filled in (one attribute per row of :data:`SETTINGS`)."""

    accounts: Mapping[str, AccountSettings]
    default_account: str
    product_accounts: Mapping[str, str]
    connect_timeout: float
    read_timeout: float
    pool_size: int
    retry: RetryPolicy
    claim_ttl: float | None
    webhook_secrets: tuple[str, ...] = field(repr=False)
    webhook_signature_forms: tuple[SignatureForm, ...]
    webhook_max_age: float | None
    webhook_max_body: int
    webhook_async: bool
    webhook_rejected_per_minute: int
    # TRUST_X_FORWARDED_FOR: how many proxies of the site's own append to X-Forwarded-For (True reads as 1).
    trusted_proxies: int
    exit_token_max_age: int
    exit_grace_period: float
    beacon_max_body: int
    beacon_throttle_rate: str | None
    # The status poll's token travels in the X-Flinks-Exit-Token header; True also accepts ?token= (older pages).
    status_token_in_query: bool
    # Start again: successors one order (reference and account) may have, and Start agains per client address.
    restart_limit: int
    restart_throttle_rate: str | None
    # Win back abandoned checkouts (services.recovery): the wait, the app's own email, the link's life, where
    # its Continue leads (a URL name or the dotted path of a callable; None: Flinks' hosted page), the links' site.
    recovery_delay: float
    recovery_email: bool
    recovery_link_max_age: int
    recovery_checkout: str | None
    recovery_site_url: str | None
    task_backend: str
    task_queue: str
    task_priority: int
    guarantee_decision: str
    guarantee_event_types: tuple[str, ...]
    transaction_event_types: tuple[str, ...]

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


Reader = Callable[[Any, str, "Setting"], Any]
REQUIRED: Any = object()  # the default of a key that has none: leaving it out is an error


@dataclass(frozen=True)
class Setting:
    """One key: the reader that checks its type and bounds and converts it, its default, its lower bound.

    The one place a key is defined: :func:`parse_settings` reads through it, the unknown-key check
    (``flinks_sessions.E006``) knows the keys from it, and a test holds the README's table to it.
    """

    key: str
    read: Reader
    default: Any
    minimum: float = 0
    attribute: str = ""  # the FlinksSettings attribute, when it is not the key in lower case
    described: str = ""  # the README's default, where words say it better than a value

    @property
    def name(self) -> str:
        return self.attribute or self.key.lower()


@dataclass(frozen=True)
class UnknownKey:
    """A key no table defines (a typo, most often): ``where`` it stands and the ``closest`` known key, if any."""

    where: str
    key: str
    closest: str | None


def _require_mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FlinksConfigurationError(f"{where} must be a dict, not {type(value).__name__}.")
    return value


def _string(value: object, where: str, setting: Setting) -> str:
    if not isinstance(value, str):
        raise FlinksConfigurationError(f"{where} must be a string.")
    return value


def _url(value: object, where: str, setting: Setting) -> str:
    return _string(value, where, setting).rstrip("/")


def _optional(read: Reader) -> Reader:
    """``None`` stays ``None`` (the key's "off", "none" or "computed"); anything else goes through ``read``."""
    return lambda value, where, setting: None if value is None else read(value, where, setting)


def _strings(value: object, where: str, setting: Setting | None = None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return tuple(item for item in value if item)
    raise FlinksConfigurationError(f"{where} must be a list of strings.")


def _event_types(value: object, where: str, setting: Setting) -> tuple[str, ...]:
    return tuple(name.strip() for name in _strings(value, where) if name.strip())


def _number(value: object, where: str, setting: Setting) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < setting.minimum:
        raise FlinksConfigurationError(f"{where} must be a number ≥ {setting.minimum:g}, not {value!r}.")
    return float(value)


def _integer(value: object, where: str, setting: Setting) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < setting.minimum:
        raise FlinksConfigurationError(f"{where} must be an integer ≥ {setting.minimum:g}, not {value!r}.")
    return value


def _statuses(value: object, where: str, setting: Setting) -> tuple[int, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(code, int) for code in value):
        raise FlinksConfigurationError(f"{where} must be a list of HTTP status codes.")
    return tuple(value)


def _throttle_rate(value: object, where: str, setting: Setting) -> str | None:
    if value is not None and not isinstance(value, str):
        raise FlinksConfigurationError(f"{where} must be like '60/min' or None.")
    return value


def _trusted_proxies(value: object, where: str, setting: Setting) -> int:
    """``TRUST_X_FORWARDED_FOR``: a number of proxies; ``True``/``False`` (the old spelling) read as 1 and 0."""
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, int) or value < 0:
        raise FlinksConfigurationError(
            f"{where} must be the number of trusted proxies (0, 1, 2...), not {value!r}."
        )
    return value


def _signature_forms(value: object, where: str, setting: Setting) -> tuple[SignatureForm, ...]:
    if value is None:
        return ALL_FORMS
    by_name = {form.value.lower(): form for form in SignatureForm}
    forms = []
    for name in _strings(value, where):
        form = by_name.get(name.lower())
        if form is None:
            raise FlinksConfigurationError(
                f"Unknown webhook signature header {name!r}; use one of {', '.join(f.value for f in ALL_FORMS)}."
            )
        forms.append(form)
    return tuple(forms)


def _guarantee_decision(value: object, where: str, setting: Setting) -> str:
    if value is None:
        return str(setting.default)
    if not isinstance(value, str) or not (
        value.strip().lower() in GUARANTEE_POLICIES or _DOTTED_PATH.match(value.strip())
    ):
        raise FlinksConfigurationError(
            f"{where} must be 'accept', 'reject', 'manual' or the dotted path of "
            f"a callable (session, offer) -> bool, not {value!r}."
        )
    value = value.strip()
    return value.lower() if value.lower() in GUARANTEE_POLICIES else value


def _product_accounts(value: object, where: str, setting: Setting) -> dict[str, str]:
    accounts = dict(_require_mapping(value, where))
    unknown = set(accounts) - set(Product.values)
    if unknown:
        raise FlinksConfigurationError(
            f"{where} names unknown products {sorted(unknown)}; use {', '.join(Product.values)}."
        )
    return accounts


def _read_table(table: tuple[Setting, ...], raw: object, where: str) -> dict[str, Any]:
    """Each key of ``table`` read from ``raw`` (a dict) through its reader, its default where it is left out."""
    values = _require_mapping(raw if raw is not None else {}, where)
    missing = [
        setting.key for setting in table if setting.default is REQUIRED and not values.get(setting.key)
    ]
    if missing:
        raise FlinksConfigurationError(f"{where} is missing {', '.join(missing)}.")
    return {
        setting.name: setting.read(
            values.get(setting.key, setting.default), f"{where}['{setting.key}']", setting
        )
        for setting in table
    }


# One account in ACCOUNTS.
ACCOUNT_SETTINGS = (
    Setting("BASE_URL", _url, REQUIRED),
    Setting("CLIENT_ID", _string, REQUIRED),
    Setting("CLIENT_SECRET", _string, REQUIRED),
    Setting("API_KEY", _optional(_string), None),
    Setting("X_CLIENT_ID", _optional(_string), None),
    Setting("WEBHOOK_SECRETS", _strings, ()),
    Setting("HOSTED_URL", _optional(_string), None),
)

RETRY_SETTINGS = (
    Setting("ATTEMPTS", _integer, 4, minimum=1),
    Setting("BACKOFF", _number, 0.25),
    Setting("BACKOFF_MAX", _number, 8.0),
    Setting("STATUSES", _statuses, (429, 502, 503, 504)),
    Setting("RETRY_AFTER_MAX", _number, 30.0),
)


def _accounts(value: object, where: str, setting: Setting) -> dict[str, AccountSettings]:
    accounts = _require_mapping(value, where)
    return {
        str(name): AccountSettings(
            name=str(name), **_read_table(ACCOUNT_SETTINGS, raw, f"{where}[{str(name)!r}]")
        )
        for name, raw in accounts.items()
    }


def _retry(value: object, where: str, setting: Setting) -> RetryPolicy:
    return RetryPolicy(**_read_table(RETRY_SETTINGS, value, where))


# Every key of FLINKS_SESSIONS, in the README's order.
SETTINGS = (
    Setting("ACCOUNTS", _accounts, {}, described="*(required)*"),
    Setting("DEFAULT_ACCOUNT", _string, DEFAULT_ACCOUNT),
    Setting("PRODUCT_ACCOUNTS", _product_accounts, {}),
    Setting("CONNECT_TIMEOUT", _number, 3.05, minimum=0.001),
    Setting("READ_TIMEOUT", _number, 15.0, minimum=0.001),
    Setting("POOL_SIZE", _integer, 64, minimum=1),
    Setting("RETRY", _retry, None),  # its own keys and defaults: RETRY_SETTINGS
    Setting(
        "CLAIM_TTL",
        _optional(_number),
        None,
        minimum=1,
        described="computed from timeouts and retries (≥ 60 s)",
    ),
    Setting("WEBHOOK_SECRETS", _strings, ()),
    Setting(
        "WEBHOOK_SIGNATURE_HEADERS",
        _signature_forms,
        None,
        attribute="webhook_signature_forms",
        described="all three",
    ),
    Setting("WEBHOOK_MAX_AGE", _optional(_number), None, minimum=1),
    Setting("WEBHOOK_MAX_BODY", _integer, 64 * 1024, minimum=1024),
    Setting("WEBHOOK_ASYNC", lambda value, where, setting: bool(value), False),
    Setting("WEBHOOK_REJECTED_PER_MINUTE", _integer, 60, minimum=1),
    Setting("TRUST_X_FORWARDED_FOR", _trusted_proxies, 0, attribute="trusted_proxies"),
    Setting("EXIT_TOKEN_MAX_AGE", _integer, 6 * 3600, minimum=1),
    Setting("EXIT_GRACE_PERIOD", _number, 10.0),
    Setting("BEACON_MAX_BODY", _integer, 4096, minimum=256),
    Setting("BEACON_THROTTLE_RATE", _throttle_rate, "60/min"),
    Setting("STATUS_TOKEN_IN_QUERY", lambda value, where, setting: bool(value), False),
    Setting("RESTART_LIMIT", _integer, 5, minimum=1),
    Setting("RESTART_THROTTLE_RATE", _throttle_rate, "10/hour"),
    Setting("RECOVERY_DELAY", _number, 3600.0, minimum=0),
    Setting("RECOVERY_EMAIL", lambda value, where, setting: bool(value), False),
    Setting("RECOVERY_LINK_MAX_AGE", _integer, 7 * 24 * 3600, minimum=60),
    Setting("RECOVERY_CHECKOUT", _optional(_string), None, described="Flinks' hosted page"),
    Setting("RECOVERY_SITE_URL", _optional(_url), None, described="the link's path only"),
    Setting("TASK_BACKEND", _string, "default"),
    Setting("TASK_QUEUE", _string, "default"),
    Setting("TASK_PRIORITY", _integer, 0, minimum=-100),
    Setting("GUARANTEE_DECISION", _guarantee_decision, "accept"),
    # Flinks does not publish these events' names or payloads (docs/flinks-api.md, "Guarantee decision" and
    # "e-Transfer transaction status"): a site sets the names its Flinks contact gives it.
    Setting("GUARANTEE_EVENT_TYPES", _event_types, ("GuaranteeOffered",)),
    Setting("TRANSACTION_EVENT_TYPES", _event_types, ("TransactionStatusChanged",)),
)


def parse_settings(raw: object) -> FlinksSettings:
    """Validate and fill in defaults. Raises FlinksConfigurationError with a message that names the key."""
    return FlinksSettings(**_read_table(SETTINGS, raw, SETTING_NAME))


def unknown_keys(raw: object) -> list[UnknownKey]:
    """Keys no table defines, in ``FLINKS_SESSIONS``, its ``RETRY`` and each account: each would be ignored."""
    found: list[UnknownKey] = []

    def visit(table: tuple[Setting, ...], values: object, where: str) -> None:
        if not isinstance(values, Mapping):
            return
        known = [setting.key for setting in table]
        for key in values:
            if key not in known:
                closest = difflib.get_close_matches(str(key).upper(), known, n=1)
                found.append(UnknownKey(where, str(key), closest[0] if closest else None))

    visit(SETTINGS, raw, SETTING_NAME)
    if isinstance(raw, Mapping):
        visit(RETRY_SETTINGS, raw.get("RETRY"), f"{SETTING_NAME}['RETRY']")
        accounts = raw.get("ACCOUNTS")
        for name, account in accounts.items() if isinstance(accounts, Mapping) else ():
            visit(ACCOUNT_SETTINGS, account, f"{SETTING_NAME}['ACCOUNTS'][{str(name)!r}]")
    return found
