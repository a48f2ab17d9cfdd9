"""The mobile insurance e-voucher (医保电子凭证) QR payload ``CHSEV1-<token>-<check>``: the one
format and the one parser, for what a kiosk's or counter's scanner read and what a kiosk sends
the platform (scanners only deliver the raw text).

``token`` is 26 characters of the RFC 4648 base32 alphabet (A-Z, 2-7: 128 random bits, no
padding) and ``check`` the first 4 uppercase hex digits of SHA-256 over the token's ASCII
bytes (docs/evoucher.md). The check catches misreads and typed garbage locally, before a
network round trip; only the platform can say whether a well-formed voucher exists, has
expired or was revoked. Rejections carry distinct ``evoucher.*`` codes so the screen can say
"this is not an insurance code" apart from "please scan again"; on the wire every one of them
is ``voucher.malformed`` (400), the released code (``parse_payload``).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from common.errors import CodedError, ErrorCode
from kiosk.protocol.errors import ProtocolError

PREFIX = "CHSEV"
VERSION = 1
TOKEN_LENGTH = 26
MAX_PAYLOAD = 256  # longer scans are not ours; also bounds work on hostile input

_STRUCTURE = re.compile(r"^CHSEV(?P<version>[0-9]+)-(?P<token>[^-]*)-(?P<check>[^-]*)$")
_VERSION = re.compile(r"^CHSEV(?P<version>[0-9]+)-")
_TOKEN = re.compile(rf"^[A-Z2-7]{{{TOKEN_LENGTH}}}$")
_CHECK = re.compile(r"^[0-9A-F]{4}$")


class EVoucherError(CodedError):
    """A payload that is not a usable e-voucher; ``code`` says why (docs/evoucher.md).

    Messages never repeat the scanned text: it may be anything, including someone's data.
    """

    code = ErrorCode.EVOUCHER_INVALID


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


def check_digits(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()[:4].upper()


def new_token() -> str:
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")


def format_payload(token: str | None = None) -> str:
    """The payload of ``token`` (a random one by default: the simulator, demos and tests)."""
    token = new_token() if token is None else token
    return f"{PREFIX}{VERSION}-{token}-{check_digits(token)}"


def parse_evoucher(text: str) -> EVoucher:
    """Validate a scanned payload; raises ``EVoucherError`` with one of the codes
    evoucher.not_evoucher, evoucher.unsupported_version, evoucher.malformed,
    evoucher.bad_token, evoucher.checksum_mismatch."""
    text = text.strip()  # scanners append CR/LF; nothing else is forgiven
    if not text.startswith(PREFIX) or len(text) > MAX_PAYLOAD:
        raise EVoucherError(_not_ours_message(text), code=ErrorCode.EVOUCHER_NOT_EVOUCHER,
                            length=len(text))
    version = _VERSION.match(text)
    if version is None:
        raise EVoucherError("e-voucher code is malformed (no version)",
                            code=ErrorCode.EVOUCHER_MALFORMED, length=len(text))
    if int(version.group("version")) != VERSION:
        raise EVoucherError(f"e-voucher version {version.group('version')} is not supported "
                            f"(this kiosk reads version {VERSION})",
                            code=ErrorCode.EVOUCHER_UNSUPPORTED_VERSION,
                            version=version.group("version")[:8])
    parts = _STRUCTURE.match(text)
    if parts is None:
        raise EVoucherError("e-voucher code is malformed (expected CHSEV1-<token>-<check>)",
                            code=ErrorCode.EVOUCHER_MALFORMED, length=len(text))
    token, check = parts.group("token"), parts.group("check")
    if not _TOKEN.match(token):
        raise EVoucherError(f"e-voucher token must be {TOKEN_LENGTH} characters A-Z or 2-7 "
                            f"(got {len(token)} characters)", code=ErrorCode.EVOUCHER_BAD_TOKEN,
                            token_length=len(token))
    if not _CHECK.match(check):
        raise EVoucherError("e-voucher check must be 4 hex digits",
                            code=ErrorCode.EVOUCHER_MALFORMED, length=len(text))
    if check_digits(token) != check:
        raise EVoucherError("e-voucher check digits do not match: scan again",
                            code=ErrorCode.EVOUCHER_CHECKSUM_MISMATCH)
    return EVoucher(VERSION, token, check)


def parse_payload(payload: object) -> str:
    """The platform's reading of a payload a kiosk sent: its token, or ``voucher.malformed``
    with the local reason in the details."""
    if not isinstance(payload, str):
        raise ProtocolError(ErrorCode.VOUCHER_MALFORMED, "not an e-voucher payload")
    try:
        return parse_evoucher(payload).token
    except EVoucherError as exc:
        raise ProtocolError(ErrorCode.VOUCHER_MALFORMED, exc.message,
                            reason=str(exc.code)) from None


def _not_ours_message(text: str) -> str:
    if not text:
        return "empty scan"
    if urlsplit(text).scheme in ("http", "https"):
        return "this is a web link, not an insurance e-voucher"
    return "not an insurance e-voucher code"
