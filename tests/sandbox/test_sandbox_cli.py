"""Entry points: ``python -m flinks_sessions.sandbox``, ``manage.py flinks_sandbox`` and the pytest plugin."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from flinks_sessions.sandbox import SandboxControl, SandboxServer
from tests.processes import ROOT, Child, started
from tests.support import run_python

from . import http, token


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@contextmanager
def _started(command: list[str], log: Path, **env: str) -> Iterator[tuple[Child, str, str]]:
    """Start a sandbox; yields the process, its URL and the control token its banner printed."""
    with started(command, log=log, env=_env(**env), ready=r"^Control API token.*\n") as process:
        line, token_line = process.output().splitlines()[:2]
        prefix = "Flinks sandbox listening on "
        assert line.startswith(prefix), line
        assert token_line.startswith("Control API token (X-Sandbox-Token header"), token_line
        yield process, line.removeprefix(prefix), token_line.rsplit(" ", 1)[1]


def test_module_entry_point_serves_until_sigterm(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "flinks_sessions.sandbox", "--port", "0", "--seed", "1",
        "--error-rate", "503=0.3", "--fault-path", "/status", "--token-ttl", "299",
        "--webhook-form", "x-flinks-signature", "--client-id", "cli-client",
    ]  # fmt: skip
    with _started(command, tmp_path / "sandbox.log") as (process, url, control_token):
        assert url.startswith("http://127.0.0.1:")
        assert not SandboxControl(url, token="guessed").health()
        control = SandboxControl(url, token=control_token)
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
        assert process.stop() == 0


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


def test_management_command_takes_credentials_from_settings(tmp_path: Path) -> None:
    # tests.settings runs with DEBUG off, as a CI job would: the flag says this is on purpose.
    command = [
        sys.executable, "-m", "django", "flinks_sandbox", "--port", "0", "--latency", "0",
        "--allow-without-debug",
    ]  # fmt: skip
    with _started(
        command, tmp_path / "sandbox.log", DJANGO_SETTINGS_MODULE="tests.settings", FLINKS_SANDBOX_TOKEN=""
    ) as (process, url, control_token):
        assert token(url)  # sandbox-client / sandbox-secret from FLINKS_SANDBOX in tests.settings
        assert SandboxControl(url, token=control_token).config()["client_id"] == "sandbox-client"
        assert process.stop() == 0


def test_management_command_defaults(settings: object) -> None:
    from flinks_sessions.sandbox.management.commands.flinks_sandbox import defaults_from_settings

    settings.FLINKS_SANDBOX = {  # type: ignore[attr-defined]
        "PORT": 8765,
        "CLIENT_ID": "a",
        "CLIENT_SECRET": "b",
        "WEBHOOK_SECRET": "w",
    }
    assert defaults_from_settings() == {
        "client_id": "a",
        "client_secret": "b",
        "port": 8765,
        "webhook_secret": "w",
    }
    settings.FLINKS_SANDBOX = "garbage"  # type: ignore[attr-defined]
    assert defaults_from_settings() == {}
    settings.FLINKS_SANDBOX = {"PORT": 99999, "CLIENT_ID": 3}  # type: ignore[attr-defined]
    assert defaults_from_settings() == {}


def test_management_command_never_reads_the_sites_credentials(settings: object) -> None:
    from flinks_sessions.sandbox.management.commands.flinks_sandbox import defaults_from_settings

    del settings.FLINKS_SANDBOX  # type: ignore[attr-defined]
    settings.FLINKS_SESSIONS = {  # type: ignore[attr-defined]
        "ACCOUNTS": {
            "default": {
                "BASE_URL": "http://localhost:8765",
                "CLIENT_ID": "live-client",
                "CLIENT_SECRET": "live-secret",
            }
        },
        "WEBHOOK_SECRETS": ["live-webhook-secret"],
    }
    defaults = defaults_from_settings()
    assert "live" not in repr(defaults)
    parser = _command_parser()
    options = parser.parse_args([])
    assert (options.client_id, options.client_secret, options.webhook_secret) == (
        "sandbox-client",
        "sandbox-secret",
        "sandbox-webhook-secret",
    )


def _command_parser() -> Any:
    from flinks_sessions.sandbox.management.commands.flinks_sandbox import Command

    return Command().create_parser("manage.py", "flinks_sandbox")


def test_management_command_refuses_to_start_without_debug(settings: object) -> None:
    settings.DEBUG = False  # type: ignore[attr-defined]
    with pytest.raises(CommandError, match=r"DEBUG is off.*--allow-without-debug"):
        call_command("flinks_sandbox", "--port", "0")


def test_management_command_refuses_without_debug_from_the_shell() -> None:
    result = run_python(
        "-m", "django", "flinks_sandbox", "--port", "0",
        env=_env(DJANGO_SETTINGS_MODULE="tests.settings"), timeout=30,
    )  # fmt: skip
    assert result.returncode == 1
    assert "CommandError: DEBUG is off" in result.stderr
    assert "listening" not in result.stdout


@pytest.mark.parametrize("port", ["99999", "-1", "65536", "eighty"])
def test_out_of_range_port_is_a_clean_error(settings: object, port: str) -> None:
    settings.DEBUG = True  # type: ignore[attr-defined]
    with pytest.raises(CommandError, match="port"):
        call_command("flinks_sandbox", "--port", port)
    result = run_python("-m", "flinks_sessions.sandbox", "--port", port, env=_env(), timeout=30)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--port" in result.stderr


def test_production_settings_have_no_sandbox_command() -> None:
    """The example project installs the sandbox app only with DEBUG on: off, the command does not exist."""
    env = _env(DJANGO_SETTINGS_MODULE="example_project.settings", DJANGO_DEBUG="false")
    result = run_python("-m", "django", "flinks_sandbox", "--port", "0", env=env, timeout=30)
    assert result.returncode == 1
    assert "Unknown command: 'flinks_sandbox'" in result.stderr
    listing = run_python("-m", "django", "help", "--commands", env=env, timeout=30)
    assert "flinks_sandbox" not in listing.stdout.split()
    assert "flinks_cancel_sessions" in listing.stdout.split()
    debug = run_python(
        "-m", "django", "help", "--commands", env={**env, "DJANGO_DEBUG": "true"}, timeout=30
    )  # fmt: skip
    assert "flinks_sandbox" in debug.stdout.split()


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
