"""SAS verification (kit/sandbox/hub/security/sas.py) against tokens built by the SDK's own code."""

from __future__ import annotations

import time

import pytest
from azure.iot.hub.sastoken import SasToken

from kit.sandbox.hub.security import sas
from kit.sandbox.hub.transport.errors import HubError

HOST = "localhost:8443"


@pytest.fixture
def policies():
    return {name: sas.Policy(name, frozenset(rights), sas.new_key(), sas.new_key())
            for name, rights in sas.DEFAULT_POLICIES.items()}


def test_rest_token_of_each_key_verifies(policies):
    owner = policies["iothubowner"]
    for key in (owner.primary_key, owner.secondary_key):
        assert sas.verify(policies, str(SasToken(HOST, key, "iothubowner")), (HOST,)) is owner


def test_amqp_style_token_with_raw_resource_verifies(policies):
    owner = policies["service"]
    expiry = str(int(time.time()) + 60)
    signature = sas.signature(owner.primary_key, HOST, expiry).decode()
    token = f"SharedAccessSignature sr={HOST}&sig={signature}&se={expiry}&skn=service"
    assert sas.verify(policies, token, (HOST,)) is owner


@pytest.mark.parametrize("mutate, fragment", [
    (lambda t: t.replace("&skn=iothubowner", ""), "missing skn"),
    (lambda t: t.replace("localhost", "otherhub"), "not this hub"),
    (lambda t: t.replace("sig=", "sig=x"), "does not match"),
])
def test_bad_tokens(policies, mutate, fragment):
    token = mutate(str(SasToken(HOST, policies["iothubowner"].primary_key, "iothubowner")))
    with pytest.raises(HubError, match=fragment) as caught:
        sas.verify(policies, token, (HOST,))
    assert caught.value.code == "IotHubUnauthorizedAccess" and caught.value.status == 401


def test_connection_string_hides_nothing_in_repr(policies):
    owner = policies["iothubowner"]
    assert owner.primary_key not in repr(owner)
    assert owner.connection_string(HOST) == (
        f"HostName={HOST};SharedAccessKeyName=iothubowner;SharedAccessKey={owner.primary_key}")
