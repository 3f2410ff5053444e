"""Run the curated mutants of scripts/mutants.ini: each one edit to one guard, each killed by the tests it names.

For every mutant: copy the tree (tracked and untracked files, never .venv or .git) into a temporary directory,
replace the one occurrence of ``original`` in ``file`` (white space, line breaks included, matches any white
space, so a snippet may span lines of a statement) with ``mutant``, run only the named tests there, and put
the file back. A mutant is killed when those tests fail (pytest's exit status 1); it survives when they pass. The
named tests first run once on the unmutated copy and must pass, or a "kill" would prove nothing. A mutant whose
``original`` does not occur exactly once no longer applies (the guard moved or changed): that fails the run too,
so a moved guard moves its mutant in the same commit.

The installed package is an editable install of the checkout this runs from, so every pytest run is started in
the copy with the copy first on ``PYTHONPATH``, and a plugin written into the copy (``-p _mutant_check``) stops
the run unless ``flinks_sessions`` and the mutated module were imported from the copy and carry the edit. A
mutant whose file does not compile is an error, never a kill.

Usage: ``python scripts/mutants.py [--check | --show | --list] [--jobs N] [--table FILE] [NAME ...]``
(``scripts/check-mutants.sh`` runs it): ``--check`` only says whether every mutant still applies, ``--show``
prints each edit as a diff, ``--list`` the table as Markdown.
"""

# ruff: noqa: T201 - a command-line tool: its table goes to standard output
from __future__ import annotations

import argparse
import configparser
import difflib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "scripts" / "mutants.ini"
FIELDS = ("file", "guard", "protects", "original", "mutant", "tests")
TIMEOUT = 300  # seconds for one pytest run; a mutant that hangs its tests has not passed them

# Written into each copy and loaded with ``-p _mutant_check``: refuses to run against anything but the copy.
CHECK_PLUGIN = """
import hashlib
import importlib
import os
from pathlib import Path

import pytest


def pytest_collection_finish(session):
    root = Path(os.environ["FLINKS_MUTANT_ROOT"]).resolve()
    import flinks_sessions

    where = Path(flinks_sessions.__file__).resolve()
    if root not in where.parents:
        raise pytest.UsageError(f"mutant check: flinks_sessions was imported from {where}, not from {root}")
    target = os.environ.get("FLINKS_MUTANT_FILE", "")
    if target.endswith(".py"):
        module = importlib.import_module(target[: -len(".py")].replace("/", ".").removesuffix(".__init__"))
        origin = Path(module.__file__).resolve()
        if origin != root / target:
            raise pytest.UsageError(f"mutant check: {target} was imported from {origin}, not from the copy")
        if hashlib.sha256(origin.read_bytes()).hexdigest() != os.environ["FLINKS_MUTANT_SHA256"]:
            raise pytest.UsageError(f"mutant check: {origin} does not carry the mutant")
"""


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str
    guard: str
    protects: str
    original: str
    mutant: str
    tests: tuple[str, ...]


@dataclass
class Outcome:
    mutant: Mutant
    verdict: str  # killed, SURVIVED, NO LONGER APPLIES, ERROR
    seconds: float
    detail: str = ""


def load(path: Path = TABLE) -> list[Mutant]:
    parser = configparser.ConfigParser(delimiters=("=",), comment_prefixes=("#",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    if not parser.read(path, encoding="utf-8"):
        sys.exit(f"check-mutants: cannot read {path}")
    mutants = []
    for name in parser.sections():
        section = parser[name]
        missing = [field for field in FIELDS if not section.get(field, "").strip()]
        unknown = sorted(set(section) - set(FIELDS))
        if missing or unknown:
            sys.exit(f"check-mutants: [{name}] in {path.name}: missing {missing}, unknown {unknown}")
        mutants.append(
            Mutant(
                name=name,
                file=section["file"].strip(),
                guard=" ".join(section["guard"].split()),
                protects=" ".join(section["protects"].split()),
                original=section["original"].strip(),
                mutant=section["mutant"].strip(),
                tests=tuple(section["tests"].split()),
            )
        )
    return mutants


def copy_tree(into: Path) -> None:
    """The working tree as it is (tracked and untracked files, ignored ones left out), into ``into``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # a deleted tracked file is listed too
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    # Where the test settings keep their SQLite databases (scripts/test.sh makes it in the clone).
    (into / "var").mkdir(exist_ok=True)
    (into / "_mutant_check.py").write_text(CHECK_PLUGIN, encoding="utf-8")


def pytest(copy: Path, tests: tuple[str, ...], mutant: Mutant | None, sha256: str = "") -> tuple[int, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(copy), os.environ.get("PYTHONPATH", "")])),
        "PYTHONDONTWRITEBYTECODE": "1",
        "FLINKS_MUTANT_ROOT": str(copy),
        "FLINKS_MUTANT_FILE": mutant.file if mutant else "",
        "FLINKS_MUTANT_SHA256": sha256,
    }
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "_mutant_check"]
    command += ["--rootdir", str(copy), *tests]
    try:
        done = subprocess.run(  # noqa: S603
            command, cwd=copy, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        return -1, str(exc.stdout or "")
    return done.returncode, done.stdout + done.stderr


def tail(output: str, lines: int = 25) -> str:
    return "\n".join("    | " + line for line in output.strip().splitlines()[-lines:])


def pattern(original: str) -> re.Pattern[str]:
    """The original text, where any run of white space (line breaks and indentation too) matches any other."""
    return re.compile(r"\s+".join(re.escape(word) for word in original.split()))


def mutate(text: str, mutant: Mutant) -> str:
    """``text`` with the mutant's edit. Each line of a mutant after its first takes the indentation of the
    original's line in the same place (the table's continuation lines carry none), or of its last line."""

    def indent(line: str) -> str:
        return line[: len(line) - len(line.lstrip(" \t"))]

    def replace(match: re.Match[str]) -> str:
        first = indent(text[text.rfind("\n", 0, match.start()) + 1 :])
        indents = [first] + [indent(line) for line in match.group().split("\n")[1:]]
        lines = mutant.mutant.split("\n")
        return "\n".join(
            [lines[0]] + [indents[min(n, len(indents) - 1)] + line for n, line in enumerate(lines[1:], 1)]
        )

    return pattern(mutant.original).sub(replace, text, count=1)


def applies(mutant: Mutant, tree: Path) -> str:
    """Why the mutant cannot be applied to ``tree``, or ``""``."""
    path = tree / mutant.file
    if not path.is_file():
        return f"{mutant.file} does not exist"
    count = len(pattern(mutant.original).findall(path.read_text(encoding="utf-8")))
    if count != 1:
        return f"its original text occurs {count} times in {mutant.file} (must be exactly once)"
    if mutant.original == mutant.mutant:
        return "the mutant is the original text"
    if path.suffix == ".py":
        try:  # a "kill" by a broken import would prove nothing about the guard
            compile(mutate(path.read_text(encoding="utf-8"), mutant), str(path), "exec")
        except SyntaxError as exc:
            return f"the mutated file does not compile: {exc}"
    return ""


def run_mutant(mutant: Mutant, copy: Path) -> Outcome:
    started = time.monotonic()
    problem = applies(mutant, copy)
    if problem:
        return Outcome(mutant, "NO LONGER APPLIES", 0.0, problem)
    path = copy / mutant.file
    original = path.read_text(encoding="utf-8")
    mutated = mutate(original, mutant)
    path.write_text(mutated, encoding="utf-8")
    try:
        status, output = pytest(copy, mutant.tests, mutant, hashlib.sha256(mutated.encode()).hexdigest())
    finally:
        path.write_text(original, encoding="utf-8")
    seconds = time.monotonic() - started
    if status == 1:
        return Outcome(mutant, "killed", seconds)
    if status == -1:
        return Outcome(mutant, "killed", seconds, f"(timeout after {TIMEOUT} s)")
    if status == 0:
        return Outcome(mutant, "SURVIVED", seconds, tail(output, 5))
    return Outcome(mutant, "ERROR", seconds, f"pytest exit status {status}\n{tail(output)}")


def print_list(mutants: list[Mutant]) -> None:
    print("| mutant | file | guard it breaks | protects | killed by |")
    print("|---|---|---|---|---|")
    for m in mutants:
        tests = "<br>".join(f"`{t}`" for t in m.tests)
        print(f"| `{m.name}` | `{m.file}` | {m.guard} | {m.protects} | {tests} |")


def stale(mutants: list[Mutant]) -> bool:
    """Say which mutants no longer apply to the working tree; whether any does not."""
    found = [(m, why) for m in mutants if (why := applies(m, ROOT))]
    for m, why in found:
        print(f"check-mutants: mutant {m.name} no longer applies: {why}", file=sys.stderr)
    if found:
        print("check-mutants: move each mutant with its guard (scripts/mutants.ini)", file=sys.stderr)
    else:
        print(f"==> all {len(mutants)} mutants apply")
    return bool(found)


def run_all(mutants: list[Mutant], jobs: int) -> list[Outcome] | None:
    """The baseline, then every mutant, ``jobs`` at a time, each in a copy of its own; ``None`` on a bad table."""
    if stale(mutants):
        return None
    with tempfile.TemporaryDirectory(prefix="flinks-mutants-") as temp:
        copies = [Path(temp) / f"tree{n}" for n in range(jobs)]
        for copy in copies:
            copy_tree(copy)

        # The named tests, unmutated, shared out between the copies: every one must pass.
        tests = sorted({t for m in mutants for t in m.tests})
        print(f"==> the {len(tests)} named tests on the unmutated tree", flush=True)
        started = time.monotonic()
        with ThreadPoolExecutor(jobs) as pool:
            baseline = list(pool.map(lambda n: pytest(copies[n], tuple(tests[n::jobs]), None), range(jobs)))
        for status, output in baseline:
            if status != 0:
                print(
                    f"check-mutants: the named tests fail without any mutant:\n{tail(output)}",
                    file=sys.stderr,
                )
                return None
        print(f"    passed ({time.monotonic() - started:.0f} s)")

        free = list(copies)
        lock = threading.Lock()

        def one(mutant: Mutant) -> Outcome:
            with lock:
                copy = free.pop()
            try:
                return run_mutant(mutant, copy)
            finally:
                with lock:
                    free.append(copy)

        print(f"==> {len(mutants)} mutants, {jobs} at a time")
        print(f"{'mutant':40} {'tests':>5}  {'result':17} {'seconds':>7}")
        outcomes = []
        with ThreadPoolExecutor(jobs) as pool:
            for outcome in pool.map(one, mutants):
                outcomes.append(outcome)
                m = outcome.mutant
                line = f"{m.name:40} {len(m.tests):>5}  {outcome.verdict:17} {outcome.seconds:7.1f}"
                print(f"{line} {outcome.detail}".rstrip(), flush=True)
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="run only these mutants")
    parser.add_argument("--list", action="store_true", help="print the table as Markdown and exit")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at a time (default 2)")
    parser.add_argument("--check", action="store_true", help="only check that every mutant still applies")
    parser.add_argument("--show", action="store_true", help="print each mutant's edit as a diff and exit")
    parser.add_argument(
        "--table", type=Path, default=TABLE, help="another table (default scripts/mutants.ini)"
    )
    args = parser.parse_args()
    mutants = load(args.table)
    if args.names:
        unknown = set(args.names) - {m.name for m in mutants}
        if unknown:
            sys.exit(f"check-mutants: no such mutant: {', '.join(sorted(unknown))}")
        mutants = [m for m in mutants if m.name in args.names]
    if args.list:
        print_list(mutants)
        return 0
    if not mutants:
        sys.exit(f"check-mutants: no mutants in {args.table}")
    if args.check:
        return 1 if stale(mutants) else 0
    if args.show:
        for m in mutants:
            text = (ROOT / m.file).read_text(encoding="utf-8")
            diff = difflib.unified_diff(
                text.splitlines(True), mutate(text, m).splitlines(True), f"a/{m.file}", f"b/{m.file}", n=1
            )
            print(f"[{m.name}] {m.guard}\n{''.join(diff)}")
        return 0
    started = time.monotonic()
    outcomes = run_all(mutants, max(1, min(args.jobs, len(mutants))))
    if outcomes is None:
        return 1
    bad = [o for o in outcomes if o.verdict != "killed"]
    print(f"==> {len(outcomes) - len(bad)} of {len(outcomes)} killed in {time.monotonic() - started:.0f} s")
    if bad:
        names = ", ".join(f"{o.mutant.name} ({o.verdict})" for o in bad)
        print(f"check-mutants: not killed: {names}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
