"""The sandbox's TLS: a local certificate authority, a server certificate for loopback, and a trust bundle.

The real SDKs only talk HTTPS (azure-identity refuses an http authority; azure-iot-hub always builds ``https://``),
so the sandbox needs a certificate they trust. The bundle holds certifi's public roots *plus* the local CA, so one
kernel can reach both the sandbox and real Azure. requests reads it from ``REQUESTS_CA_BUNDLE``; uamqp (AMQP over
TLS) reads ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from kit.sandbox.certificates import build_certificate, common_name
from kit.sandbox.paths import TLS_DIR, private_dir, write_private

CA_VALIDITY = dt.timedelta(days=3650)
SERVER_VALIDITY = dt.timedelta(days=825)
RENEW_BEFORE = dt.timedelta(days=30)
SERVER_NAMES = ("localhost",)
SERVER_ADDRESSES = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the TLS material in a state folder."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    bundle: Path


def tls_files(state_dir: Path) -> TlsFiles:
    """Where the CA, the server certificate and the trust bundle live in a state folder."""
    folder = state_dir / TLS_DIR
    return TlsFiles(
        ca_cert=folder / "ca.pem",
        ca_key=folder / "ca-key.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server-key.pem",
        bundle=folder / "ca-bundle.pem",
    )


def ensure_tls(state_dir: Path) -> TlsFiles:
    """Create (or reuse) the CA, the server certificate and the trust bundle in ``state_dir``."""
    files = tls_files(state_dir)
    private_dir(files.ca_cert.parent)
    if not _still_valid(files.ca_cert) or not files.ca_key.exists():
        _write_ca(files)
        files.server_cert.unlink(missing_ok=True)
    if not _still_valid(files.server_cert) or not files.server_key.exists():
        _write_server_cert(files)
    bundle = certifi.contents().rstrip() + "\n" + files.ca_cert.read_text()
    if not files.bundle.exists() or files.bundle.read_text() != bundle:
        files.bundle.write_text(bundle)
    return files


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _still_valid(cert_path: Path) -> bool:
    if not cert_path.exists():
        return False
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return cert.not_valid_after_utc - RENEW_BEFORE > _now()


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_ca(files: TlsFiles) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = common_name("IoT Entra kit sandbox local CA", organisation="IoT Entra kit sandbox")
    usage = x509.KeyUsage(
        digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        encipher_only=False, decipher_only=False,
    )
    cert = build_certificate(name, key.public_key(), name, key, CA_VALIDITY, [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (usage, True),
        (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
    ])
    write_private(files.ca_key, _key_pem(key))
    files.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_server_cert(files: TlsFiles) -> None:
    ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_ADDRESSES]
    cert = build_certificate(common_name("localhost"), key.public_key(), ca_cert.subject, ca_key, SERVER_VALIDITY, [
        (x509.SubjectAlternativeName(names), False),
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), False),
    ])
    write_private(files.server_key, _key_pem(key))
    files.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
