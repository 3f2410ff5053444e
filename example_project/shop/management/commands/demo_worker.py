"""``manage.py demo_worker``: django-tasks-db's ``db_worker`` that outlives a locked SQLite database.

The demo keeps everything in one SQLite file that the dev server, this worker and anything else you run
(``manage.py shell``, the ``sqlite3`` shell, a long migration) write to. SQLite allows one writer; the settings
make every connection wait up to ``DJANGO_SQLITE_TIMEOUT`` seconds for the lock (and use WAL, so readers never
wait). ``db_worker`` begins each poll with ``BEGIN EXCLUSIVE`` outside its own error handling, so a lock held
longer than that ends the worker (or, under the autoreloader, silently stops it while the process lives on).
This worker logs the lock, waits, and polls again. Production runs PostgreSQL and a plain ``db_worker`` under a
process manager; this exists for the demo only.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from django.db import OperationalError, connections
from django_tasks_db.management.commands import db_worker
from django_tasks_db.utils import is_locked_database_exception

logger = logging.getLogger("example_project.shop.worker")

PAUSE = 1.0  # seconds between a "database is locked" and the next poll


class LockTolerantWorker(db_worker.Worker):
    """A ``Worker`` whose polling loop survives ``database is locked``; any other error still ends it."""

    def run(self) -> None:
        while True:
            try:
                super().run()
            except OperationalError as error:
                if not is_locked_database_exception(error):
                    raise
                logger.warning("The database stayed locked (%s); polling again in %.0f s", error, PAUSE)
                connections.close_all()
                time.sleep(PAUSE)
                if self.running:
                    continue
            return


class ReadyFile(logging.Handler):
    """Touches a file once the worker has said "Starting worker" (after the console handler printed it):
    scripts/demo.sh waits for the file, so the demo's banner comes after the worker's line, not amid it."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Starting worker"):
            self.path.touch()


class Command(db_worker.Command):
    help = "db_worker for the demo's SQLite database: waits out a locked database instead of crashing."

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument("--ready-file", type=Path, help="A file to touch once the worker polls.")

    def configure_logging(self, verbosity: int) -> None:
        super().configure_logging(verbosity)
        if self.ready_file is not None:
            logging.getLogger(db_worker.logger.name).addHandler(ReadyFile(self.ready_file))

    def handle(self, *args: Any, **options: Any) -> None:
        self.ready_file: Path | None = options.pop("ready_file", None)
        # Under the reloader the worker, like runserver, would say "Watching for file changes" in the demo's
        # terminal; runserver's line is enough (the worker still restarts when the code changes).
        logging.getLogger("django.utils.autoreload").setLevel(logging.WARNING)
        # db_worker's handle() builds its worker from the module-level name ``Worker``; swap it for the run.
        original = db_worker.Worker
        db_worker.Worker = LockTolerantWorker  # type: ignore[misc]
        try:
            super().handle(*args, **options)
        finally:
            db_worker.Worker = original  # type: ignore[misc]
