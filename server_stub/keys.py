"""The platform's secrets: its response-signing key and the key that seals face templates,
both of the configured crypto profile (``kiosk.protocol.crypto_profile``)."""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag

from common.errors import CodedError, ErrorCode
from kiosk.protocol.crypto_profile import (
    DEFAULT_PROFILE,
    GCM_NONCE_BYTES,
    CryptoProfile,
    get_profile,
    profile_of,
)
from kiosk.protocol.keys import fingerprint, load_or_create_private_key, public_key_b64
from kiosk.protocol.schemas import ServerKey


@dataclass(frozen=True)
class ServerIdentity:
    private_key: Any  # Ed25519PrivateKey | Sm2PrivateKey: its type is the profile

    @classmethod
    def load(cls, path: str | Path, profile: str | CryptoProfile = DEFAULT_PROFILE
             ) -> ServerIdentity:
        """The key at ``path`` (made on first run); one of another profile is a ValueError:
        switching profiles needs a new key file and every device provisioned again."""
        return cls(load_or_create_private_key(Path(path), profile))

    @functools.cached_property
    def key_id(self) -> str:  # every response names it: computed once
        return fingerprint(self.private_key)

    def describe(self) -> ServerKey:
        profile = profile_of(self.private_key)
        return ServerKey(key_id=self.key_id, alg=profile.alg, crypto_profile=profile.name,
                         public_key=public_key_b64(self.private_key),
                         fingerprint=fingerprint(self.private_key))


class SealError(CodedError):
    """A sealed template that does not open: wrong data key or tampered row."""

    code = ErrorCode.TEMPLATE_UNSEALABLE


class TemplateSealer:
    """The profile's AEAD (AES-256-GCM, or SM4-GCM under ``gm``), bound to (patient, pack)
    so a sealed row cannot be moved to another user. A row is nonce (12) || ciphertext ||
    tag (16) under both."""

    def __init__(self, key: bytes, profile: str | CryptoProfile = DEFAULT_PROFILE) -> None:
        self.profile = get_profile(profile)
        self._aead = self.profile.aead(key)

    @classmethod
    def load(cls, path: str | Path, profile: str | CryptoProfile = DEFAULT_PROFILE
             ) -> TemplateSealer:
        chosen = get_profile(profile)
        path = Path(path)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(chosen.new_data_key())
        key = path.read_bytes()
        if len(key) != chosen.data_key_len:
            raise ValueError(f"{path}: a {chosen.seal_name} data key (crypto profile "
                             f"{chosen.name!r}) has {chosen.data_key_len} bytes, found "
                             f"{len(key)}: a key of another profile cannot open its templates")
        return cls(key, chosen)

    def seal(self, patient_id: str, pack: str, vector: bytes) -> bytes:
        nonce = secrets.token_bytes(GCM_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, vector, f"{patient_id}|{pack}".encode())

    def open(self, patient_id: str, pack: str, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:GCM_NONCE_BYTES], sealed[GCM_NONCE_BYTES:],
                                      f"{patient_id}|{pack}".encode())
        except InvalidTag as exc:
            raise SealError(f"template of {patient_id}/{pack} does not open") from exc
