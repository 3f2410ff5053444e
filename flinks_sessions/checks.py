"""System checks: a wrong ``FLINKS_SESSIONS`` fails ``manage.py check`` with an id, a message and a hint.

Ids are stable; the README lists them. E = error (the app cannot work), W = warning (it works, unsafely).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from flinks_sessions.conf import GUARANTEE_POLICIES, SETTING_NAME, UnknownKey, parse_settings, unknown_keys
from flinks_sessions.exceptions import FlinksConfigurationError

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
_MINIMAL_SETTING = "{'ACCOUNTS': {'default': {'BASE_URL': ..., 'CLIENT_ID': ..., 'CLIENT_SECRET': ...}}}"


def _hint_doc() -> str:
    """Read when a check runs, so ``manage.py check`` speaks the active language."""
    return gettext("See the settings table in the flinks-sessions README.")


@checks.register(checks.Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Settings that are missing, malformed, unsafe or inconsistent."""
    raw = getattr(settings, SETTING_NAME, None)
    if raw is None:
        return [
            checks.Error(
                gettext("%(setting)s is not set.") % {"setting": SETTING_NAME},
                hint=gettext("Add %(example)s to your settings. %(doc)s")
                % {
                    "example": f"{SETTING_NAME} = {_MINIMAL_SETTING}",
                    "doc": _hint_doc(),
                },
                id="flinks_sessions.E001",
            )
        ]
    messages: list[checks.CheckMessage] = [_unknown_key_error(unknown) for unknown in unknown_keys(raw)]
    try:
        parsed = parse_settings(raw)
    except FlinksConfigurationError as exc:
        return [*messages, checks.Error(str(exc), hint=_hint_doc(), id="flinks_sessions.E002")]

    if not parsed.accounts:
        messages.append(
            checks.Error(
                gettext("%(setting)s['ACCOUNTS'] holds no Flinks credentials.") % {"setting": SETTING_NAME},
                hint=gettext("Add at least a 'default' account with BASE_URL, CLIENT_ID and CLIENT_SECRET."),
                id="flinks_sessions.E003",
            )
        )
    referenced = {"DEFAULT_ACCOUNT": parsed.default_account} if parsed.accounts else {}
    referenced.update({f"PRODUCT_ACCOUNTS['{p}']": name for p, name in parsed.product_accounts.items()})
    for key, name in referenced.items():
        if name not in parsed.accounts:
            messages.append(
                checks.Error(
                    gettext("%(setting)s['%(key)s'] names the account %(name)r, which is not in ACCOUNTS.")
                    % {"setting": SETTING_NAME, "key": key, "name": name},
                    hint=gettext("Use one of: %(accounts)s.")
                    % {"accounts": ", ".join(sorted(parsed.accounts))},
                    id="flinks_sessions.E004",
                )
            )
    if not settings.DEBUG:
        for account in parsed.accounts.values():
            parts = urlsplit(account.base_url)
            if parts.scheme != "https" and parts.hostname not in _LOOPBACK_HOSTS:
                messages.append(
                    checks.Warning(
                        gettext(
                            "The Flinks account %(name)r uses a non-HTTPS BASE_URL outside DEBUG: "
                            "credentials and tokens would travel in clear text."
                        )
                        % {"name": account.name},
                        hint=gettext("Use the https:// address Flinks gave you."),
                        id="flinks_sessions.W001",
                    )
                )
    if not parsed.webhook_secrets and not any(a.webhook_secrets for a in parsed.accounts.values()):
        messages.append(
            checks.Warning(
                gettext("No webhook secret is configured: every Flinks webhook will be rejected with 401."),
                hint=gettext(
                    "Set %(setting)s['WEBHOOK_SECRETS'] = ['<secret from Flinks>'] (a list, for rotation)."
                )
                % {"setting": SETTING_NAME},
                id="flinks_sessions.W002",
            )
        )
    if raw.get("TRUST_X_FORWARDED_FOR") is True:
        messages.append(
            checks.Warning(
                gettext(
                    "%(setting)s['TRUST_X_FORWARDED_FOR'] = True is read as one trusted proxy: the address "
                    "recorded is the X-Forwarded-For hop that proxy appended."
                )
                % {"setting": SETTING_NAME},
                hint=gettext(
                    "Give the number of proxies in front of the site that append to X-Forwarded-For (1, 2...)."
                ),
                id="flinks_sessions.W003",
            )
        )
    messages.extend(_check_guarantee_policy(parsed.guarantee_decision))
    messages.extend(
        _check_recovery(parsed.recovery_checkout, email=parsed.recovery_email, site=parsed.recovery_site_url)
    )
    overlap = {name.lower() for name in parsed.guarantee_event_types} & {
        name.lower() for name in parsed.transaction_event_types
    }
    if overlap:
        messages.append(
            checks.Error(
                gettext("%(setting)s names %(types)s both as a guarantee event and as a transaction event.")
                % {"setting": SETTING_NAME, "types": ", ".join(sorted(overlap))},
                hint=gettext(
                    "Keep each event type in one of GUARANTEE_EVENT_TYPES and TRANSACTION_EVENT_TYPES."
                ),
                id="flinks_sessions.E021",
            )
        )
    if "rest_framework" not in settings.INSTALLED_APPS:
        messages.append(
            checks.Error(
                gettext("flinks_sessions needs Django REST framework for its beacon endpoint."),
                hint=gettext("Add 'rest_framework' to INSTALLED_APPS."),
                id="flinks_sessions.E005",
            )
        )
    return messages


def _unknown_key_error(unknown: UnknownKey) -> checks.CheckMessage:
    """A misspelt key is otherwise ignored in silence, and its default used in its place."""
    if unknown.closest is None:
        hint = gettext("Remove it. %(doc)s") % {"doc": _hint_doc()}
    else:
        hint = gettext("Did you mean %(closest)r?") % {"closest": unknown.closest}
    return checks.Error(
        gettext("%(where)s[%(key)r] is not a setting of flinks-sessions: it would be ignored.")
        % {"where": unknown.where, "key": unknown.key},
        hint=hint,
        id="flinks_sessions.E006",
    )


def _check_guarantee_policy(policy: str) -> list[checks.CheckMessage]:
    """A dotted ``GUARANTEE_DECISION`` must import and be callable now, not when the first guarantee arrives."""
    if policy in GUARANTEE_POLICIES:
        return []
    try:
        target = import_string(policy)
    except ImportError as exc:
        problem = str(exc)
    else:
        if callable(target):
            return []
        problem = gettext("it is not callable")
    return [
        checks.Error(
            gettext("%(setting)s['GUARANTEE_DECISION'] = %(path)r cannot be used: %(problem)s")
            % {"setting": SETTING_NAME, "path": policy, "problem": problem},
            hint=gettext(
                "Use 'accept', 'reject', 'manual' or the dotted path of a callable (session, offer) -> bool."
            ),
            id="flinks_sessions.E020",
        )
    ]


def _check_recovery(checkout: str | None, *, email: bool, site: str | None) -> list[checks.CheckMessage]:
    """Where the recovery link's Continue leads must resolve now, not when a payer clicks; an emailed link must
    be absolute (the sweep has no request to take a host from)."""
    found: list[checks.CheckMessage] = []
    if checkout:
        try:
            if "." in checkout:
                if not callable(import_string(checkout)):
                    raise TypeError(gettext("it is not callable"))
            else:
                reverse(checkout, kwargs={"session_id": uuid.UUID(int=0)})
        except (ImportError, NoReverseMatch, TypeError) as exc:
            found.append(
                checks.Error(
                    gettext("%(setting)s['RECOVERY_CHECKOUT'] = %(value)r cannot be used: %(problem)s")
                    % {"setting": SETTING_NAME, "value": checkout, "problem": exc},
                    hint=gettext(
                        "Name a URL that takes session_id (e.g. 'shop:pay'), or the dotted path of a callable "
                        "(session) -> URL."
                    ),
                    id="flinks_sessions.E022",
                )
            )
    if email and not site:
        found.append(
            checks.Warning(
                gettext(
                    "%(setting)s['RECOVERY_EMAIL'] is on without RECOVERY_SITE_URL: the reminder's link would be a "
                    "path without a host."
                )
                % {"setting": SETTING_NAME},
                hint=gettext("Set RECOVERY_SITE_URL = 'https://your.shop'."),
                id="flinks_sessions.W004",
            )
        )
    return found
