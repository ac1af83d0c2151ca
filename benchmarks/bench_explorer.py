"""Query explorer: seconds from pressing Run to a DataFrame of every twin, for 10,000 and 100,000 devices.

Starts a sandbox in a temporary state folder, grows its fleet with ``python -m kit.sandbox fleet --devices N``,
presses the explorer's Run button on ``SELECT * FROM devices`` with both page readers (the SDK's ``Twin`` models,
and ``json_page``: the same requests, decoded as JSON), prints the figures, and stops the sandbox.
Run: ``python benchmarks/bench_explorer.py [--devices 10000 100000] [--profile]``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from azure.identity import ClientSecretCredential
from azure.iot.hub import IoTHubRegistryManager

from kit import clients, explore
from kit.credentials import sandbox_kwargs
from kit.sandbox import process
from kit.sandbox.hub.limits import realism

os.environ.setdefault("KIT_PROGRESS", "text")


def grow(state_dir: Path, devices: int) -> float:
    """Grow the stopped sandbox's fleet through the CLI, as a learner would; returns the seconds it took."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kit.sandbox", "fleet", "--devices", str(devices),
                    "--state-dir", str(state_dir)], check=True, capture_output=True)
    return time.perf_counter() - started


def press_run(registry: IoTHubRegistryManager, fast: bool, profile: bool) -> tuple[float, int]:
    """Time one click on the explorer's Run button (optionally profiled): the wait a learner sees."""
    explorer = explore.explorer(registry, "SELECT * FROM devices", fast=fast)
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    started = time.perf_counter()
    explorer.run_button.click()
    elapsed = time.perf_counter() - started
    if profiler:
        profiler.disable()
        report = io.StringIO()
        pstats.Stats(profiler, stream=report).sort_stats("tottime").print_stats(8)
        print(report.getvalue())
    if explorer.frame is None:
        raise SystemExit(f"the query failed: {explorer.failure}")
    return elapsed, len(explorer.frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--profile", action="store_true", help="print the top functions of each run")
    args = parser.parse_args()
    state_dir = Path(tempfile.mkdtemp(prefix="bench-explorer-"))
    try:
        conn = process.start(state_dir)
        realism.switch_off(state_dir)  # measure the sandbox, not a tier's throttles or the query lag
        credential = ClientSecretCredential(conn.tenant_id, conn.client_id, conn.client_secret,
                                            **sandbox_kwargs(conn))
        with clients.closing(IoTHubRegistryManager.from_token_credential(conn.hub_host, credential)) as registry:
            print(f"{'devices':>8} {'grow s':>7} {'reader':>10} {'rows':>8} {'run→frame s':>12} {'rows/s':>8}")
            for devices in sorted(args.devices):
                grown = grow(state_dir, devices)
                for fast in (False, True):
                    elapsed, rows = press_run(registry, fast, args.profile)
                    print(f"{devices:>8,} {grown:>7.2f} {'json_page' if fast else 'SDK models':>10} {rows:>8,} "
                          f"{elapsed:>12.2f} {rows / elapsed:>8,.0f}", flush=True)
    finally:
        process.stop(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
