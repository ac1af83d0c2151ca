"""kit.clients: the five service clients from a token credential, host validation, clean closing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from msrest.exceptions import HttpOperationError

from kit import clients


@pytest.mark.parametrize("host, fragment", [
    ("https://myhub.azure-devices.net", "give the host name only, e.g. 'myhub.azure-devices.net'"),
    ("HostName=x;SharedAccessKeyName=y", "connection string"),
    ("my hub", "not a host name"),
    ("", "empty"),
])
def test_bad_hosts_name_the_field_and_the_fix(host, fragment):
    with pytest.raises(ValueError, match="host") as caught:
        clients.registry_manager(host, credential=None)
    assert fragment in str(caught.value)


def test_all_five_clients_work_against_the_sandbox(sandbox, credential):
    """One authenticated call with each client, answered by the hub (a refused token or a wrong route would raise)."""
    with clients.closing(clients.registry_manager(sandbox.hub_host, credential)) as registry:
        assert registry.get_twin("thermostat-a-1").device_id == "thermostat-a-1"
    with clients.closing(clients.job_manager(sandbox.hub_host, credential)) as jobs:
        assert jobs.query_scheduled_jobs(None, None).type == "jobResponse"
    with clients.closing(clients.configuration_manager(sandbox.hub_host, credential)) as configurations:
        assert isinstance(configurations.get_configurations(max_count=10), list)
    with clients.closing(clients.http_runtime_manager(sandbox.hub_host, credential)) as runtime:
        with pytest.raises(HttpOperationError) as no_lock:  # a lock token that holds nothing: the hub's own 412
            runtime.complete_feedback_notification("3f0c8f0e-0000-4000-8000-000000000000")
        assert no_lock.value.response.headers["iothub-errorcode"] == "DeviceMessageLockLost"
    with clients.closing(clients.digital_twin_client(sandbox.hub_host, credential)) as digital_twins:
        assert digital_twins.get_digital_twin("thermostat-c-1")["$metadata"]["$model"].startswith("dtmi:")
    assert registry.amqp_svc_client is None


def test_from_connection_string(sandbox):
    with clients.closing(clients.from_connection_string("registry", sandbox.hub_connection_string)) as registry:
        assert registry.get_device_registry_statistics().total_device_count >= 12
    with pytest.raises(ValueError, match="kind"):
        clients.from_connection_string("nothing", sandbox.hub_connection_string)
    with pytest.raises(ValueError, match="connection_string"):
        clients.from_connection_string("registry", "not one")


def test_no_warning_at_interpreter_exit(sandbox):
    script = textwrap.dedent(f"""
        import os
        os.environ["REQUESTS_CA_BUNDLE"] = {sandbox.ca_bundle!r}
        from kit import clients
        registry = clients.from_connection_string("registry", {sandbox.hub_connection_string!r})
        registry.get_service_statistics()
        clients.close(registry)
        clients.close(registry)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Exception ignored" not in result.stderr, result.stderr


def _connections_opened(client) -> int:
    """New TCP/TLS connections the client's kept HTTP session has opened (urllib3 counts them per pool)."""
    session = client.protocol.config.pipeline._sender.driver.session
    pools = session.get_adapter("https://").poolmanager.pools
    keys = pools.keys()  # the container refuses plain iteration
    return sum(pools[key].num_connections for key in keys)


def test_keep_alive_reuses_one_connection_until_closed(sandbox, credential):
    registry = clients.keep_alive(clients.registry_manager(sandbox.hub_host, credential))
    assert clients.keep_alive(registry) is registry  # twice is harmless
    for _ in range(5):
        assert registry.get_twin("thermostat-a-1").device_id == "thermostat-a-1"
    assert _connections_opened(registry) == 1
    clients.close(registry)
    assert registry.protocol.config.keep_alive is False
