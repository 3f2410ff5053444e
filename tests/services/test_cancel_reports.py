"""Only the call that ended the session at Flinks reports ``cancelled``.

A first cancel call whose answer was lost (or a cancel at Flinks by someone else) leaves the session Cancelled
there; the next call is answered "already terminal" (400), the truth is read from ``/status`` and stored, and the
outcome is ``already_terminal``: the stored transition into Cancelled is announced once, but no caller may believe
it was the one that ended the session. Both ways of storing an answer are covered: grouped with others (the
amount Flinks reports is the one already stored) and row by row (a new amount is noted under the row lock).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from flinks_sessions import services
from flinks_sessions.models import PaymentSession
from flinks_sessions.services import CancelOutcome
from flinks_sessions.status import Status
from tests.cancel_helpers import cancel_calls, make_session, make_sessions, signal_log

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "settled", [pytest.param(Decimal("10.00"), id="grouped"), pytest.param(None, id="row-by-row")]
)
def test_a_session_flinks_had_already_cancelled_is_already_terminal(
    sandbox: Any, settled: Decimal | None
) -> None:
    ours = make_sessions(sandbox, 2, reference="OURS", settled_amount=settled)
    lost = make_session(sandbox, reference="LOST", settled_amount=settled)
    sandbox.state.cancel(str(lost.session_id))  # the first call's answer never reached us

    with signal_log() as signals:
        results = services.cancel_sessions([*ours, lost], source="command", concurrency=2)

    outcome = {result.session.pk: result.outcome for result in results}
    assert outcome == {
        ours[0].pk: CancelOutcome.CANCELLED,
        ours[1].pk: CancelOutcome.CANCELLED,
        lost.pk: CancelOutcome.ALREADY_TERMINAL,
    }
    row = PaymentSession.objects.get(pk=lost.pk)
    assert (row.status, row.status_details) == (Status.CANCELLED, "EFT0501")
    assert signals.cancelled == signals.changed == {ours[0].pk: 1, ours[1].pk: 1, lost.pk: 1}
    assert cancel_calls(sandbox, lost) == 1
