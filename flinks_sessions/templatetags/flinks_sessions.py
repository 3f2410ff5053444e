"""``{% load flinks_sessions %}{% flinks_checkout session %}``: the hosted flow plus the exit beacon wiring.

The tag renders the hosted-flow iframe (or, once the session has ended, its outcome and "Start again") and
loads ``checkout.js``; everything the script needs travels in
``data-`` attributes (no inline script, so a strict Content-Security-Policy keeps working). Override the markup
with your own ``flinks_sessions/checkout.html``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

from django import template
from django.utils.translation import gettext_lazy as _

from flinks_sessions.api.links import session_links, site_origin
from flinks_sessions.conf import get_settings
from flinks_sessions.services.products import emails_payment_link

register = template.Library()


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL: what ``MessageEvent.origin`` holds for a page served from it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def checkout_context(
    session: Any, request: Any = None, *, parent_origin: bool = True, success_url: str = ""
) -> dict[str, Any]:
    """Everything the checkout template needs; public so a site rendering its own markup can reuse it."""
    if session is None or getattr(session, "session_id", None) is None:
        return {"available": False}
    origin = site_origin(request)
    links = session_links(session, parent_origin=origin if parent_origin else "")
    return {
        "available": True,
        "session": session,
        **asdict(links),
        "iframe_url": links.hosted_url,
        "success_url": success_url,
        "status": session.status,
        "message_origin": origin_of(get_settings().account(session.account).hosted_page_base),
        "site_origin": origin,
        "ended": bool(session.is_terminal),
        "emailed": emails_payment_link(session.product, session.start_params or {}),
    }


@register.inclusion_tag("flinks_sessions/checkout.html", takes_context=True)
def flinks_checkout(  # noqa: PLR0917 - a template tag's arguments are positional or keyword alike
    context: template.Context,
    session: Any,
    height: str | int = 720,
    title: str | None = None,
    parent_origin: bool = True,
    success_url: str = "",
) -> dict[str, Any]:
    """The hosted Flinks Pay flow for ``session`` in an iframe, with the page-exit beacon armed.

    ``height`` sets the iframe height in pixels, ``title`` its accessible name, ``parent_origin=False`` leaves
    ``&parentOrigin=`` off the hosted page URL. ``success_url`` is where the page goes once the payment
    completes (without it, a completed session shows a short note). A session that has ended otherwise
    (cancelled, expired, failed) shows its outcome and a "Start again" button in place of the iframe.

    The view that renders this tag must not be cached (``@never_cache``): the browser's Back button would
    otherwise show a stale copy still offering a payment that has ended (README, "Quick start" and "checkout.js").
    """
    values = checkout_context(
        session, context.get("request"), parent_origin=parent_origin, success_url=success_url
    )
    values["height"] = height
    values["title"] = title or _("Pay by bank with Flinks")
    return values
