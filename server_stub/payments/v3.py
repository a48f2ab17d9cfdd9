"""The WeChat Pay API v3 notification shape, both ends: sign and encrypt (the provider, here
the simulator), verify and decrypt (the platform).

A notification is a JSON body whose ``resource`` is encrypted with AEAD_AES_256_GCM under the
merchant's 32-byte APIv3 key (associated data and a 12-character nonce beside it), posted
with ``Wechatpay-Timestamp``, ``Wechatpay-Nonce``, ``Wechatpay-Serial`` (which provider
certificate signed) and ``Wechatpay-Signature``: base64 of RSA-SHA256 (PKCS#1 v1.5) over
``timestamp\\nnonce\\nbody\\n``. One implementation of each step, used by both ends.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
ALGORITHM = "AEAD_AES_256_GCM"
HEADERS = ("Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial", "Wechatpay-Signature")
_NONCE_ALPHABET = string.ascii_letters + string.digits


class VerificationError(Exception):
    """The notification is not the provider's, or not for us: ``reason`` says which check."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"


def random_nonce(length: int = 32) -> str:
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class ProviderSigner:
    """The provider's key and certificate (the "platform certificate" of WeChat Pay)."""

    key: rsa.RSAPrivateKey
    serial: str

    def headers(self, body: bytes, now_s: int) -> dict[str, str]:
        timestamp, nonce = str(now_s), random_nonce()
        signature = self.key.sign(message(timestamp, nonce, body), padding.PKCS1v15(),
                                  hashes.SHA256())
        return {"Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce,
                "Wechatpay-Serial": self.serial,
                "Wechatpay-Signature": base64.b64encode(signature).decode(),
                "Wechatpay-Signature-Type": SIGNATURE_TYPE}


def encrypt_resource(api_v3_key: bytes, plain: Mapping[str, Any],
                     associated_data: str = "transaction") -> dict[str, str]:
    nonce = random_nonce(12)
    sealed = AESGCM(api_v3_key).encrypt(nonce.encode(), json.dumps(
        plain, ensure_ascii=False).encode(), associated_data.encode())
    return {"algorithm": ALGORITHM, "ciphertext": base64.b64encode(sealed).decode(),
            "associated_data": associated_data, "original_type": associated_data,
            "nonce": nonce}


@dataclass(frozen=True)
class NotificationVerifier:
    """What the platform holds to check a notification: the provider's certificate and the
    APIv3 key it shares with the provider."""

    certificate: x509.Certificate
    api_v3_key: bytes
    max_age_s: int

    @property
    def serial(self) -> str:
        return format(self.certificate.serial_number, "X")

    def open(self, headers: Mapping[str, str], body: bytes, now_s: int) -> dict[str, Any]:
        """The decrypted resource of a notification that verifies, else VerificationError."""
        values = {name: headers.get(name.lower(), "") for name in HEADERS}
        if not all(values.values()):
            raise VerificationError("headers_missing")
        if values["Wechatpay-Serial"].upper() != self.serial:
            raise VerificationError("unknown_serial")
        timestamp = values["Wechatpay-Timestamp"]
        if not timestamp.isdigit() or abs(now_s - int(timestamp)) > self.max_age_s:
            raise VerificationError("stale_timestamp")
        try:
            signature = base64.b64decode(values["Wechatpay-Signature"], validate=True)
            public = self.certificate.public_key()
            assert isinstance(public, rsa.RSAPublicKey)
            public.verify(signature, message(timestamp, values["Wechatpay-Nonce"], body),
                          padding.PKCS1v15(), hashes.SHA256())
        except (ValueError, InvalidSignature) as exc:
            raise VerificationError("bad_signature") from exc
        try:
            resource = json.loads(body)["resource"]
            if resource["algorithm"] != ALGORITHM:
                raise VerificationError("unknown_algorithm")
            plain = AESGCM(self.api_v3_key).decrypt(
                resource["nonce"].encode(), base64.b64decode(resource["ciphertext"]),
                resource.get("associated_data", "").encode())
            opened = json.loads(plain)
        except VerificationError:
            raise
        except (ValueError, KeyError, TypeError, InvalidTag) as exc:
            raise VerificationError("bad_resource") from exc
        if not isinstance(opened, dict):
            raise VerificationError("bad_resource")
        return opened

    @classmethod
    def load(cls, cert_file: str | Path, api_v3_key_file: str | Path,
             max_age_s: int) -> NotificationVerifier:
        certificate = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
        return cls(certificate, read_api_v3_key(api_v3_key_file), max_age_s)


def read_api_v3_key(path: str | Path) -> bytes:
    key = Path(path).read_bytes().strip()
    if len(key) != 32:
        raise ValueError(f"{path}: an APIv3 key is 32 bytes")
    return key


def make_provider_identity(directory: Path) -> ProviderSigner:
    """The simulated provider's key, certificate, APIv3 key and merchant token in
    ``directory``, made on first use (secrets 0600) and read back afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    key_file, cert_file = directory / "provider_key.pem", directory / "provider_cert.pem"
    if not key_file.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _secret(key_file, key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "simulated pay platform")])
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=3650)).sign(key, hashes.SHA256()))
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    for name in ("apiv3.key", "merchant.token"):
        if not (directory / name).exists():
            _secret(directory / name, random_nonce(32).encode())
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    return ProviderSigner(key, format(cert.serial_number, "X"))


def _secret(path: Path, data: bytes) -> None:
    with open(path, "xb", opener=lambda name, flags: os.open(name, flags, 0o600)) as file:
        file.write(data)
