"""Policy ``model``: an operator-provided presentation-attack-detection (PAD) ONNX model.

The project ships no PAD model (none with a usable licence is on a package registry); the
operator copies one into the models store and declares it in a manifest like this:

    id = "minifasnet-v2"
    name = "MiniFASNetV2 80x80"
    licence = "Apache-2.0"
    [file]
    path = "pad/minifasnet_v2.onnx"   # relative to the models store
    sha256 = "<64 lowercase hex digits>"
    input_size = [80, 80]             # width, height
    channel_order = "BGR"
    mean = [0.0, 0.0, 0.0]
    std = [1.0, 1.0, 1.0]
    [decision]
    live_index = 1                    # which output is "live"
    output = "logits"                 # or "probabilities"
    threshold = 0.8                   # mean live probability needed to pass
    crop_scale = 2.7                  # face box enlarged around its centre before resizing

The file is verified against its SHA-256 before ONNX Runtime opens it, every time.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common.opencv import cv2
from kiosk.errors import ManifestError, ModelDigestMismatch, ModelError, ModelMissing
from kiosk.recognition.detection import Detection
from kiosk.recognition.manifest import ModelFile, parse_model_file
from kiosk.recognition.sessions import new_session
from kiosk.recognition.store import sha256_file

OUTPUTS = ("logits", "probabilities")


@dataclass(frozen=True)
class PadManifest:
    id: str
    name: str
    licence: str
    file: ModelFile
    live_index: int
    output: str
    threshold: float
    crop_scale: float


def parse_pad_manifest(data: dict[str, Any], where: str) -> PadManifest:
    for key in ("id", "name", "licence"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ManifestError(f"{where}: '{key}' must be a non-empty string")
    table = data.get("file")
    if not isinstance(table, dict):
        raise ManifestError(f"{where}: missing [file]")
    try:
        spec = parse_model_file("pad", table, f"{where} [file]")
    except (TypeError, ValueError) as exc:  # a list of strings, a number for a list...
        raise ManifestError(f"{where} [file]: {exc}") from exc
    if spec.sha256 is None:
        raise ManifestError(f"{where} [file]: sha256 is required (the file is verified on load)")
    if len(spec.mean) != 3 or len(spec.std) != 3 or not all(s > 0 for s in spec.std):
        raise ManifestError(f"{where} [file]: mean and std need three values, std positive")
    decision = data.get("decision")
    if not isinstance(decision, dict):
        raise ManifestError(f"{where}: missing [decision]")
    dw = f"{where} [decision]"
    live_index = decision.get("live_index")
    if not isinstance(live_index, int) or isinstance(live_index, bool) or live_index < 0:
        raise ManifestError(f"{dw}: live_index must be a non-negative integer")
    output = decision.get("output", "logits")
    if output not in OUTPUTS:
        raise ManifestError(f"{dw}: output must be one of {', '.join(OUTPUTS)}")
    threshold = _number(decision, "threshold", dw)
    if not 0 < threshold < 1:
        raise ManifestError(f"{dw}: threshold must be a probability in (0, 1)")
    crop_scale = _number(decision, "crop_scale", dw, default=1.0)
    if not 0.5 <= crop_scale <= 5:
        raise ManifestError(f"{dw}: crop_scale must be between 0.5 and 5")
    return PadManifest(data["id"], data["name"], data["licence"], spec, live_index, output,
                       threshold, crop_scale)


def _number(table: dict[str, Any], key: str, where: str, default: float | None = None) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ManifestError(f"{where}: '{key}' must be a number")
    return float(value)


def load_pad_manifest(path: Path) -> PadManifest:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: {exc}") from exc
    return parse_pad_manifest(data, str(path))


class PadModel:
    """A loaded, verified PAD model; ``live_score`` runs it on one face."""

    def __init__(self, manifest: PadManifest, model_path: Path, threads: int) -> None:
        self.manifest = manifest
        self.session = new_session(model_path, threads)
        self.input_name = self.session.get_inputs()[0].name
        spec = manifest.file
        self.size = spec.input_size
        self.swap_rb = spec.channel_order == "RGB"
        self.mean = np.asarray(spec.mean, np.float32)
        self.std = np.asarray(spec.std, np.float32)

    @property
    def threshold(self) -> float:
        return self.manifest.threshold

    def crop(self, frame: np.ndarray, detection: Detection) -> np.ndarray:
        """The square around the face box, ``crop_scale`` times its larger side, resized to
        the model's input; parts outside the frame are black (as such models are trained)."""
        x1, y1, x2, y2 = (float(v) for v in detection.box)
        side = max(x2 - x1, y2 - y1, 1.0) * self.manifest.crop_scale
        width, height = self.size
        scale_x, scale_y = width / side, height / side
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        matrix = np.array([[scale_x, 0, width / 2 - scale_x * cx],
                           [0, scale_y, height / 2 - scale_y * cy]], dtype=np.float64)
        return cv2.warpAffine(frame, matrix, (width, height), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))

    def live_score(self, frame: np.ndarray, detection: Detection) -> float:
        """Probability in [0, 1] that the face is live, as the model sees it."""
        crop = self.crop(frame, detection)
        if self.swap_rb:
            crop = crop[..., ::-1]
        blob = ((crop.astype(np.float32) - self.mean) / self.std).transpose(2, 0, 1)[None]
        try:
            raw = self.session.run(None, {self.input_name: np.ascontiguousarray(blob)})[0]
        except Exception as exc:  # onnxruntime raises its own untyped exceptions
            raise ModelError(f"PAD model {self.manifest.id} failed to run: {exc}") from exc
        values = np.asarray(raw, dtype=np.float64).reshape(-1)
        index = self.manifest.live_index
        if values.size <= index or not np.isfinite(values).all():
            raise ModelError(f"PAD model {self.manifest.id} gave {values.size} outputs "
                             f"(finite: {bool(np.isfinite(values).all())}); its manifest reads "
                             f"live_index {index}")
        if self.manifest.output == "logits":
            exp = np.exp(values - values.max())
            values = exp / exp.sum()
        return float(np.clip(values[index], 0.0, 1.0))


def load_pad_model(manifest_path: Path, store: Path, threads: int = 1) -> PadModel:
    """Parse the manifest, verify the file's SHA-256, open it; errors name the file."""
    manifest = load_pad_manifest(manifest_path)
    model_path = store / manifest.file.path
    if not model_path.is_file():
        raise ModelMissing(
            f"PAD model file {model_path} (declared in {manifest_path.name}) is missing: "
            f"the operator must copy it there; it is never downloaded",
            file=manifest.file.path, manifest=manifest_path.name,
        )
    if sha256_file(model_path) != manifest.file.sha256:
        raise ModelDigestMismatch(
            f"PAD model file {model_path} does not match the SHA-256 in "
            f"{manifest_path.name}; refusing to load it",
            file=manifest.file.path, manifest=manifest_path.name,
        )
    return PadModel(manifest, model_path, threads)
