"""Reading the app's metrics the way a scraper would see them: every ``flinks_sessions_`` sample, by labels."""

from __future__ import annotations

from typing import Any

import pytest

from tests.extras import import_or_missing

prometheus_client = import_or_missing("prometheus_client", "the `metrics` extra is not installed")

Sample = tuple[str, tuple[tuple[str, str], ...]]


def samples() -> dict[Sample, float]:
    """Every sample of the app's counters and histograms in this process, keyed by name and sorted labels."""
    found: dict[Sample, float] = {}
    for family in prometheus_client.REGISTRY.collect():
        for sample in family.samples:
            if sample.name.startswith("flinks_sessions_") and not sample.name.endswith("_created"):
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def moved(before: dict[Sample, float], after: dict[Sample, float]) -> dict[Sample, float]:
    """What changed between two readings; of a histogram only its count (its sum and buckets are timings)."""
    return {
        key: after[key] - before.get(key, 0.0)
        for key in after
        if after[key] != before.get(key, 0.0) and not key[0].endswith(("_sum", "_bucket"))
    }


def sample(name: str, **labels: str) -> Sample:
    return (f"flinks_sessions_{name}", tuple(sorted(labels.items())))


@pytest.fixture
def metrics_reading() -> Any:
    return samples
