"""The mobile insurance e-voucher (医保电子凭证) QR payload: syntax check only.

Format (docs/evoucher.md): ``CHSEV1-<token>-<check>``; the token is 26 characters of the
RFC 4648 base32 alphabet (A-Z, 2-7), 128 random bits, and ``check`` the first 4 hex digits
(uppercase) of SHA-256 over the token's ASCII bytes. The check catches misreads and typed
garbage locally, before a network round trip; the backend alone decides whether the token is
genuine, unexpired and unused. Rejections carry distinct codes so the screen can say
"this is not an insurance code" apart from "please scan again".
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from device.errors import EVoucherError

PREFIX = "CHSEV"
VERSION = 1
TOKEN_LENGTH = 26
MAX_PAYLOAD = 256  # longer scans are not ours; also bounds work on hostile input

_STRUCTURE = re.compile(r"^CHSEV(?P<version>[0-9]+)-(?P<token>[^-]*)-(?P<check>[^-]*)$")
_VERSION = re.compile(r"^CHSEV(?P<version>[0-9]+)-")
_TOKEN = re.compile(rf"^[A-Z2-7]{{{TOKEN_LENGTH}}}$")
_CHECK = re.compile(r"^[0-9A-F]{4}$")


@dataclass(frozen=True)
class EVoucher:
    version: int
    token: str
    check: str

    @property
    def payload(self) -> str:
        return f"{PREFIX}{self.version}-{self.token}-{self.check}"

    def masked(self) -> str:
        """For logs and screens: enough to tell two vouchers apart, not enough to replay one."""
        return f"{PREFIX}{self.version}-{self.token[:4]}…-{self.check}"


def token_check(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()[:4].upper()


def make_evoucher(token: str | None = None) -> str:
    """A well-formed payload (random token by default): for the simulator, demos and tests."""
    if token is None:
        token = base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")
    return f"{PREFIX}{VERSION}-{token}-{token_check(token)}"


def parse_evoucher(text: str) -> EVoucher:
    """Validate a scanned payload; raises ``EVoucherError`` with one of the codes
    evoucher.not_evoucher, evoucher.unsupported_version, evoucher.malformed,
    evoucher.bad_token, evoucher.checksum_mismatch."""
    text = text.strip()  # scanners append CR/LF; nothing else is forgiven
    if not text.startswith(PREFIX) or len(text) > MAX_PAYLOAD:
        raise EVoucherError(_not_ours_message(text), code="evoucher.not_evoucher",
                            length=len(text))
    version = _VERSION.match(text)
    if version is None:
        raise EVoucherError("e-voucher code is malformed (no version)", code="evoucher.malformed",
                            length=len(text))
    if int(version.group("version")) != VERSION:
        raise EVoucherError(f"e-voucher version {version.group('version')} is not supported "
                            f"(this kiosk reads version {VERSION})",
                            code="evoucher.unsupported_version",
                            version=version.group("version")[:8])
    parts = _STRUCTURE.match(text)
    if parts is None:
        raise EVoucherError("e-voucher code is malformed (expected CHSEV1-<token>-<check>)",
                            code="evoucher.malformed", length=len(text))
    token, check = parts.group("token"), parts.group("check")
    if not _TOKEN.match(token):
        raise EVoucherError(f"e-voucher token must be {TOKEN_LENGTH} characters A-Z or 2-7 "
                            f"(got {len(token)} characters)", code="evoucher.bad_token",
                            token_length=len(token))
    if not _CHECK.match(check):
        raise EVoucherError("e-voucher check must be 4 hex digits", code="evoucher.malformed",
                            length=len(text))
    if token_check(token) != check:
        raise EVoucherError("e-voucher check digits do not match: scan again",
                            code="evoucher.checksum_mismatch")
    return EVoucher(VERSION, token, check)


def _not_ours_message(text: str) -> str:
    if not text:
        return "empty scan"
    if urlsplit(text).scheme in ("http", "https"):
        return "this is a web link, not an insurance e-voucher"
    return "not an insurance e-voucher code"
