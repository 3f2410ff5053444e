"""What every bench shares so that none can rot: a fresh database, and raw SQL built from the models.

A bench that kept its database between runs kept its schema too: after a migration changed (the initial one is
regenerated now and then), ``migrate`` saw it applied and left the old tables in place, and the bench failed
far from the cause. :func:`fresh_database` drops and creates the database on every run, so the schema is always
the one the code migrates to.

A floor written as raw SQL names every column it writes; a column added since with no database default made the
INSERT fail. :func:`insert_columns` lists the columns from the model instead: the ones the bench writes itself,
and every other one with its field's default, or a clear error naming the field when it has none.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/test"


def package_profile(work: Callable[[], object]) -> list[tuple[float, str]]:
    """Run ``work`` under cProfile: the package's functions, ``(cumulative seconds, "file.py:function")``, most
    first (what each bench prints as where its time goes)."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    work()
    profile.disable()
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    return sorted(
        ((cumulative, f"{Path(file).name}:{function}") for (file, _line, function), (_cc, _nc, _tt, cumulative, _)
         in stats.items() if "flinks_sessions" in file),
        reverse=True,
    )  # fmt: skip


def fresh_database(database_url: str, name: str, *, async_commit: bool = False) -> str:
    """Drop ``name`` (disconnecting whoever is left on it) and create it empty; returns its URL."""
    import psycopg

    url = urlsplit(database_url)
    admin = urlunsplit(url._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        if async_commit:  # commits stop waiting for the WAL flush: shows what the disk's fsync costs
            conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
    return urlunsplit(url._replace(path=f"/{name}"))


def drop_database(database_url: str, name: str) -> None:
    import psycopg

    admin = urlunsplit(urlsplit(database_url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def insert_columns(model: Any, given: dict[str, str], connection: Any) -> tuple[str, str, dict[str, Any]]:
    """(column list, value list, parameters) for a raw INSERT of one ``model`` row.

    ``given`` maps a column to the SQL the bench writes there (a placeholder or an expression); every other
    concrete column except the primary key gets its field's default as a ``%(default_<column>)s`` parameter.
    A column the model may not leave empty and has no default for raises, naming it.
    """
    columns: list[str] = []
    values: list[str] = []
    params: dict[str, Any] = {}
    unknown = set(given) - {field.column for field in model._meta.concrete_fields}
    if unknown:
        raise SystemExit(f"{model.__name__} has no column {', '.join(sorted(unknown))}")
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.column in given:
            values.append(given[field.column])
            continue
        default = field.get_default()
        if default is None and not field.null:
            raise SystemExit(
                f"the raw INSERT into {model._meta.db_table} does not say what to write in {field.column} "
                "(no default, not nullable): add it to the bench's values"
            )
        key = f"default_{field.column}"
        values.append(f"%({key})s")
        params[key] = field.get_db_prep_save(default, connection)
    return ", ".join(columns), ", ".join(values), params


SMOKE_HELP = "a tiny size that runs in seconds: every path exercised, no target checked (CI runs it)"
SMOKE_NOTE = "smoke size: the figures above exercise every path and measure nothing; no target is checked"
