"""The kiosk's one configuration: a TOML file mapped onto typed, frozen dataclasses.

Every section is a dataclass with safe defaults, so an empty file is a valid (demo-safe)
config. Unknown keys, wrong types and out-of-range values are errors that name the file, the
line and the key, because IT edits these files by hand on terminals.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError
from models import default_store


@dataclass(frozen=True)
class ModelsConfig:
    pack: str = "opencv-zoo-sface"
    store: str = ""  # empty: $KIOSK_MODELS_DIR or models/store
    threads: int = 2

    def store_path(self) -> Path:
        return Path(self.store) if self.store else default_store()

    def validate(self) -> list[tuple[str, str]]:
        return [("threads", "must be between 1 and 64")] if not 1 <= self.threads <= 64 else []


@dataclass(frozen=True)
class QualityConfig:
    """Quality gate thresholds; every failure maps to guidance a patient can act on."""

    min_face_px: int = 64  # face box height below this: too far
    min_interocular_px: float = 24.0
    max_face_fraction: float = 0.85  # face box height over frame height: too close
    edge_margin_px: int = 2  # box this close to the frame border: cut off
    max_yaw_deg: float = 25.0
    max_pitch_deg: float = 25.0
    min_sharpness: float = 25.0  # variance of the Laplacian on the aligned grey crop
    min_brightness: float = 45.0  # mean grey level of the aligned crop (0-255)
    max_brightness: float = 215.0
    crowd_area_ratio: float = 0.25  # another face at least this fraction of the largest

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        if not 0 <= self.min_brightness < self.max_brightness <= 255:
            errors.append(("min_brightness", "need 0 <= min_brightness < max_brightness <= 255"))
        if not 0 < self.max_face_fraction <= 1:
            errors.append(("max_face_fraction", "must be in (0, 1]"))
        if not 0 < self.crowd_area_ratio <= 1:
            errors.append(("crowd_area_ratio", "must be in (0, 1]"))
        return errors


@dataclass(frozen=True)
class MatchConfig:
    """Overrides of the pack's calibrated thresholds (0 = use the pack manifest's)."""

    threshold: float = 0.0
    candidate_threshold: float = 0.0
    margin: float = -1.0  # negative: use the pack's
    top_k: int = 5

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        if not -1 <= self.threshold <= 1:
            errors.append(("threshold", "must be a cosine similarity in [-1, 1]"))
        if self.top_k < 1:
            errors.append(("top_k", "must be at least 1"))
        return errors


@dataclass(frozen=True)
class RecognitionConfig:
    quality: QualityConfig = field(default_factory=QualityConfig)
    match: MatchConfig = field(default_factory=MatchConfig)


@dataclass(frozen=True)
class KioskConfig:
    models: ModelsConfig = field(default_factory=ModelsConfig)
    recognition: RecognitionConfig = field(default_factory=RecognitionConfig)
    source: str = ""  # the file it was loaded from, for messages


def default_config_path() -> Path | None:
    env = os.environ.get("KIOSK_CONFIG")
    return Path(env) if env else None


def load_config(path: str | Path | None = None) -> KioskConfig:
    """Load and validate a config file; ``None`` means $KIOSK_CONFIG, else all defaults."""
    path = Path(path) if path is not None else default_config_path()
    if path is None:
        return KioskConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from exc
    return parse_config(text, str(path))


def parse_config(text: str, name: str = "<config>") -> KioskConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: {exc}") from exc
    errors: list[str] = []
    built = _build(KioskConfig, data, (), text, name, errors)
    if errors:
        raise ConfigError("\n".join(errors), errors=errors)
    return dataclasses.replace(built, source=name)


def _build(cls: type, data: Any, path: tuple[str, ...], text: str, name: str,
           errors: list[str]) -> Any:
    where = ".".join(path)
    if not isinstance(data, dict):
        errors.append(f"{name}:{_line(text, path)}: [{where}] must be a table")
        return cls()
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "source"}
    values: dict[str, Any] = {}
    for key, value in data.items():
        key_path = (*path, key)
        if key not in fields:
            errors.append(f"{name}:{_line(text, key_path)}: unknown key '{'.'.join(key_path)}'")
            continue
        kind = hints[key]
        if dataclasses.is_dataclass(kind):
            values[key] = _build(kind, value, key_path, text, name, errors)
            continue
        coerced = _coerce(value, kind)
        if coerced is _INVALID:
            errors.append(f"{name}:{_line(text, key_path)}: '{'.'.join(key_path)}' must be "
                          f"{_type_name(kind)}, got {type(value).__name__} {value!r}")
            continue
        values[key] = coerced
    try:
        obj = cls(**values)
    except (TypeError, ValueError) as exc:
        errors.append(f"{name}: [{where}] {exc}")
        return cls()
    validate = getattr(obj, "validate", None)
    for key, message in validate() if validate else ():
        errors.append(f"{name}:{_line(text, (*path, key))}: '{'.'.join((*path, key))}' {message}")
    return obj


_INVALID = object()


def _coerce(value: Any, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(kind):
            result = _coerce(value, option)
            if result is not _INVALID:
                return result
        return _INVALID
    if kind is type(None):
        return _INVALID
    if origin in (tuple, list):
        (item,) = typing.get_args(kind)[:1]
        if not isinstance(value, list):
            return _INVALID
        items = [_coerce(v, item) for v in value]
        return _INVALID if _INVALID in items else origin(items)
    if kind is bool:
        return value if isinstance(value, bool) else _INVALID
    if kind is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _INVALID
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok else _INVALID
    if kind is str:
        return value if isinstance(value, str) else _INVALID
    return _INVALID


def _type_name(kind: Any) -> str:
    return getattr(kind, "__name__", str(kind))


_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\- ]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


def _line(text: str, path: tuple[str, ...]) -> int:
    """Best-effort 1-based line of ``path`` in ``text`` (its key, else its table header)."""
    table: tuple[str, ...] = ()
    header_line = 0
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = tuple(part.strip() for part in header.group(1).split("."))
            if table == path:
                header_line = number
            continue
        key = _KEY.match(line)
        if key and (*table, key.group(1)) == path:
            return number
    return header_line or 1
