"""Entry points: ``python -m flinks_sessions.sandbox``, ``manage.py flinks_sandbox`` and the pytest plugin."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from flinks_sessions.sandbox import SandboxControl, SandboxServer
from tests.support import ROOT, run_python

from . import http, token


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _start(command: list[str], **env: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(**env), cwd=ROOT
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line:
        process.kill()
        pytest.fail(f"no listening line; stderr: {process.communicate(timeout=5)[1]}")
    prefix = "Flinks sandbox listening on "
    assert line.startswith(prefix), line
    return process, line.removeprefix(prefix)


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()


def test_module_entry_point_serves_until_sigterm() -> None:
    command = [
        sys.executable, "-m", "flinks_sessions.sandbox", "--port", "0", "--seed", "1",
        "--error-rate", "503=0.3", "--fault-path", "/status", "--token-ttl", "299",
        "--webhook-form", "x-flinks-signature", "--client-id", "cli-client",
    ]  # fmt: skip
    process, url = _start(command)
    try:
        assert url.startswith("http://127.0.0.1:")
        control = SandboxControl(url)
        faults = control.faults()
        assert (faults["error_rates"], faults["paths"], faults["seed"]) == ({"503": 0.3}, ["/status"], 1)
        config = control.config()
        assert (config["client_id"], config["token_ttl"], config["webhook_form"]) == (
            "cli-client",
            299,
            "X-Flinks-Signature",
        )
        response = http().post(
            f"{url}/api/v1/authorize",
            auth=("cli-client", "sandbox-secret"),
            data={"grant_type": "client_credentials"},
        )
        assert response.json()["expires_in"] == 299
    finally:
        assert _stop(process) == 0


def test_bad_options_are_refused() -> None:
    result = run_python("-m", "flinks_sessions.sandbox", "--error-rate", "503", env=_env(), timeout=30)
    assert result.returncode == 2
    assert "STATUS=RATE" in result.stderr


def test_the_server_imports_neither_django_nor_requests() -> None:
    code = (
        "import sys, flinks_sessions.sandbox.server, flinks_sessions.sandbox.cli;"
        "bad = [name for name in ('django', 'requests') if name in sys.modules];"
        "sys.exit(', '.join(bad) or None)"
    )
    result = run_python("-c", code, env=_env(), timeout=30)
    assert result.returncode == 0, result.stderr


def test_management_command_takes_credentials_from_settings() -> None:
    command = [sys.executable, "-m", "django", "flinks_sandbox", "--port", "0", "--latency", "0"]
    process, url = _start(command, DJANGO_SETTINGS_MODULE="tests.settings")
    try:
        assert token(url)  # sandbox-client / sandbox-secret from tests.settings
    finally:
        assert _stop(process) == 0


def test_management_command_defaults(settings: object) -> None:
    from flinks_sessions.management.commands.flinks_sandbox import defaults_from_settings

    settings.FLINKS_SESSIONS = {  # type: ignore[attr-defined]
        "ACCOUNTS": {
            "default": {"BASE_URL": "http://localhost:8765", "CLIENT_ID": "a", "CLIENT_SECRET": "b"}
        },
        "WEBHOOK_SECRETS": ["w"],
    }
    assert defaults_from_settings() == {
        "client_id": "a",
        "client_secret": "b",
        "port": 8765,
        "webhook_secret": "w",
    }
    settings.FLINKS_SESSIONS = "garbage"  # type: ignore[attr-defined]
    assert defaults_from_settings() == {}


def test_plugin_fixtures(flinks_sandbox: SandboxServer, flinks_sandbox_factory: object) -> None:
    assert flinks_sandbox.running
    other = flinks_sandbox_factory(client_secret="other")  # type: ignore[operator]
    assert other.url != flinks_sandbox.url
    assert other.config.client_secret == "other"


def test_running_sandbox_without_pytest() -> None:
    from flinks_sessions.testing import running_sandbox

    with running_sandbox(token_ttl=10) as sandbox:
        assert (
            http()
            .post(
                f"{sandbox.url}/api/v1/authorize",
                auth=("sandbox-client", "sandbox-secret"),
                data={"grant_type": "client_credentials"},
            )
            .json()["expires_in"]
            == 10
        )
    assert not sandbox.running
