"""Face detectors on ONNX Runtime: YuNet (OpenCV Zoo) and SCRFD (insightface packs).

Each returns ``Detection`` objects in the coordinates of the frame it was given, with the
five landmarks ordered image-left eye, image-right eye, nose, image-left and image-right
mouth corner (the order the ArcFace template uses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from common.opencv import cv2
from kiosk.recognition.manifest import ModelFile
from kiosk.recognition.sessions import new_session, session_options


@dataclass(frozen=True)
class Detection:
    box: np.ndarray  # x1, y1, x2, y2 (float32)
    score: float
    landmarks: np.ndarray  # (5, 2) float32

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def interocular(self) -> float:
        return float(np.linalg.norm(self.landmarks[1] - self.landmarks[0]))


class Detector(Protocol):
    def detect(self, frame: np.ndarray) -> list[Detection]: ...


def nms_clusters(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[np.ndarray]:
    """Greedy non-maximum suppression, best first; each cluster is the kept box's index
    followed by the indices it suppressed."""
    order = np.argsort(-scores)
    widths = np.clip(boxes[:, 2] - boxes[:, 0], 0, None)
    areas = widths * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    clusters: list[np.ndarray] = []
    while order.size:
        i = int(order[0])
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        clusters.append(np.concatenate([[i], rest[iou > iou_threshold]]))
        order = rest[iou <= iou_threshold]
    return clusters


def vote(values: np.ndarray, scores: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """The score-weighted mean of a cluster's ``values`` (boxes or landmarks).

    Each anchor regresses the face on its own and one anchor's landmarks jump by several
    pixels when the face moves by one (the anchor grid is 8-32 px); averaging the anchors
    that found the same face about halves that (benchmarks/recognition.py, shifted frames)."""
    weights = scores[cluster]
    return np.tensordot(weights / weights.sum(), values[cluster], axes=1).astype(np.float32)


def letterbox(
    frame: np.ndarray, size: tuple[int, int], fixed: bool = True, multiple: int = 32,
    max_scale: float = math.inf,
) -> tuple[np.ndarray, float]:
    """Scale ``frame`` to fit ``size`` (w, h), never by more than ``max_scale``, keeping its
    aspect, and pad right/bottom with black: to exactly ``size`` if the graph is ``fixed``,
    else only up to a ``multiple``."""
    width, height = size
    scale = min(width / frame.shape[1], height / frame.shape[0], max_scale)
    new_w, new_h = max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = frame if scale == 1 else cv2.resize(frame, (new_w, new_h), interpolation=interp)
    if not fixed:
        width = -(-new_w // multiple) * multiple
        height = -(-new_h // multiple) * multiple
    if (new_w, new_h) == (width, height):
        return resized, scale  # 640x480 from a camera needs no padding: no copy
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    canvas[:new_h, :new_w] = resized
    return canvas, scale


def decode_yunet(
    outputs: dict[str, np.ndarray], size: tuple[int, int], score_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """YuNet heads -> (boxes (n,4), scores (n,), landmarks (n,5,2)) in network-input pixels."""
    width = size[0]
    boxes, scores, kps = [], [], []
    for stride in (8, 16, 32):
        cols = width // stride
        cls = outputs[f"cls_{stride}"].reshape(-1)
        obj = outputs[f"obj_{stride}"].reshape(-1)
        score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
        idx = np.nonzero(score >= score_threshold)[0]
        if idx.size == 0:
            continue
        col = (idx % cols).astype(np.float32)
        row = (idx // cols).astype(np.float32)
        bbox = outputs[f"bbox_{stride}"].reshape(-1, 4)[idx]
        cx = (col + bbox[:, 0]) * stride
        cy = (row + bbox[:, 1]) * stride
        w = np.exp(bbox[:, 2]) * stride
        h = np.exp(bbox[:, 3]) * stride
        boxes.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1))
        pts = outputs[f"kps_{stride}"].reshape(-1, 5, 2)[idx]
        kps.append(np.stack([(pts[:, :, 0] + col[:, None]) * stride,
                             (pts[:, :, 1] + row[:, None]) * stride], axis=2))
        scores.append(score[idx])
    if not boxes:
        empty = np.zeros((0, 4), np.float32)
        return empty, np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
    return (np.concatenate(boxes).astype(np.float32), np.concatenate(scores).astype(np.float32),
            np.concatenate(kps).astype(np.float32))


@dataclass(frozen=True)
class Candidates:
    """Every anchor's guess (network-input pixels) and the faces NMS grouped them into."""

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray
    scale: float  # network input / frame
    clusters: list[np.ndarray]

    def detections(self, voting: bool = True) -> list[Detection]:
        """One detection per cluster in frame pixels: its anchors' weighted mean (``voting``),
        or the best anchor alone (the benchmark's reference)."""
        found = []
        for c in self.clusters:
            members = c if voting else c[:1]
            found.append(Detection(vote(self.boxes, self.scores, members) / self.scale,
                                   float(self.scores[c[0]]),
                                   vote(self.landmarks, self.scores, members) / self.scale))
        return found


class YuNetDetector:
    """OpenCV Zoo YuNet 2023mar run on ONNX Runtime, on the frame scaled by at most
    ``max_scale`` (below 1: a shrunk frame, when the faces wanted are large)."""

    def __init__(self, model_path: Path, spec: ModelFile, threads: int,
                 max_scale: float = math.inf) -> None:
        self.session = new_session(model_path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.size = spec.input_size
        self.fixed = all(isinstance(d, int) for d in self.session.get_inputs()[0].shape[2:])
        self.score_threshold = float(spec.options.get("score_threshold", 0.6))
        self.nms_threshold = float(spec.options.get("nms_threshold", 0.3))
        self.max_scale = max_scale

    def candidates(self, frame: np.ndarray) -> Candidates:
        canvas, scale = letterbox(frame, self.size, fixed=self.fixed, max_scale=self.max_scale)
        blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
        raw = self.session.run(self.output_names, {self.input_name: blob})
        boxes, scores, kps = decode_yunet(dict(zip(self.output_names, raw, strict=True)),
                                          (canvas.shape[1], canvas.shape[0]),
                                          self.score_threshold)
        return Candidates(boxes, scores, kps, scale,
                          nms_clusters(boxes, scores, self.nms_threshold))

    def detect(self, frame: np.ndarray) -> list[Detection]:
        return self.candidates(frame).detections()


class ScrfdDetector:
    """insightface SCRFD (buffalo packs), through insightface's own model code."""

    def __init__(self, model_path: Path, spec: ModelFile, threads: int) -> None:
        from insightface.model_zoo import get_model

        self.model = get_model(str(model_path), providers=["CPUExecutionProvider"],
                               sess_options=session_options(threads))
        self.model.prepare(ctx_id=-1, input_size=spec.input_size,
                           det_thresh=float(spec.options.get("score_threshold", 0.5)))

    def detect(self, frame: np.ndarray) -> list[Detection]:
        boxes, kpss = self.model.detect(frame, max_num=0)
        return [Detection(np.asarray(b[:4], np.float32), float(b[4]), np.asarray(k, np.float32))
                for b, k in zip(boxes, kpss, strict=True)]
