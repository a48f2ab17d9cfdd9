"""E-voucher QR payloads: ``CHSEV1-<token>-<check>``.

``token`` is 26 characters of the RFC 4648 base32 alphabet (A-Z, 2-7: 128 random bits, no
padding) and ``check`` the first 4 uppercase hex digits of sha256(token). The check catches
misreads at the scanner so a typo never reaches the platform as a lookup; only the platform
can say whether a well-formed voucher exists, has expired or was revoked.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

from kiosk.protocol.errors import ErrorCode, ProtocolError

PREFIX = "CHSEV1"
_PAYLOAD = re.compile(r"^CHSEV1-([A-Z2-7]{26})-([0-9A-F]{4})$")


def check_digits(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()[:4].upper()


def new_token() -> str:
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")


def format_payload(token: str) -> str:
    return f"{PREFIX}-{token}-{check_digits(token)}"


def parse_payload(payload: str) -> str:
    """The token of a well-formed payload; VOUCHER_MALFORMED for anything else."""
    match = _PAYLOAD.match(payload.strip()) if isinstance(payload, str) else None
    if match is None:
        raise ProtocolError(ErrorCode.VOUCHER_MALFORMED, "not an e-voucher payload")
    token, check = match.groups()
    if check != check_digits(token):
        raise ProtocolError(ErrorCode.VOUCHER_MALFORMED, "e-voucher check digits do not match")
    return token
