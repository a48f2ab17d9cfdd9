"""Ed25519 keys as they travel and as they are stored.

On the wire a public key is the standard base64 of its 32 raw bytes; its fingerprint is the
lowercase hex SHA-256 of those bytes, so a person can compare it with what an installer
printed. Private keys live in PKCS#8 PEM files readable only by their owner.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.protocol.errors import ErrorCode, ProtocolError

RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key_bytes(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(*RAW)


def public_key_b64(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    return base64.b64encode(public_key_bytes(key)).decode("ascii")


def fingerprint(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    return hashlib.sha256(public_key_bytes(key)).hexdigest()


def load_public_key_b64(text: str) -> Ed25519PublicKey:
    """Parse a wire public key; anything but 32 base64 bytes is PUBLIC_KEY_INVALID."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ProtocolError(ErrorCode.PUBLIC_KEY_INVALID, "public key is not base64") from exc
    if len(raw) != 32:
        raise ProtocolError(ErrorCode.PUBLIC_KEY_INVALID,
                            f"an Ed25519 public key has 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private_key_pem(data: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def load_or_create_private_key(path: Path) -> Ed25519PrivateKey:
    """The key at ``path``, created (mode 0600) on first use so a fresh install just works."""
    if path.exists():
        return load_private_key_pem(path.read_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_private_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_key_pem(key))
    return key
