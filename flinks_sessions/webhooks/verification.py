"""Is this request really from Flinks, and recent? Signature and age checks over the raw body.

Every documented header form is an HMAC-SHA256 of the body bytes (:mod:`flinks_sessions.signatures`); which
forms are accepted comes from ``WEBHOOK_SIGNATURE_HEADERS``. The secrets tried are the global
``WEBHOOK_SECRETS`` and every account's own ``ACCOUNTS[...]["WEBHOOK_SECRETS"]``: the account a webhook belongs
to is only known from its body, which must not be trusted before it is verified, so any configured secret
authenticates it. Lists allow rotation: old and new secrets are accepted side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from flinks_sessions.conf import FlinksSettings
from flinks_sessions.signatures import SignatureForm, matches


def accepted_secrets(settings: FlinksSettings) -> tuple[str, ...]:
    """Every secret that authenticates a webhook, without repeats, global ones first."""
    secrets = list(settings.webhook_secrets)
    for account in settings.accounts.values():
        secrets.extend(account.webhook_secrets)
    return tuple(dict.fromkeys(secrets))


def signature_headers(
    headers: Mapping[str, str], settings: FlinksSettings
) -> list[tuple[SignatureForm, str]]:
    """Every accepted signature header the request carries, in the configured order; empty → answered 400."""
    lowered = {name.lower(): value for name, value in headers.items()}
    found = []
    for form in settings.webhook_signature_forms:
        value = lowered.get(form.value.lower(), "").strip()
        if value:
            found.append((form, value))
    return found


@sensitive_variables()  # the secrets and the signatures: no error report shows them (with DEBUG off)
def verify(
    body: bytes, candidates: list[tuple[SignatureForm, str]], settings: FlinksSettings
) -> tuple[SignatureForm, bool]:
    """Which header authenticates ``body`` (the first that does), or the first header and ``False``.

    Each candidate is checked against every configured secret in constant time; a sender that adds a second
    header form cannot make a valid one fail.
    """
    secrets = accepted_secrets(settings)
    if secrets:
        for form, value in candidates:
            if matches(body, value, form, secrets):
                return form, True
    return candidates[0][0], False


def age_problem(when: datetime | None, settings: FlinksSettings, now: datetime | None = None) -> str:
    """Why the signed ``when`` is unacceptable under ``WEBHOOK_MAX_AGE`` (a replay), or ``""`` when it is fine.

    The window is symmetric, so a timestamp far in the future (a clock that is badly off) fails too. Without a
    ``when`` there is nothing to prove freshness with, so a site that asks for a window rejects the delivery.
    """
    max_age = settings.webhook_max_age
    if max_age is None:
        return ""
    if when is None:
        return "the delivery carries no signed 'when' and WEBHOOK_MAX_AGE is set"
    drift = abs(((now or timezone.now()) - when).total_seconds())
    if drift > max_age:
        return f"the signed 'when' ({when.isoformat()}) is {drift:.0f}s away from now; WEBHOOK_MAX_AGE is {max_age:g}s"
    return ""
