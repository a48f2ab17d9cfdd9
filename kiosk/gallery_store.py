"""The kiosk's local copy of its site's gallery, encrypted at rest.

One file, AES-256-GCM (SM4-GCM under the ``gm`` crypto profile: ``kiosk.protocol.
crypto_profile``), key in a separate 0600 file the device owns; the
pack id is authenticated data, so a gallery can never be loaded under another pack. Saves are
atomic (temp file + fsync + rename): a crash mid-sync leaves the previous gallery intact.
The whole gallery is rewritten per sync: at the default scope (patients with an open bill at
this site: hundreds) that is well under a megabyte.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag

from common.atomic import atomic_write
from common.errors import ErrorCode
from kiosk.errors import KioskError
from kiosk.protocol.crypto_profile import DEFAULT_PROFILE, CryptoProfile, get_profile
from kiosk.recognition.gallery import Gallery
from kiosk.recognition.template import Template

MAGIC = b"KGAL1"


class GalleryStoreError(KioskError):
    code = ErrorCode.GALLERY_STORE_INVALID


@dataclass
class SyncState:
    cursor: int = 0
    synced_at: float = 0.0


def load_or_create_key(path: Path, profile: str | CryptoProfile = DEFAULT_PROFILE) -> bytes:
    """The device's gallery key for the crypto profile's cipher (32 random bytes for
    AES-256-GCM, 16 for SM4-GCM), created once with mode 0600."""
    chosen = get_profile(profile)
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise GalleryStoreError(f"{path} is readable by others (mode {mode:o}); "
                                    "chmod 600 it")
        key = path.read_bytes()
        if len(key) != chosen.data_key_len:
            raise GalleryStoreError(
                f"{path} is not a {chosen.data_key_len}-byte {chosen.seal_name} key (crypto "
                f"profile {chosen.name!r}): after a change of profile delete it and the "
                "gallery file; the gallery syncs again from the platform")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = chosen.new_data_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
        fh.flush()
        os.fsync(fh.fileno())
    return key


class GalleryStore:
    def __init__(self, path: Path, key: bytes, pack: str, dim: int,
                 profile: str | CryptoProfile = DEFAULT_PROFILE) -> None:
        self.path = path
        self.aead = get_profile(profile).aead(key)
        self.pack = pack
        self.dim = dim

    def _aad(self) -> bytes:
        return MAGIC + self.pack.encode()

    def save(self, gallery: Gallery, state: SyncState) -> None:
        persons: list[str] = []
        rows: list[np.ndarray] = []
        for person in gallery.persons():
            for vector in gallery.vectors_of(person):
                persons.append(person)
                rows.append(vector)
        meta = json.dumps({"pack": self.pack, "dim": self.dim, "cursor": state.cursor,
                           "synced_at": state.synced_at, "persons": persons}).encode()
        matrix = (np.stack(rows) if rows else np.zeros((0, self.dim))).astype("<f4").tobytes()
        plain = struct.pack("<I", len(meta)) + meta + matrix
        nonce = os.urandom(12)
        atomic_write(self.path, MAGIC + nonce + self.aead.encrypt(nonce, plain, self._aad()))
        os.chmod(self.path, 0o600)

    def load(self) -> tuple[Gallery, SyncState]:
        gallery = Gallery(self.pack, self.dim)
        if not self.path.exists():
            return gallery, SyncState()
        blob = self.path.read_bytes()
        if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 12 + 16:
            raise GalleryStoreError(f"{self.path} is not a kiosk gallery file")
        nonce = blob[len(MAGIC) : len(MAGIC) + 12]
        try:
            plain = self.aead.decrypt(nonce, blob[len(MAGIC) + 12 :], self._aad())
        except InvalidTag as exc:
            raise GalleryStoreError(
                f"{self.path} cannot be decrypted with this device's key for pack "
                f"'{self.pack}' (wrong key, other pack, or tampered)") from exc
        (size,) = struct.unpack_from("<I", plain)
        meta = json.loads(plain[4 : 4 + size])
        matrix = np.frombuffer(plain[4 + size :], dtype="<f4").reshape(-1, self.dim)
        persons = meta["persons"]
        if len(persons) != len(matrix):
            raise GalleryStoreError(f"{self.path}: {len(persons)} owners for {len(matrix)} rows")
        for person in dict.fromkeys(persons):
            idx = [i for i, p in enumerate(persons) if p == person]
            gallery.add_vectors(person, matrix[idx])
        return gallery, SyncState(meta["cursor"], meta.get("synced_at", 0.0))


def apply_sync(gallery: Gallery, upserts: list[tuple[str, Template]],
               deletions: list[str]) -> tuple[int, int]:
    """Apply one sync page: a person's upsert replaces their templates; deletions drop them."""
    removed = sum(1 for person in deletions if gallery.remove_person(person))
    for person, template in upserts:
        gallery.remove_person(person)
        gallery.add(person, template)
    return len(upserts), removed
