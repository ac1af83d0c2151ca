"""Wall time of the whole notebook suite under nbval, and each notebook's share.

Runs ``python -m pytest notebooks`` (the pyproject's nbval options) in a subprocess, as CI does, and prints the
total wall time against the target (under 3 minutes on 2 cores) and the summed cell times per notebook, slowest
first. Run: ``python benchmarks/bench_notebooks.py [pytest arguments, e.g. notebooks/00_setup_check.ipynb]``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 180.0
DURATION = re.compile(r"^\s*([\d.]+)s (?:setup|call|teardown)\s+(notebooks/[^:]+\.ipynb)::")


def main(arguments: list[str]) -> int:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0",
               *(arguments or ["notebooks"])]
    started = time.perf_counter()
    result = subprocess.run(command, check=False, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - started
    per_notebook: dict[str, float] = defaultdict(float)
    for line in result.stdout.splitlines():
        match = DURATION.match(line)
        if match:
            per_notebook[match.group(2)] += float(match.group(1))
    summary = [line for line in result.stdout.splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
    print(f"command: {' '.join(command[1:])}")
    print(f"result:  {summary[-1].strip('= ') if summary else 'no summary (see pytest output)'}")
    print(f"wall time: {wall:.1f} s (target: under {TARGET_S:.0f} s) -> {'OK' if wall < TARGET_S else 'TOO SLOW'}")
    print("cell time per notebook (kernel start and sandbox start not included):")
    for name, seconds in sorted(per_notebook.items(), key=lambda item: -item[1]):
        print(f"  {seconds:6.1f} s  {name}")
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-2000:], sep="\n")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
