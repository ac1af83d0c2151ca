"""Make the learner notebooks from the solution notebooks.

Each notebook with exercises has one source, ``notebooks/solutions/NN_name.ipynb``, in which every exercise cell
holds its solution between ``# BEGIN SOLUTION NN.N`` and ``# END SOLUTION`` lines. The learner version,
``notebooks/NN_name.ipynb``, is the same notebook with each such block replaced by a placeholder that raises
``kit.exercises.NotDone`` naming the exercise. The exercise cell and the check cell after it are tagged
``raises-exception`` there (nbval then expects their errors: an unsolved exercise fails its check) and ``exercise`` or
``exercise-check``, which is how the hygiene test tells them apart from failures shown on purpose.

    python tools/exercises.py           # write every learner notebook
    python tools/exercises.py --check   # exit 1 when a committed learner notebook differs from what this makes
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"
BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION (?P<exercise>\d\d\.\d+)[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
EXPECTS_ERROR = "raises-exception"
EXERCISE_TAG, CHECK_TAG = "exercise", "exercise-check"
PLACEHOLDER_CALL = "kit.exercises.write_here("
IMPORT = re.compile(r"^import kit\.exercises$", re.MULTILINE)


class SolutionFormatError(ValueError):
    """A solution notebook's markers do not pair up."""


def placeholder(indent: str, exercise: str) -> list[str]:
    return [f"{indent}# Exercise {exercise}: write your code here, in place of the next line.",
            f"{indent}{PLACEHOLDER_CALL}\"{exercise}\")"]


def strip_solutions(source: str, where: str) -> tuple[str, list[str]]:
    """The cell's source with each solution block replaced by its placeholder, and the exercises it held."""
    lines, exercises, block = [], [], None
    for number, line in enumerate(source.splitlines(), 1):
        begin = BEGIN.match(line)
        if begin:
            if block is not None:
                raise SolutionFormatError(f"{where}, line {number}: BEGIN SOLUTION inside exercise {block}'s block")
            block = begin["exercise"]
            exercises.append(block)
            lines += placeholder(begin["indent"], block)
        elif END.match(line):
            if block is None:
                raise SolutionFormatError(f"{where}, line {number}: END SOLUTION without BEGIN SOLUTION NN.N")
            block = None
        elif block is None:
            lines.append(line)
    if block is not None:
        raise SolutionFormatError(f"{where}: exercise {block}'s block has no END SOLUTION line")
    if exercises and not IMPORT.search("\n".join(lines)):
        raise SolutionFormatError(f"{where}: the placeholder needs `import kit.exercises` in the cell, before the "
                                  "BEGIN SOLUTION line")
    return "\n".join(lines), exercises


def _tag(cell: nbformat.NotebookNode, *tags: str) -> None:
    cell.metadata["tags"] = list(dict.fromkeys([*cell.metadata.get("tags", []), *tags]))


def learner_version(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The learner's notebook: solutions out, the exercise and check cells tagged; everything else as it is."""
    notebook = copy.deepcopy(solution)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for index, cell in enumerate(code):
        source, exercises = strip_solutions(cell.source, f"{name}, code cell {index}")
        if not exercises:
            continue
        cell.source = source
        _tag(cell, EXERCISE_TAG, EXPECTS_ERROR)
        if index + 1 >= len(code) or BEGIN.search(code[index + 1].source):
            raise SolutionFormatError(f"{name}, code cell {index}: an exercise cell is followed by its check cell")
        _tag(code[index + 1], CHECK_TAG, EXPECTS_ERROR)
    return notebook


def exercises_in(solution: nbformat.NotebookNode) -> list[str]:
    return [match["exercise"] for cell in solution.cells if cell.cell_type == "code"
            for match in map(BEGIN.match, cell.source.splitlines()) if match]


def build(check: bool = False) -> list[Path]:
    """Write each learner notebook (or, with ``check``, only list those that differ); returns the paths."""
    changed = []
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        text = nbformat.writes(learner_version(nbformat.read(path, as_version=4), path.name)) + "\n"
        target = NOTEBOOKS / path.name
        if not target.exists() or target.read_text() != text:
            changed.append(target)
            if not check:
                target.write_text(text)
    return changed


def main(arguments: list[str]) -> int:
    check = "--check" in arguments
    changed = build(check)
    for path in changed:
        print(f"{'differs' if check else 'wrote'}: {path.relative_to(NOTEBOOKS.parent)}")
    if check and changed:
        print("Edit notebooks/solutions/, then run: python tools/exercises.py")
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
