"""The exit beacon in a real browser: Debian's chromium driven by Playwright against ``live_server``.

Every outcome is asserted on the server side (the database and the sandbox's request log), with a real
``db_worker`` process draining the task queue, as in production. Exits are cancelled; a hidden tab, a finished
payment and an intentional navigation into the hosted flow are not.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services import start_session
from flinks_sessions.status import Status
from tests.extras import require
from tests.factories import PAYOR
from tests.support import db_workers, wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.urls("tests.browser.urls"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("database_tasks"),  # cancels go through django-tasks-db to a real db_worker
]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# How long to watch for something that must NOT happen. A beacon is queued before the next page starts
# loading, and the worker polls every 50 ms, so a wrong cancel would show up well within this.
SETTLE = 1.5


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One chromium for the whole module (launching is the slow part)."""
    require("browser")  # tests/conftest.py checks this before each marked test; the same rule for any other
    executable = shutil.which("chromium")
    # Playwright's sync API keeps an event loop registered in this thread while it runs; the ORM calls the
    # tests make here are still plain synchronous calls, so Django's async-safety guard is lifted meanwhile.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def checkout(browser: Any, live_server: Any, sandbox: Any, settings: Any) -> Iterator[Any]:
    """A started session, a worker, and a fresh browser context showing the checkout page."""
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "EXIT_GRACE_PERIOD": 1}
    session = start_session(amount="100.00", reference_id="Happy1", payor=PAYOR)
    context = browser.new_context()
    page = context.new_page()
    with db_workers(1, sandbox_url=sandbox.url):
        page.goto(f"{live_server.url}/checkout/{session.session_id}/")
        page.wait_for_function("() => window.FlinksCheckout !== undefined")
        page.frame_locator("iframe").locator("#complete").wait_for()
        yield Checkout(page, session, sandbox, live_server)
        for open_page in context.pages:  # a closing page must not send a beacon into the next test
            with contextlib.suppress(PlaywrightError):
                open_page.evaluate("() => window.FlinksCheckout && window.FlinksCheckout.suppressExit()")
        context.close()


class Checkout:
    def __init__(self, page: Any, session: PaymentSession, sandbox: Any, live_server: Any) -> None:
        self.page = page
        self.session = session
        self.sandbox = sandbox
        self.live_server = live_server
        self.frame = page.frame_locator("iframe")

    def stored(self) -> PaymentSession:
        return PaymentSession.objects.get(pk=self.session.pk)

    def cancels_at_flinks(self) -> int:
        return self.sandbox.count(method="POST", path_suffix=f"/{self.session.session_id}/cancel")

    def remote_status(self) -> str:
        return self.sandbox.state.get(str(self.session.session_id)).status_label()

    def wait_until_cancelled(self) -> None:
        # Generous: on a machine crowded by other tests (xdist workers) the worker and the sandbox answer late.
        wait_for(lambda: self.cancels_at_flinks() == 1, timeout=30, message="the cancel to reach the sandbox")
        wait_for(lambda: self.stored().status == Status.CANCELLED, timeout=30, message="the local status")
        assert self.remote_status() in ("Cancelled", "Canceled")
        assert self.stored().cancel_source == "beacon"

    def assert_never_cancelled(self) -> None:
        time.sleep(SETTLE)
        stored = self.stored()
        assert stored.cancel_requested_at is None, stored.cancel_reason
        assert stored.status != Status.CANCELLED
        assert self.cancels_at_flinks() == 0

    def leave(self) -> None:
        self.page.click("#leave")
        self.page.wait_for_selector("#elsewhere")


def test_navigating_away_cancels_the_session(checkout: Checkout) -> None:
    checkout.leave()
    checkout.wait_until_cancelled()
    assert checkout.stored().cancel_reason in ("pagehide", "bfcache")


def test_closing_the_tab_cancels_the_session(checkout: Checkout) -> None:
    checkout.page.close(run_before_unload=True)
    checkout.wait_until_cancelled()
    assert checkout.stored().cancel_reason == "pagehide"


def test_after_success_leaving_cancels_nothing(checkout: Checkout) -> None:
    checkout.frame.locator("#complete").click()
    checkout.page.wait_for_function("() => window.FlinksCheckout.state().completed")
    checkout.leave()
    checkout.assert_never_cancelled()
    assert checkout.remote_status() == "Completed"


def test_a_hidden_tab_is_not_an_exit(checkout: Checkout) -> None:
    page = checkout.page
    other = page.context.new_page()  # the shopper switches to another tab (their bank's site)
    other.goto(f"{checkout.live_server.url}/elsewhere/")
    other.bring_to_front()
    page.evaluate(
        """() => {
            Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
            Object.defineProperty(document, "hidden", {value: true, configurable: true});
            document.dispatchEvent(new Event("visibilitychange"));
            window.dispatchEvent(new Event("blur"));
        }"""
    )
    checkout.assert_never_cancelled()
    assert page.evaluate("() => window.FlinksCheckout.state().sent") is False


def test_a_close_event_cancels_without_leaving(checkout: Checkout) -> None:
    checkout_url = checkout.page.url
    checkout.frame.locator("#abandon").click()
    checkout.wait_until_cancelled()
    assert checkout.stored().cancel_reason == "close"
    assert checkout.page.url == checkout_url
    # one cancel per page life: leaving afterwards sends nothing new
    checkout.leave()
    time.sleep(SETTLE)
    assert checkout.cancels_at_flinks() == 1


def test_a_pad_exit_event_cancels_without_leaving(checkout: Checkout) -> None:
    checkout.frame.locator("#pad-exit").click()
    checkout.wait_until_cancelled()
    assert checkout.stored().cancel_reason == "pad_exit"


def test_a_forged_token_is_refused_and_cancels_nothing(checkout: Checkout) -> None:
    other = start_session(amount="50.00", reference_id="Happy1", payor=PAYOR)
    from flinks_sessions.api import exit_token

    statuses = checkout.page.evaluate(
        """async ([url, tokens]) => {
            const answers = [];
            for (const token of tokens) {
                const response = await fetch(url, {method: "POST", body: new URLSearchParams({token: token})});
                answers.push(response.status);
            }
            return answers;
        }""",
        [
            f"/flinks/sessions/{checkout.session.session_id}/exit/",
            [
                "forged",
                checkout.page.get_attribute("[data-flinks-checkout]", "data-token") + "x",
                exit_token(other),
            ],
        ],
    )
    assert statuses == [403, 403, 403]
    checkout.assert_never_cancelled()
    assert PaymentSession.objects.get(pk=other.pk).cancel_requested_at is None


def test_an_intentional_navigation_into_the_hosted_flow_is_not_an_exit(checkout: Checkout) -> None:
    checkout.page.click("#full-page")  # marked data-flinks-no-exit
    checkout.page.wait_for_url(f"{checkout.sandbox.url}/app/**")
    checkout.assert_never_cancelled()


def test_a_bfcache_pagehide_is_graced_and_taken_back_on_pageshow(checkout: Checkout) -> None:
    """The back/forward cache: the exit waits out the grace period, and coming back withdraws it."""
    page = checkout.page
    page.evaluate("() => window.dispatchEvent(new PageTransitionEvent('pagehide', {persisted: true}))")
    wait_for(lambda: checkout.stored().cancel_reason == "bfcache", message="the graced exit to be recorded")
    page.evaluate("() => window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))")
    wait_for(
        lambda: SessionEvent.objects.filter(
            session=checkout.session, kind=SessionEvent.Kind.CANCEL_WITHDRAWN
        ).exists(),
        message="the exit to be withdrawn",
    )
    checkout.assert_never_cancelled()  # SETTLE outlasts the 1 s grace period: the deferred task found nothing
    assert page.evaluate("() => window.FlinksCheckout.state()") == {
        "completed": False,
        "sent": False,
        "suppressed": False,
        "graced": False,
        "ended": False,
        "status": "initiated",
    }


def test_a_close_after_a_graced_exit_is_not_taken_back_by_pageshow(checkout: Checkout) -> None:
    """bfcache pagehide, then the hosted page's CLOSE, then pageshow: the shopper closed the flow; it is cancelled."""
    page = checkout.page
    page.evaluate("() => window.dispatchEvent(new PageTransitionEvent('pagehide', {persisted: true}))")
    wait_for(lambda: checkout.stored().cancel_reason == "bfcache", message="the graced exit to be recorded")
    checkout.frame.locator("#abandon").click()
    wait_for(
        lambda: checkout.stored().cancel_reason == "close", message="the close to make the exit explicit"
    )
    page.evaluate("() => window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))")
    checkout.wait_until_cancelled()
    assert not SessionEvent.objects.filter(
        session=checkout.session, kind=SessionEvent.Kind.CANCEL_WITHDRAWN
    ).exists()
    assert page.evaluate("() => window.FlinksCheckout.state()")["graced"] is False
