"""The app's Prometheus metrics, or stand-ins that do nothing when ``prometheus_client`` is not installed.

``pip install flinks-sessions[metrics]`` turns them on; without the extra every ``inc()``/``observe()`` is an
empty method call and nothing else of ours imports ``prometheus_client``. The names are a public, stable surface
(docs/deployment.md, "Metrics"): every one starts with ``flinks_sessions_``.

Counters and histograms live in ``prometheus_client``'s default registry, so under gunicorn with
``PROMETHEUS_MULTIPROC_DIR`` set each worker writes its own file and the ``/metrics`` view
(:mod:`flinks_sessions.api.metrics`) sums them. The backlog gauges are not kept here at all: they are read from
the database when scraped, which is right in every process model and costs four indexed aggregate queries.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

try:
    import prometheus_client
except ImportError:  # the `metrics` extra is not installed
    prometheus_client = None  # type: ignore[assignment]

PREFIX = "flinks_sessions_"

# Flinks answered, or did not answer at all: the ``status`` label of the request metrics.
ERROR_STATUS = "error"


class _Inert:
    """A metric that records nothing: what every metric is without ``prometheus_client``."""

    def labels(self, *values: str, **labels: str) -> _Inert:
        return self

    def inc(self, amount: float = 1) -> None:
        return None

    def observe(self, amount: float) -> None:
        return None


def enabled() -> bool:
    """Whether metrics are recorded (the ``metrics`` extra is installed)."""
    return prometheus_client is not None


def _counter(name: str, documentation: str, labels: tuple[str, ...]) -> Any:
    if prometheus_client is None:
        return _Inert()
    return prometheus_client.Counter(PREFIX + name, documentation, labels)


def _histogram(name: str, documentation: str, labels: tuple[str, ...]) -> Any:
    if prometheus_client is None:
        return _Inert()
    # From a fast token call on a warm connection to a read timeout with its retries.
    buckets = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
    return prometheus_client.Histogram(PREFIX + name, documentation, labels, buckets=buckets)


FLINKS_REQUESTS = _counter(
    "flinks_requests",
    "HTTP requests sent to Flinks, retries included; status is the HTTP status or 'error' (no answer).",
    ("endpoint", "status"),
)
FLINKS_REQUEST_DURATION = _histogram(
    "flinks_request_duration_seconds",
    "Time from sending a request to Flinks to its answer (or its failure), per attempt.",
    ("endpoint",),
)
FOREIGN_NOT_FOUND = _counter(
    "foreign_not_found",
    "404 answers that were not Flinks' own not-found body (a proxy's page, a BASE_URL with a wrong path): "
    "failed calls that mark no session.",
    ("endpoint",),
)
CANCELS = _counter(
    "cancels",
    "Cancel results, by who asked (beacon, admin, command, ...) and what came of it (cancelled, failed, ...).",
    ("source", "outcome"),
)
TRANSITIONS = _counter(
    "transitions",
    "Stored status transitions of sessions, by the state left, the state entered and who reported it.",
    ("from_status", "to_status", "source"),
)
WEBHOOKS = _counter(
    "webhooks",
    "Webhook requests by the outcome stored (applied, duplicate, invalid_signature, ...) or why none was.",
    ("outcome",),
)
BEACONS = _counter(
    "beacons",
    "Exit beacons by result: queued (a cancel was asked), repeated (nothing new), emailed (an e-Transfer still "
    "payable from its emailed Interac request: not cancelled), or the refusal.",
    ("result",),
)
RECOVERY = _counter(
    "recovery",
    "Abandoned-checkout recovery: notice_sent (an order's one notice), link_opened (its page shown), "
    "link_used (its Continue started the payment again).",
    ("event",),
)
ANNOUNCEMENT_FAILURES = _counter(
    "announcement_failures",
    "Announcements of a stored transition that a signal receiver raised on (the row is left failing).",
    ("kind",),
)


@dataclass(frozen=True)
class Reading:
    """One gauge value read at scrape time (by the ``/metrics`` view, from the database)."""

    name: str
    documentation: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)


class _Readings:
    """A collector of gauges read when scraped: ``read`` runs once per scrape, in the scraping process."""

    def __init__(self, read: Callable[[], Iterable[Reading]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        families: dict[str, Any] = {}
        for reading in self.read():
            family = families.get(reading.name)
            if family is None:
                family = families[reading.name] = GaugeMetricFamily(
                    PREFIX + reading.name, reading.documentation, labels=sorted(reading.labels)
                )
            family.add_metric([reading.labels[key] for key in sorted(reading.labels)], reading.value)
        yield from families.values()


class _Default:
    """This process's own metrics (the default registry), when gunicorn's multiprocess mode is off."""

    def collect(self) -> Iterator[Any]:
        assert prometheus_client is not None  # noqa: S101 - only registered when it is installed
        yield from prometheus_client.REGISTRY.collect()


def exposition(read: Callable[[], Iterable[Reading]], accept: str = "") -> tuple[bytes, str]:
    """The text a scrape gets, and its content type: the counters plus the gauges ``read`` returns.

    With ``PROMETHEUS_MULTIPROC_DIR`` set, the counters are the sum over every process's files (each gunicorn
    worker writes its own), as ``prometheus_client``'s multiprocess mode prescribes; otherwise they are this
    process's. A fresh registry per scrape keeps the database gauges out of the default registry, so they are
    read once per scrape and only by the process that answers it.
    """
    assert prometheus_client is not None  # noqa: S101 - callers check enabled() first
    from prometheus_client import multiprocess
    from prometheus_client.exposition import choose_encoder

    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Default())
    registry.register(_Readings(read))
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
