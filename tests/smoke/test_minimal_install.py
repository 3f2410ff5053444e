"""The app with none of its optional extras: ``pip install flinks-sessions`` and nothing else.

``nox -s minimal-3.11 minimal-3.13`` runs this file alone in a virtualenv holding only the package, its required
dependencies, pytest and pytest-django (``--ds tests.smoke.minimal_settings``). The full suite runs it too, so
every test here must pass with or without the extras: nothing here needs django-tasks-db, django-environ,
psycopg, tqdm, playwright or gunicorn.
"""

from __future__ import annotations

import io
import json
import os
import sys
from decimal import Decimal
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

import flinks_sessions
from flinks_sessions import services
from flinks_sessions.models import PaymentSession
from flinks_sessions.sweeps.progress import Progress
from flinks_sessions.sweeps.summary import ItemResult
from tests.factories import PAYOR
from tests.support import ROOT, run_python

# What the extras bring (and the test tools); importing the app must need none of them.
OPTIONAL_MODULES = (
    "django_tasks_db",
    "environ",
    "psycopg",
    "psycopg2",
    "tqdm",
    "playwright",
    "gunicorn",
    "drf_spectacular",
    "prometheus_client",
    "opentelemetry",
    "payments",
    "pytest",
)

# Run in a fresh interpreter: the optional modules are made unimportable first (as if not installed, even in
# the full test environment), then every module of the app is imported.
IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
for name in {optional!r}:
    sys.modules[name] = None  # ``import name`` now raises ImportError
import django
django.setup()
import flinks_sessions
names = sorted(
    info.name for info in pkgutil.walk_packages(flinks_sessions.__path__, "flinks_sessions.")
    if info.name != "flinks_sessions.testing"  # the pytest plugin: it needs pytest by design
    and not info.name.startswith("flinks_sessions.contrib.")  # each bridge needs its extra by design
)
for name in names:
    importlib.import_module(name)
print(json.dumps(names))
"""


def test_every_module_imports_without_any_extra() -> None:
    """Importing the whole app (commands, admin, API, sandbox, migrations) needs no optional package."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.smoke.minimal_settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
    }
    for name in ("FLINKS_TEST_TASKS", "DATABASE_URL"):  # SQLite: the PostgreSQL driver is an extra
        env.pop(name, None)
    code = IMPORT_EVERYTHING.format(optional=OPTIONAL_MODULES)
    done = run_python("-c", code, env=env)
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert "flinks_sessions.migrations.0001_initial" in modules
    assert "flinks_sessions.sandbox.__main__" in modules
    assert any(name.startswith("flinks_sessions.management.commands.") for name in modules)


@pytest.mark.django_db
def test_migrations_apply_and_match_the_models() -> None:
    applied = MigrationRecorder(connection).applied_migrations()
    assert ("flinks_sessions", "0001_initial") in applied
    assert PaymentSession.objects.count() == 0  # the tables exist
    call_command("makemigrations", "flinks_sessions", "--check", "--dry-run", stdout=io.StringIO())


@pytest.mark.django_db  # some checks ask the database what it supports (JSONField on SQLite)
def test_system_checks_report_no_error() -> None:
    """``manage.py check`` passes; without a task engine the app only warns (ImmediateBackend outside DEBUG)."""
    messages = checks.run_checks(include_deployment_checks=False)
    errors = [message for message in messages if message.is_serious()]
    assert errors == []
    ours = {message.id for message in messages if (message.id or "").startswith("flinks_sessions.")}
    assert ours <= {"flinks_sessions.W010"}
    call_command("check", stdout=io.StringIO(), stderr=io.StringIO())


# Without prometheus-client and OpenTelemetry (whether or not this environment has them): a client call, a span
# and a scrape of /metrics, in a fresh interpreter.
WITHOUT_OBSERVABILITY = """
import sys
sys.modules["prometheus_client"] = None
sys.modules["opentelemetry"] = None
import django
django.setup()
from django.test import RequestFactory
from flinks_sessions import metrics, tracing
from flinks_sessions.api.metrics import metrics_view
assert not metrics.enabled()
metrics.FLINKS_REQUESTS.labels(endpoint="cancel", status="200").inc()
metrics.FLINKS_REQUEST_DURATION.labels(endpoint="cancel").observe(0.1)
with tracing.span("cancel", session_id="x") as span:
    span.set_attribute("flinks_sessions.outcome", "cancelled")
response = metrics_view(RequestFactory().get("/metrics"))
print(response.status_code, response.content.decode().strip())
"""


def test_metrics_and_traces_are_inert_without_their_extras() -> None:
    """No prometheus-client, no OpenTelemetry: the counters and spans do nothing and /metrics says why (501)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.smoke.minimal_settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
    }
    for name in ("FLINKS_TEST_TASKS", "DATABASE_URL"):
        env.pop(name, None)
    done = run_python("-c", WITHOUT_OBSERVABILITY, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "501 Metrics are off: install flinks-sessions[metrics] (prometheus-client)."


def test_the_version_is_exposed() -> None:
    assert flinks_sessions.__version__.count(".") >= 2


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_falls_back_to_plain_lines_without_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep commands show a tqdm bar on a terminal only when tqdm is there; otherwise one line per item."""
    monkeypatch.setitem(sys.modules, "tqdm", None)  # ``import tqdm`` now raises ImportError, installed or not
    out = _Terminal()
    progress = Progress(2, stdout=out, verbosity=1)
    progress.update(ItemResult("cancelled", label="first"))
    progress.update(ItemResult("failed", label="second", error="boom", failed=True))
    progress.close()
    assert out.getvalue() == "first cancelled\nsecond failed: boom\n"


@pytest.mark.django_db
def test_a_cancel_runs_end_to_end_on_the_builtin_task_backend(
    sandbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """No task engine: the cancel a beacon requests runs in-process (ImmediateBackend) and still happens once."""
    session = services.start_session(
        amount=Decimal("25.00"),
        reference_id="MINIMAL-1",
        payor=PAYOR,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.request_cancel(session, source="api")
    session.refresh_from_db()
    assert session.status == PaymentSession.Status.CANCELLED
    assert sandbox.count(method="POST", path_suffix="/cancel") == 1
