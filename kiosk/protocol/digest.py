"""RFC 9530 ``Content-Digest`` (sha-256) over the exact body bytes sent.

Both sides always send the field, an empty body included, so the signature always covers
the content and a verifier never has to guess whether a body was meant to be there. The
field holds exactly one member, ``sha-256``: the library would also accept sha-512 (or
check whichever members are there), which the protocol does not allow.
"""

from __future__ import annotations

import http_sf
from http_message_signatures import ContentDigest, InvalidSignature

from kiosk.protocol.errors import ErrorCode, ProtocolError


def content_digest(body: bytes) -> str:
    """The field value, e.g. ``sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:``."""
    return ContentDigest.create(body)


def verify_content_digest(value: str, body: bytes) -> None:
    """Raise DIGEST_MISMATCH unless ``value`` is a well-formed sha-256 digest of ``body``."""
    try:
        members = http_sf.parse(value.encode(), tltype="dictionary")
    except Exception:
        raise ProtocolError(ErrorCode.DIGEST_MISMATCH, "Content-Digest is malformed") from None
    if list(members) != ["sha-256"]:
        raise ProtocolError(ErrorCode.DIGEST_MISMATCH,
                            "Content-Digest must be exactly one sha-256 member")
    try:
        ContentDigest.verify(value, body)
    except InvalidSignature as exc:
        raise ProtocolError(ErrorCode.DIGEST_MISMATCH, str(exc)) from exc
