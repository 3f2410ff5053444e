"""The abandonment page: how many checkouts are abandoned, when, through which door, and how long they lasted.

Linked from the app index and the PaymentSession changelist; routed by ``PaymentSessionAdmin.get_urls`` and
shown to whoever may view sessions. The period and account are a GET form (a bad value shows the form's
error, never a 500). The figures are :mod:`.abandonment_report`'s four aggregate queries; the charts are
:mod:`.charts`' server-side SVG.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from django import forms
from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.core.validators import MaxValueValidator, MinValueValidator
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format, get_format, number_format
from django.utils.translation import gettext, npgettext
from django.utils.translation import gettext_lazy as _

from flinks_sessions.admin import abandonment_report as figures
from flinks_sessions.admin import recovery
from flinks_sessions.admin.charts import Series, horizontal_bars, legend, stacked_columns
from flinks_sessions.admin.columns import source_label
from flinks_sessions.conf import get_settings
from flinks_sessions.exceptions import FlinksConfigurationError

TEMPLATE = "admin/flinks_sessions/paymentsession/abandonment.html"
PERIODS = ((7, _("Last 7 days")), (30, _("Last 30 days")), (90, _("Last 90 days")), (365, _("Last 365 days")))
MAX_DAYS = 366  # one bar per day stays legible up to a year
# The days whose bounds are datetimes in every time zone: the day after 9999-12-31, or 0001-01-01 seen from east
# of UTC, is none, and asking for it was a 500.
EARLIEST, LATEST = date(2, 1, 1), date(9998, 12, 31)
TOP_REASONS = 8


class PeriodForm(forms.Form):
    days = forms.TypedChoiceField(label=_("Period"), choices=PERIODS, coerce=int, required=False, initial=30)
    first = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[MinValueValidator(EARLIEST), MaxValueValidator(LATEST)],
    )
    last = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[MinValueValidator(EARLIEST), MaxValueValidator(LATEST)],
    )
    account = forms.ChoiceField(label=_("Flinks account"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        try:
            names = sorted(get_settings().accounts)
        except FlinksConfigurationError:
            names = []
        account = cast("forms.ChoiceField", self.fields["account"])
        account.choices = [("", _("All accounts")), *((name, name) for name in names)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("first"), data.get("last")
        if first and last:
            if first > last:
                raise forms.ValidationError(_("The start of the period must not be after its end."))
            if (last - first).days >= MAX_DAYS:
                raise forms.ValidationError(_("Choose a period of at most a year."))
        return data

    def period(self) -> figures.Period:
        today = timezone.localdate()
        data = self.cleaned_data if self.is_valid() else {}
        first, last = data.get("first"), data.get("last")
        if not (first and last):
            last = today
            first = today - timedelta(days=(data.get("days") or 30) - 1)
        return figures.Period(first=first, last=last, account=data.get("account") or "")


def abandonment_view(model_admin: ModelAdmin[Any], request: HttpRequest) -> TemplateResponse:
    if not model_admin.has_view_or_change_permission(request):
        raise PermissionDenied
    form = PeriodForm(request.GET or None)
    period = form.period() if form.is_bound else PeriodForm().period()
    report = figures.build(period)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Abandoned checkouts"),
        "opts": model_admin.opts,
        "form": form if form.is_bound else PeriodForm(initial={"days": 30}),
        "report": report,
        "period_label": _period_label(period),
        "tiles": _tiles(report),
        "recovery_tiles": recovery.tiles(recovery.figures(*period.bounds(), period.account), percent),
        "charts": _charts(report),
        "media": model_admin.media,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, TEMPLATE, context)


def _period_label(period: figures.Period) -> str:
    text = gettext("%(first)s to %(last)s") % {
        "first": date_format(period.first, "SHORT_DATE_FORMAT"),
        "last": date_format(period.last, "SHORT_DATE_FORMAT"),
    }
    if period.account:
        text = gettext("%(period)s, account %(account)s") % {"period": text, "account": period.account}
    return text


def _tiles(report: figures.Report) -> list[tuple[Any, str]]:
    """Each figure with its label, the label agreeing with the figure (French: 1 Terminée, 3 Terminées)."""
    rate = report.abandonment_rate
    counted = (  # "figure": the catalogue's context for a label with a count before it
        (report.sessions, npgettext("figure", "Session started", "Sessions started", report.sessions)),
        (report.totals["completed"], npgettext("figure", "Completed", "Completed", report.totals["completed"])),
        (report.abandoned, npgettext("figure", "Abandoned (cancelled or expired)", "Abandoned (cancelled or expired)",
                                     report.abandoned)),
        (report.failed_cancels, npgettext("figure", "Cancel failing (retried)", "Cancels failing (retried)",
                                          report.failed_cancels)),
        (report.pending_cancels, npgettext("figure", "Cancel waiting for a worker", "Cancels waiting for a worker",
                                           report.pending_cancels)),
    )  # fmt: skip
    tiles: list[tuple[Any, str]] = [
        (label, number_format(count, force_grouping=True)) for count, label in counted
    ]
    tiles.insert(3, (_("Abandonment rate of ended sessions"), percent(rate) if rate is not None else "—"))
    return tiles


def percent(fraction: float) -> str:
    """``66.7%`` (``66,7 %`` in French) for 8 of 12: rounded half up to one decimal, never cut."""
    rounded = (Decimal(fraction) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return gettext("%(rate)s%%") % {"rate": number_format(rounded, decimal_pos=1)}


def _day_label(day: date) -> str:
    """A day on the axis in the order the period is written in (the locale's short date without its year)."""
    return date_format(day, day_format()) if day else ""


def day_format() -> str:
    """The active locale's ``SHORT_DATE_FORMAT`` without the year: ``m/d`` in English, ``d/m`` in French."""
    short = str(get_format("SHORT_DATE_FORMAT"))
    without_year = re.sub(r"^[Yy][^A-Za-z]+|[^A-Za-z]+[Yy]$", "", short)
    return without_year if without_year != short else "j/n"


def _charts(report: figures.Report) -> list[dict[str, Any]]:
    outcomes = [Series(key, label) for key, label in figures.OUTCOMES]
    per_day = [(_day_label(day), dict(counts)) for day, counts in sorted(report.per_day.items())]
    sources = [
        (source_label(source) if source else gettext("Flinks (no cancel asked here)"), count)
        for source, count in report.by_source.most_common()
    ]
    reasons = [
        (figures.REASON_LABELS.get(reason, reason), count)
        for reason, count in report.by_reason.most_common(TOP_REASONS)
    ]
    return [
        {
            "title": _("Sessions per day by outcome"),
            "svg": stacked_columns(per_day, outcomes, title=_("Sessions per day by outcome")),
            "legend": legend(outcomes),
        },
        {
            "title": _("Cancels by source"),
            "svg": horizontal_bars(sources, title=_("Cancels by source"), series="cancelled"),
            "empty": not sources,
        },
        {
            "title": _("Cancels by reason"),
            "svg": horizontal_bars(reasons, title=_("Cancels by reason"), series="cancelled"),
            "empty": not reasons,
        },
        {
            "title": _("Time from start to abandonment"),
            "svg": horizontal_bars(
                report.durations, title=_("Time from start to abandonment"), series="expired"
            ),
            "empty": not report.abandoned,
        },
    ]
