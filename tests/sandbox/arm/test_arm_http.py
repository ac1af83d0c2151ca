"""ARM's edge: an unexpected failure in a route is answered in ARM's error envelope, not as a bare 500 page."""

from __future__ import annotations

from kit.sandbox.arm.http import JSON_TYPE, arm_endpoint
from tests.sandbox.failing_route import call_failing_route


def test_an_unexpected_exception_is_an_arm_internal_server_error() -> None:
    response = call_failing_route(arm_endpoint, "/arm/subscriptions")
    assert response.status_code == 500
    assert response.headers["content-type"] == JSON_TYPE
    assert response.json()["error"]["code"] == "InternalServerError"
    assert response.headers["x-ms-request-id"] == response.headers["x-ms-correlation-request-id"]
