"""RFC 9530 ``Content-Digest`` over the exact body bytes sent: ``sha-256``, or ``sm3`` under
the ``gm`` crypto profile.

Both sides always send the field, an empty body included, so the signature always covers
the content and a verifier never has to guess whether a body was meant to be there. The
field holds exactly one member, the profile's: the library would also accept sha-512 (or
check whichever members are there), which the protocol does not allow.
"""

from __future__ import annotations

import http_sf
from http_message_signatures import InvalidSignature

from common.errors import ErrorCode
from kiosk.protocol.crypto_profile import DEFAULT_PROFILE, CryptoProfile, get_profile
from kiosk.protocol.errors import ProtocolError


def content_digest(body: bytes, profile: str | CryptoProfile = DEFAULT_PROFILE) -> str:
    """The field value, e.g. ``sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:``."""
    return get_profile(profile).content_digest.create(body)


def verify_content_digest(value: str, body: bytes,
                          profile: str | CryptoProfile = DEFAULT_PROFILE) -> None:
    """Raise DIGEST_MISMATCH unless ``value`` is a well-formed digest of ``body`` with the
    profile's one member."""
    chosen = get_profile(profile)
    try:
        members = http_sf.parse(value.encode(), tltype="dictionary")
    except Exception:
        raise ProtocolError(ErrorCode.DIGEST_MISMATCH, "Content-Digest is malformed") from None
    if list(members) != [chosen.digest]:
        raise ProtocolError(ErrorCode.DIGEST_MISMATCH,
                            f"Content-Digest must be exactly one {chosen.digest} member",
                            crypto_profile=chosen.name)
    try:
        chosen.content_digest.verify(value, body)
    except InvalidSignature as exc:
        raise ProtocolError(ErrorCode.DIGEST_MISMATCH, str(exc)) from exc
