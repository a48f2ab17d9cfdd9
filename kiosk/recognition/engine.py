"""The recognition pipeline: detect -> quality gate -> align -> embed -> match."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kiosk.config import KioskConfig
from kiosk.errors import FaceNotUsable
from kiosk.recognition.detection import Detection, Detector, ScrfdDetector, YuNetDetector
from kiosk.recognition.embedding import Embedder, InsightfaceEmbedder, OnnxEmbedder
from kiosk.recognition.gallery import Decision, Gallery, Policy, decide
from kiosk.recognition.geometry import align_face
from kiosk.recognition.images import to_bgr8
from kiosk.recognition.manifest import PackManifest, get_pack
from kiosk.recognition.quality import QualityReport, assess
from kiosk.recognition.store import resolve_file
from kiosk.recognition.template import Template

# Face height (px) the detector is asked to find at its input: YuNet runs on the frame scaled
# by at most this / recognition.detect_min_face_px (the SCRFD packs run at their own size).
DETECTOR_MIN_FACE_PX = 20


@dataclass(frozen=True)
class FaceAnalysis:
    """Everything one frame told us; ``template`` is set only when the quality gate passed."""

    detections: list[Detection]
    quality: QualityReport
    aligned: np.ndarray | None
    template: Template | None
    timings_ms: dict[str, float] = field(default_factory=dict)


class FaceEngine:
    def __init__(self, manifest: PackManifest, store: Path, config: KioskConfig) -> None:
        self.manifest = manifest
        self.config = config
        threads = config.models.threads
        det_path = resolve_file(manifest, manifest.detector, store)
        rec_path = resolve_file(manifest, manifest.recognizer, store)
        self.detector: Detector
        self.embedder: Embedder
        min_face = config.recognition.detect_min_face_px
        self.detect_scale = DETECTOR_MIN_FACE_PX / min_face if min_face else math.inf
        if manifest.engine == "opencv_zoo":
            self.detector = YuNetDetector(det_path, manifest.detector, threads,
                                          self.detect_scale)
            self.embedder = OnnxEmbedder(rec_path, manifest.recognizer, threads)
        else:
            self.detector = ScrfdDetector(det_path, manifest.detector, threads)
            self.embedder = InsightfaceEmbedder(rec_path, manifest.recognizer, threads)
        th = manifest.thresholds
        match = config.recognition.match.resolved(th.match, th.candidate, th.margin)
        self.policy = Policy(threshold=match.threshold,
                             candidate_threshold=match.candidate_threshold, margin=match.margin)

    @classmethod
    def from_config(cls, config: KioskConfig) -> FaceEngine:
        return cls(get_pack(config.models.pack), config.models.store_path(), config)

    @property
    def pack(self) -> str:
        return self.manifest.id

    def new_gallery(self) -> Gallery:
        return Gallery(self.pack, self.manifest.embedding_dim)

    def detect(self, frame: np.ndarray) -> list[Detection]:
        return self.detector.detect(to_bgr8(frame))

    def analyse(self, frame: np.ndarray, embed: bool = True) -> FaceAnalysis:
        timings: dict[str, float] = {}
        frame = to_bgr8(frame)
        t0 = time.perf_counter()
        detections = self.detector.detect(frame)
        t1 = time.perf_counter()
        timings["detect"] = (t1 - t0) * 1000
        size = (frame.shape[1], frame.shape[0])
        primary = max(detections, key=lambda d: d.area) if detections else None
        aligned = align_face(frame, primary.landmarks) if primary is not None else None
        t2 = time.perf_counter()
        timings["align"] = (t2 - t1) * 1000
        quality = assess(detections, size, aligned, self.config.recognition.quality)
        template = None
        if embed and quality.ok and aligned is not None:
            template = self.embed_aligned(aligned)
            timings["embed"] = (time.perf_counter() - t2) * 1000
        return FaceAnalysis(detections, quality, aligned, template, timings)

    def embed_aligned(self, aligned: np.ndarray) -> Template:
        raw = self.embedder.embed([aligned])[0]
        return Template.create(self.pack, raw, self.manifest.embedding_dim)

    def template_for(self, frame: np.ndarray, *, strict: bool = True) -> Template:
        """The template of the one usable face in ``frame``, or FaceNotUsable with reasons.

        ``strict=False`` (enrolment photos, offline tools) still requires exactly one clear
        face but skips the live-capture checks a still photo cannot act on (cut-off, pose).
        """
        analysis = self.analyse(frame, embed=False)
        reasons = analysis.quality.reasons
        if not strict:
            reasons = tuple(r for r in reasons if r in ("no_face", "multiple_faces", "too_far"))
        if reasons or analysis.aligned is None:
            raise FaceNotUsable(f"no usable face: {', '.join(reasons) or 'no_face'}",
                                list(reasons) or ["no_face"])
        return self.embed_aligned(analysis.aligned)

    def identify(self, probe: Template, gallery: Gallery) -> Decision:
        k = max(2, self.config.recognition.match.top_k)
        return decide(gallery.search(probe, k), self.policy)
