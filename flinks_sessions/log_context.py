"""The structured part of every log record about a session: one dict of stable ``extra`` keys.

A JSON formatter (python-json-logger) or structlog picks these up as fields, so an operator can filter on a
session across the beacon, the task, the call to Flinks and the webhook. The keys are a public, stable surface
(docs/deployment.md, "Logs"); a key with nothing to say is an empty string, never missing. Nothing secret is
ever put here: the ids and the account *name*, never its credentials.
"""

from __future__ import annotations

import logging
import re
from typing import Any

KEYS = ("session_id", "reference_id", "account", "source", "outcome")
WEBHOOK_KEYS = (*KEYS, "delivery_id")


def session_extra(session: Any = None, *, source: str = "", outcome: str = "", **more: Any) -> dict[str, Any]:
    """The ``extra=`` for a record about ``session`` (a ``PaymentSession``, or ``None`` when it is unknown).

    ``more`` adds keys of the caller's own (``delivery_id`` for webhooks; ``session_id`` when only the id is
    known).
    """
    extra: dict[str, Any] = {
        "session_id": _text(getattr(session, "session_id", None)),
        "reference_id": _text(getattr(session, "reference_id", None)),
        "account": _text(getattr(session, "account", None)),
        "source": str(source),
        "outcome": str(outcome),
    }
    extra.update({key: _text(value) for key, value in more.items() if value is not None or key not in extra})
    return extra


def _text(value: object) -> str:
    return "" if value is None else str(value)


_TOKEN_IN_URL = re.compile(r"([?&]token=)[^&\s\"']+")


class RedactExitTokens(logging.Filter):
    """Replace ``token=<value>`` in a logged URL with ``token=[redacted]``.

    The status poll sends its token in a header, but a site that turns ``STATUS_TOKEN_IN_QUERY`` on (or an
    old page) still puts it in the URL, and a request line is logged whole by ``django.server`` (runserver)
    and ``gunicorn.access``. Attach this filter to those loggers' handlers (docs/deployment.md, "Logs").
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg, record.args = _TOKEN_IN_URL.sub(r"\1[redacted]", message), None
        return True
