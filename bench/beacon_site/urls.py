"""The example shop's URLs plus ``bench/trivial/``: a trivial DRF view, the floor the beacon is compared to."""

from __future__ import annotations

from django.urls import path
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from example_project.urls import urlpatterns as example_urlpatterns


@api_view(["POST"])
def trivial(request: Request) -> Response:
    """DRF with the project's defaults, answering 202 like the beacon, and doing nothing else."""
    return Response({"ok": True}, status=202)


urlpatterns = [path("bench/trivial/", trivial), *example_urlpatterns]
