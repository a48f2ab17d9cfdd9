"""RFC 9530 ``Content-Digest`` (sha-256) over the exact body bytes sent.

Both sides always send the field, an empty body included, so the signature always covers
the content and a verifier never has to guess whether a body was meant to be there.
"""

from __future__ import annotations

from http_message_signatures import ContentDigest, InvalidSignature

from kiosk.protocol.errors import ErrorCode, ProtocolError


def content_digest(body: bytes) -> str:
    """The field value, e.g. ``sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:``."""
    return ContentDigest.create(body)


def verify_content_digest(value: str, body: bytes) -> None:
    """Raise DIGEST_MISMATCH unless ``value`` is a well-formed digest of ``body``."""
    try:
        ContentDigest.verify(value, body)
    except InvalidSignature as exc:
        raise ProtocolError(ErrorCode.DIGEST_MISMATCH, str(exc)) from exc
