"""The platform's TLS: the key and certificate IT makes (``kiosk-server tls init``), the check
that they belong together, and the rule that the platform never listens in plain HTTP off
loopback (protocol §1.1). Devices pin the certificate's SHA-256 (``certificate_fingerprint``),
so a self-signed certificate is as good as one from the hospital's CA; the names in it are
for browsers and ``curl``, which check them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from common.atomic import atomic_write
from kiosk.protocol.transport import certificate_fingerprint, is_loopback
from server_stub.config import PlatformConfigError, ServerSection

DEFAULT_DAYS = 825  # what browsers accept for a server certificate; rotate before it ends
DRAIN_S = 3  # on shutdown, how long HTTPS connections get to finish (see cli.cmd_run)


@dataclass(frozen=True)
class Certificate:
    """What IT and the devices need to know about the certificate the platform serves."""

    cert_file: str
    key_file: str
    fingerprint: str  # sha256:<hex> of the DER certificate: the devices' pin
    names: tuple[str, ...]  # subjectAltName entries
    not_after: dt.datetime

    def describe(self) -> dict[str, Any]:
        return {"cert_file": self.cert_file, "key_file": self.key_file,
                "fingerprint": self.fingerprint, "names": list(self.names),
                "not_after": self.not_after.isoformat()}


def default_names() -> list[str]:
    """This machine's host name and FQDN: what a kiosk is most likely to be given."""
    return sorted({socket.gethostname(), socket.getfqdn()} - {""})


def _alt_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        if not name or any(c.isspace() or c in "/:@" for c in name):
            raise PlatformConfigError(
                f"{name!r} is neither a host name nor an IP address") from None
        return x509.DNSName(name.lower())


def generate(cert_file: Path, key_file: Path, names: list[str], *, days: int = DEFAULT_DAYS,
             force: bool = False) -> Certificate:
    """A new ECDSA P-256 key (mode 0600) and a self-signed server certificate for ``names``.
    Existing files are kept unless ``force`` (rotation: every device re-pins afterwards)."""
    if not names:
        raise PlatformConfigError(
            "give at least one name the devices use for the platform (--name)")
    if not 1 <= days <= 3650:
        raise PlatformConfigError("--days must be 1-3650")
    existing = [str(p) for p in (cert_file, key_file) if p.exists()]
    if existing and not force:
        raise PlatformConfigError(f"{', '.join(existing)} already exist(s): --force replaces them "
                                  "(every device must then re-pin: `kiosk tls repin`)")
    alt_names = [_alt_name(n) for n in names]
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False,
                                     content_commitment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    atomic_write(key_file, key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    os.chmod(key_file, 0o600)
    atomic_write(cert_file, cert.public_bytes(serialization.Encoding.PEM))
    os.chmod(cert_file, 0o644)
    return load(str(cert_file), str(key_file))


def load(cert_file: str, key_file: str) -> Certificate:
    """The configured pair, checked: both readable, the key the certificate's own."""
    try:
        cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    except (OSError, ValueError) as exc:
        raise PlatformConfigError(f"TLS certificate {cert_file}: {exc}") from exc
    try:
        key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise PlatformConfigError(f"TLS key {key_file}: {exc} (an unencrypted PEM key)") from exc
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        raise PlatformConfigError(f"TLS key {key_file} is not the key of {cert_file}")
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(str(n.value) for n in alt)
    except x509.ExtensionNotFound:
        names = ()
    return Certificate(cert_file, key_file,
                       certificate_fingerprint(cert.public_bytes(serialization.Encoding.DER)),
                       names, cert.not_valid_after_utc)


def for_listening(server: ServerSection, host: str) -> Certificate | None:
    """The certificate to serve on ``host``; None means plain HTTP, allowed on loopback only."""
    if server.tls_cert_file:
        return load(server.tls_cert_file, server.tls_key_file)
    if not is_loopback(host):
        raise PlatformConfigError(
            f"refusing to serve plain HTTP on {host} (not loopback): face templates and "
            "patient data would cross the network unencrypted. Make a certificate with "
            "`kiosk-server tls init --name <host name kiosks use>` and set [server] "
            "tls_cert_file and tls_key_file, or listen on 127.0.0.1")
    return None


def configured_fingerprint(server: ServerSection) -> str | None:
    """The pin the platform states in its signed server-key answer (None: plain HTTP)."""
    if not server.tls_cert_file:
        return None
    return load(server.tls_cert_file, server.tls_key_file).fingerprint
