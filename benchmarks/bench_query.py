"""Query-engine throughput: parse time, a filtered query and a GROUP BY over synthetic twins.

Prints rows per second; the hub streams up to 100,000 twins through ``matches``/``project`` and
``aggregate``. Run: ``python benchmarks/bench_query.py [--twins N]``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

from kit.sandbox.hub.query import parse

FILTERED = (
    "SELECT deviceId, properties.reported.batteryLevel AS battery FROM devices "
    "WHERE tags.location.region IN ['US', 'EU'] AND properties.reported.batteryLevel < 30 "
    "AND STARTSWITH(deviceId, 'dev-') AND NOT is_defined(tags.retired)"
)
GROUPED = (
    "SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS devices, "
    "AVG(properties.reported.batteryLevel) AS battery, MAX(properties.reported.batteryLevel) AS best "
    "FROM devices WHERE status = 'enabled' GROUP BY properties.reported.telemetryConfig.status"
)


def synthetic_twins(count: int, seed: int = 7) -> list[dict]:
    """Deterministic twins with the mix the queries filter and group on (missing keys, retired devices)."""
    rng = random.Random(seed)
    twins = []
    for index in range(count):
        tags = {"location": {"region": rng.choice(["US", "EU", "APAC", "LATAM"]), "plant": f"p{index % 50}"}}
        if index % 97 == 0:
            tags["retired"] = True
        reported = {
            "batteryLevel": rng.randint(0, 100),
            "telemetryConfig": {
                "status": rng.choice(["Success", "Pending", "Error"]),
                "sendFrequencyInSecs": 300,
            },
            "$metadata": {"$lastUpdated": "2024-01-01T00:00:00.000Z"},
            "$version": 3,
        }
        if index % 10 == 3:  # a group whose key is undefined
            del reported["telemetryConfig"]
        twins.append(
            {
                "deviceId": f"dev-{index:06d}",
                "status": "enabled" if index % 5 else "disabled",
                "connectionState": rng.choice(["Connected", "Disconnected"]),
                "lastActivityTime": f"2024-01-{1 + index % 28:02d}T00:00:00Z",
                "version": 1 + index % 7,
                "tags": tags,
                "properties": {
                    "desired": {"$metadata": {"$lastUpdated": "2024-01-01T00:00:00.000Z"}, "$version": 1},
                    "reported": reported,
                },
                "capabilities": {"iotEdge": False},
            }
        )
    return twins


def best_of(repeats: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeats`` runs (seconds) and what the last run returned."""
    timings, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        timings.append(time.perf_counter() - start)
    return min(timings), result


def report(label: str, twins: int, seconds: float, detail: str) -> None:
    rate = twins / seconds
    print(f"{label}: {twins:,} twins in {seconds * 1000:.0f} ms = {rate:,.0f} rows/s ({detail})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--twins", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    twins = synthetic_twins(args.twins)

    parse(FILTERED)  # builds the LALR tables once, as the first request of a running hub does
    parse_seconds, filtered = best_of(200, lambda: parse(FILTERED))
    print(f"parse + compile (filtered query, {len(FILTERED)} chars): {parse_seconds * 1e6:.0f} µs")

    seconds, rows = best_of(args.repeats, lambda: [filtered.project(t) for t in twins if filtered.matches(t)])
    report("filtered query", len(twins), seconds, f"{len(rows):,} matched")

    seconds, _ = best_of(args.repeats, lambda: _first_page(filtered, twins, 100))
    print(f"first page of 100 rows: {seconds * 1000:.1f} ms")

    grouped = parse(GROUPED)
    seconds, groups = best_of(args.repeats, lambda: grouped.aggregate(twins))
    report("GROUP BY query", len(twins), seconds, f"{len(groups)} groups")


def _first_page(query, twins: list[dict], size: int) -> list[dict]:
    rows = []
    for twin in twins:
        if query.matches(twin):
            rows.append(query.project(twin))
            if len(rows) == size:
                break
    return rows


if __name__ == "__main__":
    main()
