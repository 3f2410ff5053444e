"""The OpenAPI schema of the app's own endpoints (drf-spectacular, the ``openapi`` extra).

A site generates it from its own URLconf; every route of ``flinks_sessions.urls`` must be in it with every
answer it can give, and the schema must be valid OpenAPI. The app itself must work without drf-spectacular.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.urls import URLPattern, reverse

from flinks_sessions import urls as app_urls
from flinks_sessions.signatures import SignatureForm
from tests.extras import import_or_missing
from tests.support import run_python

import_or_missing("drf_spectacular", "the openapi extra (drf-spectacular) is not installed")

HOOKS = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "flinks_sessions.webhooks.schema.add_webhook_operation",
]
BEACON_ERRORS = {"400", "403", "404", "405", "411", "413", "415", "429", "503"}
# (route name, method) -> every status code the schema must declare.
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("session-exit", "post"): {"202"} | BEACON_ERRORS,
    ("session-resume", "post"): {"200"} | BEACON_ERRORS,
    ("session-status", "get"): {"200", "403", "404", "405", "429", "503"},
    ("session-restart", "post"): {"200", "201", "409", "502"} | BEACON_ERRORS,
    ("webhook", "post"): {"200", "202", "400", "401", "413"},
    ("webhook", "head"): {"200"},
}
# Routes that are pages for people, not an API: HTML answers, documented in the README's tables instead.
PAGES = {"recover"}  # the recovery link (README, "Winning back abandoned checkouts")


def schema_path(name: str) -> str:
    """The schema's path for one of the app's routes, as the test URLconf mounts it (``flinks/``)."""
    if name == "webhook":
        return reverse(f"flinks_sessions:{name}")
    return reverse(f"flinks_sessions:{name}", kwargs={"session_id": "SID"}).replace("SID", "{session_id}")


@pytest.fixture
def schema(settings: Any) -> dict[str, Any]:
    """What ``SpectacularAPIView`` serves on a site configured as the schema module's docstring says."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.settings import patched_settings
    from drf_spectacular.validation import validate_schema

    settings.REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
    with patched_settings({"POSTPROCESSING_HOOKS": HOOKS}):
        generated = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(generated)  # raises on anything that is not OpenAPI 3
    return json.loads(json.dumps(generated))  # plain data, as served


def test_every_route_of_the_app_is_documented_with_every_answer(schema: dict[str, Any]) -> None:
    routes = {pattern.name for pattern in app_urls.urlpatterns if isinstance(pattern, URLPattern)} - PAGES
    assert routes == {name for name, _ in EXPECTED}, "a new route needs its entry here and in the schema"
    for (name, method), codes in EXPECTED.items():
        operation = schema["paths"][schema_path(name)][method]
        assert set(operation["responses"]) == codes, (name, method)
        assert operation["operationId"].startswith("flinks_sessions_")


def test_the_browser_endpoints_document_their_token_bodies_and_session_id(schema: dict[str, Any]) -> None:
    for name in ("session-exit", "session-resume"):
        body = schema["paths"][schema_path(name)]["post"]["requestBody"]["content"]
        assert set(body) == {
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "text/plain",
            "application/json",
        }
        assert body["text/plain"]["schema"] == {"type": "string"}
        component = body["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert schema["components"]["schemas"][component]["required"] == ["token"]
    status = schema["paths"][schema_path("session-status")]["get"]
    params = {(param["in"], param["name"]): param for param in status["parameters"]}
    assert params[("header", "X-Flinks-Exit-Token")]["required"] is True  # the query form moved to a header
    assert params[("query", "token")]["deprecated"] is True  # read only with STATUS_TOKEN_IN_QUERY
    assert params[("path", "session_id")]["schema"] == {"type": "string", "format": "uuid"}
    assert schema["paths"][schema_path("session-exit")]["post"]["responses"]["429"]["headers"]["Retry-After"]


def test_the_webhook_documents_the_signature_headers_and_its_envelope(schema: dict[str, Any]) -> None:
    post = schema["paths"][schema_path("webhook")]["post"]
    headers = {param["name"] for param in post["parameters"] if param["in"] == "header"}
    assert headers == {form.value for form in SignatureForm}
    envelope = post["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert envelope in schema["components"]["schemas"]
    outcome = schema["components"]["schemas"]["FlinksWebhookOutcome"]["properties"]["outcome"]["enum"]
    assert {"applied", "duplicate", "stale", "unknown_session", "ignored", "received", "error"} <= set(
        outcome
    )


def test_the_webhook_documents_only_the_signature_headers_the_site_accepts(settings: Any) -> None:
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.settings import patched_settings

    settings.REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
    settings.FLINKS_SESSIONS = {
        **settings.FLINKS_SESSIONS,
        "WEBHOOK_SIGNATURE_HEADERS": ["X-Flinks-Signature"],
    }
    with patched_settings({"POSTPROCESSING_HOOKS": HOOKS}):
        generated = SchemaGenerator().get_schema(request=None, public=True)
    post = generated["paths"][schema_path("webhook")]["post"]
    assert [param["name"] for param in post["parameters"]] == ["X-Flinks-Signature"]


def test_the_example_project_dumps_a_valid_schema(tmp_path: Path) -> None:
    """``manage.py spectacular --validate --fail-on-warn --file ...``, the dump the docs give, on the example."""
    out = tmp_path / "openapi.yaml"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "example_project.settings", "DJANGO_DEBUG": "false"}
    env.pop("DATABASE_URL", None)  # generating needs no database
    done = run_python(
        "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(out), env=env, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = out.read_text()
    for path in (
        "/flinks/sessions/{session_id}/exit/",
        "/flinks/sessions/{session_id}/resume/",
        "/flinks/webhooks/",
    ):
        assert f"  {path}:" in text
    assert "FlinksSessionStatusEnum" in text  # ENUM_NAME_OVERRIDES from the settings the docstring gives


CHECK_WITHOUT_SPECTACULAR = """
import sys
sys.modules["drf_spectacular"] = None  # ``import drf_spectacular`` now raises ImportError, installed or not
import django
django.setup()
from django.test import Client
import flinks_sessions.api.schema as schema
import flinks_sessions.webhooks.schema  # noqa: F401
assert not hasattr(schema, "SessionExitViewSchema")
response = Client().post("/flinks/sessions/6f1c5a3e-9d2b-4e8f-a1c7-3b5d9e2f4a60/exit/", {"token": "forged"})
print(response.status_code)
"""


def test_the_app_works_without_drf_spectacular() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env.pop("DATABASE_URL", None)
    done = run_python("-c", CHECK_WITHOUT_SPECTACULAR, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "403"
