"""The two installs: the course's (``requirements.txt``, also Binder's) has no test tool, the tests' adds them, and
the README's two commands are the ones ``.ci/run`` uses."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def lines(name: str) -> list[str]:
    return [line.strip() for line in (REPO / name).read_text().splitlines() if line.strip() and line[0] != "#"]


def distribution(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()


TEST_TOOLS = {distribution(requirement) for requirement in PYPROJECT["project"]["optional-dependencies"]["test"]}


def test_the_course_installs_no_test_tool() -> None:
    assert lines("requirements.txt") == ["-e ."]
    assert lines("binder/requirements.txt") == ["-r ../requirements.txt"]
    course = {distribution(requirement) for requirement in PYPROJECT["project"]["dependencies"]}
    assert {"pytest", "nbval", "playwright", "schemathesis"} <= TEST_TOOLS
    assert not course & TEST_TOOLS


def test_the_tests_install_the_course_and_the_test_tools() -> None:
    assert lines("requirements-dev.txt") == ["-r requirements.txt", "-e .[test]"]


def test_no_kit_module_imports_a_test_tool() -> None:
    """Every kit module must import in the course's environment (Binder's test imports them all)."""
    modules = {tool.replace("-", "_") for tool in TEST_TOOLS} | {"_pytest"}
    for path in (REPO / "kit").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            assert not {name.split(".")[0] for name in names} & modules, f"{path} imports a test tool"


def test_ci_installs_and_tests_as_the_readme_says() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "pip install -r requirements.txt && jupyter lab notebooks/" in readme
    assert "pip install -r requirements-dev.txt && python -m pytest" in readme
    assert re.search(r"^pip install -r requirements-dev\.txt\b", ci, re.MULTILINE)
    assert re.search(r"^python -m pytest\b", ci, re.MULTILINE)
