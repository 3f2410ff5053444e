"""``manage.py flinks_sandbox``: the Flinks Pay emulator in the foreground, for local development and demos.

Same options as ``python -m flinks_sessions.sandbox``; the credentials default to the site's own
``FLINKS_SESSIONS`` (the ``default`` account and the first webhook secret) so the app and the sandbox agree
without any extra configuration, and the port defaults to the one in that account's loopback ``BASE_URL``.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from flinks_sessions.sandbox.cli import DEFAULT_PORT, add_arguments, serve, server_from_args

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def defaults_from_settings() -> dict[str, Any]:
    """Defaults read defensively: a missing or malformed ``FLINKS_SESSIONS`` just means built-in defaults."""
    config = getattr(settings, "FLINKS_SESSIONS", None) or {}
    defaults: dict[str, Any] = {}
    if not isinstance(config, dict):
        return defaults
    accounts = config.get("ACCOUNTS")
    account = accounts.get("default") if isinstance(accounts, dict) else None
    if isinstance(account, dict):
        for key, option in (
            ("CLIENT_ID", "client_id"),
            ("CLIENT_SECRET", "client_secret"),
            ("API_KEY", "api_key"),
        ):
            if isinstance(account.get(key), str) and account[key]:
                defaults[option] = account[key]
        base_url = account.get("BASE_URL")
        if isinstance(base_url, str):
            try:
                parts = urlsplit(base_url)
                # A privileged port is a placeholder (the test settings use 9), never a sandbox of ours.
                if parts.hostname in LOOPBACK and parts.port and parts.port >= 1024:
                    defaults["port"] = parts.port
            except ValueError:
                pass
    secrets = config.get("WEBHOOK_SECRETS")
    if isinstance(secrets, list | tuple) and secrets and isinstance(secrets[0], str) and secrets[0]:
        defaults["webhook_secret"] = secrets[0]
    return defaults


class Command(BaseCommand):
    help = "Run the local Flinks Pay sandbox (API, hosted page, signed webhooks, fault injection)."
    requires_system_checks: list[str] = []  # the sandbox must start even while the site's settings are wrong

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser, {"port": DEFAULT_PORT, **defaults_from_settings()})

    def handle(self, *args: Any, **options: Any) -> None:
        namespace = argparse.Namespace(**options)
        if options.get("verbose") or int(options.get("verbosity", 1)) > 1:
            namespace.verbose = True
            logging.getLogger("flinks_sessions.sandbox").setLevel(logging.INFO)
        try:
            server = server_from_args(namespace)
        except ValueError as invalid:
            raise CommandError(str(invalid)) from invalid
        try:
            serve(server, write=self._announce)
        except OSError as error:
            raise CommandError(
                f"cannot start the sandbox on {namespace.host}:{namespace.port}: {error}"
            ) from error

    def _announce(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
