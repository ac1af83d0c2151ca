"""The layers stay apart: the sandbox's identity and hub sides depend only on shared lower modules, never on each
other, and a learner module loads neither the sandbox's server, its AMQP engine nor its query grammar.

The first rule is read from the source (every ``import`` of every module); the second from
``python -X importtime``, which lists every module an import really loads, in a fresh interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[1] / "kit"
SIDES = ("identity", "hub")
CONTROL_PLANE = ("graph", "arm")  # views over both sides' stores: they may read either
WIRING = {"kit.sandbox.server", "kit.sandbox.cli", "kit.sandbox.__main__"}  # the top that joins the sides
LEARNER_MODULES = sorted(
    {f"kit.{path.stem}" for path in KIT.glob("*.py") if path.stem != "__init__"} | {"kit.admin", "kit.explore"})
NEVER_FOR_LEARNERS = ("kit.sandbox.server", "kit.sandbox.hub.transport.amqp", "kit.sandbox.hub.query",
                      "kit.sandbox.hub.side", "kit.sandbox.identity.side", "starlette", "uvicorn", "proton", "lark")


def module_name(path: Path) -> str:
    parts = path.relative_to(KIT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The ``kit`` modules ``path`` imports anywhere in its body (``from kit.x import y`` counts as ``kit.x.y``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("kit.")}


def sandbox_modules() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) for path in (KIT / "sandbox").rglob("*.py")}


def part_of(module: str) -> str:
    """``identity``, ``hub``, ``graph``, ``arm``, or ``shared`` for the modules at ``kit.sandbox``'s own level."""
    parts = module.split(".")
    return parts[2] if len(parts) >= 3 and parts[2] in SIDES + CONTROL_PLANE else "shared"


def test_both_sides_reach_role_assignments_through_the_shared_module() -> None:
    users = {part_of(module) for module, targets in sandbox_modules().items() if "kit.sandbox.rbac" in targets}
    assert {"identity", "hub", "arm"} <= users


@pytest.mark.parametrize("side", SIDES)
def test_a_side_never_imports_the_other_side_or_the_control_plane(side: str) -> None:
    others = {part for part in SIDES + CONTROL_PLANE if part != side}
    crossings = sorted(f"{module} -> {target}" for module, targets in sandbox_modules().items()
                       if part_of(module) == side for target in targets if part_of(target) in others)
    assert not crossings, "move what both sides need into a shared module under kit/sandbox/: " + ", ".join(crossings)


def test_shared_modules_import_no_side() -> None:
    crossings = sorted(f"{module} -> {target}" for module, targets in sandbox_modules().items()
                       if part_of(module) == "shared" and module not in WIRING
                       for target in targets if part_of(target) != "shared")
    assert not crossings, "a shared lower module leans on a side: " + ", ".join(crossings)


def test_learner_modules_load_no_server_amqp_or_query_grammar() -> None:
    statement = "; ".join(f"import {name}" for name in LEARNER_MODULES)
    run = subprocess.run([sys.executable, "-X", "importtime", "-c", statement],
                         capture_output=True, text=True, check=True, cwd=KIT.parent)
    loaded = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}
    assert "kit.credentials" in loaded and "kit.sandbox.identity.keys" in loaded
    forbidden = sorted(name for name in loaded if name in NEVER_FOR_LEARNERS or name.startswith(
        tuple(f"{prefix}." for prefix in NEVER_FOR_LEARNERS)))
    assert not forbidden, f"importing {', '.join(LEARNER_MODULES)} loads {', '.join(forbidden)}"
