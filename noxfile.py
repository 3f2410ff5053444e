"""The support matrix: every Python and Django the package claims, on SQLite and PostgreSQL, plus a bare install.

    nox -l                                   # every session
    nox -t core                              # the core: one session per supported Django, and the bare installs
    nox -s "tests-3.12-django6.0-postgres"   # one cell; pytest arguments after --, e.g. -- -k cancel -x
    nox -t postgres                          # every PostgreSQL cell (DATABASE_URL, default the local server)
    nox -s minimal-3.13                      # the package without extras: imports, migrates, passes check
    nox -s package                           # scripts/package-smoke.sh: build, inspect, install, smoke-test

Cells:   Django 5.2 LTS on Python 3.11; Django 6.0 and 6.1 on Python 3.12 and 3.13; each on sqlite and postgres.
Virtualenvs are kept in .nox/ and reused (re-running only the pip install, a no-op when nothing changed); ``-R``
also skips that. Interpreters are found the way ``scripts/find-python.sh`` finds them (PATH, then pyenv's
versions), so a pyenv install works even when ``python3.12`` is not on PATH. Browser tests run in
``make test``, not here.
"""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"

# (python, django): what pyproject.toml's classifiers promise.
CELLS = [("3.11", "5.2"), ("3.12", "6.0"), ("3.12", "6.1"), ("3.13", "6.0"), ("3.13", "6.1")]
DATABASES = ("sqlite", "postgres")
# One cell per Django series, PostgreSQL where the concurrency guarantees are real (see nox -t core).
CORE = {("3.11", "5.2", "sqlite"), ("3.12", "6.0", "postgres"), ("3.13", "6.1", "postgres")}
MINIMAL_PYTHONS = ("3.11", "3.13")  # Django 5.2 with the Django Tasks backport, and the newest Django

# Fails when an optional package got installed anyway (a new hard dependency pulling one in, say).
ONLY_REQUIRED_DEPENDENCIES = """
import importlib.util, sys
extras = (
    "django_tasks_db", "environ", "psycopg", "tqdm", "playwright", "gunicorn", "responses", "drf_spectacular",
    "prometheus_client", "opentelemetry",
)
found = [name for name in extras if importlib.util.find_spec(name)]
sys.exit(f"optional packages are installed: {found}" if found else 0)
"""

nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = bool(os.environ.get("CI"))


@cache
def interpreter(version: str) -> str:
    """An absolute path to Python ``version`` (scripts/find-python.sh), or the bare version for nox to report."""
    env = {**os.environ, "MIN_PYTHON": version, "EXACT_PYTHON": "1"}
    env.pop("PYTHON", None)  # PYTHON names the interpreter of the project's own .venv, not of every cell
    found = subprocess.run(
        ["bash", str(ROOT / "scripts" / "find-python.sh")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    path = found.stdout.strip().splitlines()[-1] if found.returncode == 0 and found.stdout.strip() else ""
    return path or version


def django_requirement(series: str) -> str:
    return f"django~={series}.0"  # 6.0 -> >=6.0.0,<6.1


def use_database(session: nox.Session, db: str) -> None:
    """SQLite (DATABASE_URL emptied) or PostgreSQL, whose tests then fail instead of skipping when it is down."""
    if db == "postgres":
        session.env["DATABASE_URL"] = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        session.env["FLINKS_REQUIRE"] = "postgres"
    else:
        session.env["DATABASE_URL"] = ""
        session.env["FLINKS_REQUIRE"] = ""
    (ROOT / "var").mkdir(exist_ok=True)


def make_tests_session(python: str, django: str, db: str) -> None:
    name = f"tests-{python}-django{django}-{db}"
    tags = ["tests", f"py{python}", f"django{django}", db]
    if (python, django, db) in CORE:
        tags.append("core")

    def tests(session: nox.Session) -> None:
        extras = "test,django52" if django == "5.2" else "test"
        session.install("-e", f".[{extras}]", django_requirement(django))
        use_database(session, db)
        session.run(
            "python",
            "-c",
            "import django, sys; print(f'Python {sys.version.split()[0]}, Django {django.__version__}')",
        )
        # As `make test` runs it: on xdist workers, then the tests marked serial ("python" is this cell's).
        session.run(
            "bash",
            str(ROOT / "scripts" / "pytest-in-parts.sh"),
            "python",
            "-m",
            "not browser",
            "-p",
            "no:cacheprovider",
            *session.posargs,
            external=True,
        )

    tests.__doc__ = f"The suite on Python {python}, Django {django}, {db} (browser tests excluded)."
    nox.session(name=name, python=interpreter(python), tags=tags)(tests)


def make_minimal_session(python: str) -> None:
    def minimal(session: nox.Session) -> None:
        session.install(".", "pytest>=8", "pytest-django>=4.9")
        use_database(session, "sqlite")
        session.run("python", "-m", "pip", "list", "--format=freeze", silent=False)
        session.run("python", "-c", ONLY_REQUIRED_DEPENDENCIES)
        session.run(
            "python",
            "-m",
            "pytest",
            "tests/smoke/test_minimal_install.py",
            "--ds",
            "tests.smoke.minimal_settings",
            "-p",
            "no:cacheprovider",
            *session.posargs,
        )

    minimal.__doc__ = (
        f"Python {python}: the package with no extras imports, migrates, passes check, degrades cleanly."
    )
    nox.session(name=f"minimal-{python}", python=interpreter(python), tags=["minimal", "core"])(minimal)


for _python, _django in CELLS:
    for _db in DATABASES:
        make_tests_session(_python, _django, _db)
for _python in MINIMAL_PYTHONS:
    make_minimal_session(_python)


@nox.session(python=False, default=False)
def package(session: nox.Session) -> None:
    """Build the sdist and wheel, inspect them, install the wheel in a fresh virtualenv and smoke-test it."""
    session.run("bash", str(ROOT / "scripts" / "package-smoke.sh"), *session.posargs, external=True)
