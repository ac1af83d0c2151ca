"""Request plumbing (kit/sandbox/hub/transport/http.py): If-Match forms (the hub honours quoted etags only) and the
permission table."""

from __future__ import annotations

import pytest
from azure.iot.hub.models import Twin
from msrest.exceptions import HttpOperationError

from kit.sandbox.hub.limits import realism
from kit.sandbox.hub.security.permissions import permission_for
from kit.sandbox.hub.transport.http import if_match_condition, parse_etag
from tests.sandbox.hub.conftest import error_code


@pytest.mark.parametrize("header, etag", [
    ('"AAAAAAAAAAE="', "AAAAAAAAAAE="), ("AAAAAAAAAAE=", "AAAAAAAAAAE="), ('W/"MzE="', "MzE="),
    ("*", "*"), ('"*"', "*"), (None, None), ('""', None),
])
def test_if_match_forms(header, etag):
    assert parse_etag(header) == etag


def test_every_operation_needs_a_table_entry():
    assert permission_for("post", "/devices").data_actions == (
        "Microsoft.Devices/IotHubs/devices/write", "Microsoft.Devices/IotHubs/devices/delete")
    with pytest.raises(LookupError, match="permissions.py"):
        permission_for("GET", "/nowhere")


@pytest.mark.parametrize(("header", "compare_unquoted", "condition"), [
    ('"AAAAAAAAAAE="', False, "AAAAAAAAAAE="), ('W/"MzE="', False, "MzE="), ("*", False, "*"), ('"*"', False, "*"),
    ("AAAAAAAAAAE=", False, "*"), ("AAAAAAAAAAE=", True, "AAAAAAAAAAE="), (None, False, None), ("", False, None),
])
def test_if_match_honours_only_quoted_etags(header, compare_unquoted, condition):
    assert if_match_condition(header, compare_unquoted) == condition


def test_unquoted_wrong_etag_is_ignored_and_quoted_one_refused(hub, token_device, state_db):
    """Azure/azure-iot-sdk-python#754, Azure/azure-iot-sdk-node#606: the hub compares only a quoted etag."""
    patch = {"tags": {"owner": "a"}}
    unquoted = hub.call("PATCH", f"/twins/{token_device}", patch, headers={"If-Match": "AAAAAAAAAAA="})
    assert unquoted.status_code == 200 and unquoted.json()["tags"] == {"owner": "a"}
    quoted = hub.call("PATCH", f"/twins/{token_device}", patch, headers={"If-Match": '"AAAAAAAAAAA="'})
    assert quoted.status_code == 412 and error_code(quoted) == "PreconditionFailed"
    realism.ensure(state_db, {"unquoted_etags": "compared"})
    try:
        strict = hub.call("PATCH", f"/twins/{token_device}", patch, headers={"If-Match": "AAAAAAAAAAA="})
        assert strict.status_code == 412
    finally:
        realism.ensure(state_db, {"unquoted_etags": "ignored"})


def test_the_sdk_quotes_etags_so_a_stale_one_is_refused(token_registry, token_device):
    stale = token_registry.get_twin(token_device).etag
    token_registry.update_twin(token_device, Twin(tags={"step": 1}), stale)  # the SDK sends If-Match: "<etag>"
    with pytest.raises(HttpOperationError) as refused:
        token_registry.update_twin(token_device, Twin(tags={"step": 2}), stale)
    assert refused.value.response.status_code == 412
