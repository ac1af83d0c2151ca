"""Every committed notebook: no outputs or widget state, no secret or token in any cell, and the course conventions
of notebooks/README.md (header cell, the session cell first, a check after each failure shown on purpose, nothing
sandbox-only outside an ``if session.on_sandbox:`` guard).

``python tests/test_notebook_hygiene.py`` prints how many guarded sandbox-only cells each notebook has."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from tools.exercises import CHECK_TAG, EXERCISE_TAG, PLACEHOLDER_CALL

FOLDER = Path(__file__).resolve().parents[1] / "notebooks"
# the learner notebooks and the solution versions of those with exercises (notebooks/solutions/)
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb")) + sorted((FOLDER / "solutions").glob("*.ipynb"))
NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
# What exists only on the sandbox: its admin command line, its connection file, its managed-identity endpoint.
SANDBOX_ONLY = re.compile(r"%sandbox|kit\.sandbox|session\.connection|prepare_managed_identity")
GUARD = "session.on_sandbox"
LEAKS = {
    "a JWT (token or assertion)": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    "an Entra client secret": re.compile(r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_.-]{3}\dQ~[A-Za-z0-9_.~-]{31,34}"),
    "a shared access key": re.compile(r"SharedAccessKey=[A-Za-z0-9+/]{16,}={0,2}"),
    "a SAS signature": re.compile(r"SharedAccessSignature\s+\S*sig=[A-Za-z0-9%+/=]{16,}"),
    "a private key": re.compile(r"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----"),
    "a literal client secret": re.compile(r"client_secret\s*=\s*[\"'](?![^\"']*(?:<|wrong))[^\"']{12,}[\"']"),
}


def leaks(text: str) -> list[str]:
    return [f"{what}: {match.group(0)[:24]}..." for what, pattern in LEAKS.items() for match in pattern.finditer(text)]


def problems(notebook: nbformat.NotebookNode) -> list[str]:
    """What is wrong with a notebook as committed; empty when it is clean."""
    found = []
    if "widgets" in notebook.metadata:
        found.append("widget state in the notebook metadata (it can hold typed secrets)")
    for index, cell in enumerate(notebook.cells):
        where = f"cell {index}"
        if cell.cell_type == "code":
            if cell.get("outputs"):
                found.append(f"{where} has outputs (run nbstripout)")
            if cell.get("execution_count") is not None:
                found.append(f"{where} has an execution count (run nbstripout)")
        found += [f"{where} holds {leak}" for leak in leaks(cell.source)]
        for output in cell.get("outputs", []):
            found += [f"{where}'s output holds {leak}" for leak in leaks(json.dumps(output))]
    return found


def convention_problems(notebook: nbformat.NotebookNode) -> list[str]:
    found = []
    header = notebook.cells[0]
    if header.cell_type != "markdown" or not re.match(r"# \d\d · ", header.source):
        found.append("the first cell must be markdown starting '# NN · Title'")
    for heading in ("**Objectives**", "**Prerequisites:**", "**Estimated time:**"):
        if heading not in header.source:
            found.append(f"the first cell lacks {heading}")
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if not code_cells or "kit.session.begin(minimum_kit=" not in code_cells[0].source:
        found.append("the first code cell must call kit.session.begin(minimum_kit=...)")
    for index, cell in enumerate(code_cells):
        markers = nbval_markers(cell)
        if markers & SKIP:
            found.append(f"code cell {index} is skipped under nbval ({', '.join(sorted(markers & SKIP))}): "
                         "a cell that does not run checks nothing")
        if markers & EXPECTS_AN_ERROR and not unsolved_exercise(code_cells, index):
            following = code_cells[index + 1].source if index + 1 < len(code_cells) else ""
            if not CHECKS_THE_FAILURE.search(following):
                found.append(f"the failure shown in code cell {index} is not followed by kit.checks.failed_with(...)")
    return found


# Every way nbval is told to expect an error or to skip a cell: tags and comment markers.
EXPECTS_AN_ERROR = {"raises-exception", "nbval-raises-exception", "NBVAL_RAISES_EXCEPTION"}
SKIP = {"nbval-skip", "NBVAL_SKIP"}
CHECKS_THE_FAILURE = re.compile(r"^[^#\n]*\bkit\.checks\.failed_with\(", re.MULTILINE)


def unsolved_exercise(code_cells: list[nbformat.NotebookNode], index: int) -> bool:
    """An exercise cell of a learner notebook (its placeholder raises until the learner writes code) or the check
    cell right after it: they fail on purpose, and the check itself says what is wrong (tools/exercises.py)."""
    def exercise(cell: nbformat.NotebookNode) -> bool:
        return EXERCISE_TAG in cell.metadata.get("tags", []) and PLACEHOLDER_CALL in cell.source

    if CHECK_TAG in code_cells[index].metadata.get("tags", []):
        return index > 0 and exercise(code_cells[index - 1])
    return exercise(code_cells[index])


def nbval_markers(cell: nbformat.NotebookNode) -> set[str]:
    """The cell's tags and the nbval comment markers (``# NBVAL_...`` on a line of their own)."""
    comments = {line.strip().lstrip("#").strip() for line in cell.source.splitlines() if line.strip().startswith("#")}
    return set(cell.metadata.get("tags", [])) | {comment for comment in comments if comment.startswith("NBVAL_")}


def unguarded_sandbox_cells(notebook: nbformat.NotebookNode) -> list[int]:
    """Code cells (numbered as nbval numbers them) that reach for the sandbox without an on_sandbox guard."""
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    return [index for index, source in enumerate(code) if SANDBOX_ONLY.search(source) and GUARD not in source]


def guarded_cells(notebook: nbformat.NotebookNode) -> int:
    """Code cells that run something only under ``if session.on_sandbox:`` (they do nothing on real Azure)."""
    return sum(cell.cell_type == "code" and GUARD in cell.source for cell in notebook.cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: str(path.relative_to(FOLDER)))
def test_notebook_is_committed_clean(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert NAME.match(path.name), f"{path.name}: name it NN_short_name.ipynb"
    assert problems(notebook) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: str(path.relative_to(FOLDER)))
def test_notebook_follows_the_course_conventions(path: Path) -> None:
    assert convention_problems(nbformat.read(path, as_version=4)) == []


def test_there_are_notebooks_to_check() -> None:
    assert any(path.name.startswith("00_") for path in NOTEBOOKS)


def leaky_notebook() -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    jwt_like = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2lvdGh1YnMifQ.c2lnbmF0dXJl"
    cell = nbformat.v4.new_code_cell("token = credential.get_token(scope)\nprint(token.token)")
    cell.execution_count = 3
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=jwt_like + "\n")]
    notebook.cells = [
        cell,
        nbformat.v4.new_code_cell('client_secret = "Abc8Q~abcdefghijklmnopqrstuvwxyz0123456"'),
        nbformat.v4.new_markdown_cell("HostName=h.azure-devices.net;SharedAccessKeyName=iothubowner;"
                                      "SharedAccessKey=c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0Cg=="),
    ]
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return notebook


def test_the_scan_catches_outputs_tokens_secrets_and_widget_state() -> None:
    found = "\n".join(problems(leaky_notebook()))
    for expected in ("widget state", "cell 0 has outputs", "execution count", "cell 0's output holds a JWT",
                     "cell 1 holds an Entra client secret", "cell 1 holds a literal client secret",
                     "cell 2 holds a shared access key"):
        assert expected in found


def test_placeholders_and_deliberately_wrong_secrets_are_not_leaks() -> None:
    assert leaks('client_secret="<the secret Value>"') == []
    assert leaks('os.environ["AZURE_CLIENT_SECRET"] = "a-secret-that-is-wrong"') == []
    assert leaks("SharedAccessKey=<key>") == []


def test_the_conventions_check_catches_a_bare_notebook() -> None:
    notebook = nbformat.v4.new_notebook()
    failing = nbformat.v4.new_code_cell("1 / 0")
    failing.metadata["tags"] = ["raises-exception"]
    notebook.cells = [nbformat.v4.new_markdown_cell("# Title"), failing]
    found = "\n".join(convention_problems(notebook))
    assert "'# NN · Title'" in found and "**Objectives**" in found
    assert "kit.session.begin" in found and "not followed by kit.checks.failed_with" in found


def course_notebook(*code: str, tags: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """A notebook with a valid header and session cell, then ``code`` cells; the first gets ``tags``."""
    notebook = nbformat.v4.new_notebook()
    header = "# 98 · Test\n\n**Objectives**\n\n**Prerequisites:** none\n\n**Estimated time:** 1 minute."
    cells = [nbformat.v4.new_code_cell(source) for source in code]
    cells[0].metadata["tags"] = list(tags)
    notebook.cells = [nbformat.v4.new_markdown_cell(header),
                      nbformat.v4.new_code_cell('session = kit.session.begin(minimum_kit="0.1")'), *cells]
    return notebook


@pytest.mark.parametrize(("failing", "tags"), [
    ("1 / 0", ("raises-exception",)),
    ("1 / 0", ("nbval-raises-exception",)),
    ("# NBVAL_RAISES_EXCEPTION\n1 / 0", ()),
    ("  #  NBVAL_RAISES_EXCEPTION\n1 / 0", ()),
])
def test_every_form_of_expecting_an_error_needs_a_check_after_it(failing: str, tags: tuple[str, ...]) -> None:
    unchecked = convention_problems(course_notebook(failing, "print('next')", tags=tags))
    assert unchecked == ["the failure shown in code cell 1 is not followed by kit.checks.failed_with(...)"]
    in_a_comment = convention_problems(course_notebook(failing, "# kit.checks.failed_with('x')", tags=tags))
    assert in_a_comment == unchecked
    assert convention_problems(course_notebook(failing, 'kit.checks.failed_with("ZeroDivisionError")',
                                               tags=tags)) == []


def test_only_an_unsolved_exercise_and_its_check_may_fail_without_failed_with() -> None:
    notebook = course_notebook('import kit.exercises\nkit.exercises.write_here("98.1")', "kit.exercises.check_x(x)",
                               "print('next')", tags=(EXERCISE_TAG, "raises-exception"))
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    code[2].metadata["tags"] = [CHECK_TAG, "raises-exception"]
    assert convention_problems(notebook) == []
    code[1].source = "x = 1"  # tagged as an exercise without the placeholder: a failure shown like any other
    assert convention_problems(notebook) == [
        f"the failure shown in code cell {number} is not followed by kit.checks.failed_with(...)" for number in (1, 2)]


@pytest.mark.parametrize(("cell", "tags"), [("# NBVAL_SKIP\nslow()", ()), ("slow()", ("nbval-skip",))])
def test_a_cell_skipped_under_nbval_is_refused(cell: str, tags: tuple[str, ...]) -> None:
    found = convention_problems(course_notebook(cell, tags=tags))
    assert len(found) == 1 and "code cell 1 is skipped under nbval" in found[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: str(path.relative_to(FOLDER)))
def test_nothing_sandbox_only_runs_outside_a_guard(path: Path) -> None:
    assert unguarded_sandbox_cells(nbformat.read(path, as_version=4)) == [], \
        "put each sandbox-only step under `if session.on_sandbox:` and say in markdown what to do on Azure"


def test_the_guard_check_catches_a_bare_sandbox_command() -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("apps = %sandbox app list"),
                      nbformat.v4.new_code_cell("if session.on_sandbox:\n    %sandbox fleet --devices 10"),
                      nbformat.v4.new_code_cell("print(session.connection.amqp_note)")]
    assert unguarded_sandbox_cells(notebook) == [0, 2]
    assert guarded_cells(notebook) == 1


if __name__ == "__main__":
    for path in NOTEBOOKS:
        print(f"{guarded_cells(nbformat.read(path, as_version=4)):3d}  {path.name}")
