"""How a device reaches the platform (protocol §1.1): plain HTTP only to loopback, and over
HTTPS only to the certificate pinned at provisioning.

The pin replaces certificate-chain and host-name checks: urllib3 compares the SHA-256 of the
certificate the server presents with the pin during the handshake, before a byte of the
request is sent (``assert_fingerprint``), so a wrong certificate costs nothing but the
connection. A self-signed platform certificate therefore needs no CA on the terminal.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from common.errors import ErrorCode
from kiosk.errors import KioskError
from kiosk.protocol.transport import (
    certificate_fingerprint,
    insecure_url_reason,
    normalise_fingerprint,
)

_URLLIB3_MISMATCH = "Fingerprints did not match"  # urllib3.util.ssl_.assert_fingerprint


class TransportError(KioskError):
    """A connection this device refuses to use; ``code`` is from the error registry."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message, code=code)


def require_secure_url(url: str) -> None:
    """TransportError ``client.insecure_transport`` for plain HTTP off loopback."""
    reason = insecure_url_reason(url)
    if reason is not None:
        raise TransportError(ErrorCode.INSECURE_TRANSPORT, reason)


class PinnedAdapter(HTTPAdapter):
    """HTTPS to the one certificate whose fingerprint is ``pin`` (``sha256:<hex>``)."""

    def __init__(self, pin: str, **kwargs: Any) -> None:
        self.pin_hex = normalise_fingerprint(pin).removeprefix("sha256:")
        super().__init__(**kwargs)

    def build_connection_pool_key_attributes(self, request: requests.PreparedRequest,
                                             verify: Any, cert: Any = None
                                             ) -> tuple[dict[str, Any], dict[str, Any]]:
        host, pool = super().build_connection_pool_key_attributes(request, False, cert)
        pool["assert_fingerprint"] = self.pin_hex  # checked in the handshake, not the chain
        return host, pool

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, False, cert)
        conn.assert_fingerprint = self.pin_hex


def mount_pin(session: requests.Session, pin: str, **adapter: Any) -> requests.Session:
    """``session`` speaking HTTPS only to the pinned certificate (``adapter``: e.g. retries)."""
    session.mount("https://", PinnedAdapter(pin, **adapter))
    return session


def pin_mismatch(exc: requests.exceptions.SSLError) -> bool:
    """True when the handshake worked but the certificate was not the pinned one."""
    return _URLLIB3_MISMATCH in str(exc)


def mismatch_error(url: str, pin: str) -> TransportError:
    return TransportError(
        ErrorCode.TLS_PIN_MISMATCH,
        f"{url}: the platform's TLS certificate is not the one pinned ({pin[:19]}...); "
        "refused before sending anything. A rotated certificate is re-pinned with "
        "`kiosk tls repin`; otherwise this is an interception")


def peer_fingerprint(url: str, timeout_s: float) -> str:
    """``sha256:<hex>`` of the certificate the HTTPS server at ``url`` presents, unverified:
    the caller decides whether to trust it (provisioning binds it to the signed server key).
    OSError (``ssl.SSLError`` included) when there is no TLS server there."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout_s) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError(f"{url}: the server presented no certificate")
    return certificate_fingerprint(der)
