"""One bearer check for three resources (kit/sandbox/bearer.py): each bad token is refused by Microsoft Graph, by ARM
and by the hub, each in its own words, and a good token for one of them is refused by the other two."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from kit.sandbox.connection import Connection
from kit.sandbox.db import Database
from kit.sandbox.identity import directory
from kit.sandbox.identity.issuance import ARM_RESOURCE, GRAPH_RESOURCE, IOT_HUB_RESOURCE, mint_access_token

OTHER_TENANT = "0b0b0b0b-1111-2222-3333-444444444444"


def user_object_id(sandbox: Connection) -> str:
    """The seeded user: IoT Hub Data Contributor on the hub and Owner of the subscription."""
    db = Database.in_state_dir(Path(sandbox.state_dir))
    try:
        return directory.first_user(db, sandbox.tenant_id).object_id
    finally:
        db.close()


def call(sandbox: Connection, resource: str, token: str) -> requests.Response:
    """A read on ``resource`` (Graph's applications, ARM's role assignments, the hub's statistics) with ``token``."""
    url, params = {
        GRAPH_RESOURCE: (f"{sandbox.graph_endpoint}/v1.0/applications", {}),
        ARM_RESOURCE: (f"{sandbox.arm_endpoint}{sandbox.hub_resource_id}/providers/Microsoft.Authorization/"
                       "roleAssignments", {"api-version": "2022-04-01"}),
        IOT_HUB_RESOURCE: (f"https://{sandbox.hub_host}/statistics/service", {"api-version": "2021-04-12"}),
    }[resource]
    return requests.get(url, params=params, headers={"Authorization": f"Bearer {token}"}, verify=sandbox.ca_bundle,
                        timeout=30)


def code_of(resource: str, response: requests.Response) -> str:
    if resource == IOT_HUB_RESOURCE:
        return response.headers.get("iothub-errorcode", "")
    return response.json()["error"]["code"] if response.content else ""


RESOURCES = (GRAPH_RESOURCE, ARM_RESOURCE, IOT_HUB_RESOURCE)
EXPECTED = {GRAPH_RESOURCE: "InvalidAuthenticationToken", ARM_RESOURCE: "InvalidAuthenticationToken",
            IOT_HUB_RESOURCE: "IotHubUnauthorizedAccess"}


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_good_token_is_accepted_only_by_its_own_resource(sandbox, resource):
    person = user_object_id(sandbox)
    token = mint_access_token(sandbox.state_dir, person, audience=resource)
    assert call(sandbox, resource, token).status_code in (200, 403)  # accepted (Graph: no scp, so 403)
    for other in RESOURCES:
        if other != resource:
            refused = call(sandbox, other, token)
            assert refused.status_code == 401, (other, refused.text)
            wanted = "InvalidAuthenticationTokenAudience" if other == ARM_RESOURCE else EXPECTED[other]
            assert code_of(other, refused) == wanted


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("case", ["expired", "forged", "another tenant", "not a JWT"])
def test_bad_tokens_are_refused_by_every_resource(sandbox, resource, case):
    person = user_object_id(sandbox)
    token = {
        "expired": lambda: mint_access_token(sandbox.state_dir, person, audience=resource,
                                             issued_at=time.time() - 7200, lifetime_s=600),
        "forged": lambda: mint_access_token(sandbox.state_dir, person, audience=resource, forged=True),
        "another tenant": lambda: mint_access_token(sandbox.state_dir, person, audience=resource,
                                                    tenant_id=OTHER_TENANT),
        "not a JWT": lambda: "eyJub3QiOiJhIGp3dCJ9",
    }[case]()
    refused = call(sandbox, resource, token)
    assert refused.status_code == 401, refused.text
    wanted = "ExpiredAuthenticationToken" if (resource, case) == (ARM_RESOURCE, "expired") else EXPECTED[resource]
    assert code_of(resource, refused) == wanted
