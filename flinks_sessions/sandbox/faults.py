"""Fault injection: the ways the real API misbehaves, on demand, so retries and recovery can be tested.

Random faults use one seedable generator so a benchmark run can be repeated; ``fail_next`` is a queue for
tests that need determinism ("the next two calls answer 503, then normal"). Settings may change at any time
from any thread (in-process or through ``/_sandbox/faults``); every decision is taken under one lock.
Faults only ever apply to ``/api/`` paths, never to the control routes or the hosted page.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

# Besides HTTP statuses, the ``fail_next`` queue understands these two words.
DROP = "drop"  # close the connection without answering
TIMEOUT = "timeout"  # wait ``timeout_seconds`` before answering

Outcome = int | str
T = TypeVar("T")


@dataclass
class FaultSettings:
    """Every knob at once; the JSON form (``to_dict``/``from_dict``) is what the control API speaks.

    ``paths`` narrows every fault, the ``fail_next`` queue included, to API paths containing one of the
    substrings. A 401 (from the queue or a rate) also revokes the bearer token the call carried.
    """

    latency: float = 0.0
    error_rates: dict[int, float] = field(default_factory=dict)
    retry_after: float | None = None
    timeout_rate: float = 0.0
    timeout_seconds: float = 5.0
    drop_rate: float = 0.0
    paths: list[str] | None = None
    fail_next: list[Outcome] = field(default_factory=list)
    seed: int | None = None

    def validate(self) -> FaultSettings:
        """Raise ``ValueError`` with a readable message when a value makes no sense; returns ``self``."""
        for name in ("latency", "timeout_seconds"):
            _non_negative(name, getattr(self, name))
        if self.retry_after is not None:
            _non_negative("retry_after", self.retry_after)
        for name in ("timeout_rate", "drop_rate"):
            _rate(name, getattr(self, name))
        for status, rate in self.error_rates.items():
            _status(status)
            _rate(f"error_rates[{status}]", rate)
        if sum(self.error_rates.values()) > 1.0 + 1e-9:
            raise ValueError("error_rates must add up to at most 1")
        for outcome in self.fail_next:
            _outcome(outcome)
        if self.paths is not None and not all(isinstance(path, str) and path for path in self.paths):
            raise ValueError("paths must be a list of non-empty strings or null")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError("seed must be an integer or null")
        return self

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["error_rates"] = {str(status): rate for status, rate in self.error_rates.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultSettings:
        """Build from JSON-like values; missing keys take their defaults, unknown keys are an error."""
        if not isinstance(data, dict):
            raise ValueError("fault settings must be a JSON object")
        known = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        values = dict(data)
        if "error_rates" in values:
            values["error_rates"] = _error_rates(values["error_rates"])
        if values.get("fail_next") is not None:
            if not isinstance(values["fail_next"], list):
                raise ValueError("fail_next must be a list")
            values["fail_next"] = [_outcome(item) for item in values["fail_next"]]
        else:
            values.pop("fail_next", None)
        for name in ("latency", "timeout_rate", "timeout_seconds", "drop_rate"):
            if name in values:
                values[name] = _float(name, values[name])
        if values.get("retry_after") is not None:
            values["retry_after"] = _float("retry_after", values["retry_after"])
        if values.get("paths") is not None and not isinstance(values["paths"], list):
            raise ValueError("paths must be a list of strings or null")
        return cls(**values).validate()


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one API call; ``kind`` names the fault for the request log."""

    delay: float = 0.0
    drop: bool = False
    status: int | None = None
    retry_after: float | None = None
    kind: str | None = None


NO_FAULT = FaultDecision()


def _float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{name} must be a number")
    try:
        return float(value)
    except ValueError as error:
        raise ValueError(f"{name} must be a number") from error


def _non_negative(name: str, value: float) -> None:
    if value < 0:
        raise ValueError(f"{name} must not be negative")


def _rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1")


def _status(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 400 <= value <= 599:
        raise ValueError(f"fault status must be an HTTP error status (400-599), not {value!r}")
    return value


def _outcome(value: object) -> Outcome:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in (DROP, TIMEOUT):
            return word
        if word.isdigit():
            return _status(int(word))
        raise ValueError(f"fail_next items are HTTP statuses, 'drop' or 'timeout', not {value!r}")
    return _status(value)


def _error_rates(value: object) -> dict[int, float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("error_rates must be an object of status -> rate")
    rates: dict[int, float] = {}
    for status, rate in value.items():
        try:
            code = int(status)
        except (TypeError, ValueError) as error:
            raise ValueError(f"error_rates key {status!r} is not an HTTP status") from error
        rates[_status(code)] = _float(f"error_rates[{status}]", rate)
    return rates


class _Setting(Generic[T]):
    """One setting of :class:`Faults` as an attribute: read (a copy, as ``read`` makes it) under the lock, and
    validated before it is written."""

    def __init__(self, read: Callable[[Any], T]) -> None:
        self._read = read

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, faults: Faults, owner: type | None = None) -> T:
        return self._read(faults._get(self._name))

    def __set__(self, faults: Faults, value: T) -> None:
        faults._set(self._name, value)


class Faults:
    """The live fault settings of one sandbox; every attribute may be read and assigned from any thread."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self._settings = _copy(settings or FaultSettings()).validate()
        self._random = random.Random(self._settings.seed)

    # -- whole settings --------------------------------------------------------------------------------------

    @property
    def settings(self) -> FaultSettings:
        """A copy of the current settings."""
        with self._lock:
            return _copy(self._settings)

    def replace(self, settings: FaultSettings) -> None:
        """Swap every setting at once (``POST /_sandbox/faults``); a given seed restarts the generator."""
        settings = _copy(settings).validate()
        with self._lock:
            self._settings = settings
            if settings.seed is not None:
                self._random.seed(settings.seed)

    def update(self, **changes: Any) -> None:
        """Change some settings, keep the others (``PATCH /_sandbox/faults``)."""
        current = self.settings.to_dict()
        current.update(changes)
        self.replace(FaultSettings.from_dict(current))

    def clear(self) -> None:
        """No faults at all (the seed is kept)."""
        with self._lock:
            self._settings = FaultSettings(seed=self._settings.seed)

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._settings.seed = seed
            self._random.seed(seed)

    def to_dict(self) -> dict[str, Any]:
        return self.settings.to_dict()

    def fail_next_calls(self, *outcomes: Outcome) -> None:
        """Append to the queue: the next API calls answer these statuses (or 'drop'/'timeout') in order."""
        cleaned = [_outcome(outcome) for outcome in outcomes]
        with self._lock:
            self._settings.fail_next.extend(cleaned)

    # -- single settings, as attributes ----------------------------------------------------------------------

    def _get(self, name: str) -> Any:
        with self._lock:
            value = getattr(self._settings, name)
            return copy_value(value)

    def _set(self, name: str, value: Any) -> None:
        candidate = dataclasses.replace(self.settings, **{name: copy_value(value)})
        if name == "fail_next":
            candidate.fail_next = [_outcome(item) for item in candidate.fail_next]
        candidate.validate()
        with self._lock:
            setattr(self._settings, name, getattr(candidate, name))

    latency = _Setting[float](float)
    error_rates = _Setting[dict[int, float]](dict)
    retry_after = _Setting[float | None](lambda value: None if value is None else float(value))
    timeout_rate = _Setting[float](float)
    timeout_seconds = _Setting[float](float)
    drop_rate = _Setting[float](float)
    paths = _Setting[list[str] | None](lambda value: None if value is None else list(value))
    fail_next = _Setting[list[Outcome]](list)

    # -- deciding --------------------------------------------------------------------------------------------

    def decide(self, path: str) -> FaultDecision:  # noqa: PLR0911 - one return per outcome
        """What happens to one API call on ``path``.

        The queue wins over random faults. Random faults always draw three numbers (drop, timeout, error) so
        that, with a seed, the sequence of outcomes does not depend on which faults are switched on.
        """
        with self._lock:
            settings = self._settings
            if settings.paths is not None and not any(part in path for part in settings.paths):
                return NO_FAULT
            delay = settings.latency
            if settings.fail_next:
                outcome = settings.fail_next.pop(0)
                if outcome == DROP:
                    return FaultDecision(delay=delay, drop=True, kind="drop")
                if outcome == TIMEOUT:
                    return FaultDecision(delay=delay + settings.timeout_seconds, kind="timeout")
                return self._error(int(outcome), delay)
            drop_draw, timeout_draw, error_draw = (self._random.random() for _ in range(3))
            if drop_draw < settings.drop_rate:
                return FaultDecision(delay=delay, drop=True, kind="drop")
            if timeout_draw < settings.timeout_rate:
                return FaultDecision(delay=delay + settings.timeout_seconds, kind="timeout")
            cumulative = 0.0
            for status, rate in sorted(settings.error_rates.items()):
                cumulative += rate
                if error_draw < cumulative:
                    return self._error(status, delay)
            return FaultDecision(delay=delay) if delay else NO_FAULT

    def _error(self, status: int, delay: float) -> FaultDecision:
        retry_after = self._settings.retry_after if status in (429, 503) else None
        return FaultDecision(delay=delay, status=status, retry_after=retry_after, kind="error")


def copy_value(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


def _copy(settings: FaultSettings) -> FaultSettings:
    return dataclasses.replace(
        settings,
        error_rates=dict(settings.error_rates),
        paths=None if settings.paths is None else list(settings.paths),
        fail_next=list(settings.fail_next),
    )
