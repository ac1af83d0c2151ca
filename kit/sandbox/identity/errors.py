"""Entra's error responses: the ``AADSTSnnnn`` codes, the ``error`` values and the HTTP statuses the real service uses.

Every error body has the real shape (``error``, ``error_description`` ending with Trace ID / Correlation ID /
Timestamp, ``error_codes``, ``timestamp``, ``trace_id``, ``correlation_id``, ``error_uri``), so azure-identity shows
learners the same text they would see against login.microsoftonline.com.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from starlette.responses import JSONResponse

# The OAuth error value decides the status: invalid_client is 401, the others are 400 (RFC 6749 section 5.2);
# server_error is Entra's answer to a failure of its own, with HTTP 500.
STATUS_BY_ERROR = {"invalid_client": 401, "server_error": 500}


@dataclass(frozen=True)
class Aadsts:
    """One AADSTS code with its OAuth ``error`` value and message template; calling it gives the error to raise."""

    code: int
    error: str
    template: str

    def __call__(self, **values: object) -> EntraError:
        return EntraError(self, self.template.format(**values))


class EntraError(Exception):
    """An error to answer with; raised anywhere in request handling, turned into a response at the edge."""

    def __init__(self, kind: Aadsts, message: str) -> None:
        super().__init__(f"AADSTS{kind.code}: {message}")
        self.kind = kind
        self.message = message

    @property
    def status(self) -> int:
        """401 for ``invalid_client``, 400 for every other OAuth error, as Entra answers."""
        return STATUS_BY_ERROR.get(self.kind.error, 400)

    def body(self, correlation_id: str | None = None) -> dict[str, object]:
        """The JSON body in Entra's shape; the client's ``client-request-id`` becomes the correlation id."""
        trace_id, correlation = str(uuid.uuid4()), correlation_id or str(uuid.uuid4())
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
        return {
            "error": self.kind.error,
            "error_description": f"AADSTS{self.kind.code}: {self.message} Trace ID: {trace_id} "
                                 f"Correlation ID: {correlation} Timestamp: {stamp}",
            "error_codes": [self.kind.code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.kind.code}",
        }

    def response(self, correlation_id: str | None = None) -> JSONResponse:
        return JSONResponse(self.body(correlation_id), status_code=self.status, headers=NO_STORE)


NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}

SERVER_ERROR = Aadsts(
    50000, "server_error", "There was an error issuing a token or an issue with our sign-in service.")
TENANT_NOT_FOUND = Aadsts(
    90002, "invalid_tenant",
    "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the "
    "correct cloud. Check with your subscription administrator, this may happen if there are no active "
    "subscriptions for the tenant.")
TENANT_MALFORMED = Aadsts(
    900023, "invalid_request",
    "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain.")
MISSING_PARAMETER = Aadsts(
    900144, "invalid_request", "The request body must contain the following parameter: '{name}'.")
UNSUPPORTED_GRANT = Aadsts(
    70003, "unsupported_grant_type", "The app requested an unsupported grant type '{grant}'.")
APP_NOT_FOUND = Aadsts(
    700016, "unauthorized_client",
    "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the "
    "application has not been installed by the administrator of the tenant or consented to by any user in the "
    "tenant. You may have sent your authentication request to the wrong tenant.")
APP_DISABLED = Aadsts(
    7000112, "unauthorized_client", "Application '{client_id}'({name}) is disabled.")
WRONG_SECRET = Aadsts(
    7000215, "invalid_client",
    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not "
    "the client secret ID, for a secret added to app '{client_id}'.")
SECRET_EXPIRED = Aadsts(
    7000222, "invalid_client",
    "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys "
    "for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: "
    "https://aka.ms/certCreds.")
MISSING_SERVICE_PRINCIPAL = Aadsts(
    7000229, "invalid_client",
    "The client application {client_id} is missing service principal in the tenant {tenant}. See instructions "
    "here: https://go.microsoft.com/fwlink/?linkid=2225119")
NO_CREDENTIAL = Aadsts(
    7000218, "invalid_client",
    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
PUBLIC_CLIENT_WITH_CREDENTIAL = Aadsts(
    700025, "invalid_client",
    "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
NO_THUMBPRINT = Aadsts(
    50027, "invalid_request", "Invalid JWT token. No certificate thumbprint specified in token header.")
MALFORMED_ASSERTION = Aadsts(
    50027, "invalid_request", "Invalid JWT token. {reason}")
KEY_NOT_FOUND = Aadsts(
    700027, "invalid_client",
    "The certificate with identifier used to sign the client assertion is not registered on application. "
    "[Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}', Please visit the Azure "
    "Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'. Review the "
    "documentation at https://docs.microsoft.com/en-us/graph/deployments if you are not using a national cloud.]. "
    "Alternatively, SNI may be configured on the app. Please ensure that client assertion is being sent with the "
    "x5c claim in the JWT header.")
BAD_SIGNATURE = Aadsts(
    700027, "invalid_client",
    "Client assertion failed signature validation. [Reason - Key was found, but use of the key to verify the "
    "signature failed., Thumbprint of key used by client: '{thumbprint}', Found key 'Start={start}, End={end}']")
ASSERTION_TIME = Aadsts(
    700024, "invalid_client",
    "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, "
    "expiry time of assertion {exp}. Review the documentation at "
    "https://learn.microsoft.com/entra/identity-platform/certificate-credentials")
ASSERTION_AUDIENCE = Aadsts(
    700023, "invalid_client",
    "Client assertion audience claim does not match Realm issuer. Review the documentation at "
    "https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .")
ASSERTION_CLIENT_MISMATCH = Aadsts(
    700021, "invalid_client", "Client assertion application identifier doesn't match 'client_id' parameter.")
FIC_ISSUER = Aadsts(
    700211, "invalid_client",
    "No matching federated identity record found for presented assertion issuer '{issuer}'. Please check your "
    "federated identity credential Subject, Audience and Issuer against the presented assertion. "
    "https://learn.microsoft.com/entra/workload-id/workload-identity-federation")
FIC_AUDIENCE = Aadsts(
    700212, "invalid_client",
    "No matching federated identity record found for presented assertion audience '{audience}'. Please check "
    "your federated identity credential Subject, Audience and Issuer against the presented assertion. "
    "https://learn.microsoft.com/entra/workload-id/workload-identity-federation")
FIC_SUBJECT = Aadsts(
    700213, "invalid_client",
    "No matching federated identity record found for presented assertion subject '{subject}'. Check your "
    "federated identity credential Subject, Audience and Issuer against the presented assertion. "
    "https://learn.microsoft.com/entra/workload-id/workload-identity-federation")
FIC_SUBJECT_CASE = Aadsts(
    7002138, "invalid_client",
    "No matching federated identity record found for presented assertion subject '{subject}'. The subject matches "
    "with case-insensitive comparison, but not with case-sensitive comparison. Check your federated identity "
    "credential Subject, Audience and Issuer against the presented assertion. See documentation at: "
    "https://learn.microsoft.com/entra/workload-id/workload-identity-federation. See breaking change notification "
    "and remediation at: https://learn.microsoft.com/en-us/entra/identity-platform/reference-breaking-changes"
    "#august-2024.")
FIC_SIGNATURE = Aadsts(
    50013, "invalid_client", "Assertion failed signature validation. [Reason - {reason}]")
SCOPE_NOT_DEFAULT = Aadsts(
    1002012, "invalid_scope",
    "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with "
    "/.default suffixed to the resource identifier (application ID URI).")
MULTIPLE_RESOURCES = Aadsts(
    700022, "invalid_scope",
    "The provided value for the input parameter scope is not valid because it contains more than one resource. "
    "Scope {scope} is not valid.")
RESOURCE_NOT_FOUND = Aadsts(
    500011, "invalid_resource",
    "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the "
    "application has not been installed by the administrator of the tenant or consented to by any user in the "
    "tenant. You might have sent your authentication request to the wrong tenant.")
AUTHORIZATION_PENDING = Aadsts(
    70016, "authorization_pending",
    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
DEVICE_CODE_EXPIRED = Aadsts(
    70019, "expired_token", "Verification code expired.")
BAD_DEVICE_CODE = Aadsts(
    70018, "bad_verification_code", "Invalid verification code entered.")
BAD_REFRESH_TOKEN = Aadsts(
    9002313, "invalid_grant", "Invalid request. Request is malformed or invalid.")
