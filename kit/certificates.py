"""Make a certificate for an app registration: a private key that stays with the app, a public part to register.

``CertificateCredential`` reads one PEM holding the private key and the certificate; Entra ID (or the sandbox) is
given only the certificate. Both files are written 0600 and ``*.pem`` is git-ignored. The key generation itself is
the kit's (``cryptography``, RSA 2048, self-signed), the same the sandbox uses for its own keys.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from kit.sandbox.identity.keys import new_signing_key
from kit.sandbox.paths import write_private

__all__ = ["create_self_signed"]


@dataclass(frozen=True)
class CertificateFiles:
    """The two files of a new certificate: one stays with the app, the other goes to Entra ID."""

    private_pem: Path  # key + certificate: what CertificateCredential reads; keep it secret
    public_pem: Path  # the certificate only: what you upload to the app registration


def create_self_signed(folder: str | os.PathLike[str], name: str) -> CertificateFiles:
    """Write ``<name>.pem`` (private key and certificate) and ``<name>.public.pem`` (certificate) into ``folder``."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"name: '{name}' must be a plain file name, e.g. 'my-app'.")
    folder = Path(folder).expanduser()
    key = new_signing_key(name)
    private = write_private(folder / f"{name}.pem", key.pem())
    public = write_private(folder / f"{name}.public.pem", key.certificate.public_bytes(serialization.Encoding.PEM))
    return CertificateFiles(private, public)
