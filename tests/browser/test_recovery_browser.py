"""Winning back an abandoned checkout, end to end in Chromium on the example shop: consent, abandon, the sweep's
email, its link's Continue page, a new hosted session for the same order, payment, and the abandonment page's
recovered checkout. ``FLINKS_SCREENSHOTS=docs/images`` also saves the pages at 1,400 px and at a phone's width.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.template.loader import render_to_string
from django.utils import translation

from flinks_sessions.models import PaymentSession, RecoveryNotice
from flinks_sessions.services.recovery_email import email_context
from flinks_sessions.status import Source, Status
from tests.browser.test_admin_browser import save
from tests.browser.test_new_user_browser import PHONE, WIDE, open_page, overflows
from tests.example.test_example_shop import shop
from tests.recovery.helpers import recovery_settings
from tests.support import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["open_page", "shop"]


def test_an_abandoned_checkout_is_won_back_by_its_one_email(
    shop: Any, open_page: Callable[..., Any], live_server: Any, settings: Any
) -> None:
    recovery_settings(
        settings, RECOVERY_EMAIL=True, RECOVERY_SITE_URL=live_server.url, RECOVERY_CHECKOUT="shop:recovered"
    )
    # The shopper asks to be reminded, starts paying, and leaves the payment page.
    page = open_page("/products/maple-syrup/", admin=False)
    page.check("input[name=recovery_consent]")
    page.click("#pay-by-bank")
    page.wait_for_url("**/pay/**")
    first = PaymentSession.objects.get()
    assert first.recovery_consent
    page.frame_locator("iframe").locator("#complete").wait_for()
    page.goto(f"{live_server.url}/")  # the exit beacon cancels the session
    wait_for(
        lambda: PaymentSession.objects.get(pk=first.pk).status == Status.CANCELLED,
        timeout=30,
        message="the beacon's cancel",
    )
    assert PaymentSession.objects.get(pk=first.pk).cancel_source == Source.BEACON

    # The sweep sends the one email; a second run sends nothing.
    out = StringIO()
    call_command("flinks_recover_sessions", stdout=out)
    call_command("flinks_recover_sessions", stdout=out)
    assert "Sent 1 of 1 recovery notices" in out.getvalue()
    [email] = mail.outbox
    assert email.to == ["john@example.com"]
    link = re.search(r"http://\S+/flinks/recover/\S+/", email.body)
    assert link
    html, _kind = email.alternatives[0]
    letter = open_page(
        "/", admin=False
    ).context.new_page()  # a blank page: no site's CSP on the email's styles
    letter.set_content(html)
    assert letter.locator(f'a[href="{link.group(0)}"]').inner_text() == "Finish paying"
    save(letter, "recovery-email-en.png")
    with translation.override("fr"):  # the same email for a payer who shops in French (metadata["language"])
        french_html = render_to_string(
            "flinks_sessions/recovery/email.html", email_context(first, link.group(0))
        )
    letter.set_viewport_size(PHONE)
    letter.set_content(french_html)
    assert letter.locator("a").inner_text() == "Terminer le paiement"
    assert "100,00 CAD" in letter.locator("body").inner_text()
    save(letter, "recovery-email-fr-phone.png")

    # The link, opened in the payer's mail client (another browser), shows the order and Continue.
    reader = open_page(link.group(0).removeprefix(live_server.url), admin=False)
    assert reader.locator("main[data-recovery-state=ready]").is_visible()
    assert "100.00 CAD" in reader.locator("main").inner_text()
    assert PaymentSession.objects.count() == 1  # the GET changed nothing
    save(reader, "recovery-link-en.png")
    french = open_page(
        link.group(0).removeprefix(live_server.url), viewport=PHONE, language="fr", admin=False
    )
    assert "Terminez votre paiement" in french.locator("h1").inner_text()
    assert not overflows(french)
    save(french, "recovery-link-fr-phone.png")
    french.context.close()

    # Continue: a new hosted session for the same order, which the payer completes.
    reader.click("[data-recovery-continue]")
    reader.wait_for_url("**/pay/**")
    successor = PaymentSession.objects.get(restarted_from=first)
    assert successor.reference_id == first.reference_id
    assert str(successor.session_id) in reader.url
    reader.frame_locator("iframe").locator("#complete").click()
    reader.wait_for_url("**/done/**", timeout=30_000)
    wait_for(
        lambda: PaymentSession.objects.get(pk=successor.pk).status == Status.COMPLETED,
        timeout=30,
        message="the recovered order's payment",
    )
    assert RecoveryNotice.objects.get().opened_at is not None

    # The operator's abandonment page counts one recovered checkout and its amount.
    for language, viewport in (("en", WIDE), ("fr", PHONE)):
        admin = open_page(
            "/admin/flinks_sessions/paymentsession/abandonment/", viewport=viewport, language=language
        )
        figures = admin.locator("[data-flinks-recovery]").inner_text()
        if language == "en":
            assert re.search(r"1\s+Checkouts recovered", figures), figures
            assert re.search(r"100\.00\s+Amount recovered", figures), figures
            assert re.search(r"100\.0%\s+Recovery rate", figures), figures
        else:
            assert "Paiements récupérés" in figures
        assert not overflows(admin)
        save(admin, f"abandonment-recovery-{language}{'-phone' if viewport is PHONE else ''}.png")
    notice_page = open_page(f"/admin/flinks_sessions/paymentsession/{first.pk}/change/")
    said = notice_page.locator(".field-recovery_notice").inner_text()
    assert "The payer consented to a reminder." in said
    assert "the order was paid" in said
    assert "<span" not in said  # the times' markup is rendered, never shown as text
    assert notice_page.locator(".field-recovery_notice .flinks-when").count() == 4  # sent and used: day, time
    save(notice_page, "admin-session-recovered.png")
    listing = open_page("/admin/flinks_sessions/paymentsession/?recovery=recovered")
    assert listing.locator(".flinks-recovery--recovered").count() == 1
    save(listing, "admin-recovery-column.png")
