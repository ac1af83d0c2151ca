"""Exercises: each learner notebook is exactly what tools/exercises.py makes from its solution version, every
notebook from 02 to 12 ends with one to three exercises, every check fails on its unsolved exercise (so no check
can pass by itself), and checks run against the sandbox tell a wrong answer what is wrong. nbval runs the solution
versions (every check passes) and the learner versions; the placeholder test reads the learner versions' outputs
from that run, or runs them itself when nbval did not."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from azure.identity import (
    ChainedTokenCredential,
    ClientSecretCredential,
    DefaultAzureCredential,
    EnvironmentCredential,
    ManagedIdentityCredential,
)
from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import Twin
from msrest.exceptions import HttpOperationError
from nbclient import NotebookClient

import kit.admin
import kit.exercises
from kit import clients
from kit.checks import CheckFailed
from kit.credentials import admin_credential
from kit.sandbox.connection import Connection
from kit.session import Session
from kit.settings import Settings
from tests import notebook_runs
from tools import exercises as generator

NOTEBOOKS = generator.NOTEBOOKS
SOLVED = sorted(generator.SOLUTIONS.glob("*.ipynb"))
WITH_EXERCISES = [f"{number:02d}" for number in range(2, 13)]  # one to three exercises each, at the end
CAPSTONE = "13"  # its exercises are the notebook


def test_every_learner_notebook_is_what_the_generator_makes() -> None:
    assert generator.build(check=True) == [], "edit notebooks/solutions/, then run: python tools/exercises.py"


@pytest.mark.parametrize("number", WITH_EXERCISES)
def test_notebook_ends_with_one_to_three_exercises(number: str) -> None:
    [solution] = [path for path in SOLVED if path.name.startswith(number + "_")]
    notebook = nbformat.read(solution, as_version=4)
    exercises = generator.exercises_in(notebook)
    assert 1 <= len(exercises) <= 3
    assert exercises == [f"{number}.{index}" for index in range(1, len(exercises) + 1)]
    sections = [cell.source.splitlines()[0] for cell in notebook.cells
                if cell.cell_type == "markdown" and cell.source.startswith("## ")]
    assert sections[-1] == "## Exercises", "the exercises come last, after the summary: nothing depends on them"
    for exercise in exercises:
        [text] = [cell.source for cell in notebook.cells if cell.source.startswith(f"### Exercise {exercise} ")]
        for part in ("**Goal.**", "**Time:** about", "**The check verifies**", "<details><summary>Second hint"):
            assert part in text, f"exercise {exercise} lacks {part}"


def test_the_learner_version_differs_only_in_the_solution_blocks() -> None:
    solution = nbformat.v4.new_notebook()
    solution.cells = [
        nbformat.v4.new_markdown_cell("### Exercise 98.1"),
        nbformat.v4.new_code_cell("import kit.exercises\nx = None\nif True:\n    # BEGIN SOLUTION 98.1\n    x = 42\n"
                                  "    # END SOLUTION\nprint(x)"),
        nbformat.v4.new_code_cell("kit.exercises.check_x(x)"),
        nbformat.v4.new_code_cell("cleanup()"),
    ]
    learner = generator.learner_version(solution)
    assert learner.cells[1].source == ('import kit.exercises\nx = None\nif True:\n'
                                       '    # Exercise 98.1: write your code here, in place of the next line.\n'
                                       '    kit.exercises.write_here("98.1")\nprint(x)')
    assert learner.cells[1].metadata["tags"] == ["exercise", "raises-exception"]
    assert learner.cells[2].metadata["tags"] == ["exercise-check", "raises-exception"]
    assert learner.cells[0] == solution.cells[0] and learner.cells[3] == solution.cells[3]
    assert learner.cells[2].source == solution.cells[2].source
    assert "tags" not in solution.cells[1].metadata  # the solution is left as it was


@pytest.mark.parametrize(("source", "problem"), [
    ("# BEGIN SOLUTION 98.1\nx = 1", "has no END SOLUTION"),
    ("x = 1\n# END SOLUTION", "line 2: END SOLUTION without BEGIN"),
    ("# BEGIN SOLUTION 98.1\n# BEGIN SOLUTION 98.2\n# END SOLUTION", "line 2: BEGIN SOLUTION inside exercise 98.1"),
    ("x = None\n# BEGIN SOLUTION 98.1\nx = 1\n# END SOLUTION", "needs `import kit.exercises`"),
])
def test_markers_that_do_not_pair_up_are_refused_with_their_line(source: str, problem: str) -> None:
    with pytest.raises(generator.SolutionFormatError, match=problem):
        generator.strip_solutions(source, "98_test.ipynb")


def test_an_exercise_cell_needs_a_check_cell_after_it() -> None:
    solution = nbformat.v4.new_notebook()
    solution.cells = [nbformat.v4.new_code_cell("import kit.exercises\n# BEGIN SOLUTION 98.1\nx = 1\n# END SOLUTION")]
    with pytest.raises(generator.SolutionFormatError, match="followed by its check cell"):
        generator.learner_version(solution)


def test_the_placeholder_names_its_exercise_and_where_help_is() -> None:
    with pytest.raises(kit.exercises.NotDone, match=r"Exercise 09\.1: write your code here.*second hint"):
        kit.exercises.write_here("09.1")


def exercise_cells(path: Path) -> dict[int, str]:
    """Code cell number -> the tag (exercise or exercise-check) of the learner notebook's exercise cells."""
    code = [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    return {number: tag for number, cell in enumerate(code) for tag in cell.metadata.get("tags", [])
            if tag in (generator.EXERCISE_TAG, generator.CHECK_TAG)}


def executed(path: Path) -> dict[int, list[dict]]:
    """The outputs of the learner notebook: from this session's nbval run, or from running it now."""
    if path in notebook_runs.EXECUTED:
        return notebook_runs.EXECUTED[path]
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=120, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute(env=dict(os.environ))
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    return {number: cell.outputs for number, cell in enumerate(code) if cell.execution_count is not None}


@pytest.mark.slow
@pytest.mark.after_notebooks
@pytest.mark.parametrize("number", [*WITH_EXERCISES, CAPSTONE])
def test_every_check_fails_on_its_unsolved_exercise(number: str) -> None:
    """Unsolved, the exercise cell raises NotDone and its check raises CheckFailed (what is wrong, with a hint), not
    a NameError or a service error: the check looked at the service and found the result missing."""
    [path] = [path for path in NOTEBOOKS.glob(f"{number}_*.ipynb")]
    cells = exercise_cells(path)
    assert cells, f"{path.name} has no exercise cells"
    outputs = executed(path)
    expected = {generator.EXERCISE_TAG: "NotDone", generator.CHECK_TAG: "CheckFailed"}
    raised = {number: [output.get("ename") for output in outputs.get(number, [])
                       if output.get("output_type") == "error"] for number in cells}
    assert raised == {number: [expected[tag]] for number, tag in cells.items()}


# --- Checks against the sandbox: a wrong answer fails with what is wrong, the right one passes -------------------

@pytest.fixture
def visited(registry: IoTHubRegistryManager) -> Iterator[str]:
    device_id = "ex-visits-" + uuid.uuid4().hex[:6]
    registry.create_device_with_sas(device_id, None, None, "enabled")
    yield device_id
    registry.delete_device(device_id)


def add_visit_with_star(registry: IoTHubRegistryManager, device_id: str) -> None:
    visits = (registry.get_twin(device_id).tags or {}).get("visits", 0)
    registry.update_twin(device_id, Twin(tags={"visits": visits + 1}), "*")


def add_visit_once(registry: IoTHubRegistryManager, device_id: str) -> None:
    twin = registry.get_twin(device_id)
    registry.update_twin(device_id, Twin(tags={"visits": twin.tags.get("visits", 0) + 1}), twin.etag)


def add_visit_retrying(registry: IoTHubRegistryManager, device_id: str) -> None:
    while True:
        try:
            return add_visit_once(registry, device_id)
        except HttpOperationError as error:
            if error.response.status_code != 412:
                raise


@pytest.mark.parametrize(("add_visit", "problem"), [
    (add_visit_with_star, "a lost update"),
    (add_visit_once, "add_visit failed: .*Precondition"),
    (None, "add_visit is still None"),
])
def test_an_update_that_loses_or_drops_a_visit_is_told_why(registry, visited, add_visit, problem) -> None:
    with pytest.raises(CheckFailed, match=problem):
        kit.exercises.check_etag_safe_update(registry, add_visit, visited)


def test_an_etag_safe_update_passes_and_both_visits_count(registry, visited) -> None:
    kit.exercises.check_etag_safe_update(registry, add_visit_retrying, visited)
    assert registry.get_twin(visited).tags["visits"] == 2


@pytest.mark.parametrize(("query", "problem"), [
    ("SELECT deviceId FROM devices WHERE connectionState = 'Disconnected'", r"not wanted \[[^\]]*'humidity-b-1'"),
    ("SELECT deviceId FROM devices WHERE tags.building = 'building-a'", r"not wanted \[[^\]]*'thermostat-a-1'"),
    ("SELECT deviceId FROM devices WHERE tags.building = ", "The hub refused the query"),
])
def test_a_query_that_finds_the_wrong_devices_names_them(registry, query: str, problem: str) -> None:
    with pytest.raises(CheckFailed, match=problem):
        kit.exercises.check_offline_query(registry, query, "building-a")


def test_the_query_for_the_silent_devices_passes(registry) -> None:
    kit.exercises.check_offline_query(
        registry, "SELECT deviceId FROM devices WHERE tags.building = 'building-a' AND connectionState = "
                  "'Disconnected'", "building-a")


def test_a_chain_with_developer_or_no_managed_identity_is_refused() -> None:
    with pytest.raises(CheckFailed, match="A developer credential could answer: SharedTokenCacheCredential"):
        kit.exercises.check_production_chain(DefaultAzureCredential())
    with pytest.raises(CheckFailed, match="no ManagedIdentityCredential"):
        kit.exercises.check_production_chain(ChainedTokenCredential(EnvironmentCredential()))
    assert kit.exercises.check_production_chain(
        ChainedTokenCredential(EnvironmentCredential(), ManagedIdentityCredential())) == [
        "EnvironmentCredential", "ManagedIdentityCredential"]


def test_a_chain_with_more_than_the_environment_is_told_which_links_are_left() -> None:
    with pytest.raises(CheckFailed, match="still tries EnvironmentCredential, WorkloadIdentityCredential"):
        kit.exercises.check_only_link(DefaultAzureCredential(exclude_managed_identity_credential=True), None,
                                      "EnvironmentCredential", "client")


@pytest.mark.parametrize(("query", "problem"), [
    ("SELECT tags.building AS building, COUNT() AS devices FROM devices GROUP BY tags.building", "Expected \\{"),
    ("SELECT tags.building, COUNT() FROM devices WHERE connectionState = 'Disconnected' GROUP BY tags.building",
     "not building and devices"),
])
def test_a_per_building_count_of_the_wrong_devices_or_columns_is_refused(registry, query: str, problem: str) -> None:
    with pytest.raises(CheckFailed, match=problem):
        kit.exercises.check_offline_per_building(registry, query)


def test_the_offline_count_per_building_passes(registry) -> None:
    kit.exercises.check_offline_per_building(
        registry, "SELECT tags.building AS building, COUNT() AS devices FROM devices "
                  "WHERE connectionState = 'Disconnected' GROUP BY tags.building")


def test_a_role_that_allows_more_or_a_second_role_is_not_least_privilege(sandbox: Connection, propagation) -> None:
    session = Session(Settings.from_sandbox(sandbox), sandbox)
    admin = admin_credential(session)
    graph = kit.admin.graph(session, admin)
    authorization = kit.admin.authorization_client(session, admin)
    hub_id = session.cloud.hub_resource_id
    app = graph.create_application("ex-tagger-" + uuid.uuid4().hex[:6])
    principal = graph.create_service_principal(app).object_id
    secret = graph.add_password(app, "test").secret.get_secret_value()
    credential = ClientSecretCredential(sandbox.tenant_id, app.app_id, secret, authority=sandbox.authority_host,
                                        disable_instance_discovery=True)
    try:
        with propagation(0), clients.closing(
                IoTHubRegistryManager.from_token_credential(sandbox.hub_host, credential)) as tagger:
            def check() -> None:
                kit.exercises.check_least_privilege(authorization, hub_id, principal, "write twin tags", tagger)

            with pytest.raises(CheckFailed, match="holds no role"):
                check()
            kit.admin.assign_role(session, admin, principal, "IoT Hub Data Contributor")
            with pytest.raises(CheckFailed, match="not the least-privileged one that can write twin tags"):
                check()
            kit.admin.assign_role(session, admin, principal, "IoT Hub Twin Contributor")
            with pytest.raises(CheckFailed, match="holds 2 roles"):
                check()
            kit.admin.remove_role(session, admin, principal, "IoT Hub Data Contributor")
            check()
            assert "taggedBy" not in tagger.get_twin("thermostat-a-1").tags  # the check took its tag back
    finally:
        kit.admin.remove_role(session, admin, principal, "IoT Hub Twin Contributor")
        graph.delete_application(app)
