"""REST routes of cloud-to-device messaging: the feedback queue and the purge of a device's queue.

``GET /messages/serviceBound/feedback`` answers 200 with a JSON array of feedback records and the batch's lock token
in the ``ETag`` header (quoted), as the hub does for messages received over HTTPS (``/devices/{id}/messages/
deviceBound``, whose lock token is the ETag); 204 when there is no feedback. The SDK's
``receive_feedback_notification`` discards both, so a plain HTTPS request is the way to see them.
UNCONFIRMED: the exact header the real service uses for the feedback lock token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from kit.sandbox.hub.devices import c2d
from kit.sandbox.hub.transport.http import hub_route, json_response, no_content, parse_etag

if TYPE_CHECKING:
    from kit.sandbox.hub.context import HubContext


def routes(ctx: HubContext) -> list[BaseRoute]:
    async def receive_feedback(request: Request) -> Response:
        batch = c2d.receive_feedback(ctx)
        if batch is None:
            return no_content()
        return json_response(batch.records, headers={
            "ETag": f'"{batch.lock_token}"',
            "iothub-deliverycount": str(batch.delivery_count),
            "iothub-enqueuedtime": c2d.utc_iso(batch.enqueued_at),
        })

    def lock_token(request: Request) -> str:
        return parse_etag(request.path_params["lock_token"]) or ""

    async def complete_feedback(request: Request) -> Response:
        c2d.complete_feedback(ctx, lock_token(request))
        return no_content()

    async def abandon_feedback(request: Request) -> Response:
        c2d.abandon_feedback(ctx, lock_token(request))
        return no_content()

    async def purge_queue(request: Request) -> Response:
        return json_response(c2d.purge(ctx, request.path_params["device_id"]))

    return [
        hub_route(ctx, "GET", "/messages/serviceBound/feedback", receive_feedback),
        hub_route(ctx, "DELETE", "/messages/serviceBound/feedback/{lock_token}", complete_feedback),
        hub_route(ctx, "POST", "/messages/serviceBound/feedback/{lock_token}/abandon", abandon_feedback),
        hub_route(ctx, "DELETE", "/devices/{device_id}/commands", purge_queue),
    ]
