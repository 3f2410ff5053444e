"""Charts drawn on the server as inline SVG: nothing to fetch from a CDN, nothing to build, no script.

Colours are classes (``admin.css`` maps them to CSS variables with a light and a dark value), so a chart
follows the admin's theme and a strict Content-Security-Policy (no inline script, no style attribute) holds.
Every bar carries a ``<title>`` with its exact figure, which browsers show as a tooltip and screen readers read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

WIDTH = 760
BAR_HEIGHT = 22
LABEL_WIDTH = 230
AXIS = 28  # room under the columns for the day labels


@dataclass(frozen=True)
class Series:
    key: str
    label: Any


def _svg(height: int, title: Any, body: Iterable[SafeString]) -> SafeString:
    return format_html(
        '<svg class="flinks-chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}">'
        "<title>{}</title>{}</svg>",
        WIDTH,
        height,
        title,
        title,
        mark_safe("".join(body)),  # noqa: S308 - every part was built by format_html
    )


def _n(value: float) -> str:
    """A coordinate with one decimal, always with a dot (SVG is not localised)."""
    return f"{value:.1f}"


def nice_max(value: int) -> int:
    """A round top for an axis: 1, 2 or 5 times a power of ten, at least ``value``."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def stacked_columns(
    columns: Sequence[tuple[str, dict[str, int]]], series: Sequence[Series], *, title: Any, height: int = 260
) -> SafeString:
    """One column per label (a day), its parts stacked in ``series`` order, with a few labels under the axis."""
    plot = height - AXIS
    top = nice_max(max((sum(parts.values()) for _label, parts in columns), default=0))
    slot = (WIDTH - 40) / max(len(columns), 1)
    width = max(slot * 0.8, 1)
    every = max(1, math.ceil(len(columns) / 10))
    body = [
        format_html('<line class="flinks-chart__axis" x1="40" y1="{}" x2="{}" y2="{}"/>', plot, WIDTH, plot),
        format_html('<text class="flinks-chart__tick" x="34" y="12" text-anchor="end">{}</text>', top),
        format_html('<text class="flinks-chart__tick" x="34" y="{}" text-anchor="end">0</text>', plot),
    ]
    for index, (label, parts) in enumerate(columns):
        x = 40 + index * slot + (slot - width) / 2
        y = float(plot)
        for item in series:
            count = parts.get(item.key, 0)
            if not count:
                continue
            bar = count / top * (plot - 8)
            y -= bar
            body.append(
                format_html(
                    '<rect class="flinks-series-{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
                    item.key,
                    _n(x),
                    _n(y),
                    _n(width),
                    _n(bar),
                    gettext("%(label)s, %(series)s: %(count)s")
                    % {"label": label, "series": item.label, "count": count},
                )
            )
        if index % every == 0:
            body.append(
                format_html(
                    '<text class="flinks-chart__tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                    _n(x + width / 2),
                    plot + 18,
                    label,
                )
            )
    return _svg(height, title, body)


def horizontal_bars(rows: Sequence[tuple[Any, int]], *, title: Any, series: str = "bar") -> SafeString:
    """One labelled bar per row, longest first as given, each with its figure at its end."""
    top = max((count for _label, count in rows), default=0) or 1
    height = max(len(rows), 1) * (BAR_HEIGHT + 8) + 8
    room = WIDTH - LABEL_WIDTH - 60
    body = []
    for index, (label, count) in enumerate(rows):
        y = 4 + index * (BAR_HEIGHT + 8)
        length = count / top * room
        body.append(
            format_html(
                '<text class="flinks-chart__label" x="{}" y="{}" text-anchor="end">{}</text>'
                '<rect class="flinks-series-{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>'
                '<text class="flinks-chart__value" x="{}" y="{}">{}</text>',
                LABEL_WIDTH - 8,
                y + BAR_HEIGHT - 6,
                label,
                series,
                LABEL_WIDTH,
                y,
                _n(length),
                BAR_HEIGHT,
                gettext("%(label)s: %(count)s") % {"label": label, "count": count},
                _n(LABEL_WIDTH + length + 6),
                y + BAR_HEIGHT - 6,
                count,
            )
        )
    return _svg(height, title, body)


def legend(series: Sequence[Series]) -> SafeString:
    return format_html(
        '<ul class="flinks-legend">{}</ul>',
        format_html_join(
            "",
            '<li><span class="flinks-swatch flinks-swatch-{}"></span>{}</li>',
            ((s.key, s.label) for s in series),
        ),
    )
