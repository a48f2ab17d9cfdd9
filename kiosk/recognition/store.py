"""The models store: where installed model files live and how they are verified on load."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from common.atomic import atomic_write
from kiosk.errors import ModelDigestMismatch, ModelMissing
from kiosk.recognition.manifest import ModelFile, PackManifest

RECORD = "installed.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_record(store: Path) -> dict[str, Any]:
    path = store / RECORD
    if not path.exists():
        return {"packs": {}}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"packs": {}}


def write_record(store: Path, record: dict[str, Any]) -> None:
    atomic_write(store / RECORD, json.dumps(record, indent=2, sort_keys=True).encode())


def converted_name(source_sha256: str, variant: str = "") -> str:
    return f"converted/{source_sha256}{variant}.f32.onnx"


def resolve_file(manifest: PackManifest, spec: ModelFile, store: Path) -> Path:
    """Path of the runnable file for ``spec``, verified against its recorded digest."""
    source = store / spec.path
    if spec.convert:
        entry = read_record(store).get("packs", {}).get(manifest.id, {}).get(spec.role)
        if not entry:
            raise ModelMissing(
                f"model file {spec.path} of pack '{manifest.id}' is not installed: "
                f"run `kiosk models install --pack {manifest.id}` (it goes to {store})",
                pack=manifest.id, file=spec.path,
            )
        path = store / entry["converted_path"]
        expected = entry["converted_sha256"]
        pinned = spec.options.get("converted_sha256")
        if pinned and expected != pinned:
            raise ModelDigestMismatch(
                f"the installed conversion of {spec.path} is not the one pack '{manifest.id}' "
                f"pins: run `kiosk models install --pack {manifest.id}`",
                pack=manifest.id, file=spec.path,
            )
    else:
        path = source
        expected = spec.sha256
    if not path.is_file():
        raise ModelMissing(
            f"model file {path.name} of pack '{manifest.id}' is missing: put it at {path}",
            pack=manifest.id, file=spec.path,
        )
    if expected and sha256_file(path) != expected:
        raise ModelDigestMismatch(
            f"model file {path} does not match its recorded SHA-256; reinstall the pack",
            pack=manifest.id, file=spec.path,
        )
    return path
