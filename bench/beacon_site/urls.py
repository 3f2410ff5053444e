"""The example shop's URLs plus ``bench/trivial/`` (the view the beacon is compared to) and ``bench/floor/``."""

from __future__ import annotations

import os
from typing import Any

from django.db import connection
from django.urls import path
from django.utils import timezone
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from example_project.urls import urlpatterns as example_urlpatterns
from flinks_sessions import tasks


@api_view(["POST"])
def trivial(request: Request) -> Response:
    """DRF with the project's defaults, answering 202 like the beacon, and doing nothing else."""
    return Response({"ok": True}, status=202)


@api_view(["POST"])
def floor(request: Request, session_id: Any) -> Response:
    """The trivial view plus the least a beacon must do: one autocommit UPDATE of the session's row."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE flinks_sessions_paymentsession SET updated_at = %s WHERE session_id = %s",
            [timezone.now(), session_id],
        )
    return Response({"ok": True}, status=202)


if os.environ.get("BENCH_WITHOUT_ENQUEUE") == "1":
    # ``bench/beacon.py --without-enqueue``: the beacon with its task hand-off removed, to show what any design
    # that avoids a task per beacon could at best reach. A measurement only; the package has no such mode.
    tasks.enqueue_cancel = lambda *args, **kwargs: None

urlpatterns = [
    path("bench/trivial/", trivial),
    path("bench/floor/<uuid:session_id>/", floor),
    *example_urlpatterns,
]
