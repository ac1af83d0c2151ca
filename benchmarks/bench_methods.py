"""Direct-method and job figures: the round trip of invoke_device_method through the real SDK (median and p95 over
N calls) and the time a twin-update job over the whole fleet takes to complete, polled as the official sample does.

Run: ``python benchmarks/bench_methods.py [--calls 200] [--devices 0]`` (a temporary state folder; ``--devices N``
grows the seeded 12-device fleet to N first).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from azure.identity import ClientSecretCredential
from azure.iot.hub.models import CloudToDeviceMethod, JobRequest, Twin, TwinProperties

from kit import clients
from kit.credentials import sandbox_kwargs
from kit.sandbox import process
from kit.sandbox.db import Database
from kit.sandbox.hub.devices import fleet
from kit.sandbox.hub.devices.registry import Registry
from kit.sandbox.hub.limits import realism


def percentile(values: list[float], fraction: float) -> float:
    """The sample nearest ``fraction`` (0..1) of the way through the sorted values, not interpolated."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="direct-method calls to time")
    parser.add_argument("--devices", type=int, default=0, help="grow the fleet to this many devices first")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder)
        if args.devices:
            db = Database.in_state_dir(state)
            registry = Registry(db)
            fleet.seed(registry)
            fleet.grow(registry, args.devices)
            db.close()
        conn = process.start(state)
        realism.switch_off(state)  # measure the sandbox, not a tier's throttles or the query lag
        try:
            os.environ["REQUESTS_CA_BUNDLE"] = conn.ca_bundle
            credential = ClientSecretCredential(conn.tenant_id, conn.client_id, conn.client_secret,
                                                **sandbox_kwargs(conn))
            method = CloudToDeviceMethod(method_name="getMaxMinReport", payload={}, response_timeout_in_seconds=5)
            with clients.closing(clients.registry_manager(conn.hub_host, credential)) as rm:
                rm.invoke_device_method("thermostat-a-1", method)  # warm up: token, connection
                times = []
                for _ in range(args.calls):
                    started = time.perf_counter()
                    rm.invoke_device_method("thermostat-a-1", method)
                    times.append((time.perf_counter() - started) * 1000)
                total = rm.get_device_registry_statistics().total_device_count
            print(f"invoke_device_method round trip over {args.calls} calls: median {statistics.median(times):.2f} ms, "
                  f"p95 {percentile(times, 0.95):.2f} ms")

            jobs = clients.job_manager(conn.hub_host, credential)
            request = JobRequest(job_id="bench-" + uuid.uuid4().hex[:8], type="scheduleUpdateTwin",
                                 start_time=datetime.datetime.now(datetime.UTC).replace(tzinfo=None).isoformat(),
                                 query_condition="*",
                                 update_twin=Twin(etag="*", properties=TwinProperties(desired={"bench": 1})))
            started = time.perf_counter()
            jobs.create_scheduled_job(request.job_id, request)
            while (job := jobs.get_scheduled_job(request.job_id)).status not in ("completed", "failed", "cancelled"):
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            print(f"twin-update job over {total:,} devices: {job.status} in {elapsed:.2f} s "
                  f"({job.device_job_statistics.succeeded_count:,} succeeded)")
        finally:
            process.stop(state)


if __name__ == "__main__":
    main()
