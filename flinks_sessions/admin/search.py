"""Searches an index can answer: what the admin's search boxes match, and how.

Django's default search ORs ``icontains`` over every search field, which no index serves: at a million rows each
search reads the whole table. Here the term decides the lookup instead:

- a UUID is a Flinks session id, matched exactly (the unique index);
- anything else is the start of a reference, matched case-sensitively (``LIKE 'term%'``, served by the
  ``varchar_pattern_ops`` index Django builds for an indexed ``CharField`` on PostgreSQL), or an owner's login
  name or email, matched exactly (looked up in the user table first, then by the ``owner`` foreign key's index).
"""

from __future__ import annotations

import uuid

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

SESSION_SEARCH_HELP = _(
    "A Flinks session id (exact), the start of a reference (case-sensitive), "
    "or an owner's login name or email (exact)."
)
DELIVERY_SEARCH_HELP = _(
    "A Flinks session id (exact), or the start of the session's reference (case-sensitive)."
)


def as_session_id(term: str) -> uuid.UUID | None:
    """The term as a UUID, or ``None`` when it is not one (any spelling ``uuid.UUID`` accepts)."""
    try:
        return uuid.UUID(term.strip())
    except ValueError:
        return None


def owner_ids(term: str) -> list[int]:
    """Users whose login name or email is exactly ``term``, whatever the user model calls those fields."""
    user_model = get_user_model()
    names = {field.name for field in user_model._meta.get_fields()}
    match = Q()
    for name in (user_model.USERNAME_FIELD, user_model.get_email_field_name()):
        if name in names:
            match |= Q(**{name: term})
    if not match:
        return []
    return list(user_model._default_manager.filter(match).values_list("pk", flat=True)[:100])


def session_match(term: str) -> Q:
    """What a search for ``term`` matches on PaymentSession."""
    session_id = as_session_id(term)
    if session_id is not None:
        return Q(session_id=session_id)
    match = Q(reference_id__startswith=term)
    owners = owner_ids(term)
    if owners:
        match |= Q(owner_id__in=owners)
    return match


def delivery_match(term: str) -> Q:
    """What a search for ``term`` matches on WebhookDelivery."""
    session_id = as_session_id(term)
    if session_id is not None:
        return Q(flinks_session_id=session_id)
    return Q(session__reference_id__startswith=term)
