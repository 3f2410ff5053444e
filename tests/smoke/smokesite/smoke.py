"""The steps of ``scripts/package-smoke.sh`` that need Python, run inside the virtualenv holding the wheel.

    python -m smokesite.smoke where               # the app is imported from the installed wheel
    python -m smokesite.smoke authorize URL       # a sandbox at URL answers POST /api/v1/authorize
    python -m smokesite.smoke checkout            # start a session at the sandbox, render the checkout, beacon
    python -m smokesite.smoke verify SESSION_ID   # after a db_worker ran: cancelled once, audited once

Each step prints one line saying what it proved and exits non-zero (with the reason) when it did not.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import sysconfig
import urllib.request
from decimal import Decimal
from pathlib import Path


def fail(message: str) -> None:
    sys.stderr.write(f"SMOKE FAILED: {message}\n")
    raise SystemExit(1)


def where() -> None:
    """The app must come from this virtualenv's site-packages, not from a source tree on sys.path."""
    import flinks_sessions

    location = Path(flinks_sessions.__file__).resolve().parent
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    if site not in location.parents:
        fail(f"flinks_sessions was imported from {location}, not from {site}")
    print(f"flinks_sessions {flinks_sessions.__version__} imported from {location}")


def authorize(base_url: str) -> None:
    """The standalone sandbox (``python -m flinks_sessions.sandbox``) speaks the documented token endpoint."""
    credentials = base64.b64encode(b"sandbox-client:sandbox-secret").decode()
    request = urllib.request.Request(  # noqa: S310 - a loopback URL the script just started
        f"{base_url}/api/v1/authorize",
        data=b"grant_type=client_credentials",
        headers={
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        status, body = response.status, json.loads(response.read())
    if status != 200 or not body.get("access_token") or str(body.get("token_type")).lower() != "bearer":
        fail(f"/api/v1/authorize answered {status} {body}")
    print(f"sandbox /api/v1/authorize: 200, bearer token, expires_in={body.get('expires_in')}")


def checkout() -> None:
    """A shopper's checkout from the installed app: session at Flinks, the tag's markup, the exit beacon."""
    import django

    django.setup()
    from django.template import Context, Template
    from django.test import Client, RequestFactory

    from flinks_sessions import services
    from flinks_sessions.api import exit_token

    session = services.start_session(
        amount=Decimal("42.00"),
        reference_id="SMOKE-1",
        payor={"firstName": "John", "lastName": "Doe", "email": "john@example.com"},
    )
    request = RequestFactory().get("/checkout/", secure=True, HTTP_HOST="shop.example.com")
    html = Template("{% load flinks_sessions %}{% flinks_checkout session %}").render(
        Context({"session": session, "request": request})
    )
    for needle in (str(session.session_id), "checkout.js", os.environ["FLINKS_BASE_URL"]):
        if needle not in html:
            fail(f"the checkout markup lacks {needle!r}:\n{html}")
    client = Client(enforce_csrf_checks=True, HTTP_HOST="shop.example.com")
    response = client.post(
        f"/flinks/sessions/{session.session_id}/exit/", {"token": exit_token(session)}, secure=True
    )
    if response.status_code != 202:
        fail(f"the exit beacon answered {response.status_code}: {response.content[:300]!r}")
    session.refresh_from_db()
    if session.cancel_requested_at is None or session.is_terminal:
        fail("the beacon did not record a cancel request (or cancelled inside the request)")
    print(f"checkout rendered and exit beacon accepted (202) for session {session.session_id}")
    print(f"SESSION_ID={session.session_id}")


def verify(session_id: str) -> None:
    """The db_worker did the cancel: once at Flinks, once in the audit trail."""
    import django

    django.setup()
    from flinks_sessions.models import PaymentSession, SessionEvent

    session = PaymentSession.objects.get(session_id=session_id)
    transitions = list(SessionEvent.objects.filter(session=session, kind=SessionEvent.Kind.TRANSITION))
    if session.status != PaymentSession.Status.CANCELLED:
        fail(f"session {session_id} is {session.status}, not cancelled (last error: {session.last_error!r})")
    if [(event.to_status, event.source) for event in transitions] != [
        (PaymentSession.Status.CANCELLED, "beacon")
    ]:
        fail(f"unexpected transitions: {[str(event) for event in transitions]}")
    print(f"session {session_id} cancelled by the db_worker, one transition (source beacon)")


def main(argv: list[str]) -> None:
    match argv:
        case ["where"]:
            where()
        case ["authorize", url]:
            authorize(url)
        case ["checkout"]:
            checkout()
        case ["verify", session_id]:
            verify(session_id)
        case _:
            fail(
                f"usage: python -m smokesite.smoke where|authorize URL|checkout|verify SESSION_ID, not {argv}"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
