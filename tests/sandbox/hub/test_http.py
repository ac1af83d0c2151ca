"""Request plumbing (kit/sandbox/hub/http.py): If-Match forms and the permission table."""

from __future__ import annotations

import pytest

from kit.sandbox.hub.http import parse_etag
from kit.sandbox.hub.permissions import permission_for


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
