"""Model-pack manifests: what files a pack needs, how to verify them, and its thresholds."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.errors import ManifestError
from models import PACKS_DIR

ENGINES = ("opencv_zoo", "insightface")


@dataclass(frozen=True)
class ModelFile:
    role: str
    path: str
    sha256: str | None = None
    member: str | None = None
    convert: str | None = None
    input_size: tuple[int, int] = (112, 112)
    channel_order: str = "RGB"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Thresholds:
    match: float
    candidate: float
    margin: float
    match_fmr: float | None = None
    candidate_fmr: float | None = None
    calibration: str = ""


@dataclass(frozen=True)
class PackManifest:
    id: str
    name: str
    engine: str
    licence: str
    commercial_use: bool
    embedding_dim: int
    source: dict[str, Any]
    files: dict[str, ModelFile]
    thresholds: Thresholds

    @property
    def detector(self) -> ModelFile:
        return self.files["detector"]

    @property
    def recognizer(self) -> ModelFile:
        return self.files["recognizer"]


_FILE_KEYS = {"path", "sha256", "member", "convert", "input_size", "channel_order", "mean", "std"}


def _require(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in table:
        raise ManifestError(f"{where}: missing key '{key}'")
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestError(f"{where}: '{key}' must be {kind.__name__}")
    return value


def parse_model_file(role: str, table: dict[str, Any], where: str) -> ModelFile:
    """One ``[files.<role>]`` table (also the PAD model manifest's ``[file]``)."""
    path = _require(table, "path", str, where)
    if Path(path).is_absolute() or ".." in Path(path).parts:
        raise ManifestError(f"{where}: path must be relative to the store")
    for key in ("sha256", "converted_sha256"):
        sha = table.get(key)
        if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
            raise ManifestError(f"{where}: {key} must be 64 lowercase hex digits")
    size = table.get("input_size", [112, 112])
    if len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
        raise ManifestError(f"{where}: input_size must be [width, height]")
    order = table.get("channel_order", "RGB")
    if order not in ("RGB", "BGR"):
        raise ManifestError(f"{where}: channel_order must be RGB or BGR")
    return ModelFile(
        role=role,
        path=path,
        sha256=table.get("sha256"),
        member=table.get("member"),
        convert=table.get("convert"),
        input_size=(size[0], size[1]),
        channel_order=order,
        mean=tuple(float(v) for v in table.get("mean", (0.0, 0.0, 0.0))),  # type: ignore[arg-type]
        std=tuple(float(v) for v in table.get("std", (1.0, 1.0, 1.0))),  # type: ignore[arg-type]
        options={k: v for k, v in table.items() if k not in _FILE_KEYS},
    )


def parse_manifest(data: dict[str, Any], where: str) -> PackManifest:
    engine = _require(data, "engine", str, where)
    if engine not in ENGINES:
        raise ManifestError(f"{where}: engine must be one of {', '.join(ENGINES)}")
    files_table = _require(data, "files", dict, where)
    files = {}
    for role in ("detector", "recognizer"):
        if role not in files_table:
            raise ManifestError(f"{where}: missing [files.{role}]")
        files[role] = parse_model_file(role, files_table[role], f"{where} [files.{role}]")
    th = _require(data, "thresholds", dict, where)
    tw = f"{where} [thresholds]"
    thresholds = Thresholds(
        match=_require(th, "match", float, tw),
        candidate=_require(th, "candidate", float, tw),
        margin=_require(th, "margin", float, tw),
        match_fmr=th.get("match_fmr"),
        candidate_fmr=th.get("candidate_fmr"),
        calibration=str(th.get("calibration", "")),
    )
    if not -1.0 <= thresholds.candidate <= thresholds.match <= 1.0:
        raise ManifestError(f"{tw}: need -1 <= candidate <= match <= 1")
    dim = _require(data, "embedding_dim", int, where)
    if dim <= 0:
        raise ManifestError(f"{where}: embedding_dim must be positive")
    return PackManifest(
        id=_require(data, "id", str, where),
        name=_require(data, "name", str, where),
        engine=engine,
        licence=_require(data, "licence", str, where),
        commercial_use=_require(data, "commercial_use", bool, where),
        embedding_dim=dim,
        source=_require(data, "source", dict, where),
        files=files,
        thresholds=thresholds,
    )


def load_manifest(path: Path) -> PackManifest:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: {exc}") from exc
    return parse_manifest(data, str(path.name))


def available_packs(packs_dir: Path = PACKS_DIR) -> dict[str, PackManifest]:
    packs = {}
    for path in sorted(packs_dir.glob("*.toml")):
        manifest = load_manifest(path)
        packs[manifest.id] = manifest
    return packs


def get_pack(pack_id: str, packs_dir: Path = PACKS_DIR) -> PackManifest:
    packs = available_packs(packs_dir)
    if pack_id not in packs:
        known = ", ".join(sorted(packs)) or "none"
        raise ManifestError(f"unknown model pack '{pack_id}' (known: {known})")
    return packs[pack_id]
