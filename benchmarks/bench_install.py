"""The two installs: size on disk and wall time of ``pip install -r requirements.txt`` (the course, also Binder's)
and ``pip install -r requirements-dev.txt`` (the course plus the test tools), each into a fresh virtual environment.

Each environment is made with this interpreter's base Python in a temporary folder and installed with
``--no-cache-dir``, so pip's cache does not shorten the second run; the time depends on where pip finds the
packages (PyPI, or a local index in pip.conf). Run from the repository's folder:
``python benchmarks/bench_install.py [--keep]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILES = ("requirements.txt", "requirements-dev.txt")


def disk_usage(path: Path) -> int:
    """Bytes allocated on disk, as ``du`` counts them (each hard-linked or symlinked file once)."""
    return sum(item.lstat().st_blocks * 512 for item in path.rglob("*"))


def install(requirements: str, root: Path) -> tuple[float, int]:
    """Seconds of ``pip install -r requirements`` into a new environment under ``root``, and its disk usage."""
    venv = root / Path(requirements).stem
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], check=True)
    started = time.perf_counter()
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--no-cache-dir", "-r", requirements],
                   check=True, cwd=REPO)
    return time.perf_counter() - started, disk_usage(venv)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the environments (their folder is printed)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kit-bench-install-"))
    try:
        for requirements in FILES:
            seconds, size = install(requirements, root)
            print(f"{requirements:22} {size / 2**20:6.0f} MiB  {seconds // 60:.0f} min {seconds % 60:04.1f} s")
    finally:
        if args.keep:
            print("environments kept in", root)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
