"""The abandonment page as a new operator read it, in English and French: one date order for the period and the
axis, rates rounded (8 of 12 is 66.7 %), plurals that agree with their figure, labels capitalised, and the
French space before a colon."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from flinks_sessions.status import Status
from tests.admin.test_abandonment import PAGE, session, viewer
from tests.admin.test_cancel_columns import _keep_language

pytestmark = pytest.mark.django_db
NBSP = "\u00a0"
__all__ = ["_keep_language", "viewer"]  # fixtures; the first, autouse, starts each test in English


@pytest.fixture
def eight_of_twelve() -> None:
    """Twelve ended sessions over the last days, eight of them abandoned; three completed, one failed."""
    for day in range(8):
        session(Status.CANCELLED, age=timedelta(days=day + 1), lasted=timedelta(minutes=2))
    for day in range(3):
        session(Status.COMPLETED, age=timedelta(days=day + 1))
    session(Status.FAILED, age=timedelta(days=2))


def page(client: Client, language: str) -> str:
    with translation.override(language):
        body = client.get(reverse(PAGE), {"days": "30"}, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    return html.unescape(body.split('id="content-main"')[1])


def words(body: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", body))  # keeps no-break spaces


@pytest.mark.parametrize(("language", "day", "year"), [("en", "%m/%d", "/%Y"), ("fr", "%d/%m", "/%Y")])
def test_the_period_and_the_axis_write_dates_in_one_order(
    eight_of_twelve: None, viewer: Client, language: str, day: str, year: str
) -> None:
    body = page(viewer, language)
    first = timezone.localdate() - timedelta(days=29)
    assert first.strftime(day + year) in words(body)  # the period
    ticks = re.findall(r'class="flinks-chart__tick"[^>]*>([^<]+)<', body)
    assert first.strftime(day) in ticks, ticks  # the axis, in the period's order


@pytest.mark.parametrize(("language", "rate"), [("en", "66.7%"), ("fr", f"66,7{NBSP}%")])
def test_a_rate_is_rounded_not_cut(eight_of_twelve: None, viewer: Client, language: str, rate: str) -> None:
    text = words(page(viewer, language))
    assert rate in text
    assert "66.6" not in text
    assert "66,6" not in text


def test_french_labels_agree_with_their_figure_and_start_with_a_capital(
    eight_of_twelve: None, viewer: Client
) -> None:
    text = words(page(viewer, "fr"))
    assert "3 Terminées" in text
    assert "12 Sessions commencées" in text
    assert "compte Flinks" not in text
    assert "Compte Flinks" in text


def test_french_puts_a_space_before_each_colon(eight_of_twelve: None, viewer: Client) -> None:
    body = page(viewer, "fr")
    titles = re.findall(r"<title>([^<]*)</title>", body)
    assert any(":" in title for title in titles)
    for title in titles:
        assert not re.search(r"[^\u00a0]:", title), title
