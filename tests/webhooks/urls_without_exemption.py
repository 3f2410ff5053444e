"""The webhook view behind a wrapper that drops its ATOMIC_REQUESTS exemption: a control for the durability test."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from flinks_sessions.webhooks.views import webhook_view


@csrf_exempt
def unexempt(request: HttpRequest) -> HttpResponse:
    return webhook_view(request)


urlpatterns = [
    path("unexempt/", unexempt),
    path("flinks/", include("flinks_sessions.urls")),
]
