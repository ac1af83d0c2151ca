"""Concurrent writers through the real SDK: optimistic concurrency on one twin loses no update, and concurrent
creates of one device id have exactly one winner.

Each writer thread has its own registry manager (as separate programs would). A twin writer reads the twin, patches
it with the etag it read, and on 412 PreconditionFailed reads again and retries; every write increments the
writer's own desired key and a shared counter, so a lost update would show as a missing increment.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import Twin, TwinProperties
from msrest.exceptions import HttpOperationError

from kit import clients
from tests.reliability.reporting import report

SECTION = "concurrency"
WRITERS = 8
INCREMENTS = 10
CREATORS = 12


def _registry(sandbox, credential) -> IoTHubRegistryManager:
    return IoTHubRegistryManager.from_token_credential(sandbox.hub_host, credential)


def _patch_until_accepted(rm: IoTHubRegistryManager, device_id: str, key: str) -> int:
    """One increment of ``key`` and ``counter`` with If-Match; returns how many 412s it took."""
    conflicts = 0
    while True:
        twin = rm.get_twin(device_id)
        desired = twin.properties.desired
        patch = {key: desired.get(key, 0) + 1, "counter": desired.get("counter", 0) + 1}
        try:
            rm.update_twin(device_id, Twin(properties=TwinProperties(desired=patch)), twin.etag)
            return conflicts
        except HttpOperationError as error:
            if error.response.status_code != 412:
                raise
            conflicts += 1


def test_if_match_patches_lose_no_update(sandbox, contributor_credential, token_registry):
    device_id = f"concurrent-{uuid.uuid4().hex[:8]}"
    token_registry.create_device_with_sas(device_id, None, None, "enabled")
    start = token_registry.get_twin(device_id)
    start_version = start.properties.desired["$version"]
    barrier = threading.Barrier(WRITERS)

    def writer(index: int) -> int:
        with clients.closing(_registry(sandbox, contributor_credential)) as rm:
            barrier.wait()
            return sum(_patch_until_accepted(rm, device_id, f"writer{index}") for _ in range(INCREMENTS))

    with ThreadPoolExecutor(WRITERS) as pool:
        conflicts = sum(pool.map(writer, range(WRITERS)))

    final = token_registry.get_twin(device_id)
    desired = final.properties.desired
    accepted = WRITERS * INCREMENTS
    lost = accepted - desired["counter"]
    report(SECTION, f"{WRITERS} writers x {INCREMENTS} If-Match patches on one twin: {accepted} accepted, "
                    f"{conflicts} answered 412 and retried, lost updates: {lost}, desired $version "
                    f"{start_version} -> {desired['$version']}")
    assert conflicts > 0, "the writers never collided: the test did not exercise concurrency"
    assert desired["counter"] == accepted
    assert all(desired[f"writer{i}"] == INCREMENTS for i in range(WRITERS))
    assert desired["$version"] == start_version + accepted
    assert final.version == start.version + accepted


def test_concurrent_creates_of_one_id_have_one_winner(sandbox, contributor_credential):
    device_id = f"contested-{uuid.uuid4().hex[:8]}"
    barrier = threading.Barrier(CREATORS)

    def create(_: int) -> int:
        with clients.closing(_registry(sandbox, contributor_credential)) as rm:
            barrier.wait()
            try:
                rm.create_device_with_sas(device_id, None, None, "enabled")
                return 200
            except HttpOperationError as error:
                assert error.response.headers.get("iothub-errorcode") == "DeviceAlreadyExists"
                return error.response.status_code

    with ThreadPoolExecutor(CREATORS) as pool:
        statuses = sorted(pool.map(create, range(CREATORS)))
    report(SECTION, f"{CREATORS} simultaneous creates of one device id: {statuses.count(200)} created, "
                    f"{statuses.count(409)} answered 409 DeviceAlreadyExists")
    assert statuses == [200] + [409] * (CREATORS - 1)
