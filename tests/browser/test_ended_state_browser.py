"""After the payment ends, the checkout page says so, and "Start again" opens a new session for the same order.

Debian's chromium through Playwright against ``live_server``, the sandbox over HTTP and a real ``db_worker``,
as in :mod:`tests.browser.test_exit_beacon_browser` (whose fixtures these tests share).
"""

from __future__ import annotations

from typing import Any

import pytest

from flinks_sessions.models import PaymentSession
from flinks_sessions.status import Status
from tests.browser.test_exit_beacon_browser import Checkout
from tests.support import wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.urls("tests.browser.urls"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("database_tasks"),
]

ENDED = "[data-flinks-ended]"
RESTART = "[data-flinks-restart]"


def created_at_flinks(sandbox: Any) -> int:
    return sandbox.count(method="POST", path_suffix="/api/v2/sessions")


def assert_ended_state(page: Any, outcome: str) -> None:
    page.wait_for_selector(ENDED, state="visible")
    assert page.is_visible(f'[data-flinks-outcome="{outcome}"]')
    assert page.locator("iframe").count() == 0
    assert page.is_hidden("#warning")
    assert page.is_hidden("#full-page")
    assert page.is_visible(RESTART)


def test_back_after_leaving_shows_the_ended_state_not_a_cached_warning(checkout: Checkout) -> None:
    checkout.leave()
    checkout.wait_until_cancelled()
    checkout.page.go_back()
    assert_ended_state(checkout.page, "cancelled")
    assert checkout.page.evaluate("() => window.FlinksCheckout.state().ended") is True


def test_the_view_is_never_cached(checkout: Checkout) -> None:
    response = checkout.page.request.get(checkout.page.url)
    assert "no-store" in response.headers["cache-control"]


def test_abandon_then_start_again_opens_a_new_session_for_the_same_order(checkout: Checkout) -> None:
    page = checkout.page
    checkout.frame.locator("#abandon").click()
    assert_ended_state(page, "cancelled")
    checkout.wait_until_cancelled()
    page.click(RESTART)
    page.wait_for_selector("iframe")
    wait_for(
        lambda: PaymentSession.objects.filter(restarted_from=checkout.session).exists(),
        timeout=30,
        message="the successor",
    )
    successor = PaymentSession.objects.get(restarted_from=checkout.session)
    assert successor.reference_id == checkout.session.reference_id
    assert successor.status == Status.INITIATED
    assert page.evaluate("() => window.FlinksCheckout.sessionId") == str(successor.session_id)
    assert str(successor.session_id) in (page.get_attribute("iframe", "src") or "")
    checkout.frame.locator("#complete").wait_for()  # the new hosted flow is live
    assert page.is_hidden(ENDED)
    assert page.is_visible("#warning")


def test_two_quick_clicks_and_a_second_tab_create_one_session_at_flinks(checkout: Checkout) -> None:
    page = checkout.page
    second = page.context.new_page()
    second.goto(page.url)
    checkout.frame.locator("#abandon").click()
    checkout.wait_until_cancelled()
    second.reload()
    assert_ended_state(second, "cancelled")
    before = created_at_flinks(checkout.sandbox)
    # Both tabs ask without waiting for an answer: two requests in flight at once at the server.
    click_twice = f"() => {{ const b = document.querySelector('{RESTART}'); b.click(); b.click(); }}"
    page.evaluate(click_twice)
    second.evaluate(click_twice)
    page.wait_for_selector("iframe")
    second.wait_for_selector("iframe")
    successor = PaymentSession.objects.get(restarted_from=checkout.session)
    assert created_at_flinks(checkout.sandbox) - before == 1
    for tab in (page, second):
        assert tab.evaluate("() => window.FlinksCheckout.sessionId") == str(successor.session_id)
    second.evaluate("() => window.FlinksCheckout.suppressExit()")


def test_a_completed_payment_goes_to_the_sites_success_page(checkout: Checkout) -> None:
    page = checkout.page
    page.evaluate("() => window.FlinksCheckout.suppressExit()")  # this test's own move to the other page
    page.goto(f"{checkout.live_server.url}/checkout-to-success/{checkout.session.session_id}/")
    page.frame_locator("iframe").locator("#complete").click()
    page.wait_for_selector("#elsewhere")
    checkout.assert_never_cancelled()
