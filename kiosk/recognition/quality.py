"""The quality gate: decide whether a frame's face is good enough to recognise, and if not,
say why in terms a person at the kiosk can act on (come closer, look at the screen...)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from common.opencv import cv2
from kiosk.config import QualityConfig
from kiosk.recognition.detection import Detection
from kiosk.recognition.geometry import head_pose

# Stable reason codes, in the order guidance should address them.
NO_FACE = "no_face"
MULTIPLE_FACES = "multiple_faces"
TOO_FAR = "too_far"
TOO_CLOSE = "too_close"
CUT_OFF = "cut_off"
NOT_FRONTAL = "not_frontal"
BLURRED = "blurred"
TOO_DARK = "too_dark"
TOO_BRIGHT = "too_bright"
REASONS = (NO_FACE, MULTIPLE_FACES, TOO_FAR, TOO_CLOSE, CUT_OFF, NOT_FRONTAL, BLURRED,
           TOO_DARK, TOO_BRIGHT)


@dataclass(frozen=True)
class QualityReport:
    reasons: tuple[str, ...]
    face: Detection | None
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.reasons


def primary_face(detections: list[Detection], cfg: QualityConfig) -> tuple[Detection | None, bool]:
    """The largest face, and whether another face is prominent enough to be ambiguous."""
    if not detections:
        return None, False
    ranked = sorted(detections, key=lambda d: d.area, reverse=True)
    crowd = len(ranked) > 1 and ranked[1].area >= cfg.crowd_area_ratio * ranked[0].area
    return ranked[0], crowd


def image_metrics(aligned: np.ndarray) -> dict[str, float]:
    """Sharpness (Laplacian variance) and brightness of the central face region."""
    grey = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape
    core = grey[h // 5 : h - h // 8, w // 6 : w - w // 6]
    return {
        "sharpness": float(cv2.Laplacian(core, cv2.CV_64F).var()),
        "brightness": float(core.mean()),
    }


def assess(
    detections: list[Detection],
    frame_size: tuple[int, int],
    aligned: np.ndarray | None,
    cfg: QualityConfig,
) -> QualityReport:
    """Apply every check; ``aligned`` is the 112x112 crop of the primary face (if any)."""
    face, crowd = primary_face(detections, cfg)
    if face is None:
        return QualityReport((NO_FACE,), None)
    width, height = frame_size
    reasons: list[str] = []
    if crowd:
        reasons.append(MULTIPLE_FACES)
    yaw, pitch, roll = head_pose(face.landmarks, frame_size)
    metrics = {
        "face_px": face.height,
        "interocular_px": face.interocular,
        "yaw": yaw,
        "pitch": pitch,
        "roll": roll,
        "score": face.score,
    }
    if face.height < cfg.min_face_px or face.interocular < cfg.min_interocular_px:
        reasons.append(TOO_FAR)
    if face.height > cfg.max_face_fraction * height:
        reasons.append(TOO_CLOSE)
    x1, y1, x2, y2 = (float(v) for v in face.box)
    m = cfg.edge_margin_px
    if x1 < m or y1 < m or x2 > width - m or y2 > height - m:
        reasons.append(CUT_OFF)
    if not (abs(yaw) <= cfg.max_yaw_deg and abs(pitch) <= cfg.max_pitch_deg):
        reasons.append(NOT_FRONTAL)
    if aligned is not None:
        metrics.update(image_metrics(aligned))
        if metrics["brightness"] < cfg.min_brightness:
            reasons.append(TOO_DARK)
        elif metrics["brightness"] > cfg.max_brightness:
            reasons.append(TOO_BRIGHT)
        elif metrics["sharpness"] < cfg.min_sharpness:
            reasons.append(BLURRED)
    ordered = tuple(r for r in REASONS if r in reasons)
    return QualityReport(ordered, face, metrics)
