"""``{% load flinks_sessions_admin %}``: the admin's cheap date hierarchy (see ``flinks_sessions.admin.dates``)."""

from __future__ import annotations

from django import template
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.template.base import Parser, Token

from flinks_sessions.admin.dates import date_hierarchy

register = template.Library()


@register.tag(name="flinks_date_hierarchy")
def date_hierarchy_tag(parser: Parser, token: Token) -> InclusionAdminNode:
    """Renders Django's own ``admin/date_hierarchy.html`` (overridable per model like the built-in tag)."""
    return InclusionAdminNode(
        "date_hierarchy",
        parser,
        token,
        func=date_hierarchy,
        template_name="date_hierarchy.html",
        takes_context=False,
    )
