"""Graph's edge: an unexpected failure in a route is answered in Graph's error envelope, not as a bare 500 page."""

from __future__ import annotations

from kit.sandbox.graph.http import CONTENT_TYPE, graph_endpoint
from tests.sandbox.failing_route import call_failing_route


def test_an_unexpected_exception_is_a_graph_general_exception() -> None:
    response = call_failing_route(graph_endpoint, "/graph/v1.0/applications", headers={"client-request-id": "c-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == CONTENT_TYPE
    error = response.json()["error"]
    assert error["code"] == "generalException"
    assert error["innerError"]["client-request-id"] == "c-1"
    assert error["innerError"]["request-id"] == response.headers["request-id"]
