"""The example shop, as a developer would first meet the app: product page, checkout, the hosted flow."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from flinks_sessions.api import read_exit_token
from flinks_sessions.models import PaymentSession
from flinks_sessions.status import Status
from tests.support import ROOT, run_python

BUYER = {"first_name": "John", "last_name": "Doe", "email": "john@example.com", "scenario": "Happy1"}


@pytest.fixture
def shop(settings: Any, sandbox: Any) -> Any:
    """The test settings plus the shop app and its URLconf, talking to the sandbox fixture."""
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "example_project.shop"]
    settings.ROOT_URLCONF = "example_project.urls"
    settings.SHOP_PRODUCT = "eft"
    settings.SHOP_SANDBOX_SCENARIOS = True
    return sandbox


@pytest.mark.django_db
def test_the_product_pages_render(shop: Any, client: Client) -> None:
    listing = client.get("/")
    assert listing.status_code == 200
    assert "Maple syrup" in listing.content.decode()
    page = client.get("/products/maple-syrup/")
    assert page.status_code == 200
    assert 'id="pay-by-bank"' in page.content.decode()


@pytest.mark.django_db
def test_checkout_starts_a_session_at_flinks_and_shows_the_hosted_page(shop: Any, client: Client) -> None:
    response = client.post("/products/maple-syrup/checkout/", BUYER, follow=True)

    assert response.status_code == 200
    session = PaymentSession.objects.get()
    assert (session.amount, session.status) == (100, Status.INITIATED)
    assert session.reference_id.startswith("order-")  # the order's own; the scenario travels beside it
    assert shop.state.get(str(session.session_id)).scenario.name == "Happy1"
    assert shop.count(method="POST", path_suffix="/api/v2/sessions") == 1
    assert shop.state.get(str(session.session_id)).status_label() == "Initiated"

    html = response.content.decode()
    assert (
        f'src="{shop.url}/app/?sessionId={session.session_id}&amp;parentOrigin=http%3A%2F%2Ftestserver"'
        in html
    )
    assert f'data-exit-url="/flinks/sessions/{session.session_id}/exit/"' in html
    assert f'data-message-origin="{shop.url}"' in html
    token = re.search(r'data-token="([^"]+)"', html)
    assert token
    assert read_exit_token(token.group(1), session_id=session.session_id)
    assert "/static/flinks_sessions/checkout.js" in html
    csp = response["Content-Security-Policy"]
    assert "script-src 'self';" in csp
    assert f"frame-src {shop.url};" in csp


@pytest.mark.django_db
def test_a_payment_page_is_only_shown_to_the_browser_that_started_it(shop: Any, client: Client) -> None:
    client.post("/products/wool-toque/checkout/", BUYER)
    session = PaymentSession.objects.get()
    assert client.get(f"/pay/{session.session_id}/").status_code == 200
    assert Client().get(f"/pay/{session.session_id}/").status_code == 404


@pytest.mark.django_db
def test_the_thank_you_page_confirms_with_flinks(shop: Any, client: Client) -> None:
    client.post("/products/canoe-paddle/checkout/", BUYER)
    session = PaymentSession.objects.get()
    shop.state.complete(str(session.session_id), "EFT0301", source="page")  # the shopper paid in the iframe

    response = client.get(f"/pay/{session.session_id}/done/")

    assert response.status_code == 200
    assert 'data-status="completed"' in response.content.decode()
    session.refresh_from_db()
    assert session.status == Status.COMPLETED
    # a finished payment's checkout page sends the shopper to the outcome instead of a dead iframe
    assert client.get(f"/pay/{session.session_id}/")["Location"] == f"/pay/{session.session_id}/done/"


@pytest.mark.django_db
def test_a_refused_checkout_is_reported_not_raised(shop: Any, client: Client) -> None:
    response = client.post("/products/maple-syrup/checkout/", {**BUYER, "email": "not-an-email"})
    assert response.status_code == 400
    assert PaymentSession.objects.count() == 0


def test_manage_py_check_is_clean_with_the_example_settings(tmp_path: Path) -> None:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "FLINKS_", "SHOP_"))
    }
    env.pop("DATABASE_URL", None)
    env["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    result = run_python("manage.py", "check", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_env_example_lists_every_variable() -> None:
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    settings_source = (ROOT / "example_project" / "settings.py").read_text()
    demo_source = (ROOT / "scripts" / "demo.sh").read_text()
    used = set(re.findall(r'env(?:\.\w+)?\("([A-Z][A-Z0-9_]+)"', settings_source))
    used |= set(re.findall(r"\$\{((?:DEMO|FLINKS|DJANGO|SHOP)_[A-Z0-9_]+)", demo_source))
    assert used, "no variables found"
    assert used <= documented, f"missing from .env.example: {sorted(used - documented)}"


@pytest.mark.django_db(transaction=True)
def test_the_canoe_is_paid_by_guaranteed_eft_through_the_guarantee_step(
    shop: Any, client: Client, live_server: Any
) -> None:
    """As in ``make demo``: the sandbox offers the guarantee to the shop, which accepts it (the default policy)."""
    from django.urls import reverse

    from tests.support import wait_for

    shop.config.update(
        {
            "webhook_url": live_server.url + reverse("flinks_sessions:webhook"),
            "guarantee_webhook": True,
        }
    )
    client.post("/products/cedar-canoe/checkout/", BUYER, follow=True)
    session = PaymentSession.objects.get()
    assert (session.product, session.amount) == ("geft", 1000)

    waiting = shop.control().pay(str(session.session_id))
    assert waiting["step"]["current"] == "GuaranteeDecision"

    def completed() -> bool:
        session.refresh_from_db()
        return session.status == Status.COMPLETED and session.guarantee_decision == "accepted"

    wait_for(completed, message="the guarantee to be accepted and the payment to complete")
    thanks = client.get(f"/pay/{session.session_id}/done/")
    assert thanks.status_code == 200
