"""``manage.py flinks_sandbox``: the Flinks Pay emulator in the foreground, for local development and demos.

Only sites with ``flinks_sessions.sandbox`` in ``INSTALLED_APPS`` (a development settings file) have it. Same
options as ``python -m flinks_sessions.sandbox``; their defaults come from the sandbox's own ``FLINKS_SANDBOX``
setting, never from the site's ``FLINKS_SESSIONS`` account, so a sandbox started by mistake on a production
host cannot sign webhooks with the real secret. With ``DEBUG`` off it refuses to start unless given
``--allow-without-debug`` (a demo served by gunicorn, a CI job).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from flinks_sessions.sandbox.cli import DEFAULT_PORT, MAX_PORT, add_arguments, serve, server_from_args

# FLINKS_SANDBOX key -> command option; every key is optional.
SETTING_OPTIONS = {
    "HOST": "host",
    "PORT": "port",
    "CLIENT_ID": "client_id",
    "CLIENT_SECRET": "client_secret",
    "API_KEY": "api_key",
    "WEBHOOK_SECRET": "webhook_secret",
    "WEBHOOK_URL": "webhook_url",
}


def defaults_from_settings() -> dict[str, Any]:
    """Defaults read defensively from ``FLINKS_SANDBOX``: a missing or malformed value is simply ignored."""
    config = getattr(settings, "FLINKS_SANDBOX", None) or {}
    defaults: dict[str, Any] = {}
    if not isinstance(config, dict):
        return defaults
    for key, option in SETTING_OPTIONS.items():
        value = config.get(key)
        if option == "port":
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_PORT:
                defaults[option] = value
        elif isinstance(value, str) and value:
            defaults[option] = value
    return defaults


class Command(BaseCommand):
    help = (
        "Run the local Flinks Pay sandbox (API, hosted page, signed webhooks, fault injection); "
        "development only: refuses to start with DEBUG off unless given --allow-without-debug."
    )
    requires_system_checks: list[str] = []  # the sandbox must start even while the site's settings are wrong

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser, {"port": DEFAULT_PORT, **defaults_from_settings()})
        parser.add_argument(
            "--allow-without-debug",
            action="store_true",
            help="start although DEBUG is off (a demo or CI job behind a production-like server)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options.get("allow_without_debug"):
            raise CommandError(
                "DEBUG is off: the sandbox is a development tool and signs webhooks your site accepts. "
                "Pass --allow-without-debug if this really is not a production site."
            )
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
        except (OSError, OverflowError) as error:
            raise CommandError(
                f"cannot start the sandbox on {namespace.host}:{namespace.port}: {error}"
            ) from error

    def _announce(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
