"""What ``flinks_cancel_sessions`` and ``flinks_sync_sessions`` share: the selection options, the progress
and summary output, and the exit status cron relies on (1 when anything failed, 130 after Ctrl-C).

The commands themselves stay thin: they parse, select (:mod:`~flinks_sessions.sweeps.selection`), run
(:mod:`~flinks_sessions.sweeps.run`) and report through this base class.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext

from flinks_sessions.models import PaymentSession
from flinks_sessions.status import OPEN_STATUSES, Product
from flinks_sessions.sweeps import run
from flinks_sessions.sweeps.progress import Progress
from flinks_sessions.sweeps.selection import SessionFilters, find_by_session_ids, parse_duration
from flinks_sessions.sweeps.summary import ItemResult, RunSummary, session_label

DEFAULT_CONCURRENCY = 8
INTERRUPTED_EXIT = 130


def _duration(value: str) -> Any:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# The largest count a command takes: far more rows than any table holds, and within every database's LIMIT (a
# bigger one reached the database and failed there, with a traceback instead of a usage error).
MAX_COUNT = 2**31 - 1


def positive_count(value: str) -> int:
    """The type of every count option (``--limit``, ``--concurrency``, ``--batch-size``): 1 to :data:`MAX_COUNT`."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    if number > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_COUNT}")
    return number


class SweepCommand(BaseCommand):
    """A command over sessions named by id or selected by filters, run in a bounded pool."""

    progress_description = ""

    def add_selection_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "session_ids",
            nargs="*",
            metavar="SESSION_ID",
            help=gettext("Flinks session ids (UUIDs); or use filters."),
        )
        group = parser.add_argument_group(gettext("filters (open sessions only; combine freely)"))
        group.add_argument(
            "--older-than",
            type=_duration,
            metavar="DURATION",
            help=gettext("created before now minus 30m, 2h, 1d..."),
        )
        group.add_argument(
            "--status", action="append", choices=OPEN_STATUSES, default=[], help=gettext("repeatable")
        )
        group.add_argument(
            "--reference", action="append", default=[], help=gettext("reference id (repeatable)")
        )
        group.add_argument(
            "--account", action="append", default=[], help=gettext("Flinks account name (repeatable)")
        )
        group.add_argument(
            "--product", action="append", choices=Product.values, default=[], help=gettext("repeatable")
        )
        group.add_argument(
            "--limit", type=positive_count, help=gettext("at most this many sessions, oldest first")
        )

    def add_run_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--concurrency",
            type=positive_count,
            default=DEFAULT_CONCURRENCY,
            help=gettext("calls to Flinks at once (default: %(default)s)"),
        )
        parser.add_argument(
            "--enqueue", action="store_true", help=gettext("hand each session to the task backend")
        )
        parser.add_argument(
            "--dry-run", action="store_true", help=gettext("list the sessions; change and call nothing")
        )
        parser.add_argument(
            "--no-fail-on-error",
            action="store_false",
            dest="fail_on_error",
            help=gettext("exit 0 even when some sessions failed"),
        )

    # --- selection ------------------------------------------------------------------------------------------

    def filters(self, options: dict[str, Any]) -> SessionFilters:
        return SessionFilters(
            older_than=options["older_than"],
            statuses=options["status"],
            references=options["reference"],
            accounts=options["account"],
            products=options["product"],
            limit=options["limit"],
        )

    def has_filters(self, options: dict[str, Any]) -> bool:
        names = ("older_than", "status", "reference", "account", "product", "limit")
        return any(options.get(name) not in (None, [], ()) for name in names)  # "--older-than 0s" counts

    def by_ids(self, options: dict[str, Any]) -> tuple[list[PaymentSession], list[str]]:
        """Sessions named on the command line; unknown ids are reported on stderr and counted, never fatal."""
        if self.has_filters(options):
            raise CommandError(gettext("Give session ids or filters, not both."))
        lookup = find_by_session_ids(options["session_ids"])
        for raw in lookup.unknown:
            self.stderr.write(gettext("Unknown session id: %s") % raw)
        return lookup.sessions, lookup.unknown

    # --- running --------------------------------------------------------------------------------------------

    def sweep(
        self,
        sessions: Sequence[PaymentSession],
        unknown: list[str],
        options: dict[str, Any],
        *,
        verb: str,
        work: Callable[[PaymentSession], ItemResult],
        describe_enqueue: Callable[[RunSummary], str],
        batch: Callable[..., object],
        describe_now: Callable[[RunSummary], str],
        **batch_options: Any,
    ) -> None:
        """Act on the selected sessions as the options say, with progress; then report and exit as cron expects.

        ``--dry-run`` lists them; ``--enqueue`` hands each to the task workers with ``work``; otherwise
        ``batch`` (a service's call for many sessions) runs now with ``batch_options``, ``--concurrency`` calls
        at a time.
        """
        if options["dry_run"]:
            self.dry_run(sessions, verb, options)
            return
        progress = self.progress(sessions, options)
        try:
            if options["enqueue"]:
                done = run.enqueue_many(sessions, work, on_result=progress.update)
            else:
                done = run.run_many(
                    sessions,
                    batch,
                    on_result=progress.update,
                    concurrency=options["concurrency"],
                    **batch_options,
                )
        finally:
            progress.close()
        run.add_unknown(done, unknown)
        self.finish(done, (describe_enqueue if options["enqueue"] else describe_now)(done), options)

    def progress(self, sessions: Sequence[PaymentSession], options: dict[str, Any]) -> Progress:
        return Progress(
            len(sessions),
            stdout=self.stdout,
            verbosity=options["verbosity"],
            description=self.progress_description,
        )

    def dry_run(self, sessions: Sequence[PaymentSession], verb: str, options: dict[str, Any]) -> None:
        """List what would be done; no row is written and Flinks is not called."""
        chosen = 0
        for session in sessions:
            if session.is_open:
                chosen += 1
                state = session.get_status_display()
            elif session.not_found_at is not None and not session.is_terminal:
                state = gettext("skipped: %s") % gettext("not found at Flinks")
            else:
                state = gettext("skipped: %s") % session.get_status_display()
            if options["verbosity"] >= 1:
                self.stdout.write(f"{session_label(session)} {state}")
        self.stdout.write(
            gettext("Dry run: would %(verb)s %(count)d of %(total)d sessions; nothing was changed.")
            % {"verb": verb, "count": chosen, "total": len(sessions)}
        )

    def finish(self, summary: RunSummary, line: str, options: dict[str, Any]) -> None:
        """Print the summary (even at -v 0) and exit the way cron expects."""
        style = self.style.SUCCESS if not summary.failed and not summary.interrupted else self.style.WARNING
        self.stdout.write(style(line))
        if summary.interrupted:
            raise CommandError(gettext("Interrupted: no new call was started."), returncode=INTERRUPTED_EXIT)
        if summary.failed and options["fail_on_error"]:
            raise CommandError(
                gettext("%(count)d failed; first error: %(error)s")
                % {"count": summary.failed, "error": summary.first_error}
            )
