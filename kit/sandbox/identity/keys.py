"""RSA signing keys with self-signed certificates, persisted 0600 in the state folder, and their JWKS form.

Entra signs access tokens with a key whose certificate thumbprint is the token's ``x5t``/``kid``; the external
issuer signs workload tokens the same way. Generating RSA keys is slow, so each key is made once and reused.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kit.sandbox.certificates import build_certificate, common_name
from kit.sandbox.paths import SECRETS_DIR, write_private

KEY_SIZE = 2048
CERT_VALIDITY = dt.timedelta(days=730)


def b64url(data: bytes, padded: bool = False) -> str:
    """Base64url without padding, as JWT headers and JWKs write it."""
    text = base64.urlsafe_b64encode(data).decode()
    return text if padded else text.rstrip("=")


def _int_b64url(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    """A private key with its certificate; ``kid`` is the certificate's base64url SHA-1 thumbprint, as in Entra."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @cached_property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def sha1_hex(self) -> str:
        """The thumbprint as Entra quotes it in error messages (upper-case hex, unlike ``kid``)."""
        return der_thumbprints(self.der)[0]

    @property
    def kid(self) -> str:
        """The certificate's base64url SHA-1 thumbprint: Entra uses it as both ``kid`` and ``x5t``."""
        return b64url(hashlib.sha1(self.der).digest())

    def pem(self) -> bytes:
        """Private key and certificate in one PEM, the form ``CertificateCredential`` reads."""
        key = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return key + self.certificate.public_bytes(serialization.Encoding.PEM)

    def jwk(self, issuer: str | None = None) -> dict[str, Any]:
        """The public JWK as Entra publishes it (with ``x5c``); the discovery endpoint also sets its ``issuer``."""
        numbers = self.private_key.public_key().public_numbers()
        key: dict[str, Any] = {
            "kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
            "n": _int_b64url(numbers.n), "e": _int_b64url(numbers.e),
            "x5c": [base64.b64encode(self.der).decode()],
        }
        if issuer:
            key["issuer"] = issuer
        return key


def new_signing_key(subject: str) -> SigningKey:
    """A 2048-bit RSA key with a self-signed certificate, the form Entra's certificate credentials take."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    name = common_name(subject)
    return SigningKey(key, build_certificate(name, key.public_key(), name, key, CERT_VALIDITY))


def load_pem(data: bytes) -> SigningKey:
    """A ``SigningKey`` from a PEM holding an RSA private key and its certificate, with a clear error for other keys."""
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("certificate: the PEM must hold an RSA private key (Entra assertions are RS256/PS256)")
    return SigningKey(key, x509.load_pem_x509_certificate(data))


def stored_key(state_dir: Path, name: str, subject: str) -> SigningKey:
    """The key ``name`` of this state folder, created on first use."""
    path = key_path(state_dir, name)
    if path.exists():
        return load_pem(path.read_bytes())
    signing_key = new_signing_key(subject)
    write_private(path, signing_key.pem())
    return signing_key


def key_path(state_dir: Path, name: str) -> Path:
    """Where a named key is kept: the state folder's ``SECRETS_DIR``, apart from files that may be shared."""
    return state_dir / SECRETS_DIR / f"{name}.pem"


def der_thumbprints(der: bytes) -> tuple[str, str]:
    """(SHA-1, SHA-256) of a DER certificate as upper-case hex: how Entra names a key credential."""
    return hashlib.sha1(der).hexdigest().upper(), hashlib.sha256(der).hexdigest().upper()


def certificate_thumbprints(cert: x509.Certificate) -> tuple[str, str]:
    """``der_thumbprints`` of a loaded certificate."""
    return der_thumbprints(cert.public_bytes(serialization.Encoding.DER))
