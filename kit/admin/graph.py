"""App registrations through Microsoft Graph v1.0: plain REST calls on azure-core's pipeline, no Graph SDK.

A :class:`GraphClient` sends each call with a bearer token for the target's Graph scope
(``https://graph.microsoft.com/.default`` on Azure and on the sandbox) to the target's Graph endpoint, so the same
code registers an app in a real tenant or in the sandbox. Results are plain values; a secret's text is a
``SecretStr``. A refusal raises :class:`GraphError` with Graph's code and a sentence on the usual fix.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.pipeline.policies import (
    BearerTokenCredentialPolicy,
    HeadersPolicy,
    RetryPolicy,
    UserAgentPolicy,
)
from azure.core.rest import HttpRequest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from pydantic import SecretStr

from kit.cloud import Cloud

FIC_AUDIENCE = "api://AzureADTokenExchange"
HINTS = {
    "Authorization_RequestDenied": "The signed-in account may not manage app registrations: it needs "
                                   "Application.ReadWrite.All, or a directory role such as Application Administrator.",
    "Request_ResourceNotFound": "Graph's /applications/{id} takes the application's object id ('id'), not its appId "
                                "(client id); find_applications(app_id=...) looks an app up by appId.",
    "InvalidAuthenticationToken": "The token is not for Microsoft Graph: ask the credential for the Graph scope.",
    "Request_MultipleObjectsWithSameKeyValue": "It exists already: look it up instead of creating it.",
    "InvalidFederatedIdentityCredentialValue": "An app may trust one issuer-subject pair only once.",
}


class GraphError(RuntimeError):
    """Graph refused a call: ``status``, Graph's ``code`` and its ``message`` (plus the usual fix, when known)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        hint = HINTS.get(code)
        super().__init__(f"Graph answered {status} {code}: {message}" + (f"\n{hint}" if hint else ""))
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Application:
    """An app registration: ``object_id`` for Graph's ``/applications/{id}``, ``app_id`` for sign-in."""

    object_id: str
    app_id: str
    display_name: str


@dataclass(frozen=True)
class ServicePrincipal:
    """An app's identity in the tenant: ``object_id`` is the ``principalId`` of its role assignments."""

    object_id: str
    app_id: str
    display_name: str


@dataclass(frozen=True)
class PasswordCredential:
    """A client secret; ``secret`` is only filled in when it was just created (Graph never shows it again)."""

    key_id: str
    display_name: str | None
    hint: str | None
    end: str | None
    secret: SecretStr | None = field(default=None, repr=False)


@dataclass(frozen=True)
class FederatedCredential:
    """Trust of an external issuer's tokens for one subject (workload identity federation)."""

    id: str
    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]


AppRef = Application | str


class GraphClient:
    """The app-registration calls of the course; each is one Graph v1.0 request (named in its docstring)."""

    def __init__(self, cloud: Cloud, credential: TokenCredential) -> None:
        self.base = cloud.graph_endpoint.rstrip("/") + "/v1.0"
        self._client = PipelineClient(cloud.graph_endpoint, policies=[
            HeadersPolicy(), UserAgentPolicy("kit-admin"), RetryPolicy(),
            BearerTokenCredentialPolicy(credential, cloud.graph_scope),
        ])

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        url = path if path.startswith("https://") else self.base + path
        response = self._client.send_request(HttpRequest(method, url, json=body))
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                code, message = error.get("code", ""), error.get("message", "")
            except (ValueError, KeyError, TypeError):
                code, message = "", response.text()[:300]
            raise GraphError(response.status_code, code, message)
        return response.json() if response.status_code != 204 and response.content else None

    def _list(self, path: str) -> list[dict[str, Any]]:
        """Every item of a collection, following Graph's ``@odata.nextLink`` pages."""
        items: list[dict[str, Any]] = []
        page: str | None = path
        while page:
            answer = self._call("GET", page)
            items += answer["value"]
            page = answer.get("@odata.nextLink")
        return items

    @staticmethod
    def _object_id(app: AppRef) -> str:
        return app.object_id if isinstance(app, Application) else str(app)

    # --- applications -------------------------------------------------------------------------------------------
    def create_application(self, display_name: str) -> Application:
        """``POST /applications``: register an app (its service principal is a separate step)."""
        if not display_name or not display_name.strip():
            raise ValueError("display_name: give the app a name, e.g. 'iot-backend'.")
        return _application(self._call("POST", "/applications", {"displayName": display_name}))

    def find_applications(self, display_name: str | None = None, app_id: str | None = None) -> list[Application]:
        """``GET /applications?$filter=...``: by appId, or by display-name prefix (all apps with neither)."""
        if app_id:
            query = f"?$filter=appId eq '{_quote(app_id)}'"
        elif display_name:
            query = f"?$filter=startswith(displayName,'{_quote(display_name)}')"
        else:
            query = ""
        return [_application(value) for value in self._list("/applications" + query)]

    def get_application(self, app: AppRef) -> Application:
        """``GET /applications/{id}``."""
        return _application(self._call("GET", f"/applications/{self._object_id(app)}"))

    def delete_application(self, app: AppRef) -> None:
        """``DELETE /applications/{id}``: a soft delete (restorable for 30 days); role assignments stay behind."""
        self._call("DELETE", f"/applications/{self._object_id(app)}")

    # --- service principals -------------------------------------------------------------------------------------
    def create_service_principal(self, app_id: str | Application) -> ServicePrincipal:
        """``POST /servicePrincipals``: the app's identity in the tenant, needed to sign in and to hold roles."""
        value = app_id.app_id if isinstance(app_id, Application) else app_id
        return _service_principal(self._call("POST", "/servicePrincipals", {"appId": value}))

    def find_service_principal(self, app_id: str | Application) -> ServicePrincipal | None:
        """``GET /servicePrincipals?$filter=appId eq '...'``; None when the app has none."""
        value = app_id.app_id if isinstance(app_id, Application) else app_id
        found = self._list(f"/servicePrincipals?$filter=appId eq '{_quote(value)}'")
        return _service_principal(found[0]) if found else None

    # --- secrets ------------------------------------------------------------------------------------------------
    def add_password(self, app: AppRef, display_name: str, end: str | None = None) -> PasswordCredential:
        """``POST /applications/{id}/addPassword``: a new secret (Graph's default end is two years on)."""
        body: dict[str, Any] = {"displayName": display_name}
        if end:
            body["endDateTime"] = end
        value = self._call("POST", f"/applications/{self._object_id(app)}/addPassword", {"passwordCredential": body})
        return _password(value, SecretStr(value["secretText"]))

    def list_passwords(self, app: AppRef) -> list[PasswordCredential]:
        """The app's secrets as ``GET /applications/{id}`` shows them (hint and dates, never the text)."""
        app_value = self._call("GET", f"/applications/{self._object_id(app)}")
        return [_password(value) for value in app_value["passwordCredentials"]]

    def remove_password(self, app: AppRef, key_id: str) -> None:
        """``POST /applications/{id}/removePassword``."""
        self._call("POST", f"/applications/{self._object_id(app)}/removePassword", {"keyId": key_id})

    # --- certificates -------------------------------------------------------------------------------------------
    def add_certificate(self, app: AppRef, certificate: str | os.PathLike[str] | bytes,
                        display_name: str | None = None) -> str:
        """``PATCH /applications/{id}`` with ``keyCredentials``: upload a public certificate, keeping the others
        (resent with ``key: null``, as ``az ad app credential reset --append`` does). Returns its thumbprint."""
        cert = _load_certificate(certificate)
        der = cert.public_bytes(serialization.Encoding.DER)
        existing = self._call("GET", f"/applications/{self._object_id(app)}")["keyCredentials"]
        kept = [{**entry, "key": None} for entry in existing]
        new = {"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.b64encode(der).decode(),
               "displayName": display_name or cert.subject.rfc4514_string()}
        self._call("PATCH", f"/applications/{self._object_id(app)}", {"keyCredentials": [*kept, new]})
        return cert.fingerprint(hashes.SHA1()).hex().upper()

    # --- federated identity credentials -------------------------------------------------------------------------
    def add_federated_credential(self, app: AppRef, name: str, issuer: str, subject: str,
                                 audiences: tuple[str, ...] | list[str] = (FIC_AUDIENCE,),
                                 description: str = "") -> FederatedCredential:
        """``POST /applications/{id}/federatedIdentityCredentials`` (at most 20 per app, one audience each)."""
        body = {"name": name, "issuer": issuer, "subject": subject, "audiences": list(audiences),
                "description": description}
        path = f"/applications/{self._object_id(app)}/federatedIdentityCredentials"
        return _federated(self._call("POST", path, body))

    def list_federated_credentials(self, app: AppRef) -> list[FederatedCredential]:
        """``GET /applications/{id}/federatedIdentityCredentials``."""
        path = f"/applications/{self._object_id(app)}/federatedIdentityCredentials"
        return [_federated(value) for value in self._list(path)]

    def delete_federated_credential(self, app: AppRef, name_or_id: str) -> None:
        """``DELETE /applications/{id}/federatedIdentityCredentials/{id or name}``."""
        self._call("DELETE", f"/applications/{self._object_id(app)}/federatedIdentityCredentials/{name_or_id}")


def _quote(value: str) -> str:
    return value.replace("'", "''")


def _load_certificate(certificate: str | os.PathLike[str] | bytes) -> x509.Certificate:
    """A certificate from PEM bytes or text, or from a file path; a clear error otherwise."""
    if isinstance(certificate, bytes):
        data = certificate
    elif isinstance(certificate, str) and "-----BEGIN" in certificate:
        data = certificate.encode()
    else:
        path = Path(certificate).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"certificate: no file at {path}. Give the path of a PEM certificate (the public "
                                    "one, e.g. from kit.certificates.create_self_signed) or its PEM text.")
        data = path.read_bytes()
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise ValueError("certificate: not a PEM certificate. Give the file that holds '-----BEGIN CERTIFICATE-----' "
                         "(never upload the private key).") from None


def _application(value: dict[str, Any]) -> Application:
    return Application(value["id"], value["appId"], value["displayName"])


def _service_principal(value: dict[str, Any]) -> ServicePrincipal:
    return ServicePrincipal(value["id"], value["appId"], value["displayName"])


def _password(value: dict[str, Any], secret: SecretStr | None = None) -> PasswordCredential:
    return PasswordCredential(value["keyId"], value.get("displayName"), value.get("hint"), value.get("endDateTime"),
                              secret)


def _federated(value: dict[str, Any]) -> FederatedCredential:
    return FederatedCredential(value["id"], value["name"], value["issuer"], value["subject"],
                               tuple(value.get("audiences") or ()))
