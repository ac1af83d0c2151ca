"""Turn an error from azure-identity, azure-iot-hub or the sandbox into its cause and its fix.

Learners meet the same dozen failures (wrong secret, missing role, untrusted CA...). The catalogue below is keyed by
the code the services send (an AADSTS number, an IoT Hub error name) or by a recognisable client-side message, and
it is the single source of ``docs/troubleshooting.md`` (regenerate with ``python -m kit.explain --markdown``).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass


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
    """What went wrong and what to do, ready to print or to render in a notebook."""

    code: str
    title: str
    cause: str
    fix: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.title}\n  cause: {self.cause}\n  fix:   {self.fix}"

    def _repr_markdown_(self) -> str:
        return f"**{self.code}: {self.title}**\n\n- *Cause:* {self.cause}\n- *Fix:* {self.fix}"


ENTRA = "Microsoft Entra ID (token endpoint)"
HUB = "IoT Hub (service REST API)"
CLIENT = "On your machine (client libraries, TLS, settings)"

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
        Entry("AADSTS7000112", "Application is disabled",
              "An administrator disabled the app (or its service principal).",
              "Re-enable it, or use another app registration."),
        Entry("AADSTS700027", "Certificate not registered / bad assertion signature",
              "The certificate that signed the client assertion is not uploaded on the app, or the thumbprint differs.",
              "Upload the certificate's public part to the app registration and use the matching private key."),
        Entry("AADSTS700024", "Client assertion outside its valid time",
              "The assertion (or the external workload token) has expired or is not valid yet; clocks may be skewed.",
              "Get a fresh token (the workload token file is rotated), and check the machine's clock."),
        Entry("AADSTS700023", "Client assertion audience does not match",
              "The assertion's aud claim is not this tenant's token endpoint.",
              "Let the library build the assertion against the right authority and tenant."),
        Entry("AADSTS70021", "No matching federated identity credential",
              "The external token's issuer, subject or audience matches no federated credential on the app.",
              "Compare the token's iss, sub and aud with the federated credential exactly (case and trailing slash)."),
        Entry("AADSTS700211", "Federated credential: issuer does not match",
              "No federated credential on the app has this issuer.",
              "Register the issuer URL exactly as it appears in the token's iss claim."),
        Entry("AADSTS700212", "Federated credential: audience does not match",
              "The external token's aud is not the credential's audience (api://AzureADTokenExchange).",
              "Request the external token for the audience api://AzureADTokenExchange."),
        Entry("AADSTS700213", "Federated credential: subject does not match",
              "The external token's sub differs from the credential's subject (matching is case-sensitive).",
              "Set the credential's subject to the token's sub exactly, e.g. system:serviceaccount:ns:name."),
        Entry("AADSTS1002012", "Scope must end with /.default",
              "Client-credential flows take one resource with /.default, not delegated scopes.",
              "Ask for https://iothubs.azure.net/.default (the IoT Hub SDK does this for you)."),
        Entry("AADSTS700022", "More than one resource in the scope",
              "A client-credential request may name only one resource.",
              "Request one token per resource."),
        Entry("AADSTS500011", "Resource not found in the tenant",
              "The scope names a resource (API) that the tenant does not know, e.g. a typo in the host.",
              "Use https://iothubs.azure.net/.default for IoT Hub."),
    ],
    HUB: [
        Entry("IotHubUnauthorized", "Principal has no data role on the hub (401)",
              "Authentication worked, but the identity has no IoT Hub data role for this action. Owner or "
              "Contributor on the hub give no data access through an Entra token.",
              "Assign 'IoT Hub Data Reader' (read) or 'IoT Hub Data Contributor' (read and write) to the app "
              "on the hub; in real Azure the assignment can take a few minutes to apply."),
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
        Entry("PreconditionFailed", "ETag does not match (412)",
              "Someone changed the resource since you read it: optimistic concurrency refused your write.",
              "Read it again, reapply your change to the fresh copy and send the new etag."),
        Entry("ArgumentInvalid", "Invalid request (400)",
              "The body or query is not valid: a bad query (the message names the position), a twin key with "
              "'.', '$' or a space, a twin too deep or too large, or an out-of-range value.",
              "Read the message after 'ErrorCode:ArgumentInvalid;' and correct the named part."),
        Entry("InvalidProtocolVersion", "Unsupported api-version (400)",
              "The request's api-version is missing or unknown.", "Use api-version=2021-04-12 (the SDK does)."),
        Entry("TooManyDevices", "Bulk operation too large (413)", "A bulk registry call may hold at most 100 devices.",
              "Split the list into batches of 100."),
        Entry("DeviceMaximumQueueDepthExceeded", "Device's message queue is full (403004)",
              "A device holds at most 50 pending cloud-to-device messages.",
              "Wait for the device to complete messages, or purge its queue."),
        Entry("ThrottlingMaxActiveJobCountExceeded", "Too many jobs running (429)",
              "A Free or S1 hub allows one active job at a time (S2 five, S3 ten); a scheduled job counts too.",
              "Wait for the running job to finish, or cancel it (or the scheduled one)."),
        Entry("JobNotFound", "Job not found (404)", "No job with this ID exists (or it is older than 30 days).",
              "List jobs to find the right ID."),
        Entry("ConfigurationNotFound", "Configuration not found (404)", "No configuration with this ID exists.",
              "List configurations to find the right ID."),
    ],
    CLIENT: [
        Entry("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted",
              "Python does not trust the server's certificate: the sandbox's CA is not in the trust store in use.",
              "Set REQUESTS_CA_BUNDLE and SSL_CERT_FILE to the sandbox's ca_bundle (kit.credentials does this).",
              r"CERTIFICATE_VERIFY_FAILED"),
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
              "Read each 'Attempted credentials' line; set the environment variables of the one you mean to use.",
              r"failed to retrieve a token from the included credentials"),
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
              r"'AccessToken' object has no attribute 'get_token'"),
    ],
}

_BY_CODE = {entry.code.lower(): entry for entries in CATALOGUE.values() for entry in entries}
_AADSTS = re.compile(r"AADSTS(\d+)")
_HUB_CODE = re.compile(r"ErrorCode:(\w+)")


def _error_text(error: BaseException | str) -> str:
    if isinstance(error, str):
        return error
    parts = [str(error)]
    response = getattr(error, "response", None)
    text = getattr(response, "text", None)
    if callable(text):  # azure-core responses have text(); requests responses have .text
        try:
            text = text()
        except Exception:  # an unreadable body just means less to explain
            text = None
    if isinstance(text, str):
        parts.append(text)
    headers = getattr(response, "headers", None) or {}
    if "iothub-errorcode" in headers:
        parts.append(f"ErrorCode:{headers['iothub-errorcode']}")
    return "\n".join(parts)


def explain(error: BaseException | str) -> Explanation | None:
    """The catalogue entry that matches an exception (or its message), or None when nothing matches."""
    text = _error_text(error)
    for match in _AADSTS.finditer(text):
        entry = _BY_CODE.get(f"aadsts{match.group(1)}")
        if entry:
            return _explanation(entry, text)
    for match in _HUB_CODE.finditer(text):
        entry = _BY_CODE.get(match.group(1).lower())
        if entry:
            return _explanation(entry, text)
    for entries in CATALOGUE.values():
        for entry in entries:
            if entry.pattern and re.search(entry.pattern, text):
                return _explanation(entry, text)
    return None


def _explanation(entry: Entry, text: str) -> Explanation:
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    return Explanation(entry.code, entry.title, entry.cause, entry.fix, first_line[:300])


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
        explained = explain(sys.stdin.read())
        print(explained or "No entry matches this message.")
