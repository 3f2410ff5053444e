"""The worker scenarios every task engine must pass, written once: each engine's test module runs them.

The app only speaks the Django Tasks API, so what makes a cancel exactly-once (the session claim, the stored
intent, the sweeps) must hold whatever engine delivers the task. An :class:`Engine` says how to start its real
worker processes, how to kill one, and how to read what ran where; the scenarios say what a shop is owed.
Signals fire in the worker processes, so "exactly once" is read from what every process shares: the audit
trail (one TRANSITION row per session) and the sandbox's request log (one accepted ``/cancel`` per session).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from io import StringIO
from pathlib import Path
from subprocess import Popen
from typing import Any, Protocol

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from flinks_sessions import services
from flinks_sessions.models import PaymentSession, SessionEvent
from tests.cancel_helpers import make_sessions, signal_log
from tests.distributed.worker_settings import CLAIM_TTL
from tests.support import ROOT, stop_processes, wait_for

WORKERS = 3
CANCELLED = PaymentSession.Status.CANCELLED
TRANSITION = SessionEvent.Kind.TRANSITION
QUEUED = 400  # cancels in the queued scenario: enough for three workers to race over every row
KILLED = 120  # sessions in the kill scenario: the victim is killed once 30% are done
STALL = 1.5  # seconds the sandbox holds every call once the victim is to be caught mid-cancel


@dataclass(frozen=True)
class Ran:
    """One finished task, as its engine reports it: the Django Tasks status, who ran it, what it returned."""

    status: str
    worker_ids: list[str]
    return_value: Any


class Engine(Protocol):
    """What a scenario needs from a task engine and its workers."""

    label: str  # printed with the figures: "db", "rq", "celery/rabbitmq"...
    names: list[str]  # the workers' names, as the engine records them on the tasks they run
    stall_paths: list[str] | None  # which API calls the sandbox stalls to catch the victim mid-cancel

    def workers(self, sandbox_url: str, log_dir: Path) -> AbstractContextManager[list[Popen[bytes]]]:
        """``WORKERS`` real worker processes, returned once every one of them takes tasks."""

    def finished_count(self) -> int:
        """Tasks that ran to an end (successful or failed)."""

    def survivors_count(self) -> int:
        """Tasks the surviving workers finished, after a kill (what the scenario waits for)."""

    def results(self) -> list[Ran]:
        """Every task that finished successfully or not, once each."""

    def running_on(self, worker: str) -> list[str]:
        """The session ids of the cancel tasks ``worker`` has started and not finished."""

    def kill(self, process: Popen[bytes]) -> None:
        """SIGKILL a worker the way a lost machine does: whatever it runs dies with it."""

    def assert_abandoned(self, held: PaymentSession, victim: str) -> None:
        """The engine's trace of the task its killed worker was running: left behind, never run again."""


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (Linux ``/proc``): a worker's work horse or pool process."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def kill_tree(process: Popen[bytes]) -> None:
    """SIGKILL a worker, then the children it runs tasks in: the task in flight dies with them."""
    descendants = children(process.pid)
    with suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)
    for pid in descendants:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()


def enqueue_cancels(sessions: list[PaymentSession]) -> None:
    """One ``request_cancel`` per session; the tasks reach the queue together when the transaction commits."""
    with transaction.atomic():
        for session in sessions:
            assert services.request_cancel(session, source="command", reason="distributed test")


def accepted_cancels(sandbox: Any) -> Counter[str]:
    """Cancels Flinks (the sandbox) answered 200, per path: the ones that ended a session."""
    return Counter(
        entry["path"] for entry in sandbox.log.filter(method="POST", path_suffix="/cancel", status=200)
    )


def cancel_path(session: PaymentSession) -> str:
    return f"/api/v2/sessions/{session.session_id}/cancel"


def attempts_per_session() -> Counter[int]:
    kind = SessionEvent.Kind.CANCEL_ATTEMPT
    return Counter(SessionEvent.objects.filter(kind=kind).values_list("session_id", flat=True))


def assert_each_cancelled_exactly_once(sandbox: Any, sessions: list[PaymentSession]) -> None:
    """The outcome the whole pool owes the shop, read from the database and from "Flinks"."""
    assert set(PaymentSession.objects.values_list("status", flat=True)) == {CANCELLED}
    assert not PaymentSession.objects.filter(cancel_claim__isnull=False).exists()  # no claim left behind
    transitions = Counter(SessionEvent.objects.filter(kind=TRANSITION).values_list("session_id", flat=True))
    assert transitions == Counter({session.pk: 1 for session in sessions})
    assert accepted_cancels(sandbox) == Counter({cancel_path(session): 1 for session in sessions})
    remote = {snapshot.session_id: snapshot.status for snapshot in sandbox.state.sessions()}
    assert {remote[str(session.session_id)] for session in sessions} == {"Cancelled"}


def reference(engine: Engine) -> str:
    """A reference prefix an EFT session takes (letters, digits, hyphens; 36 at most with its index)."""
    return re.sub(r"[^A-Z0-9]+", "-", engine.label.upper()).strip("-")[:24]


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    """Figures on the terminal even under capture (``-s`` not needed): what the closing table quotes."""
    with capsys.disabled():
        print(f"\n{line}")


def queued_cancels(engine: Engine, sandbox: Any, log_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """400 queued cancels, three workers on one queue: each cancel reaches Flinks once, all are shared.

    Nothing here takes a claim over (each session has one task and no sweep runs), so a crowded machine cannot
    make a call outlast its claim into a second one: these run beside the other tests, not in the serial part.
    """
    count = QUEUED
    sessions = make_sessions(sandbox, count, reference=reference(engine))

    with engine.workers(sandbox.url, log_dir):
        started = time.monotonic()
        enqueue_cancels(sessions)
        wait_for(
            lambda: engine.finished_count() == count,
            timeout=360,
            interval=0.2,
            message=f"{count} cancels to run",
        )
        elapsed = time.monotonic() - started

    # Flinks saw exactly one cancel per session, every one accepted, and nothing else was cancelled.
    cancels = sandbox.log.filter(method="POST", path_suffix="/cancel")
    assert len(cancels) == count
    assert {entry["status"] for entry in cancels} == {200}
    assert_each_cancelled_exactly_once(sandbox, sessions)
    sources = set(SessionEvent.objects.filter(kind=TRANSITION).values_list("source", "to_status"))
    assert sources == {("command", CANCELLED)}
    assert attempts_per_session() == Counter({session.pk: 1 for session in sessions})  # no held session tried

    # Every task ran once, on one worker, and each worker did a fair share.
    results = engine.results()
    assert len(results) == count
    assert {(ran.status, ran.return_value) for ran in results} == {("SUCCESSFUL", "cancelled")}
    assert {len(ran.worker_ids) for ran in results} == {1}
    share = Counter(ran.worker_ids[0] for ran in results)
    assert set(share) == set(engine.names), share
    assert min(share.values()) >= count // 10, f"a worker ran less than 10% of the tasks: {share}"
    report(
        capsys,
        f"{engine.label}, {WORKERS} workers: {count} cancels in {elapsed:.1f} s ({count / elapsed:.0f}/s), "
        f"{len(cancels)} reached Flinks, {len(accepted_cancels(sandbox))} sessions cancelled once, "
        f"share {sorted(share.values())}, token requests {sandbox.count(method='POST', path_suffix='/authorize')}",
    )


@dataclass
class Kill:
    """What happened around the victim's SIGKILL: the session it held and the calls the sandbox stalled."""

    sessions: list[PaymentSession]
    held: PaymentSession
    victim_call: str

    @property
    def held_path(self) -> str:
        return cancel_path(self.held)


def kill_a_worker_mid_cancel(
    engine: Engine,
    sandbox: Any,
    log_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    victim_call: str,
    *,
    then: Any,
) -> Kill:
    """SIGKILL one of three workers while its cancel call is in flight, and let the survivors finish.

    To kill it at a known point, the sandbox stalls the API calls for a moment once 30% are done (and, for
    ``lost``, then drops the connection unanswered, so Flinks never acts on it). The victim is killed as soon
    as the sandbox holds its call; the faults are then lifted, so the survivors' stalled calls complete (or are
    retried) normally. ``then(kill)`` runs while the survivors are still up, once they are done.
    """
    count = KILLED
    sessions = make_sessions(sandbox, count, reference=f"KILL-{reference(engine)}")
    by_session_id = {str(session.session_id): session for session in sessions}
    sandbox.faults.latency = 0.02
    victim_name = engine.names[0]

    # Which calls arrived during the stall: the sandbox decides each call's fault when it arrives.
    stalled: set[str] = set()
    decide = sandbox.faults.decide

    def recording_decide(path: str) -> Any:
        decision = decide(path)
        if decision.delay >= STALL:
            stalled.add(path)
        return decision

    monkeypatch.setattr(sandbox.faults, "decide", recording_decide)

    with engine.workers(sandbox.url, log_dir) as workers:
        victim = workers[0]
        enqueue_cancels(sessions)
        wait_for(
            lambda: engine.finished_count() >= count * 3 // 10, timeout=120, interval=0.02, message="30% done"
        )
        sandbox.faults.update(
            latency=STALL, drop_rate=1.0 if victim_call == "lost" else 0.0, paths=engine.stall_paths
        )

        def victims_stalled_call() -> PaymentSession | None:
            """The session whose /cancel the victim has sent and the sandbox is holding (so its fate is known)."""
            for session_id in engine.running_on(victim_name):
                session = by_session_id[session_id]
                if cancel_path(session) in stalled:
                    return session
            return None

        held = wait_for(
            victims_stalled_call, timeout=STALL, interval=0.005, message="the victim's stalled call"
        )
        engine.kill(victim)
        sandbox.faults.update(latency=0.02, drop_rate=0.0, paths=None)

        wait_for(
            lambda: engine.survivors_count() >= count - 1, timeout=120, interval=0.1, message="the survivors"
        )
        kill = Kill(sessions=sessions, held=held, victim_call=victim_call)
        # The victim's stalled call ends inside the sandbox on its own: applied, or dropped unanswered.
        wait_for(
            lambda: sandbox.log.filter(method="POST", path_suffix=kill.held_path),
            timeout=STALL + 5,
            message="the sandbox to finish the victim's stalled call",
        )
        then(kill)
    return kill


def the_sweeps_recover(engine: Engine, sandbox: Any, kill: Kill, capsys: pytest.CaptureFixture[str]) -> None:
    """The killed worker's cancel is left claimed; ``flinks_sync_sessions`` and ``--retry-failed`` end it, once.

    The sync learns what Flinks did; the retry sweep takes the dead claim over once it is older than the claim
    TTL and cancels what Flinks never saw.
    """
    held, count, victim_name = kill.held, len(kill.sessions), engine.names[0]
    engine.assert_abandoned(held, victim_name)
    held.refresh_from_db()
    assert held.status == PaymentSession.Status.INITIATED
    assert held.cancel_claim is not None
    assert held.cancel_claimed_at is not None
    results = [ran for ran in engine.results() if ran.status == "SUCCESSFUL"]
    assert len(results) == count - 1
    assert {ran.return_value for ran in results} == {"cancelled"}
    ran = Counter(ran.worker_ids[0] for ran in results)
    assert set(ran) == set(engine.names)  # the victim worked until it was killed
    remote_status = sandbox.state.get(str(held.session_id)).status
    assert remote_status == ("Cancelled" if kill.victim_call == "reached_flinks" else "Initiated")

    # Recovery, as cron runs it: learn what Flinks did, then retry the cancels nobody is working on any more.
    wait_for(
        lambda: timezone.now() - held.cancel_claimed_at > timedelta(seconds=CLAIM_TTL),
        timeout=CLAIM_TTL + 1,
        message="the dead claim to expire",
    )
    sync_out, cancel_out = StringIO(), StringIO()
    with signal_log() as signals:  # the sweeps run here, so their signals can be counted directly
        call_command("flinks_sync_sessions", stdout=sync_out, stderr=StringIO())
        call_command(
            "flinks_cancel_sessions", "--retry-failed", "--grace", "0s", stdout=cancel_out, stderr=StringIO()
        )
    if kill.victim_call == "reached_flinks":
        assert "Synced 1 of 1: 1 changed" in sync_out.getvalue()
        assert "Cancelled 0 of 0" in cancel_out.getvalue()
        recovered_by = "sync"
    else:
        assert "Synced 1 of 1: 0 changed, 1 unchanged" in sync_out.getvalue()
        assert "Cancelled 1 of 1: 1 cancelled" in cancel_out.getvalue()
        recovered_by = "command"
    assert signals.cancelled == Counter({held.pk: 1})
    assert signals.cancelled_sources == ["command"]  # the first asker stays on record

    assert_each_cancelled_exactly_once(sandbox, kill.sessions)
    event = SessionEvent.objects.get(session=held, kind=TRANSITION)
    assert (event.source, event.to_status) == (recovered_by, CANCELLED)
    dropped = assert_only_dropped_calls_repeat(sandbox, kill)
    accepted = accepted_cancels(sandbox)
    report(
        capsys,
        f"{engine.label}, worker SIGKILLed mid-cancel ({kill.victim_call}): {count} sessions, {len(accepted)} "
        f"cancelled at Flinks, max accepted cancels per session {max(accepted.values())}, recovered by "
        f"{recovered_by}, unanswered calls {sum(dropped.values())}",
    )


def assert_only_dropped_calls_repeat(sandbox: Any, kill: Kill) -> Counter[str]:
    """Unanswered (dropped) calls are the only extra /cancel requests: the victim's, and survivors' retried ones."""
    dropped = Counter(
        entry["path"]
        for entry in sandbox.log.filter(method="POST", path_suffix="/cancel")
        if entry["status"] is None
    )
    if kill.victim_call == "reached_flinks":
        assert not dropped
    else:
        assert dropped[kill.held_path] == 1
        assert sum(dropped.values()) <= WORKERS  # at most one call in flight per worker during the stall
        assert set(dropped) <= {cancel_path(session) for session in kill.sessions}
    return dropped


@contextmanager
def worker_processes(
    commands: list[list[str]], env: dict[str, str], log_dir: Path, *, marker: str, what: str, kill: Any
) -> Iterator[list[Popen[bytes]]]:
    """One process per command, each logging to ``log_dir``, returned once every log shows ``marker``.

    On exit: SIGTERM, then ``kill`` for any still up after 10 s.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    processes: list[Popen[bytes]] = []
    logs = [log_dir / f"{what.replace(' ', '-')}-{index}.log" for index in range(len(commands))]
    try:
        for command, path in zip(commands, logs, strict=True):
            with path.open("wb") as log:
                processes.append(
                    Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603 - ours
                )
        workers_ready(processes, logs, marker, what)
        yield processes
    finally:
        stop_processes(processes, kill)


def workers_ready(processes: list[Popen[bytes]], logs: list[Path], marker: str, what: str) -> None:
    """Wait until every worker's log shows ``marker``; fail with the logs if one of them exits first."""

    def all_ready() -> bool:
        for process in processes:
            if process.poll() is not None:
                text = "\n".join(path.read_text() for path in logs)
                raise AssertionError(f"a {what} exited with {process.returncode}:\n{text}")
        return all(marker in path.read_text() for path in logs)

    wait_for(all_ready, timeout=60, interval=0.1, message=f"every {what} to start")
