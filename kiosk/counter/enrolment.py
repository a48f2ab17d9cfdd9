"""Assisted enrolment's capture, free of Qt: which frames count, when enough is enough, the
template made from them, the wire body, and the camera loop that feeds a live preview.

Capture takes several frames spaced in time, each passing the same quality gate as the kiosk
(so guidance reads the same), and refuses with a reason when the pictures stay poor or do
not look like one person. Frames and templates never leave this process except the one
averaged template sent to the platform.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from common.errors import ErrorCode
from device.config import simulated
from kiosk.config import KioskConfig
from kiosk.protocol.schemas import Consent, EnrolTemplateRequest, TemplatePayload
from kiosk.recognition.engine import FaceEngine
from kiosk.recognition.template import Template

log = logging.getLogger(__name__)

CONSENT_VERSION = "face-pay-2024.1"
FRAMES_NEEDED = 5
MAX_FRAMES = 80  # frames looked at before refusing for quality
MIN_INTERVAL_S = 0.4  # accepted frames are moments apart (about 2 s in all), not one burst
CAPTURE_TIMEOUT_S = 30.0
CAMERA_SILENCE_S = 5.0

CAPTURING, DONE, REFUSED = "capturing", "done", "refused"
FACE_OK = "enrol.face_ok"  # the preview's guidance when the gate has nothing to say


@dataclass(frozen=True)
class CaptureStatus:
    state: str  # capturing | done | refused
    guidance: str  # an i18n key: quality.<reason> or enrol.capturing
    accepted: int
    needed: int
    reason: ErrorCode | None = None  # why it was refused (the ENROL_* codes)
    detail: str = ""  # for quality_poor: the quality problem seen in the most frames


class EnrolmentCapture:
    """Pure: fed each frame's quality reasons and template, decides when enough is enough."""

    def __init__(self, pack: str, dim: int, match_threshold: float, *,
                 needed: int = FRAMES_NEEDED, max_frames: int = MAX_FRAMES,
                 min_interval_s: float = MIN_INTERVAL_S) -> None:
        self.pack, self.dim = pack, dim
        self.match_threshold = match_threshold
        self.needed, self.max_frames, self.min_interval_s = needed, max_frames, min_interval_s
        self.frames = 0
        self.accepted: list[Template] = []
        self.problems: Counter[str] = Counter()
        self._last_accept = -float("inf")
        self.status = CaptureStatus(CAPTURING, "enrol.capturing", 0, needed)

    def feed(self, reasons: tuple[str, ...], template: Template | None,
             timestamp: float) -> CaptureStatus:
        if self.status.state != CAPTURING:
            return self.status
        self.frames += 1
        guidance = "enrol.capturing"
        if reasons:
            self.problems.update(reasons)  # every problem seen, for the refusal's reason
            guidance = f"quality.{reasons[0]}"
        elif template is not None and timestamp - self._last_accept >= self.min_interval_s:
            self.accepted.append(template)
            self._last_accept = timestamp
        if len(self.accepted) >= self.needed:
            return self._finish()
        if self.frames >= self.max_frames:
            return self.refuse(ErrorCode.ENROL_QUALITY_POOR)
        self.status = CaptureStatus(CAPTURING, guidance, len(self.accepted), self.needed)
        return self.status

    def refuse(self, reason: ErrorCode) -> CaptureStatus:
        detail = self.problems.most_common(1)[0][0] if self.problems else ""
        self.status = CaptureStatus(REFUSED, self.status.guidance, len(self.accepted),
                                    self.needed, reason, detail)
        return self.status

    def _finish(self) -> CaptureStatus:
        """Every two accepted frames must match each other as the kiosk would match them;
        a mean alone would hide a second person in some of the frames."""
        pairs = itertools.combinations(self.accepted, 2)
        if min(a.similarity(b) for a, b in pairs) < self.match_threshold:
            self.accepted.clear()  # someone else in some frames: start again, keep nothing
            return self.refuse(ErrorCode.ENROL_INCONSISTENT)
        self.status = CaptureStatus(DONE, "enrol.uploading", len(self.accepted), self.needed)
        return self.status

    def template(self) -> Template:
        """The enrolment template: the normalised mean of the accepted frames' templates."""
        if not self.accepted:
            raise ValueError("no frames accepted")
        mean = np.mean(np.stack([t.vector for t in self.accepted]), axis=0)
        return Template.create(self.pack, mean, self.dim)


def enrol_request(template: Template, consented_at: datetime) -> EnrolTemplateRequest:
    """The wire body: the template and the consent it was given under."""
    return EnrolTemplateRequest(template=TemplatePayload(**template.to_dict()),
                                consent=Consent(text_version=CONSENT_VERSION,
                                                consented_at=consented_at))


def camera_refusal(config: KioskConfig) -> ErrorCode | None:
    """``enrol.simulated_camera`` when the configured camera is a simulator outside demo
    mode (it would enrol a bundled or replayed photo as the patient), else None."""
    camera = config.devices.camera
    if simulated("camera", camera.driver, camera.path) and not config.demo.simulated_devices:
        return ErrorCode.ENROL_SIMULATED_CAMERA
    return None


class FrameFeed(Protocol):
    """``device.camera.FrameSource``: the newest frame, or None after ``timeout``."""

    def latest(self, timeout: float | None = None) -> Any: ...


@dataclass(frozen=True)
class PreviewFrame:
    """What the live preview shows: the picture, the face box in its pixels, and the quality
    gate's feedback as an i18n key (``quality.<reason>``, FACE_OK, enrol.camera_failed)."""

    image: np.ndarray | None
    box: tuple[float, float, float, float] | None
    guidance: str


class CameraLoop:
    """Camera → quality gate → ``on_frame`` on a thread of its own, for a live preview; while
    a capture is attached, each analysed frame also feeds it and ``on_status`` reports."""

    def __init__(self, engine: FaceEngine, camera: FrameFeed,
                 on_frame: Callable[[PreviewFrame], None],
                 on_status: Callable[[CaptureStatus], None], *,
                 clock: Callable[[], float] = time.monotonic,
                 capture_timeout_s: float = CAPTURE_TIMEOUT_S,
                 camera_silence_s: float = CAMERA_SILENCE_S) -> None:
        self.engine, self.camera, self.clock = engine, camera, clock
        self.on_frame, self.on_status = on_frame, on_status
        self.capture_timeout_s, self.camera_silence_s = capture_timeout_s, camera_silence_s
        self.capture: EnrolmentCapture | None = None
        self._capture_started = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self._stop,),
                                        name="enrol-camera", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.capture = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def begin_capture(self, capture: EnrolmentCapture) -> None:
        self._capture_started = self.clock()
        self.capture = capture
        self.start()

    def end_capture(self) -> None:
        self.capture = None

    def _finish(self, status: CaptureStatus) -> None:
        self.capture = None
        self.on_status(status)

    def _run(self, stop: threading.Event) -> None:
        last_frame = self.clock()
        while not stop.is_set():
            capture = self.capture
            if capture is not None and self.clock() - self._capture_started \
                    > self.capture_timeout_s:
                self._finish(capture.refuse(ErrorCode.ENROL_TIMEOUT))
                continue
            frame = self.camera.latest(timeout=0.5)
            if stop.is_set():
                return
            if frame is None:
                if self.clock() - last_frame > self.camera_silence_s:
                    last_frame = self.clock()  # say it again only after another silence
                    self.on_frame(PreviewFrame(None, None, "enrol.camera_failed"))
                    if capture is not None:
                        self._finish(capture.refuse(ErrorCode.ENROL_CAMERA_FAILED))
                continue
            last_frame = self.clock()
            try:
                analysis = self.engine.analyse(frame.image)
            except Exception:  # one bad frame must not end the preview or the capture
                log.exception("enrol.frame_failed")
                continue
            reasons, face = analysis.quality.reasons, analysis.quality.face
            box = None
            if face is not None:
                x1, y1, x2, y2 = (float(v) for v in face.box)
                box = (x1, y1, x2, y2)
            self.on_frame(PreviewFrame(frame.image, box,
                                       f"quality.{reasons[0]}" if reasons else FACE_OK))
            if capture is not None and capture is self.capture:
                status = capture.feed(reasons, analysis.template, frame.timestamp_ns / 1e9)
                if status.state == CAPTURING:
                    self.on_status(status)
                else:
                    self._finish(status)
