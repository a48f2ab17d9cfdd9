"""Local gallery: encrypted at rest, key 0600, tamper-evident, sync upserts and deletions."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from kiosk.gallery_store import (
    GalleryStore,
    GalleryStoreError,
    SyncState,
    apply_sync,
    load_or_create_key,
)
from kiosk.recognition.gallery import Gallery
from kiosk.recognition.template import Template


def _t(seed: int, dim: int = 16) -> Template:
    return Template.create("p", np.random.default_rng(seed).standard_normal(dim))


def test_round_trip_encrypted_with_a_private_key(tmp_path: Path):
    key = load_or_create_key(tmp_path / "gallery.key")
    assert (tmp_path / "gallery.key").stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(tmp_path / "gallery.key") == key
    g = Gallery("p", 16)
    apply_sync(g, [("alice", _t(1)), ("bob", _t(2))], [])
    g.add("alice", _t(3))
    store = GalleryStore(tmp_path / "gallery.enc", key, "p", 16)
    store.save(g, SyncState(cursor=42, synced_at=5.0))
    blob = (tmp_path / "gallery.enc").read_bytes()
    assert b"alice" not in blob and _t(1).vector.tobytes()[:16] not in blob
    loaded, state = store.load()
    assert state.cursor == 42 and sorted(loaded.persons()) == ["alice", "bob"]
    assert len(loaded) == 3
    assert loaded.search(_t(3), k=1)[0].person_id == "alice"


def test_deletions_and_upserts_replace(tmp_path: Path):
    g = Gallery("p", 16)
    apply_sync(g, [("alice", _t(1)), ("bob", _t(2))], [])
    added, removed = apply_sync(g, [("alice", _t(5))], ["bob", "nobody"])
    assert (added, removed) == (1, 1)
    assert g.persons() == ["alice"] and len(g) == 1
    assert g.search(_t(5), k=1)[0].score == pytest.approx(1.0, abs=1e-5)


def test_wrong_key_wrong_pack_tamper_and_loose_permissions(tmp_path: Path):
    key = load_or_create_key(tmp_path / "k")
    g = Gallery("p", 16)
    g.add("alice", _t(1))
    GalleryStore(tmp_path / "g.enc", key, "p", 16).save(g, SyncState())
    with pytest.raises(GalleryStoreError, match="cannot be decrypted"):
        GalleryStore(tmp_path / "g.enc", os.urandom(32), "p", 16).load()
    with pytest.raises(GalleryStoreError, match="other pack"):
        GalleryStore(tmp_path / "g.enc", key, "buffalo_l", 16).load()
    blob = bytearray((tmp_path / "g.enc").read_bytes())
    blob[-1] ^= 1
    (tmp_path / "g.enc").write_bytes(bytes(blob))
    with pytest.raises(GalleryStoreError):
        GalleryStore(tmp_path / "g.enc", key, "p", 16).load()
    (tmp_path / "junk").write_bytes(b"hello")
    with pytest.raises(GalleryStoreError, match="not a kiosk gallery"):
        GalleryStore(tmp_path / "junk", key, "p", 16).load()
    os.chmod(tmp_path / "k", 0o644)
    with pytest.raises(GalleryStoreError, match="chmod 600"):
        load_or_create_key(tmp_path / "k")
