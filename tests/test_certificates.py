"""kit.certificates: a self-signed certificate for an app registration, usable by CertificateCredential."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kit.certificates import create_self_signed


def test_writes_a_private_pem_and_a_public_certificate(tmp_path: Path) -> None:
    files = create_self_signed(tmp_path, "my-app")
    private = files.private_pem.read_bytes()
    key = serialization.load_pem_private_key(private, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)  # CertificateCredential signs RS256
    certificate = x509.load_pem_x509_certificate(files.public_pem.read_bytes())
    assert certificate.public_key().public_numbers() == key.public_key().public_numbers()
    assert b"PRIVATE KEY" not in files.public_pem.read_bytes()
    assert stat.S_IMODE(files.private_pem.stat().st_mode) == 0o600


@pytest.mark.parametrize("name", ["", "../escape", ".hidden"])
def test_a_name_that_is_not_a_plain_file_name_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="name:"):
        create_self_signed(tmp_path, name)
