"""Turn an error from azure-identity, azure-iot-hub, the network or the sandbox into its cause and its fix.

Learners meet the same few dozen failures (wrong secret, missing role, untrusted CA, a host typed with https://...).
The catalogue below is keyed by the code the services send (an AADSTS number, an IoT Hub error name) or by a
recognisable client-side message, and it is the single source of ``docs/troubleshooting.md`` (regenerate with
``python -m kit.explain --markdown``). :func:`explain` never returns silently: for an error it does not know, it says
so in one line and shows the error's own message.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, replace
from typing import Any

from kit.sandbox.hub.security.permissions import OPERATIONS
from kit.sandbox.rbac import BUILT_IN_ROLES, Role

__all__ = [
    "CATALOGUE", "CLIENT", "CONTROL", "ENTRA", "HUB", "Explanation", "explain", "service_message",
    "troubleshooting_markdown"
]


@dataclass(frozen=True)
class Entry:
    """One known error: how to recognise it (``code`` or ``pattern``) and what to tell the learner."""

    code: str
    title: str
    cause: str
    fix: str
    pattern: str = ""  # a regular expression that recognises the error in a message, when there is no code


@dataclass(frozen=True)
class Explanation:
    """What went wrong and what to do, ready to print or to render in a notebook. ``message`` is the service's own
    words (Entra's error_description, the hub's Message) or the error's first line; ``details`` holds one line per
    credential of a chain. An unknown error has an empty ``code``."""

    code: str
    title: str
    cause: str
    fix: str
    message: str
    section: str = ""
    details: tuple[str, ...] = ()
    error_type: str = ""

    @property
    def known(self) -> bool:
        """Whether the catalogue has an entry for this error."""
        return bool(self.code)

    @property
    def network(self) -> bool:
        """Whether the request never reached the service (DNS, connection, TLS, proxy, timeout)."""
        return self.section == NETWORK

    def __str__(self) -> str:
        if not self.known:
            return f"kit.explain has no entry for this {self.error_type or 'error'}; its message: {self.message}"
        lines = [f"{self.code}: {self.title}", f"  cause: {self.cause}", f"  fix:   {self.fix}"]
        lines += [f"         {detail}" for detail in self.details]
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's plain-text form: the same as ``str``, so a text front end does not repeat the message."""
        printer.text(str(self))

    def _repr_markdown_(self) -> str:
        if not self.known:
            return f"*kit.explain has no entry for this {self.error_type or 'error'}; its message:* `{self.message}`"
        details = "".join(f"\n  - {detail}" for detail in self.details)
        return f"**{self.code}: {self.title}**\n\n- *Cause:* {self.cause}\n- *Fix:* {self.fix}{details}"


ENTRA = "Microsoft Entra ID (token endpoint)"
HUB = "IoT Hub (service REST API)"
CONTROL = "Microsoft Graph and Azure Resource Manager (app registrations, the hub resource, role assignments)"
NETWORK = "Reaching the service (DNS, connections, TLS, proxies)"
CLIENT = "On your machine (credentials, settings, client libraries)"

CATALOGUE: dict[str, list[Entry]] = {
    ENTRA: [
        Entry("AADSTS90002", "Tenant not found",
              "The tenant ID or domain does not exist in this cloud (often a placeholder left in the settings). "
              "azure-identity reports it as 'Unable to get authority configuration', without the code.",
              "Copy the Directory (tenant) ID from the app registration's Overview page, or use the sandbox's.",
              r"Unable to get authority configuration"),
        Entry("AADSTS900023", "Tenant identifier is not valid",
              "The tenant is neither a GUID nor a domain name.",
              "Use the tenant GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx) "
              "or a domain such as contoso.onmicrosoft.com."),
        Entry("AADSTS900144", "A required parameter is missing from the request",
              "The token request lacks a parameter the flow needs (the message names it, e.g. 'scope' or "
              "'client_id'). The SDK credentials always send them; a hand-written request may not.",
              "Add the named parameter, or let an azure-identity credential build the request."),
        Entry("AADSTS70003", "Grant type not supported",
              "The request's grant_type is not one this endpoint accepts (client_credentials, device code, "
              "refresh_token...).",
              "Use an azure-identity credential, which sends the right grant_type for its flow."),
        Entry("AADSTS700016", "Application not found in the directory",
              "The client ID is not an app registration in this tenant (wrong tenant, typo, or the app was deleted).",
              "Check the Application (client) ID and that it belongs to the tenant you sign in to."),
        Entry("AADSTS7000215", "Invalid client secret",
              "The secret does not match. Often the secret's ID was pasted instead of its value.",
              "Create a new secret and copy its Value (shown once), not its Secret ID."),
        Entry("AADSTS7000222", "Client secret expired",
              "Every secret has an end date; this one has passed.",
              "Add a new secret to the app registration (or move to a certificate or a federated credential)."),
        Entry("AADSTS7000218", "No client credential in the request",
              "The token request carried neither client_secret nor client_assertion.",
              "Give the credential a secret, a certificate or an assertion (check that the variable was not empty)."),
        Entry("AADSTS700025", "A public client sent a credential",
              "The app is registered as a public client (device code, interactive sign-in), so Entra ID refuses "
              "a client_secret or client_assertion from it.",
              "Drop the secret for a public-client flow, or use a confidential app registration for app-only "
              "tokens."),
        Entry("AADSTS7000229", "The app has no service principal in this tenant",
              "The app registration exists, but its service principal (its identity in the tenant) was never created: "
              "registering an app through Graph or 'az ad app create' makes only the application object.",
              "Create it: POST /servicePrincipals {\"appId\": ...} (kit.admin's create_service_principal), or "
              "az ad sp create --id <appId>."),
        Entry("AADSTS7000112", "Application is disabled",
              "An administrator disabled the app (or its service principal).",
              "Re-enable it, or use another app registration."),
        Entry("AADSTS50000", "Entra ID failed inside (500 server_error)",
              "An error of the sign-in service itself, not of your request (on the sandbox: an internal error, "
              "written with its traceback to the sandbox's log).",
              "Retry with backoff; azure-identity retries it for you. If it persists, check the Azure status page "
              "(on the sandbox: sandbox.log in its state folder)."),
        Entry("AADSTS50027", "Client assertion is not a valid JWT",
              "The signed assertion is malformed: no certificate thumbprint (x5t) in its header, a missing claim, "
              "or not a JWT at all. The message says which.",
              "Let CertificateCredential build the assertion from the PEM, or fix the part the message names."),
        Entry("AADSTS700027", "Certificate not registered / bad assertion signature",
              "The certificate that signed the client assertion is not uploaded on the app, or the thumbprint differs.",
              "Upload the certificate's public part to the app registration and use the matching private key."),
        Entry("AADSTS700024", "Client assertion outside its valid time",
              "The assertion (or the external workload token) has expired or is not valid yet; clocks may be skewed.",
              "Get a fresh token (the workload token file is rotated), and check the machine's clock."),
        Entry("AADSTS700023", "Client assertion audience does not match",
              "The assertion's aud claim is not this tenant's token endpoint.",
              "Let the library build the assertion against the right authority and tenant."),
        Entry("AADSTS700021", "Client assertion is for another application",
              "The assertion's iss and sub name an application other than the client_id of the request.",
              "Sign the assertion as the same app (iss = sub = its client id) that the request names."),
        Entry("AADSTS50013", "External token's signature does not verify",
              "Entra ID fetched the external issuer's signing keys (its OIDC discovery and JWKS) and the workload "
              "token's signature matches none of them: a token from another issuer, or an altered token.",
              "Use the token the platform wrote (AZURE_FEDERATED_TOKEN_FILE), unmodified, from the issuer the "
              "federated credential names."),
        Entry("AADSTS70021", "No matching federated identity credential",
              "The external token's issuer, subject or audience matches no federated credential on the app. Right "
              "after a federated credential is created, Entra ID answers this for a short while too.",
              "Compare the token's iss, sub and aud with the federated credential exactly (case and trailing slash); "
              "after creating one, wait a minute and retry."),
        Entry("AADSTS700211", "Federated credential: issuer does not match",
              "No federated credential on the app has this issuer.",
              "Register the issuer URL exactly as it appears in the token's iss claim."),
        Entry("AADSTS700212", "Federated credential: audience does not match",
              "The external token's aud is not the credential's audience (api://AzureADTokenExchange).",
              "Request the external token for the audience api://AzureADTokenExchange."),
        Entry("AADSTS700213", "Federated credential: subject does not match",
              "The external token's sub differs from the credential's subject (matching is case-sensitive).",
              "Set the credential's subject to the token's sub exactly, e.g. system:serviceaccount:ns:name."),
        Entry("AADSTS7002138", "Federated credential: subject differs only in case",
              "The external token's sub matches the credential's subject when case is ignored, but Entra ID compares "
              "subjects case-sensitively.",
              "Set the credential's subject to the token's sub with the same case (or fix the workload's name)."),
        Entry("AADSTS1002012", "Scope must end with /.default",
              "Client-credential flows take one resource with /.default, not delegated scopes.",
              "Ask for https://iothubs.azure.net/.default (the IoT Hub SDK does this for you)."),
        Entry("AADSTS700022", "More than one resource in the scope",
              "A client-credential request may name only one resource.",
              "Request one token per resource."),
        Entry("AADSTS500011", "Resource not found in the tenant",
              "The scope names a resource (API) that the tenant does not know, e.g. a typo in the host.",
              "Use https://iothubs.azure.net/.default for IoT Hub."),
        Entry("AADSTS70016", "Device code sign-in still pending",
              "The person has not finished signing in on the verification page yet; the credential keeps polling "
              "and only shows this when polling is done by hand.",
              "Open the verification page, enter the code and sign in; DeviceCodeCredential waits for it."),
        Entry("AADSTS70018", "Wrong device code",
              "The code entered on the verification page is not the one this request was given.",
              "Enter the code exactly as the prompt showed it, or start the sign-in again."),
        Entry("AADSTS70019", "Device code expired",
              "The code was not used before it expired (the prompt says until when it is valid).",
              "Call get_token again for a new code and sign in within its validity."),
        Entry("AADSTS9002313", "Request is malformed or invalid (refresh token)",
              "The refresh token or another grant value in the request is malformed, revoked or belongs to "
              "another client.",
              "Sign in again (a new device-code or interactive flow) instead of reusing the old token."),
    ],
    HUB: [
        Entry("IotHubUnauthorized", "No data role for this operation (401)",
              "The token is valid, but none of the principal's role assignments on the hub grants the data action "
              "this call needs. Owner or Contributor on the hub give no data access through an Entra token.",
              "Read the hub's message: it names the method and path. Assign a built-in IoT Hub data role that "
              "has the action (Data Reader for reads, Twin Contributor for twins, Registry Contributor for the "
              "registry, Data Contributor for all); on Azure a new assignment can take a few minutes to apply."),
        Entry("IotHubUnauthorizedAccess", "Token or signature refused (401)",
              "The bearer token is expired, for another audience or tenant, or the SAS signature is wrong "
              "(or shared access policies are disabled on the hub).",
              "Get a new token for https://iothubs.azure.net; for SAS check the policy key or switch to Entra ID."),
        Entry("DeviceNotFound", "Device not registered (404)",
              "No device with this ID exists in the hub's registry (IDs are case-sensitive).",
              "List the devices or create this one first."),
        Entry("ModuleNotFound", "Module not registered (404)", "The device has no module with this ID.",
              "Create the module first, or check its ID."),
        Entry("DeviceNotOnline", "Device is not connected (404)",
              "A direct method needs the device to be connected and listening.",
              "Start the device (or pick an online one), or set connectTimeoutInSeconds to wait for it."),
        Entry("GatewayTimeout", "Device did not answer in time (504)",
              "The device took longer than responseTimeoutInSeconds to answer the direct method.",
              "Raise responseTimeoutInSeconds (5 to 300) or make the device answer sooner."),
        Entry("DeviceAlreadyExists", "Device already exists (409)", "A device with this ID is registered already.",
              "Get or update the existing device instead of creating it again."),
        Entry("ModuleAlreadyExistsOnDevice", "Module already exists (409)",
              "The device already has a module with this ID.",
              "Get or update the existing module instead of creating it again."),
        Entry("JobAlreadyExists", "Job ID already used (409)", "A job with this ID exists already on the hub.",
              "Give each job a new ID (e.g. a uuid4)."),
        Entry("ConfigurationAlreadyExists", "Configuration already exists (409)",
              "A configuration with this ID exists already.",
              "Update it with its etag, or delete it first, or choose another ID."),
        Entry("PreconditionFailed", "ETag does not match (412)",
              "Someone changed the resource since you read it: optimistic concurrency refused your write.",
              "Read it again, reapply your change to the fresh copy and send the new etag."),
        Entry("DeviceMessageLockLost", "Feedback message lock lost (412)",
              "The lock token of a feedback message is no longer valid: the lock expired or the message was "
              "completed already.",
              "Receive the feedback again and complete or abandon it with the new lock token, within its lock time."),
        Entry("ArgumentInvalid", "Invalid request (400)",
              "The body or query is not valid: a bad query (the message names the position), a twin key with "
              "'.', '$' or a space, a twin too deep or too large, or an out-of-range value.",
              "Read the message after 'ErrorCode:ArgumentInvalid;' and correct the named part."),
        Entry("ArgumentNull", "A required value is missing (400)",
              "The request body is empty or lacks a required field (the message names it).",
              "Send the field the message names, e.g. the query text or the method name."),
        Entry("IotHubFormatError", "Body is not valid JSON for this operation (400)",
              "The hub could not parse the body, or it does not have the expected shape.",
              "Send the model object the SDK method expects (e.g. a Twin or a Device), not a string."),
        Entry("InvalidProtocolVersion", "Unsupported api-version (400)",
              "The request's api-version is missing or unknown.", "Use api-version=2021-04-12 (the SDK does)."),
        Entry("DeviceDefinedMultipleTimes", "Same device twice in one bulk request (400)",
              "A bulk registry operation may name each device only once.",
              "Remove the duplicates (or split the operations into separate requests)."),
        Entry("BulkRegistryOperationFailure", "Some devices of a bulk operation failed (400)",
              "The bulk request was processed, but at least one device failed; the result lists each error.",
              "Read the errors list (deviceId, errorCode) in the result and retry only those devices."),
        Entry("TooManyDevices", "Bulk operation too large (413)", "A bulk registry call may hold at most 100 devices.",
              "Split the list into batches of 100."),
        Entry("MessageTooLarge", "Cloud-to-device message too large (413)",
              "A cloud-to-device message may be at most 64 KB.",
              "Send less data per message, or let the device fetch large content (e.g. from blob storage)."),
        Entry("RequestEntityTooLarge", "Request body too large (413)",
              "The body exceeds the hub's limit for this operation (a direct-method payload is at most 128 KB).",
              "Send a smaller payload."),
        Entry("IotHubQuotaExceeded", "Daily message quota used up (403)",
              "The hub has sent or received its daily allowance of messages for its tier and units.",
              "Wait for the daily quota to reset, or add units or move to a higher tier."),
        Entry("DeviceMaximumQueueDepthExceeded", "Device's message queue is full (403004)",
              "A device holds at most 50 pending cloud-to-device messages.",
              "Wait for the device to complete messages, or purge its queue."),
        Entry("JobQuotaExceeded", "Job quota reached (403)",
              "The hub already runs as many jobs as its tier allows, or holds too many jobs.",
              "Wait for running jobs to finish, or cancel one."),
        Entry("ThrottlingException", "Throttled (429)",
              "The hub received more requests of this kind than its tier and units allow per minute (an S1 hub "
              "with one unit: 100 registry operations, 20 queries); it queued a few, then refused. The Python SDK "
              "does not retry a 429.",
              "Wait as long as the message says and call again: kit.retry.call(lambda: ...) does it with backoff. "
              "Spread bursts out; more units raise the limit."),
        Entry("ThrottlingMaxActiveJobCountExceeded", "Too many jobs running (429)",
              "A Free or S1 hub allows one active job at a time (S2 five, S3 ten); a scheduled job counts too.",
              "Wait for the running job to finish, or cancel it (or the scheduled one)."),
        Entry("JobNotFound", "Job not found (404)", "No job with this ID exists (or it is older than 30 days).",
              "List jobs to find the right ID."),
        Entry("ConfigurationNotFound", "Configuration not found (404)", "No configuration with this ID exists.",
              "List configurations to find the right ID."),
        Entry("ConfigurationCountLimitExceeded", "Too many configurations (413)",
              "A hub holds at most 100 automatic device and module configurations (10 on the free tier).",
              "Delete configurations you no longer need."),
        Entry("ServerError", "The hub failed inside (500)",
              "An internal error of the service, not of your request.",
              "Retry with backoff; if it persists, note the Tracking ID from the message for a support request."),
    ],
    CONTROL: [
        Entry("Request_ResourceNotFound", "Graph: no such object (404)",
              "Graph has no application or service principal with this id: an appId given where the object id is "
              "expected (or the reverse), or an object deleted meanwhile.",
              "Use the object's id for /applications/{id}, or address it by appId: /applications(appId='{appId}')."),
        Entry("Request_BadRequest", "Graph: the request is not valid (400)",
              "A property value or the body is not valid for this call; the message names the property.",
              "Correct the property the message names (dates in ISO 8601, ids as GUIDs, required fields present)."),
        Entry("Request_UnsupportedQuery", "Graph: unsupported query (400)",
              "The $filter (or another query option) uses a property or operator Graph does not support here.",
              "Filter on a supported property, e.g. $filter=appId eq '{appId}', or list and filter in Python."),
        Entry("Request_MultipleObjectsWithSameKeyValue", "Graph: the value is already taken (409)",
              "Another object already holds a value that must be unique (a federated credential's name on the app, "
              "an identifier URI).",
              "Choose another name or value, or update the existing object instead of adding one."),
        Entry("InvalidFederatedIdentityCredentialValue", "Graph: federated credential refused (400)",
              "The federated identity credential is not valid: an app may trust a given issuer and subject pair only "
              "once, and the issuer, subject and audiences must be well formed.",
              "Reuse the existing credential for that issuer and subject, or correct the value the message names."),
        Entry("BadRequest", "Graph: unknown path (400)",
              "A segment of the URL is not a Graph resource (a typo, or a path of another API version).",
              "Check the path against the Graph v1.0 reference, e.g. /v1.0/applications/{id}."),
        Entry("Authorization_RequestDenied", "Graph: insufficient privileges (403)",
              "The signed-in identity may not make this directory change: it lacks the Graph permission (for app "
              "registrations, Application.ReadWrite.All or ownership of the app) or an administrator role such as "
              "Application Administrator.",
              "Sign in as an owner of the app or an Application Administrator, or grant the admin app the needed "
              "Graph permission (with admin consent)."),
        Entry("generalException", "Graph failed inside (500)",
              "An internal error of Microsoft Graph, not of your request.", "Retry with backoff."),
        Entry("InvalidAuthenticationToken", "Token refused by Graph or ARM (401)",
              "The access token is missing, malformed, expired, or was issued for another resource.",
              "Ask for a token of that API's scope (https://graph.microsoft.com/.default, "
              "https://management.azure.com/.default); an azure-identity credential refreshes it for you."),
        Entry("AuthenticationFailed", "ARM: no valid Authorization header (401)",
              "The request to Azure Resource Manager carried no bearer token, or one it could not validate.",
              "Call ARM through a management SDK client built with a credential (it sends the token)."),
        Entry("AuthenticationFailedInvalidHeader", "ARM: malformed Authorization header (401)",
              "The Authorization header is not 'Bearer <token>'.", "Send 'Bearer ' followed by the access token."),
        Entry("InvalidAuthenticationTokenAudience", "ARM: token for another resource (401)",
              "The token's aud is not Azure Resource Manager (for example an IoT Hub or Graph token).",
              "Ask for https://management.azure.com/.default for ARM calls."),
        Entry("ExpiredAuthenticationToken", "ARM: token expired (401)",
              "The token's lifetime has passed.", "Get a new token; credentials cache and refresh tokens for you."),
        Entry("AuthorizationFailed", "ARM: no role grants this action at this scope (403)",
              "The caller's role assignments do not grant the action (the message names it) at this scope or "
              "above. Creating role assignments needs Microsoft.Authorization/roleAssignments/write: Owner, User "
              "Access Administrator or Role Based Access Control Administrator.",
              "Get a role with the action at the scope; if access was granted just now, get a new token and retry "
              "after the assignment has applied."),
        Entry("MissingApiVersionParameter", "ARM: no api-version (400)",
              "Every ARM request needs an api-version query parameter.",
              "Use a management SDK client (it sets api-version) or add ?api-version=... to the URL."),
        Entry("InvalidApiVersionParameter", "ARM: unsupported api-version (400)",
              "The resource provider does not support this api-version for this resource type.",
              "Use an api-version the message lists as supported (the management SDKs pick one)."),
        Entry("InvalidRequestContent", "ARM: the request body is not valid (400)",
              "The JSON body is malformed or a property has a wrong value; the message names it.",
              "Correct the named property."),
        Entry("InternalServerError", "ARM failed inside (500)",
              "An internal error of Azure Resource Manager or the resource provider.", "Retry with backoff."),
        Entry("SubscriptionNotFound", "ARM: subscription not found (404)",
              "No subscription with this id is visible to the signed-in identity (a typo, or another tenant).",
              "Check the subscription id (az account show) and that you sign in to its tenant."),
        Entry("ResourceGroupNotFound", "ARM: resource group not found (404)",
              "The resource group does not exist in this subscription.",
              "Check the resource group's name (az group list) and the subscription."),
        Entry("ResourceNotFound", "ARM: resource not found (404)",
              "The resource (here, the IoT hub) does not exist under this resource group and subscription.",
              "Check the hub's name, resource group and subscription (az iot hub show -n <hub>)."),
        Entry("InvalidScope", "ARM: the scope is not valid (400)",
              "A role assignment's scope must be a resource id such as /subscriptions/{id}/resourceGroups/{rg}/"
              "providers/Microsoft.Devices/IotHubs/{hub}.",
              "Use the hub's resource id (az iot hub show -n <hub> --query id -o tsv)."),
        Entry("InvalidResourceType", "ARM: unknown resource type (404)",
              "The URL names a resource type the provider does not have (a typo in the path).",
              "Check the path, e.g. providers/Microsoft.Devices/IotHubs/{hub}."),
        Entry("NoRegisteredProviderFound", "ARM: no provider for this type and api-version (404)",
              "The subscription has no registered provider for this resource type and api-version.",
              "Check the type and api-version; register the provider if needed: "
              "az provider register --namespace Microsoft.Devices."),
        Entry("InvalidFilterInQueryString", "ARM: unsupported $filter (400)",
              "Role assignments can be filtered by atScope(), principalId eq '{id}' or assignedTo('{id}') only.",
              "Use one of those filters, or list and filter in Python."),
        Entry("RoleDefinitionDoesNotExist", "ARM: no such role definition (404)",
              "The role definition id is wrong, or is not the full id ARM expects.",
              "Use /subscriptions/{id}/providers/Microsoft.Authorization/roleDefinitions/{role GUID}, e.g. IoT Hub "
              "Data Contributor's 4fc6c259-987e-4a07-842e-c321cc9d413f."),
        Entry("InvalidRoleAssignmentId", "ARM: role assignment name is not a GUID (400)",
              "A role assignment's name (the last segment of its id) must be a new GUID.",
              "Name it with str(uuid.uuid4())."),
        Entry("InvalidPrincipalType", "ARM: unknown principalType (400)",
              "principalType must be one of User, Group, ServicePrincipal (an app or a managed identity), "
              "ForeignGroup or Device.",
              "Use ServicePrincipal for an app registration's service principal or a managed identity."),
        Entry("PrincipalNotFound", "ARM: no such principal in the directory (400)",
              "No user, group or service principal has this object id in the tenant: often the appId or the "
              "application's object id was given instead of the service principal's object id, or the principal was "
              "created seconds ago and has not replicated yet.",
              "Give the service principal's object id; for a principal just created, set principalType and retry."),
        Entry("RoleAssignmentExists", "ARM: the role assignment already exists (409)",
              "The principal already has this role at this scope.", "Nothing to do: the access is already there."),
        Entry("RoleAssignmentUpdateNotPermitted", "ARM: a role assignment cannot be changed (400)",
              "A role assignment id already names an assignment with another principal, role or scope; those "
              "cannot be updated in place.",
              "Delete the old assignment, or create the new one under a new GUID."),
        Entry("RoleAssignmentNotFound", "ARM: no such role assignment (404)",
              "No role assignment has this id (deleted already, or another scope).",
              "List the assignments at the scope to find the right id."),
        Entry("KeyNameNotFound", "ARM: no shared access policy by this name (404)",
              "The hub has no shared access policy with this name.",
              "List the hub's policies (az iot hub policy list -n <hub>), e.g. iothubowner or service."),
    ],
    NETWORK: [
        Entry("HOST_WITH_SCHEME", "The hub host was given with https://",
              "from_token_credential and from_connection_string add https:// themselves, so 'https://myhub...' "
              "becomes 'https://https://myhub...' and the client looks up a host named 'https'.",
              "Pass the host name only, e.g. myhub.azure-devices.net (kit.clients.check_host catches this).",
              r"host='https?'|Failed to resolve 'https?'"),
        Entry("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted",
              "Python does not trust the server's certificate: its CA is not in the trust store in use. On the "
              "sandbox, its own CA is not trusted; behind a corporate proxy that inspects TLS, the proxy's CA is not.",
              "Point REQUESTS_CA_BUNDLE and SSL_CERT_FILE at a bundle that holds the CA: the sandbox's ca_bundle "
              "(kit.credentials does this), or certifi's roots plus your company's proxy CA.",
              r"CERTIFICATE_VERIFY_FAILED|SSLCertVerificationError|self[- ]signed certificate"),
        Entry("PROXY_REFUSED", "The proxy refused the connection",
              "An HTTP proxy (HTTPS_PROXY / HTTP_PROXY) stands between you and the service and refused to open the "
              "tunnel: 407 means it wants you to sign in, 403 that the destination is blocked.",
              "Ask for the proxy's credentials (https://user:password@proxy:port) or an allow rule for the host; "
              "put local hosts such as the sandbox in NO_PROXY.",
              r"Tunnel connection failed|ProxyError|Unable to connect to proxy|407 Proxy Authentication"),
        Entry("DNS_FAILURE", "Host name does not resolve",
              "The name of the authority or the hub could not be looked up: a typo, no network, or a name that "
              "exists only inside another network.",
              "Check the host name (login.microsoftonline.com, <hub>.azure-devices.net) and the network; "
              "nslookup <host> tells you whether it resolves.",
              r"Failed to resolve|NameResolutionError|Name or service not known|nodename nor servname|getaddrinfo"),
        Entry("CONNECTION_REFUSED", "Nothing listens at that address",
              "The host resolved, but the connection was refused: on the sandbox, it is stopped or its port "
              "changed; on Azure, a firewall or a wrong port.",
              "Start the sandbox again (python -m kit.sandbox start, or re-run the notebook's first cell, which "
              "reads its new port); on Azure check the host and that outbound port 443 is open.",
              r"Connection refused|Failed to establish a new connection|ECONNREFUSED"),
        Entry("TIMEOUT", "The service did not answer in time",
              "A connection was opened but no answer came before the timeout: a network that drops packets, a "
              "firewall, or a service that hangs.",
              "Check the network and the host; retry. Lower timeouts (connection_timeout, read_timeout) make a "
              "dead endpoint fail sooner.",
              r"timed out|ReadTimeout|ConnectTimeout"),
    ],
    CLIENT: [
        Entry("QUERY_LAG", "A twin query does not show a change yet",
              "Twin queries are eventually consistent: a write, a new device or a deletion reaches query results "
              "later (on Azure, delays of up to 30 minutes should be tolerated; the sandbox lags 2 s by default). "
              "GET /twins/{id} always shows the current twin.",
              "Poll the query until it shows the change (kit.twins.wait_for_query), or read the twin with "
              "registry.get_twin.", r"Twin queries lag writes"),
        Entry("INSTANCE_DISCOVERY", "Authority is not well-known",
              "msal checks unknown authority hosts with login.microsoftonline.com first.",
              "Pass disable_instance_discovery=True when the authority is the sandbox.",
              r"is not well-known|disable_instance_discovery"),
        Entry("HTTPS_AUTHORITY", "Authority must be https",
              "azure-identity only talks to an https authority.",
              "Use the full https URL, e.g. https://login.microsoftonline.com or the sandbox's authority_host.",
              r"must be a TLS protected \(https\) URL|invalid authority"),
        Entry("CREDENTIAL_CHAIN", "No credential in the chain could get a token",
              "Every credential of DefaultAzureCredential (or a chain) was unavailable; the message lists each.",
              "Make the one credential you mean to use available (below, per credential), or build that credential "
              "directly.",
              r"failed to retrieve a token from the included credentials"),
        Entry("ENVIRONMENT_UNAVAILABLE", "EnvironmentCredential is not configured",
              "EnvironmentCredential needs AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or "
              "AZURE_CLIENT_CERTIFICATE_PATH) in the environment of this process.",
              "Set those variables before the credential is built (kit.credentials.prepare_environment does).",
              r"EnvironmentCredential authentication unavailable"),
        Entry("WORKLOAD_IDENTITY_UNAVAILABLE", "WorkloadIdentityCredential is not configured",
              "It needs AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE, which the AKS workload "
              "identity webhook injects into a pod; elsewhere they are unset.",
              "Run where workload identity is set up, or pass tenant_id, client_id and token_file_path.",
              r"WorkloadIdentityCredential authentication unavailable"),
        Entry("MANAGED_IDENTITY_UNAVAILABLE", "No managed identity here",
              "ManagedIdentityCredential found no identity endpoint (no IMDS answer: not an Azure VM, App Service "
              "or Function), or the endpoint has no identity with the requested client id.",
              "Run on an Azure resource with a managed identity (and pass the user-assigned identity's client_id); "
              "on the sandbox, call kit.credentials.prepare_managed_identity first.",
              r"ManagedIdentityCredential authentication unavailable|No managed identity endpoint found"),
        Entry("SHARED_TOKEN_CACHE_UNAVAILABLE", "No cached developer sign-in",
              "SharedTokenCacheCredential reads accounts that Microsoft developer tools cached on this machine; "
              "there are none.",
              "Sign in with a developer tool on this machine, or use another credential.",
              r"SharedTokenCacheCredential authentication unavailable"),
        Entry("VISUAL_STUDIO_CODE_UNAVAILABLE", "No Visual Studio Code sign-in",
              "VisualStudioCodeCredential needs the azure-identity-broker package and a sign-in with VS Code's "
              "Azure Resources extension.",
              "Install azure-identity-broker and sign in in VS Code, or use another credential.",
              r"VisualStudioCodeCredential requires|VisualStudioCodeCredential authentication unavailable"),
        Entry("AZURE_CLI_UNAVAILABLE", "Azure CLI not installed or not signed in",
              "AzureCliCredential runs 'az account get-access-token'; az is not on PATH or nobody ran 'az login'.",
              "Install the Azure CLI and run az login, or use another credential.",
              r"Azure CLI not found on path|Please run 'az login'"),
        Entry("AZURE_POWERSHELL_UNAVAILABLE", "Azure PowerShell not installed or not signed in",
              "AzurePowerShellCredential needs PowerShell with the Az.Accounts module and Connect-AzAccount.",
              "Install PowerShell and Az.Accounts and run Connect-AzAccount, or use another credential.",
              r"PowerShell is not installed|Az.Account module|Please run 'Connect-AzAccount'"),
        Entry("AZURE_DEVELOPER_CLI_UNAVAILABLE", "Azure Developer CLI not installed or not signed in",
              "AzureDeveloperCliCredential runs azd; it is not on PATH or nobody ran 'azd auth login'.",
              "Install azd and run azd auth login, or use another credential.",
              r"Azure Developer CLI could not be found|Please run 'azd auth login'"),
        Entry("BROKER_UNAVAILABLE", "No sign-in broker on this machine",
              "The broker credential uses the Windows account manager (WAM) through azure-identity-broker, which "
              "is not installed or not available on this system.",
              "Use another credential; on Windows install azure-identity-broker.",
              r"InteractiveBrowserBrokerCredential unavailable|'azure-identity-broker' package is required to use"),
        Entry("AMQP_AUTH_TIMEOUT", "Cloud-to-device send timed out during authorisation",
              "uamqp could not complete TLS or the token exchange on port 5671 (often the CA is not trusted by "
              "OpenSSL, or no AMQP listener is there).",
              "Set SSL_CERT_FILE to the sandbox's ca_bundle before the first send, and check that the sandbox "
              "reports AMQP ready.",
              r"Authorization timeout|Unable to open authentication session"),
        Entry("C2D_SEND_FAILURE", "Cloud-to-device message refused",
              "The hub refused the message (unknown device, a full queue of 50, a message over 64 KB, or no "
              "send permission). The SDK raises a generic error; the hub's reason is in uamqp's INFO log.",
              "Turn on logging.getLogger('uamqp').setLevel(logging.INFO) and read the line with 'ErrorCode:'; "
              "check the device ID, purge the queue, or assign a role with cloudToDeviceMessages/send.",
              r"C2D message send failure"),
        Entry("MISSING_SIX", "azure-iot-hub cannot import six",
              "azure-iot-hub 2.7 imports six without declaring it.", "pip install six (requirements.txt does).",
              r"No module named 'six'"),
        Entry("TOKEN_NOT_CREDENTIAL", "An access token was passed where a credential is expected",
              "from_token_credential needs the credential object, which it asks for tokens when needed.",
              "Pass the credential itself, not credential.get_token(...).",
              r"'AccessToken(Info)?' object has no attribute 'get_token'|'str' object has no attribute 'get_token'"),
    ],
}

# The order patterns are tried in: a host typed with https:// before any network failure it causes, network failures
# before a chain (a link that could not reach Entra stops the chain), the chain before the links it lists.
_PATTERN_ORDER = (NETWORK, CLIENT)
_BY_CODE = {entry.code.lower(): (section, entry) for section, entries in CATALOGUE.items() for entry in entries}
_AADSTS = re.compile(r"AADSTS(\d+)")
_HUB_CODE = re.compile(r"ErrorCode:(\w+)")
_CHAIN_LINK = re.compile(r"^\t(\w+): (.*)$", re.MULTILINE)
_CONTROL_BY_CODE = {entry.code.lower(): (CONTROL, entry) for entry in CATALOGUE[CONTROL]}
# How Graph and ARM codes reach a learner: azure-mgmt's "Code: X" lines, kit.admin's "Graph answered 403 X:", the
# {"error": {"code": X}} body both services send.
_CONTROL_CODE = re.compile(r"^Code: (\w+)$|Graph answered \d{3} (\w+):|\"error\":\s*\{\"code\":\s*\"(\w+)\"",
                           re.MULTILINE)
_NOT_AUTHORIZED = re.compile(r"not authorized for (\w+) on (\S+)")


def _response_text(error: BaseException) -> str | None:
    response = getattr(error, "response", None)
    text = getattr(response, "text", None)
    if callable(text):  # azure-core responses have text(); requests responses have .text
        try:
            text = text()
        except Exception:  # an unreadable body just means less to explain
            text = None
    return text if isinstance(text, str) else None


def _error_text(error: BaseException | str) -> str:
    if isinstance(error, str):
        return error
    parts = [str(error)]
    body = _response_text(error)
    if body:
        parts.append(body)
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    if "iothub-errorcode" in headers:
        parts.append(f"ErrorCode:{headers['iothub-errorcode']}")
    return "\n".join(parts)


def service_message(error: BaseException | str) -> str:
    """The error's own words, once: the hub's ``Message``, Entra's ``error_description``, else the first line (the
    SDKs put a status line first and repeat the body as ``Content: {...}``)."""
    body = error if isinstance(error, str) else _response_text(error)
    try:
        document = json.loads(body) if body else None
    except ValueError:
        document = None
    if isinstance(document, dict):
        for field in ("Message", "error_description", "message"):
            if isinstance(document.get(field), str) and document[field].strip():
                return document[field].strip()
    text = error if isinstance(error, str) else str(error)
    text = text.split("\nContent: ", 1)[0].strip()
    if text.startswith("DefaultAzureCredential failed") or text.startswith("ChainedTokenCredential failed"):
        return text  # the chain's message lists every credential: all of it is the point
    first = text.splitlines()[0] if text else (type(error).__name__ if not isinstance(error, str) else "")
    return first[:500]


def explain(error: BaseException | str) -> Explanation:
    """The catalogue entry that matches an exception (or its message). For an error the catalogue does not know, an
    :class:`Explanation` whose ``known`` is False: its text says so and carries the error's own message."""
    text = _error_text(error)
    message = service_message(error)
    error_type = type(error).__name__ if not isinstance(error, str) else ""
    for match in _AADSTS.finditer(text):
        found = _BY_CODE.get(f"aadsts{match.group(1)}")
        if found:
            return _explanation(*found, message, error_type)
    for match in _HUB_CODE.finditer(text):
        found = _BY_CODE.get(match.group(1).lower())
        if found:
            return _hub_explanation(*found, message, error_type)
    for code in _control_codes(error, text):
        found = _CONTROL_BY_CODE.get(code.lower()) or _BY_CODE.get(code.lower())
        if found:
            return _explanation(*found, message, error_type)
    for section in _PATTERN_ORDER:
        for entry in CATALOGUE[section]:
            if entry.pattern and re.search(entry.pattern, text):
                explained = _explanation(section, entry, message, error_type)
                if entry.code == "CREDENTIAL_CHAIN":
                    return _chain_explanation(explained, text)
                return explained
    return Explanation("", "", "", "", message, error_type=error_type)


def _control_codes(error: BaseException | str, text: str) -> list[str]:
    """Graph or ARM error codes the error carries: its ``code`` (kit.admin's GraphError) or ``error.code``
    (azure-core's OData error), then the codes written in its text."""
    codes = [getattr(error, "code", None), getattr(getattr(error, "error", None), "code", None)]
    codes += [group for match in _CONTROL_CODE.finditer(text) for group in match.groups() if group]
    return [code for code in codes if isinstance(code, str) and code]


def _explanation(section: str, entry: Entry, message: str, error_type: str) -> Explanation:
    return Explanation(entry.code, entry.title, entry.cause, entry.fix, message, section, error_type=error_type)


def _chain_explanation(explained: Explanation, text: str) -> Explanation:
    """One line per credential the chain tried: what would have made that credential available."""
    details = []
    for name, reason in _CHAIN_LINK.findall(text):
        link = explain(reason)
        details.append(f"{name}: {link.fix if link.known else reason}")
    return replace(explained, details=tuple(details))


def _hub_explanation(section: str, entry: Entry, message: str, error_type: str) -> Explanation:
    explained = _explanation(section, entry, message, error_type)
    advice = data_role_advice(message) if entry.code == "IotHubUnauthorized" else None
    if advice is None:
        return explained
    cause, fix = advice
    return replace(explained, cause=cause, fix=fix)


# --- IotHubUnauthorized: which data action the call needed, and the smallest built-in role that has it -----------

def _template_pattern(template: str) -> re.Pattern[str]:
    parts = [r"[^/]+" if part.startswith("{") else re.escape(part) for part in template.split("/")]
    return re.compile("/".join(parts) + r"/?$")


def required_data_actions(method: str, path: str) -> tuple[str, ...]:
    """The data actions a hub REST call needs, from the sandbox's permission table (the one every route uses);
    empty when the operation is not in it. A literal path segment wins over a placeholder (``/devices/query``)."""
    path = path.split("?", 1)[0]
    matches = [(template.count("{"), permission) for (verb, template), permission in OPERATIONS.items()
               if verb == method.upper() and _template_pattern(template).match(path)]
    return min(matches, key=lambda match: match[0])[1].data_actions if matches else ()


def _breadth(role: Role) -> tuple[int, int]:
    """How much a role grants, over every data action the hub checks: first its writes and actions, then reads."""
    granted = [action for action in _ALL_DATA_ACTIONS if role.allows(action)]
    return sum(not action.endswith("/read") for action in granted), len(granted)


_ALL_DATA_ACTIONS = sorted({action for permission in OPERATIONS.values() for action in permission.data_actions})


def smallest_role(data_actions: tuple[str, ...]) -> Role | None:
    """The built-in IoT Hub data role that grants all of ``data_actions`` and the least else (fewest writes first)."""
    fitting = [role for role in BUILT_IN_ROLES.values() if all(role.allows(action) for action in data_actions)]
    return min(fitting, key=_breadth) if fitting else None


def data_role_advice(message: str) -> tuple[str, str] | None:
    """Cause and fix for the hub's "Principal ... is not authorized for METHOD on PATH" message: the data action
    needed and the smallest built-in role with it. None when the message names no operation the table knows."""
    match = _NOT_AUTHORIZED.search(message)
    actions = required_data_actions(*match.groups()) if match else ()
    role = smallest_role(actions)
    if not match or role is None:
        return None
    method, path = match.groups()
    needed = " and ".join(actions)
    cause = (f"The token is valid, but none of the principal's role assignments on the hub grants {needed}, which "
             f"{method} {path} needs. Owner or Contributor on the hub give no data access through an Entra token.")
    widest = "IoT Hub Data Contributor"
    alternative = f" (or '{widest}', which grants every data action)" if role.name != widest else ""
    fix = (f"Assign '{role.name}', the smallest built-in role with {needed.replace('Microsoft.Devices/IotHubs/', '')}"
           f"{alternative}, to this principal on the hub; on Azure a new assignment can take a few minutes to apply.")
    return cause, fix


def troubleshooting_markdown() -> str:
    """``docs/troubleshooting.md``, generated from the catalogue so the two never disagree."""
    lines = [
        "# Troubleshooting, by error code",
        "",
        "Each entry says what the error means and what to do. In a notebook, `kit.explain.explain(error)` finds the",
        "entry for an exception. This page is generated from `kit/explain.py`: `python -m kit.explain --markdown`.",
        "",
    ]
    for section, entries in CATALOGUE.items():
        lines += [f"## {section}", ""]
        for entry in entries:
            lines += [f"### {entry.code}: {entry.title}", "", f"- **Cause:** {entry.cause}",
                      f"- **Fix:** {entry.fix}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        print(troubleshooting_markdown(), end="")
    else:
        print(explain(sys.stdin.read()))
