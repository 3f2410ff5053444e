"""The app's own recovery email (``RECOVERY_EMAIL``): plain text and HTML, in the payer's language.

Sent through Django's email backend to the payer's address (``payor.email``, kept from ``start_session``). The
templates are ``flinks_sessions/recovery/email_subject.txt``, ``email.txt`` and ``email.html``: a site overrides
them like any app template. The language is the session's ``metadata["language"]`` when the site stored one,
``LANGUAGE_CODE`` otherwise. The email carries the order's reference and amount and the signed link, nothing
else: no session id, no token of the checkout page, no payer detail beyond the greeting's name.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.formats import number_format

from flinks_sessions.models import PaymentSession

TEMPLATES = "flinks_sessions/recovery/"


def language_of(session: PaymentSession) -> str:
    """The payer's language as the site stored it, or the site's."""
    language = (session.metadata or {}).get("language")
    return language if isinstance(language, str) and language else settings.LANGUAGE_CODE


def email_context(session: PaymentSession, url: str) -> dict[str, Any]:
    payor = session.start_params.get("payor") or {}
    return {
        "session": session,
        "reference": session.reference_id,
        "amount": number_format(session.amount, 2, force_grouping=True) if session.amount is not None else "",
        "currency": session.currency,
        "name": str(payor.get("firstName") or payor.get("first_name") or ""),
        "url": url,
    }


def send_recovery_email(session: PaymentSession, url: str) -> None:
    """Render and send the email; raises what the email backend raises (the notice is then recorded failed)."""
    address = (session.start_params.get("payor") or {}).get("email")
    if not address:
        return
    with translation.override(language_of(session)):
        context = email_context(session, url)  # the amount written as the payer's language writes it
        subject = " ".join(render_to_string(TEMPLATES + "email_subject.txt", context).split())
        text = render_to_string(TEMPLATES + "email.txt", context)
        html = render_to_string(TEMPLATES + "email.html", context)
    message = EmailMultiAlternatives(subject, text, to=[address])
    message.attach_alternative(html, "text/html")
    message.send()
