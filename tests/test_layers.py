"""The package's layers: a module never imports one of a higher layer, lazily or not (docs/architecture.md).

Every import statement of every module is read from its source (``ast``), those inside functions included, so
an import that would only run later still counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "flinks_sessions"

# The first name under flinks_sessions decides a module's layer. Lower numbers are lower layers.
LAYERS: dict[str, int] = {
    "__init__": 0,
    **dict.fromkeys(("status", "signals", "exceptions", "signatures", "conf", "checks", "task_checks"), 1),
    # Leaf helpers for the entry points and the client: bounded JSON and bodies, the client address, credentials.
    **dict.fromkeys(("safejson", "forwarding", "credentials", "bodies"), 1),
    **dict.fromkeys(("metrics", "tracing", "log_context"), 1),  # observability, beside conf
    **dict.fromkeys(("client", "models", "migrations"), 2),
    "services": 3,
    "tasks": 4,
    "sweeps": 5,
    **dict.fromkeys(("api", "webhooks", "admin", "management", "templatetags", "urls"), 6),
    "apps": 7,  # wires the layers together when Django starts
    **dict.fromkeys(("sandbox", "testing"), 8),  # development and test tools, outside production paths
    "contrib": 9,  # bridges to other apps (django-payments): they may use any layer, nothing imports them
}


def module_name(path: Path) -> str:
    parts = ["flinks_sessions", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1]] if len(parts) > 1 else LAYERS["__init__"]


def imported(module: str, path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for each of the package's modules that ``module`` imports, at any depth."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((node.lineno, candidate if candidate in MODULES else base))
    return [(line, name) for line, name in found if name.split(".")[0] == "flinks_sessions"]


def test_every_module_has_a_layer() -> None:
    unplaced = {name for name in MODULES if "." in name and name.split(".")[1] not in LAYERS}
    assert not unplaced, f"give these a layer in tests/test_layers.py: {sorted(unplaced)}"


def upward_imports(module: str, path: Path) -> list[str]:
    own = layer(module)
    upward = []
    for line, target in imported(module, path):
        theirs = layer(target)
        if theirs > own:
            upward.append(f"line {line}: {target} (layer {theirs})")
    return upward


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_higher_layer(module: str) -> None:
    upward = upward_imports(module, MODULES[module])
    assert not upward, f"{module} (layer {layer(module)}) imports upward: {upward}"


def test_the_check_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The services' old lazy import of the task layer, and a relative one, are both caught."""
    source = tmp_path / "intent.py"
    source.write_text(
        "def enqueue():\n"
        "    from flinks_sessions.tasks import enqueue_cancel\n"
        "    from ..sweeps import run\n"
        "from flinks_sessions.models import PaymentSession\n"
    )
    found = upward_imports("flinks_sessions.services.intent", source)
    assert found == [
        "line 2: flinks_sessions.tasks (layer 4)",
        "line 3: flinks_sessions.sweeps.run (layer 5)",
    ]
