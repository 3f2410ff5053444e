"""``{% load flinks_sessions_admin %}``: the admin's cheap date hierarchy (see ``flinks_sessions.admin.dates``)."""

from __future__ import annotations

import inspect
from typing import Any

from django import template
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.template.base import Parser, Token

from flinks_sessions.admin.dates import date_hierarchy

register = template.Library()


@register.tag(name="flinks_date_hierarchy")
def date_hierarchy_tag(parser: Parser, token: Token) -> InclusionAdminNode:
    """Renders Django's own ``admin/date_hierarchy.html`` (overridable per model like the built-in tag)."""
    # Django 6.1 added the tag's name as the node's first argument; 5.2 and 6.0 have none.
    named = ("date_hierarchy",) if "name" in inspect.signature(InclusionAdminNode).parameters else ()
    node: Any = InclusionAdminNode  # the stubs know one of the two signatures
    return node(
        *named,
        parser,
        token,
        func=date_hierarchy,
        template_name="date_hierarchy.html",
        takes_context=False,
    )
