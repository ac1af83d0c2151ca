"""Control-plane figures: what ``import kit.admin`` adds to a notebook's kernel, and the sandbox's Graph and ARM
round trips through kit.admin (the real azure-core pipeline and management SDKs, tokens cached after the first).

Import: a fresh interpreter imports ``kit.session`` (every notebook does), then ``kit.admin`` is timed, median of N.
Round trips, in a temporary sandbox: register an app, create its service principal, add a secret, assign a role
through ARM, delete the assignment, read the hub resource, list its keys, delete the app; median of N each.

    python benchmarks/bench_admin.py [-n 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable

from kit.sandbox import process

IMPORT = ("import time, kit.session, kit.credentials\n"
          "t = time.perf_counter(); import kit.admin; print(time.perf_counter() - t)")


def import_seconds(n: int) -> list[float]:
    """Seconds ``import kit.admin`` takes after ``kit.session``, each in a new interpreter."""
    return [float(subprocess.run([sys.executable, "-c", IMPORT], capture_output=True, text=True, check=True).stdout)
            for _ in range(n)]


def timed(step: Callable[[], object]) -> tuple[float, object]:
    began = time.perf_counter()
    result = step()
    return time.perf_counter() - began, result


def round_trips(n: int) -> dict[str, list[float]]:
    """Seconds of each admin step, ``n`` times, against a sandbox in a temporary folder."""
    import kit.admin
    from kit.credentials import admin_credential
    from kit.session import Session
    from kit.settings import Settings

    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        try:
            conn = process.start(folder)
            os.environ["REQUESTS_CA_BUNDLE"] = conn.ca_bundle
            session = Session(Settings.from_sandbox(conn), conn)
            admin = admin_credential(session)
            graph = kit.admin.graph(session, admin)
            auth = kit.admin.authorization_client(session, admin)
            hubs = kit.admin.iothub_client(session, admin)
            cloud = session.cloud
            graph.find_applications(app_id=conn.client_id)  # the first tokens (Graph, then ARM) are not timed
            hubs.iot_hub_resource.get(cloud.resource_group, cloud.hub_name)
            for _ in range(n):
                steps: dict[str, Callable[[], object]] = {}
                seconds, app = timed(lambda: graph.create_application(f"bench-{uuid.uuid4().hex[:6]}"))
                figures.setdefault("Graph: create application", []).append(seconds)
                seconds, sp = timed(lambda app=app: graph.create_service_principal(app.app_id))
                figures.setdefault("Graph: create service principal", []).append(seconds)
                steps["Graph: addPassword"] = lambda app=app: graph.add_password(app, "bench")
                steps["ARM: role assignment PUT"] = lambda sp=sp: kit.admin.assign_role(
                    session, admin, sp.object_id, "IoT Hub Data Reader")
                steps["ARM: role assignment DELETE"] = lambda sp=sp: kit.admin.remove_role(
                    session, admin, sp.object_id, "IoT Hub Data Reader")
                steps["ARM: hub GET"] = lambda: hubs.iot_hub_resource.get(cloud.resource_group, cloud.hub_name)
                steps["ARM: listkeys"] = lambda: list(hubs.iot_hub_resource.list_keys(cloud.resource_group,
                                                                                       cloud.hub_name))
                steps["Graph: delete application"] = lambda app=app: graph.delete_application(app)
                for name, step in steps.items():
                    figures.setdefault(name, []).append(timed(step)[0])
            auth.close()
        finally:
            process.stop(folder)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="repetitions of each figure")
    args = parser.parse_args()
    imports = import_seconds(args.n)
    print(f"import kit.admin after kit.session, n={args.n}: median {statistics.median(imports) * 1000:.0f} ms, "
          f"max {max(imports) * 1000:.0f} ms")
    for name, values in round_trips(args.n).items():
        print(f"{name:32} median {statistics.median(values) * 1000:6.1f} ms  max {max(values) * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
