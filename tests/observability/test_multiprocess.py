"""Under gunicorn with two workers and ``PROMETHEUS_MULTIPROC_DIR``, a scrape sums what every worker counted."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.extras import import_or_missing
from tests.support import gunicorn as serve

import_or_missing("gunicorn", "gunicorn (the test extra) is not installed")
parser = import_or_missing("prometheus_client.parser", "the `metrics` extra is not installed")

pytestmark = pytest.mark.django_db(transaction=True)  # the workers read the test database's tables


def request(port: int, method: str, path: str) -> tuple[int, bytes]:
    """One request on a connection of its own, so that any worker may take it.

    Two sync workers take eight connections at a time, and a worker's first request loads the app: on a
    loaded CI machine one answer took over 10 s. The timeout only bounds a hang.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=b"{}", headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    with serve(
        "tests.observability.wsgi:application",
        tmp_path / "gunicorn.log",
        workers=2,
        options=["--graceful-timeout", "5"],
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    ) as server:
        yield server.port, metrics_dir


def test_a_scrape_sums_the_counters_of_both_workers(gunicorn: tuple[int, Path]) -> None:
    port, metrics_dir = gunicorn
    sent = 0
    # Unsigned webhooks (400, counted as missing_signature), many at once, until both workers have counted.
    with ThreadPoolExecutor(8) as pool:
        while len(list(metrics_dir.glob("counter_*.db"))) < 2:
            assert sent < 800, "one worker took every request"
            statuses = list(pool.map(lambda _: request(port, "POST", "/flinks/webhooks/")[0], range(40)))
            assert set(statuses) == {400}
            sent += len(statuses)
    workers = {path.stem.removeprefix("counter_") for path in metrics_dir.glob("counter_*.db")}
    assert len(workers) == 2

    status, body = request(port, "GET", "/metrics")

    assert status == 200
    families = {family.name: family for family in parser.text_string_to_metric_families(body.decode())}
    counted = {
        sample.labels["outcome"]: sample.value
        for sample in families["flinks_sessions_webhooks"].samples
        if sample.name == "flinks_sessions_webhooks_total"
    }
    assert counted == {"missing_signature": sent}
    assert [sample.value for sample in families["flinks_sessions_open_sessions_overdue"].samples] == [0]
