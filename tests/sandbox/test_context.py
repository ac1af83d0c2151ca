"""The sandbox's parts share a typed context: every ``ctx`` parameter names its type, and the context has no
string-keyed registry where a typo would silently make a new entry."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

from kit.sandbox.context import SandboxContext
from kit.sandbox.hub.context import HubContext

SANDBOX = Path(__file__).resolve().parents[2] / "kit" / "sandbox"
CONTEXT_TYPES = {"SandboxContext", "HubContext"}


def ctx_annotations() -> dict[str, str]:
    """``module:function`` -> the annotation of its ``ctx`` parameter, for every function in the sandbox."""
    found = {}
    for path in SANDBOX.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for arg in node.args.args + node.args.kwonlyargs:
                    if arg.arg == "ctx":
                        where = f"{path.relative_to(SANDBOX)}:{node.name}"
                        found[where] = ast.unparse(arg.annotation) if arg.annotation else ""
    return found


def test_every_ctx_parameter_is_typed_as_a_context() -> None:
    annotations = ctx_annotations()
    assert len(annotations) > 50
    untyped = sorted(where for where, annotation in annotations.items() if annotation not in CONTEXT_TYPES)
    assert not untyped, f"type these ctx parameters as SandboxContext or HubContext: {untyped}"


def test_the_contexts_hold_typed_fields_only() -> None:
    for context in (SandboxContext, HubContext):
        names = {field.name for field in fields(context)}
        assert "services" not in names
        assert all(field.type not in ("Any", "dict[str, Any]") for field in fields(context))
    assert {"registry", "realism", "throttle", "collections", "auth"} <= {field.name for field in fields(HubContext)}
    assert {"directory", "tokens", "on_stop"} <= {field.name for field in fields(SandboxContext)}
