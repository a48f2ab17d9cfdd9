"""Signing keys as they travel and as they are stored, for either crypto profile.

On the wire a public key is the standard base64 of its raw bytes (Ed25519: 32; SM2: the
65-byte point ``04||x||y``); its fingerprint is the lowercase hex of the profile's hash of
those bytes (SHA-256; SM3 under ``gm``), so a person can compare it with what an installer
printed. Private keys live in PKCS#8 PEM files readable only by their owner. Which
algorithms a profile uses is decided in ``kiosk.protocol.crypto_profile`` alone; the
functions here take a key object (whose type says its profile) or a profile name.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Any

from common.errors import ErrorCode
from kiosk.protocol.crypto_profile import (
    DEFAULT_PROFILE,
    PROFILES,
    CryptoProfile,
    PrivateKey,
    PublicKey,
    get_profile,
    profile_of,
    profile_of_private_key_pem,
)
from kiosk.protocol.errors import ProtocolError


def generate_private_key(profile: str | CryptoProfile = DEFAULT_PROFILE) -> Any:
    return get_profile(profile).generate_private_key()


def _public(key: PublicKey | PrivateKey) -> PublicKey:
    return key.public_key() if isinstance(key, profile_of(key).private_type) else key


def public_key_bytes(key: PublicKey | PrivateKey) -> bytes:
    return profile_of(key).public_key_bytes(_public(key))


def public_key_b64(key: PublicKey | PrivateKey) -> str:
    return base64.b64encode(public_key_bytes(key)).decode("ascii")


def fingerprint(key: PublicKey | PrivateKey) -> str:
    return profile_of(key).hash(public_key_bytes(key)).hex()


def pinned_fingerprint(key: PublicKey | PrivateKey) -> str:
    """The fingerprint as a config pins it, naming its hash: ``sha256:…`` or ``sm3:…``."""
    return f"{profile_of(key).fingerprint_prefix}:{fingerprint(key)}"


def load_public_key_b64(text: str,
                        profile: str | CryptoProfile | None = DEFAULT_PROFILE) -> Any:
    """Parse a wire public key of ``profile`` (None: of whichever profile its length says);
    anything else is PUBLIC_KEY_INVALID, and a key of the other profile says so."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ProtocolError(ErrorCode.PUBLIC_KEY_INVALID, "public key is not base64") from exc
    expected = get_profile(profile) if profile is not None else next(
        (p for p in PROFILES.values() if p.public_key_len == len(raw)),
        get_profile(DEFAULT_PROFILE))
    try:
        return expected.load_public_key(raw)
    except ValueError as exc:
        message = str(exc)
        if any(p.public_key_len == len(raw) for p in _others(expected)):
            message += (f" (it looks like a key of another crypto profile; this side uses "
                        f"{expected.name!r}: {expected.key_kind})")
        raise ProtocolError(ErrorCode.PUBLIC_KEY_INVALID, message,
                            crypto_profile=expected.name) from None


def _others(profile: CryptoProfile) -> list[CryptoProfile]:
    return [p for p in PROFILES.values() if p is not profile]


def private_key_pem(key: PrivateKey) -> bytes:
    return profile_of(key).private_key_pem(key)


def load_private_key_pem(data: bytes, profile: str | CryptoProfile | None = None) -> Any:
    """The key in a PEM file; with ``profile``, a key of another profile is a ValueError
    saying which it is."""
    found = profile_of_private_key_pem(data)
    if found is None:
        raise ValueError("not an unencrypted PKCS#8 private key of either crypto profile "
                         "(BEGIN PRIVATE KEY, as `openssl genpkey` writes; convert others "
                         "with `openssl pkcs8 -topk8 -nocrypt`)")
    if profile is not None and found is not get_profile(profile):
        raise ValueError(f"this is an {found.key_kind} key (crypto profile {found.name!r}), "
                         f"but the crypto profile is {get_profile(profile).name!r}")
    return found.load_private_key_pem(data)


def load_or_create_private_key(path: Path,
                               profile: str | CryptoProfile = DEFAULT_PROFILE) -> Any:
    """The key at ``path``, created (mode 0600) on first use so a fresh install just works."""
    if path.exists():
        try:
            return load_private_key_pem(path.read_bytes(), profile)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_private_key(profile)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_key_pem(key))
    return key
