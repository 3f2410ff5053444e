"""A date hierarchy whose links cost one index probe at each level, however large the table.

Django's ``date_hierarchy`` lists the years (then months, then days) that hold rows with ``SELECT DISTINCT
date_trunc(...)`` over every row shown: at a million sessions that is a full scan on each page view. Here each
level lists every year, month or day from the first row shown to the last one, found by ``MIN``/``MAX`` on the
indexed column (two index probes). A month without any row between two that have some is listed too and
simply shows an empty list: a fair price for a page that stays fast.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.views.main import ChangeList
from django.db import models
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _


def _local(value: Any) -> Any:
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


def date_hierarchy(cl: ChangeList) -> dict[str, Any] | None:
    """The context of Django's ``admin/date_hierarchy.html``, built from the shown rows' first and last date."""
    field_name = cl.date_hierarchy
    if not field_name:
        return None
    field = get_fields_from_path(cl.model, field_name)[-1]
    year_field, month_field, day_field = (f"{field_name}__{part}" for part in ("year", "month", "day"))
    year, month, day = (cl.params.get(name) for name in (year_field, month_field, day_field))

    def link(filters: dict[str, Any]) -> str:
        return str(cl.get_query_string(filters, [f"{field_name}__"]))

    context: dict[str, Any] = {"show": True, "field_name": field.verbose_name, "back": None, "choices": []}
    if year and month and day:
        date = datetime.date(int(year), int(month), int(day))
        context["back"] = {
            "link": link({year_field: year, month_field: month}),
            "title": capfirst(formats.date_format(date, "YEAR_MONTH_FORMAT")),
        }
        context["choices"] = [{"title": capfirst(formats.date_format(date, "MONTH_DAY_FORMAT"))}]
        return context

    if year and month:
        context["back"] = {"link": link({year_field: year}), "title": str(year)}
    elif year:
        context["back"] = {"link": link({}), "title": _("All dates")}
    bounds = cl.queryset.aggregate(first=models.Min(field_name), last=models.Max(field_name))
    first, last = _local(bounds["first"]), _local(bounds["last"])
    if first is None or last is None:
        return context
    if year and month:
        context["choices"] = [
            {
                "link": link({year_field: year, month_field: month, day_field: number}),
                "title": capfirst(
                    formats.date_format(datetime.date(first.year, first.month, number), "MONTH_DAY_FORMAT")
                ),
            }
            for number in range(first.day, last.day + 1)
        ]
    elif year:
        context["choices"] = [
            {
                "link": link({year_field: year, month_field: number}),
                "title": capfirst(
                    formats.date_format(datetime.date(first.year, number, 1), "YEAR_MONTH_FORMAT")
                ),
            }
            for number in range(first.month, last.month + 1)
        ]
    else:
        context["choices"] = [
            {"link": link({year_field: str(number)}), "title": str(number)}
            for number in range(first.year, last.year + 1)
        ]
    return context
