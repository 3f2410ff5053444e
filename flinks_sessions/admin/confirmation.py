"""The pages that ask before the admin calls Flinks: built one way, each extending ``confirmation.html``.

Cancel (one session, from its change page) and the actions over the selected sessions (Cancel, Accept or Reject
guarantee) ask first, like Django's delete; the answer posts back. A page for an action lists the sessions it
will act on (``chosen``) apart from the ones it leaves as they are (``skipped``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.functional import Promise

from flinks_sessions.models import PaymentSession

TEMPLATES = "admin/flinks_sessions/paymentsession/"


def confirmation_page(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    template: str,
    title: str | Promise,
    **context: Any,
) -> TemplateResponse:
    """The page ``template`` (under the session admin's templates) asking ``title``, with ``context``."""
    site = model_admin.admin_site
    request.current_app = site.name
    page = {
        **site.each_context(request),
        "title": title,
        "opts": model_admin.opts,
        "media": model_admin.media,
    }
    return TemplateResponse(request, f"{TEMPLATES}{template}", {**page, **context})


def selection(
    action_name: str, sessions: list[PaymentSession], chosen: Iterable[PaymentSession]
) -> dict[str, Any]:
    """What a page for ``action_name`` over the selected ``sessions`` adds: those it acts on, those it skips."""
    chosen = list(chosen)
    picked = {session.pk for session in chosen}
    return {
        "sessions": sessions,
        "chosen": chosen,
        "skipped": [session for session in sessions if session.pk not in picked],
        "action_name": action_name,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
