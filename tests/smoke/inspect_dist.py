"""What the built sdist and wheel must carry; run by ``scripts/package-smoke.sh`` (any Python ≥ 3.11, stdlib only).

    python tests/smoke/inspect_dist.py DIST_DIR SOURCE_ROOT

The wheel must hold every file of the package in the source tree (tracked or not ignored by git): code,
migrations, templates, static files, ``py.typed``, the sandbox, and the compiled catalogue next to every ``.po``
(Django reads only ``.mo``). Nothing else may ride along at the top level (no ``tests``). The sdist must hold
what a downstream packager needs to run the tests. Prints one line per finding and exits 1 on any problem.
"""

from __future__ import annotations

import email.parser
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

PACKAGE = "flinks_sessions"
# What would betray a broken build, whatever the tree looks like (named, so a failure message is obvious).
MUST_HAVE = (
    f"{PACKAGE}/__init__.py",
    f"{PACKAGE}/py.typed",
    f"{PACKAGE}/migrations/__init__.py",
    f"{PACKAGE}/migrations/0001_initial.py",
    f"{PACKAGE}/sandbox/__main__.py",
    f"{PACKAGE}/management/commands/flinks_cancel_sessions.py",
    f"{PACKAGE}/management/commands/flinks_sync_sessions.py",
)
# Summarised by kind, so the output shows at a glance that each kind made it into the wheel.
KINDS = {
    "migrations": f"{PACKAGE}/migrations/",
    "templates": f"{PACKAGE}/templates/",
    "static files": f"{PACKAGE}/static/",
    "sandbox modules": f"{PACKAGE}/sandbox/",
    "translation files": f"{PACKAGE}/locale/",
}
SDIST_MUST_HAVE = ("pyproject.toml", "README.md", "noxfile.py", "tests/conftest.py", "tests/settings.py")
SKIPPED_SOURCE = re.compile(r"(^|/)__pycache__/|\.py[co]$|(^|/)\.DS_Store$")


def source_files(root: Path) -> set[str]:
    """The package's files as git sees them (tracked, or new and not ignored); a plain walk outside git."""
    git = shutil.which("git")
    listed = (
        subprocess.run(  # noqa: S603 - git, read-only
            [git, "ls-files", "--cached", "--others", "--exclude-standard", "--", PACKAGE],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        if git
        else None
    )
    if listed is not None and listed.returncode == 0 and listed.stdout.strip():
        names = {line for line in listed.stdout.splitlines() if (root / line).is_file()}
    else:
        names = {path.relative_to(root).as_posix() for path in (root / PACKAGE).rglob("*") if path.is_file()}
    return {name for name in names if not SKIPPED_SOURCE.search(name)}


def check_wheel(wheel: Path, root: Path) -> list[str]:
    problems: list[str] = []
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata_name = next((name for name in names if name.endswith(".dist-info/METADATA")), None)
        metadata = (
            email.parser.Parser().parsestr(archive.read(metadata_name).decode()) if metadata_name else None
        )
    top_level = {name.split("/", 1)[0] for name in names}
    extra_top = {name for name in top_level if name != PACKAGE and not name.endswith(".dist-info")}
    if extra_top:
        problems.append(f"wheel: unexpected top-level entries {sorted(extra_top)}")
    for name in MUST_HAVE:
        if name not in names:
            problems.append(f"wheel: missing {name}")
    missing = sorted(source_files(root) - names)
    if missing:
        problems.append(f"wheel: {len(missing)} file(s) of the source package missing: {missing[:20]}")
    if any(SKIPPED_SOURCE.search(name) for name in names):
        problems.append("wheel: carries __pycache__ or compiled .pyc files")
    source = source_files(root)
    for label, prefix in KINDS.items():
        in_wheel = [name for name in names if name.startswith(prefix)]
        if in_wheel:
            print(f"wheel: {len(in_wheel)} {label}")
        elif any(name.startswith(prefix) for name in source):
            problems.append(f"wheel: no {label}, but the source package has them")
        else:
            print(f"wheel: no {label} (none in the source package yet)")
    for po in sorted(name for name in names | source if name.endswith(".po")):
        if po[:-3] + ".mo" not in names:
            problems.append(
                f"wheel: {po} has no compiled .mo beside it (run compilemessages before building)"
            )
    if metadata is None:
        problems.append("wheel: no METADATA")
    else:
        version = re.search(r'__version__ = "([^"]+)"', (root / PACKAGE / "__init__.py").read_text())
        if metadata["Name"] not in ("flinks-sessions", "flinks_sessions"):
            problems.append(f"wheel: Name is {metadata['Name']!r}")
        if version is None or metadata["Version"] != version.group(1):
            problems.append(f"wheel: Version {metadata['Version']!r} is not flinks_sessions.__version__")
        if not metadata["Requires-Python"]:
            problems.append("wheel: no Requires-Python")
        extras = set(metadata.get_all("Provides-Extra") or [])
        if not {"example", "django52"} <= extras:
            problems.append(f"wheel: extras {sorted(extras)} lack example/django52")
        print(
            f"wheel: {metadata['Name']} {metadata['Version']}, Requires-Python {metadata['Requires-Python']}, "
            f"extras {', '.join(sorted(extras))}"
        )
    print(f"wheel: {len(names)} entries checked against {len(source)} source files")
    return problems


def check_sdist(sdist: Path, root: Path) -> list[str]:
    problems: list[str] = []
    with tarfile.open(sdist) as archive:
        names = {member.name.split("/", 1)[1] for member in archive.getmembers() if "/" in member.name}
    for name in (*SDIST_MUST_HAVE, *MUST_HAVE):
        if name not in names:
            problems.append(f"sdist: missing {name}")
    for directory in ("tests", "example_project"):
        if (root / directory).is_dir() and not any(name.startswith(f"{directory}/") for name in names):
            problems.append(f"sdist: missing {directory}/")
    for leaked in (".venv", ".nox", "var", ".git"):
        if any(name == leaked or name.startswith(f"{leaked}/") for name in names):
            problems.append(f"sdist: carries {leaked}/")
    print(f"sdist: {len(names)} entries")
    return problems


def main(argv: list[str]) -> int:
    dist, root = Path(argv[0]), Path(argv[1])
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"expected one wheel and one sdist in {dist}, found {wheels + sdists}")
        return 1
    problems = check_wheel(wheels[0], root) + check_sdist(sdists[0], root)
    for problem in problems:
        print(f"PROBLEM {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
