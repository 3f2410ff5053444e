"""What a new user met, looked at in Chromium at 1,400 px and at a phone's width, in English and French: the
thank-you page after a reduced offer, a session's admin page, the deliveries list and the abandonment page.

``FLINKS_SCREENSHOTS=docs/images`` also saves what the browser showed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from flinks_sessions.models import PaymentSession, SessionEvent, WebhookDelivery
from flinks_sessions.status import Product, Status
from tests.browser.test_admin_browser import assert_results_fit, save, seed
from tests.example.test_example_shop import shop
from tests.i18n.test_french import with_locale_middleware

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["shop"]

WIDE = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
NBSP = "\u00a0"


def reload_middleware(live_server: Any) -> None:
    """The live server (one for the whole run) built its middleware at start: build it again from settings.

    Each wrapper is a handler of its own (the media files handler answers the pages itself when ``MEDIA_URL`` is
    empty), so each one reloads.
    """
    handler = live_server.thread.httpd.get_app()
    while handler is not None:
        handler.load_middleware()
        handler = getattr(handler, "application", None)


@pytest.fixture
def open_page(browser: Any, live_server: Any, settings: Any) -> Iterator[Callable[..., Any]]:
    """A page of the live server at a width, in a language (LocaleMiddleware on), as a superuser when asked."""
    plain = settings.MIDDLEWARE
    settings.MIDDLEWARE = with_locale_middleware(plain)
    reload_middleware(live_server)
    client = Client()
    client.force_login(User.objects.create_superuser("operator", "operator@example.com", None))
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value

    base = live_server.url

    def open_at(
        path: str, *, viewport: dict[str, int] = WIDE, language: str = "en", admin: bool = True
    ) -> Any:
        context = browser.new_context(
            viewport=viewport, locale=language, extra_http_headers={"Accept-Language": language}
        )
        if admin:
            context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}])
        page = context.new_page()
        page.goto(f"{base}{path}")
        return page

    yield open_at
    settings.MIDDLEWARE = plain
    reload_middleware(live_server)


def overflows(page: Any) -> list[str]:
    """The elements wider than the page (something a reader would have to scroll sideways for)."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('#content-main *, main *'))
            .filter(element => element.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .filter(element => !element.closest('.results, .flinks-chart, pre, fieldset.collapse'))
            .map(element => element.tagName + '.' + element.className).slice(0, 5)"""
    )


@pytest.mark.parametrize(
    ("language", "viewport", "amount"), [("en", WIDE, "$500.00"), ("fr", PHONE, f"500,00{NBSP}$")]
)
def test_the_thank_you_page_after_a_reduced_offer_states_the_settled_amount(
    shop: Any, open_page: Callable[..., Any], language: str, viewport: dict[str, int], amount: str
) -> None:
    page = open_page("/products/cedar-canoe/", viewport=viewport, language=language, admin=False)
    page.select_option("select[name=scenario]", "Happy2")
    page.click("#pay-by-bank")
    page.wait_for_url("**/pay/**")
    session = PaymentSession.objects.get()
    assert session.reference_id.startswith("order-")
    shop.state.complete(str(session.session_id), source="page")  # a reduced offer, accepted (no webhook)
    page.goto(page.url.rstrip("/") + "/done/")
    outcome = page.locator("#outcome").inner_text()
    assert amount in outcome
    assert not overflows(page)
    save(page, f"shop-thanks-reduced-{language}{'-phone' if viewport is PHONE else ''}.png")


@pytest.fixture
def reduced_and_cancelled() -> tuple[PaymentSession, PaymentSession]:
    """A GEFT payment whose guarantee the policy accepted at half, and a payment the shopper left."""
    now = timezone.now()
    geft = PaymentSession.objects.create(
        session_id=uuid.uuid4(), reference_id="order-7f3a91c2d4e5", amount=Decimal("1000"), product=Product.GEFT,
        status=Status.COMPLETED, status_details="EFT0301", settled_amount=Decimal("500"),
        guarantee_offered_at=now, guarantee_decision="accepted", guarantee_decided_at=now,
        guarantee_offer={"offeredAmount": 500, "offerType": "Reduced"},
    )  # fmt: skip
    SessionEvent.objects.create(session=geft, kind="created", to_status="initiated", source="api")
    SessionEvent.objects.create(session=geft, kind="guarantee_offered", source="webhook")
    SessionEvent.objects.create(session=geft, kind="guarantee_decided", source="webhook", reason="accepted")
    SessionEvent.objects.create(
        session=geft, kind="transition", from_status="in_progress", to_status="completed",
        status_details="EFT0301", source="webhook",
    )  # fmt: skip
    left = PaymentSession.objects.create(
        session_id=uuid.uuid4(), reference_id="order-0b1c2d3e4f50", amount=Decimal("249.50"),
        status=Status.CANCELLED, status_details="EFT0501", settled_amount=Decimal("249.50"),
        cancel_requested_at=now, cancel_source="beacon", cancel_reason="pagehide", cancelled_at=now,
    )  # fmt: skip
    SessionEvent.objects.create(session=left, kind="created", to_status="initiated", source="api")
    SessionEvent.objects.create(session=left, kind="cancel_attempt", source="beacon", reason="pagehide")
    SessionEvent.objects.create(
        session=left, kind="transition", from_status="initiated", to_status="cancelled",
        status_details="EFT0501", source="beacon",
    )  # fmt: skip
    return geft, left


@pytest.mark.parametrize(
    ("language", "viewport", "words"),
    [
        ("en", WIDE, ["Initiated → Cancelled (Shopper's browser)", "Left the page"]),
        ("fr", WIDE, ["Amorcée → Annulée (Navigateur du client)", "A quitté la page"]),
        ("fr", PHONE, ["A quitté la page"]),
    ],
)
def test_a_session_page_reads_in_words(
    open_page: Callable[..., Any],
    reduced_and_cancelled: Any,
    language: str,
    viewport: dict[str, int],
    words: list[str],
) -> None:
    geft, left = reduced_and_cancelled
    suffix = f"{language}{'-phone' if viewport is PHONE else ''}"
    page = open_page(
        f"/admin/flinks_sessions/paymentsession/{left.pk}/change/", viewport=viewport, language=language
    )
    text = page.locator("#content-main").inner_text()
    for expected in words:
        assert expected in text
    assert "pagehide" not in text
    assert text.lower().count("cancel requested by" if language == "en" else "annulation demandée par") == 1
    save(page, f"admin-session-cancelled-{suffix}.png")
    page = open_page(
        f"/admin/flinks_sessions/paymentsession/{geft.pk}/change/", viewport=viewport, language=language
    )
    text = page.locator("#content-main").inner_text()
    assert "Flinks webhook" not in text.split("Guarantee decided")[-1].split("\n")[0]
    save(page, f"admin-session-geft-{suffix}.png")


def test_the_deliveries_list_fits_1400_pixels(open_page: Callable[..., Any]) -> None:
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            body=b"{}", flinks_session_id=uuid.uuid4(), event_type="SessionSetupStatusChanged",
            remote_status="Completed", outcome="applied", signature_valid=True, signature_form="flinks-signature",
            processed_at=now - timedelta(minutes=index),
        )
        for index in range(30)
    )  # fmt: skip
    page = open_page("/admin/flinks_sessions/webhookdelivery/")
    page.wait_for_selector("#result_list")
    save(page, "admin-deliveries.png", full_page=False)
    assert_results_fit(page)
    lines = page.evaluate(
        "() => Array.from(document.querySelectorAll('#result_list .flinks-id, #result_list .flinks-when'))"
        ".map(element => element.getClientRects().length)"
    )
    assert lines
    assert set(lines) == {1}, lines


@pytest.mark.parametrize(("language", "viewport"), [("en", WIDE), ("fr", WIDE), ("fr", PHONE)])
def test_the_abandonment_pages_cards_never_leave_one_alone(
    open_page: Callable[..., Any], language: str, viewport: dict[str, int]
) -> None:
    seed()
    page = open_page(
        "/admin/flinks_sessions/paymentsession/abandonment/", viewport=viewport, language=language
    )
    page.wait_for_selector("svg.flinks-chart")
    rows = page.evaluate(
        """() => {
            const tops = Array.from(document.querySelectorAll('.flinks-tiles li'))
                .map(card => Math.round(card.getBoundingClientRect().top));
            const counts = {};
            tops.forEach(top => { counts[top] = (counts[top] || 0) + 1; });
            return Object.values(counts);
        }"""
    )
    assert sum(rows) == 6
    assert len(set(rows)) == 1, f"cards per row: {rows}"
    assert not overflows(page)
    if language == "fr":
        save(
            page,
            f"admin-abandonment-fr{'-phone' if viewport is PHONE else ''}.png",
            full_page=viewport is PHONE,
        )
