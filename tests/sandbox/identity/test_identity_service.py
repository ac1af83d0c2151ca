"""The identity side's edge: an unexpected failure in an endpoint is answered as Entra answers its own failures."""

from __future__ import annotations

from types import SimpleNamespace

from kit.sandbox.identity.service import entra_endpoint
from tests.sandbox.failing_route import call_failing_route
from tests.sandbox.identity.conftest import assert_entra_error


def test_an_unexpected_exception_is_an_entra_server_error() -> None:
    response = call_failing_route(entra_endpoint, "/common/oauth2/v2.0/token",
                                  state=SimpleNamespace(directory=None),
                                  headers={"client-request-id": "c-1"})
    body = assert_entra_error(response, 500, 50000, "server_error")
    assert body["correlation_id"] == "c-1"
