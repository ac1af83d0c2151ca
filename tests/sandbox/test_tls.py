"""kit.sandbox.tls: a local CA, a loopback server certificate signed by it, and a bundle that also trusts the web."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import stat
from pathlib import Path

import certifi
from cryptography import x509

from kit.sandbox import tls


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_server_certificate_covers_loopback_and_chains_to_the_ca(tmp_path: Path) -> None:
    files = tls.ensure_tls(tmp_path)
    server, ca = _cert(files.server_cert), _cert(files.ca_cert)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert server.issuer == ca.subject
    server.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True


def test_private_keys_are_owner_only(tmp_path: Path) -> None:
    files = tls.ensure_tls(tmp_path)
    for key in (files.ca_key, files.server_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_bundle_trusts_the_sandbox_and_public_roots(tmp_path: Path) -> None:
    files = tls.ensure_tls(tmp_path)
    bundle = files.bundle.read_text()
    assert certifi.contents().strip() in bundle
    assert files.ca_cert.read_text() in bundle
    context = ssl.create_default_context(cafile=str(files.bundle))  # loads: every block is a valid certificate
    assert len(context.get_ca_certs()) > 10


def test_second_call_reuses_the_material(tmp_path: Path) -> None:
    first = tls.ensure_tls(tmp_path)
    before = first.server_cert.read_bytes(), first.ca_cert.read_bytes()
    second = tls.ensure_tls(tmp_path)
    assert (second.server_cert.read_bytes(), second.ca_cert.read_bytes()) == before


def test_a_server_certificate_close_to_expiry_is_renewed(tmp_path: Path, monkeypatch) -> None:
    files = tls.ensure_tls(tmp_path)
    old_serial = _cert(files.server_cert).serial_number
    ca_serial = _cert(files.ca_cert).serial_number
    later = dt.datetime.now(dt.UTC) + tls.SERVER_VALIDITY - tls.RENEW_BEFORE + dt.timedelta(days=1)
    monkeypatch.setattr(tls, "_now", lambda: later)
    tls.ensure_tls(tmp_path)
    assert _cert(files.server_cert).serial_number != old_serial
    assert _cert(files.ca_cert).serial_number == ca_serial  # the CA (what clients trust) is kept
