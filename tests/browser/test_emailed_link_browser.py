"""The checkout of an e-Transfer whose Interac request Flinks emailed, and the status poll's token, in Chromium.

Closing the tab of such a checkout cancels nothing (the payer pays from the emailed link later) and the page
says so; the status poll sends its token in the ``X-Flinks-Exit-Token`` header, never in the URL. Screenshots
(``FLINKS_SCREENSHOTS=docs/images``) at 1,400 px and at a phone's width.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from flinks_sessions.services import start_session
from flinks_sessions.status import Product
from tests.browser.test_admin_browser import save
from tests.browser.test_exit_beacon_browser import PAYOR, Checkout
from tests.support import db_workers

pytestmark = [
    pytest.mark.browser,
    pytest.mark.urls("tests.browser.urls"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("database_tasks"),
]

EMAILED = {"notificationPreferences": {"sendInteracLink": True}}
NOTE = "[data-flinks-emailed]"


@pytest.fixture(
    params=[(1400, 900, "checkout-emailed-interac.png"), (390, 844, "checkout-emailed-interac-phone.png")]
)
def emailed(request: Any, browser: Any, live_server: Any, sandbox: Any) -> Iterator[tuple[Checkout, str]]:
    width, height, screenshot = request.param
    session = start_session(
        amount="45.00", reference_id="order-emailed", product=Product.ETRANSFER, payor=PAYOR, options=EMAILED
    )
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    with db_workers(1, sandbox_url=sandbox.url):
        page.goto(f"{live_server.url}/checkout/{session.session_id}/")
        page.wait_for_function("() => window.FlinksCheckout !== undefined")
        page.frame_locator("iframe").locator("body").wait_for()
        yield Checkout(page, session, sandbox, live_server), screenshot
        for open_page in context.pages:
            with contextlib.suppress(PlaywrightError):
                open_page.evaluate("() => window.FlinksCheckout && window.FlinksCheckout.suppressExit()")
        context.close()


def test_closing_an_emailed_interac_checkout_cancels_nothing(emailed: tuple[Checkout, str]) -> None:
    checkout, screenshot = emailed
    assert checkout.page.is_visible(NOTE)
    assert "emailed to you" in checkout.page.inner_text(NOTE)
    assert checkout.page.is_hidden("#warning")  # the site's "leaving cancels" is not true of this one
    save(checkout.page, screenshot)

    checkout.page.close(run_before_unload=True)

    checkout.assert_never_cancelled()
    assert checkout.remote_status() not in ("Cancelled", "Canceled")  # still payable at Flinks


def test_the_status_poll_sends_its_token_in_a_header(checkout: Checkout) -> None:
    sent: list[Any] = []
    checkout.page.on(
        "request", lambda request: sent.append(request) if "/flinks/sessions/" in request.url else None
    )

    answer = checkout.page.evaluate("() => window.FlinksCheckout.status()")

    assert answer["sessionId"] == str(checkout.session.session_id)
    polls = [request for request in sent if request.method == "GET"]
    assert polls
    assert all("token" not in request.url for request in polls)
    assert polls[-1].headers["x-flinks-exit-token"]
