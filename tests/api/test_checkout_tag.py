"""``{% flinks_checkout session %}``: the hosted flow in an iframe, the beacon wired through data- attributes."""

from __future__ import annotations

import re
import uuid
from html import unescape
from typing import Any

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from flinks_sessions.api import read_exit_token
from flinks_sessions.models import PaymentSession
from flinks_sessions.status import Status

TEMPLATE = Template("{% load flinks_sessions %}{% flinks_checkout session %}")


def render(session: PaymentSession, template: Template = TEMPLATE, **request_kwargs: Any) -> str:
    request = RequestFactory().get("/checkout/", **request_kwargs)
    return template.render(Context({"session": session, "request": request}))


def attribute(html: str, name: str) -> str:
    match = re.search(rf'{name}="([^"]*)"', html)
    assert match, f"{name} missing from {html}"
    return unescape(match.group(1))


def test_the_tag_renders_the_hosted_flow_and_wires_the_beacon(settings: Any) -> None:
    session = PaymentSession(session_id=uuid.uuid4(), reference_id="Happy1", amount="100.00")
    html = render(session, HTTP_HOST="shop.example")

    base = settings.FLINKS_SESSIONS["ACCOUNTS"]["default"]["BASE_URL"]
    assert attribute(html, "src") == (
        f"{base}/app/?sessionId={session.session_id}&parentOrigin=http%3A%2F%2Fshop.example"
    )
    assert attribute(html, "data-exit-url") == f"/flinks/sessions/{session.session_id}/exit/"
    assert attribute(html, "data-resume-url") == f"/flinks/sessions/{session.session_id}/resume/"
    assert attribute(html, "data-status-url") == f"/flinks/sessions/{session.session_id}/"
    assert attribute(html, "data-message-origin") == base
    assert read_exit_token(attribute(html, "data-token"), session_id=session.session_id) == session.session_id
    assert '<script src="/static/flinks_sessions/checkout.js" defer></script>' in html
    assert "data-ended" not in html


def test_no_inline_script_so_a_strict_csp_works() -> None:
    html = render(PaymentSession(session_id=uuid.uuid4(), amount="1.00"))
    assert re.findall(r"<script[^>]*>(.*?)</script>", html, re.S) == [""]
    assert " on" not in re.sub(r'"[^"]*"', '""', html)  # no onload=, onclick=... handlers


def test_the_message_origin_is_the_hosted_page_origin(settings: Any) -> None:
    account = {
        **settings.FLINKS_SESSIONS["ACCOUNTS"]["default"],
        "HOSTED_URL": "https://payments-uat.flinksapp.com/",
    }
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "ACCOUNTS": {"default": account}}
    session = PaymentSession(session_id=uuid.uuid4(), amount="1.00")
    html = render(session)
    assert attribute(html, "data-message-origin") == "https://payments-uat.flinksapp.com"
    assert attribute(html, "src").startswith(
        f"https://payments-uat.flinksapp.com/app/?sessionId={session.session_id}"
    )


def test_options_height_title_and_no_parent_origin() -> None:
    template = Template(
        '{% load flinks_sessions %}{% flinks_checkout session height=500 title="Payer" parent_origin=False %}'
    )
    html = render(PaymentSession(session_id=uuid.uuid4(), amount="1.00"), template)
    assert attribute(html, "height") == "500"
    assert attribute(html, "title") == "Payer"
    assert "parentOrigin" not in html


def test_an_ended_session_does_not_arm_the_beacon() -> None:
    html = render(PaymentSession(session_id=uuid.uuid4(), amount="1.00", status=Status.COMPLETED))
    assert "data-ended" in html


def test_a_session_flinks_never_confirmed_renders_a_message_instead() -> None:
    html = render(PaymentSession(session_id=None, amount="1.00"))
    assert "<iframe" not in html
    assert "not available" in html


@pytest.mark.parametrize("session", [None, ""])
def test_no_session_at_all(session: Any) -> None:
    html = TEMPLATE.render(Context({"session": session}))
    assert "not available" in html
