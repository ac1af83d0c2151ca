"""IoT Hub's error replies: the classic envelope, the ``iothub-errorcode`` header and the numeric codes.

The real hub answers
``{"Message":"ErrorCode:<Name>;<text>","ExceptionMessage":"Tracking ID:<hex>-G:<n>-TimeStamp:<..>"}``
with the error name in the ``iothub-errorcode`` header, an ``x-ms-request-id`` and
``Content-Type: application/json; charset=utf-8``. The Python SDK exposes only the status line and
``response.text``, so the body is what a learner reads.
"""

from __future__ import annotations

import datetime as dt
import uuid

from starlette.responses import JSONResponse

from kit.sandbox.boundary import ServiceError

JSON_TYPE = "application/json; charset=utf-8"  # what the hub declares on every JSON reply, errors included

# Numeric codes, as the error catalogue lists them (troubleshoot-error-codes.md, 2026-01; IotHubServiceErrorCode in the
# C# service SDK). Names the catalogue does not list (RequestEntityTooLarge) use the generic code of their status.
ERROR_NUMBERS: dict[str, int] = {
    "InvalidProtocolVersion": 400001,
    "ArgumentInvalid": 400004,
    "ArgumentNull": 400005,
    "IotHubFormatError": 400006,
    "DeviceDefinedMultipleTimes": 400011,
    "BulkRegistryOperationFailure": 400013,
    "IotHubUnauthorizedAccess": 401002,
    "IotHubUnauthorized": 401003,
    "IotHubQuotaExceeded": 403002,
    "JobQuotaExceeded": 403003,
    "DeviceMaximumQueueDepthExceeded": 403004,
    "DeviceNotFound": 404001,
    "JobNotFound": 404002,
    "ModuleNotFound": 404010,
    "DeviceNotOnline": 404103,
    "ConfigurationNotFound": 404301,
    "DeviceAlreadyExists": 409001,
    "JobAlreadyExists": 409104,
    "ModuleAlreadyExistsOnDevice": 409301,
    "ConfigurationAlreadyExists": 409401,
    "PreconditionFailed": 412001,
    "DeviceMessageLockLost": 412002,
    "RequestEntityTooLarge": 413000,
    "MessageTooLarge": 413001,
    "TooManyDevices": 413002,
    "ConfigurationCountLimitExceeded": 413101,
    "ThrottlingException": 429001,
    "ThrottlingMaxActiveJobCountExceeded": 429004,
    "ServerError": 500001,
    "GatewayTimeout": 504101,
}


class HubError(ServiceError):
    """An error the hub answers with: HTTP status, the error name and a human message."""

    @property
    def number(self) -> int | None:
        """The numeric error code the hub pairs with ``code`` (e.g. 404001), when one is known."""
        return ERROR_NUMBERS.get(self.code)

    def body(self) -> dict[str, str]:
        """The hub's error body: ``Message`` holds ``ErrorCode:<code>;<text>``, which the SDK shows."""
        return {"Message": f"ErrorCode:{self.code};{self.message}", "ExceptionMessage": tracking_id()}

    def response(self) -> JSONResponse:
        """The error as the hub sends it, with the ``iothub-errorcode`` header clients branch on."""
        return JSONResponse(
            self.body(), status_code=self.status, media_type=JSON_TYPE,
            headers={"iothub-errorcode": self.code, "x-ms-request-id": str(uuid.uuid4())},
        )


def tracking_id() -> str:
    """An ``ExceptionMessage`` in the hub's "Tracking ID ... TimeStamp" form, unique per error."""
    now = dt.datetime.now(dt.UTC)
    return f"Tracking ID:{uuid.uuid4().hex}-G:0-TimeStamp:{now:%m/%d/%Y %H:%M:%S}"


def not_found_device(device_id: str) -> HubError:
    return HubError(404, "DeviceNotFound", f"Device {device_id} not registered")


def not_found_module(device_id: str, module_id: str) -> HubError:
    return HubError(404, "ModuleNotFound", f"Module {module_id} on device {device_id} not registered")


def precondition_failed(what: str, current: str, given: str) -> HubError:
    """412 for an ``If-Match`` etag that is no longer current: someone else changed it first."""
    return HubError(
        412, "PreconditionFailed",
        f"Precondition failed: {what} version did not match, existingVersion:{current} newVersion:{given}",
    )


def argument_invalid(message: str) -> HubError:
    """400 ArgumentInvalid, the hub's answer to most malformed input."""
    return HubError(400, "ArgumentInvalid", message)
