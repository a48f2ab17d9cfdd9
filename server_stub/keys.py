"""The platform's secrets: its response-signing key and the key that seals face templates."""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kiosk.protocol.keys import fingerprint, load_or_create_private_key, public_key_b64
from kiosk.protocol.schemas import ServerKey


@dataclass(frozen=True)
class ServerIdentity:
    private_key: Ed25519PrivateKey

    @classmethod
    def load(cls, path: str | Path) -> ServerIdentity:
        return cls(load_or_create_private_key(Path(path)))

    @functools.cached_property
    def key_id(self) -> str:  # every response names it: computed once
        return fingerprint(self.private_key)

    def describe(self) -> ServerKey:
        return ServerKey(key_id=self.key_id, alg="ed25519",
                         public_key=public_key_b64(self.private_key),
                         fingerprint=fingerprint(self.private_key))


class SealError(Exception):
    """A sealed template that does not open: wrong data key or tampered row."""


class TemplateSealer:
    """AES-256-GCM, bound to (patient, pack) so a sealed row cannot be moved to another user."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def load(cls, path: str | Path) -> TemplateSealer:
        path = Path(path)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(AESGCM.generate_key(bit_length=256))
        key = path.read_bytes()
        if len(key) != 32:
            raise ValueError(f"{path}: a data key has 32 bytes, found {len(key)}")
        return cls(key)

    def seal(self, patient_id: str, pack: str, vector: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, vector, f"{patient_id}|{pack}".encode())

    def open(self, patient_id: str, pack: str, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], f"{patient_id}|{pack}".encode())
        except InvalidTag as exc:
            raise SealError(f"template of {patient_id}/{pack} does not open") from exc
