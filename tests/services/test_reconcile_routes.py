"""Each product is reconciled through the endpoints its own pages document.

The e-Transfer pages list Initiate Session, Session Details and ``/Authorize``, and no ``/status``: the sandbox
refuses e-Transfer ``/status`` with Flinks' own not-found answer (``docs/flinks-api.md``, "Reading a status"),
so a sync or a cancel that still depended on it would mark the session unknown and these tests would fail.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from flinks_sessions import services
from flinks_sessions.models import PaymentSession
from flinks_sessions.services import CancelOutcome, SyncOutcome
from flinks_sessions.services.products import STATUS_ROUTES
from flinks_sessions.status import Product, Status
from tests.cancel_helpers import make_session
from tests.sandbox import bearer, token

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sandbox_refuses_etransfer_status_as_flinks_would(sandbox: Any) -> None:
    session = make_session(sandbox, product=Product.ETRANSFER)
    headers = bearer(token(sandbox.url))
    base = f"{sandbox.url}/api/v2/sessions/{session.session_id}"

    status = requests.get(f"{base}/status", headers=headers, timeout=5)
    details = requests.get(f"{base}/details", headers=headers, timeout=5)

    assert status.status_code == 404
    assert "not found" in status.text.lower()
    assert details.status_code == 200
    assert details.json()["status"] == "Initiated"


def test_one_table_names_the_route_of_each_product() -> None:
    assert STATUS_ROUTES == {Product.EFT: "status", Product.GEFT: "status", Product.ETRANSFER: "details"}


def test_an_etransfer_session_is_synced_through_details(sandbox: Any) -> None:
    session = make_session(sandbox, product=Product.ETRANSFER)
    sandbox.control().complete(str(session.session_id))

    result = services.sync_session(session)

    assert result.outcome is SyncOutcome.CHANGED
    session.refresh_from_db()
    assert (session.status, session.not_found_at) == (Status.COMPLETED, None)
    assert sandbox.count(method="GET", path_suffix="/details") == 1
    assert sandbox.count(method="GET", path_suffix="/status") == 0


def test_an_etransfer_cancel_that_flinks_refuses_reads_details(sandbox: Any) -> None:
    session = make_session(sandbox, product=Product.ETRANSFER)
    sandbox.control().expire(str(session.session_id))

    result = services.cancel_session(session, source="admin")

    assert result.outcome is CancelOutcome.ALREADY_TERMINAL
    session.refresh_from_db()
    assert (session.status, session.not_found_at) == (Status.EXPIRED, None)
    assert sandbox.count(method="GET", path_suffix="/status") == 0


@pytest.mark.parametrize("product", [Product.EFT, Product.GEFT])
def test_eft_and_geft_are_still_synced_through_status(sandbox: Any, product: str) -> None:
    session = make_session(sandbox, product=product)
    sandbox.control().complete(str(session.session_id))

    assert services.sync_session(session).outcome is SyncOutcome.CHANGED
    assert PaymentSession.objects.get(pk=session.pk).status == Status.COMPLETED
    assert sandbox.count(method="GET", path_suffix="/status") == 1
