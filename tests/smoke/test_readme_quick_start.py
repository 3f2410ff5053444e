"""The README's "Quick start for an existing site", followed as written: its own code blocks, parsed out of
README.md, make a fresh ``startproject`` site that passes ``check``, migrates, and renders a checkout against the
sandbox. A change to the README that breaks a new user's first hour breaks this test."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.extras import import_or_missing
from tests.support import ROOT

import_or_missing("django_tasks_db", "the Quick start's task backend (the `example` extra)")

SECTION = "## Quick start for an existing site"


def quick_start_blocks() -> list[tuple[str, str]]:
    """(language, code) of each fenced block of the Quick start section, in order."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```(\w+)\n(.*?)^```", section, re.M | re.S)


def block_for(blocks: list[tuple[str, str]], first_line: str) -> str:
    """The block whose first line names the file it belongs in (``# settings.py``, ``{# templates/... #}``)."""
    found = [code for _language, code in blocks if code.splitlines()[0].strip() == first_line]
    assert len(found) == 1, f"the Quick start has no single block starting {first_line!r}"
    return found[0]


def test_the_install_lines_install_what_exists() -> None:
    """Nothing of it is on PyPI yet: every line that installs flinks-sessions does it from a checkout, and the
    other packages the Quick start installs are the ones its settings use (here: installed)."""
    lines = [
        line.split("#")[0].split()
        for language, code in quick_start_blocks()
        if language == "console"
        for line in code.splitlines()
        if line.startswith("pip install")
    ]
    assert lines
    for words in lines:
        requirement = words[2].strip("\"'")
        if "flinks-sessions" in requirement:
            assert requirement.startswith(("./", "/", "git+")), f"{requirement} is not on PyPI yet"
        else:
            assert importlib.metadata.distribution(requirement)


def run(site: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "manage.py", *args],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_the_quick_start_runs_as_written(tmp_path: Path, flinks_sandbox: Any) -> None:
    blocks = quick_start_blocks()
    site = tmp_path / "shopsite"
    site.mkdir()
    created = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "django", "startproject", "shop", str(site)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    package = site / "shop"
    with (package / "settings.py").open("a") as settings:
        settings.write("\n" + block_for(blocks, "# settings.py"))
        settings.write('\nTEMPLATES[0]["DIRS"] = [BASE_DIR / "templates"]  # the site\'s own templates\n')
    with (package / "urls.py").open("a") as urls:
        urls.write("\n" + block_for(blocks, "# urls.py"))
    (package / "views.py").write_text(block_for(blocks, "# views.py"))
    (site / "templates").mkdir()
    (site / "templates" / "checkout.html").write_text(block_for(blocks, "{# templates/checkout.html #}"))

    config = flinks_sandbox.config
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "FLINKS_", "PYTEST"))
    }
    env.pop("DATABASE_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="shop.settings",
        FLINKS_BASE_URL=flinks_sandbox.url,
        FLINKS_CLIENT_ID=config.client_id,
        FLINKS_CLIENT_SECRET=config.client_secret,
        FLINKS_WEBHOOK_SECRET=config.webhook_secret,
    )
    for command in (("migrate", "--noinput"), ("check", "--fail-level", "ERROR")):
        result = run(site, env, *command)
        assert result.returncode == 0, result.stdout + result.stderr

    render = (
        "from django.test import Client; response = Client(HTTP_HOST='localhost').get('/checkout/'); "
        "print('STATUS', response.status_code); print(response.content.decode())"
    )
    result = run(site, env, "shell", "-c", render)
    assert result.returncode == 0, result.stderr
    _before, _marker, answer = result.stdout.partition("STATUS ")  # after what the shell prints first
    status, _newline, page = answer.partition("\n")
    assert status == "200", result.stdout + result.stderr
    assert f'src="{flinks_sandbox.url}/app/?sessionId=' in page
    assert 'data-exit-url="/flinks/sessions/' in page
    assert 'data-success-url="/thanks/"' in page
    assert flinks_sandbox.count(method="POST", path_suffix="/api/v2/sessions") == 1
