"""The transport rules both sides apply (protocol §1.1): plain HTTP only on loopback, and what
a pinned TLS certificate's fingerprint is.

Loopback is the configured or dialled *name*, never a resolved address: ``localhost``,
``127.0.0.0/8`` and ``::1``. Anything else (``0.0.0.0``, ``::``, a LAN address, a host name)
may carry traffic off the machine, so it must be TLS.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from urllib.parse import urlsplit

FINGERPRINT_PREFIX = "sha256:"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (brackets allowed), nothing else."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def insecure_url_reason(url: str) -> str | None:
    """Why ``url`` may not be used (plain HTTP to a host that is not loopback), or None."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return None
    if parts.scheme != "http":
        return f"{url}: the platform URL must start with https:// (or http:// on loopback)"
    if is_loopback(parts.hostname or ""):
        return None
    return (f"{url}: plain HTTP is refused to a host that is not loopback "
            f"({parts.hostname}); use https:// - the platform serves TLS off loopback")


def certificate_fingerprint(der: bytes) -> str:
    """``sha256:<hex>`` of a certificate's DER bytes: what a device pins."""
    return FINGERPRINT_PREFIX + hashlib.sha256(der).hexdigest()


def normalise_fingerprint(text: str) -> str:
    """``sha256:<64 lowercase hex>`` from what a person typed (colons, case, no prefix);
    ValueError for anything else."""
    value = text.strip().lower().removeprefix(FINGERPRINT_PREFIX).replace(":", "")
    if not _HEX64.match(value):
        raise ValueError(f"{text!r} is not a SHA-256 fingerprint (sha256: and 64 hex digits)")
    return FINGERPRINT_PREFIX + value
