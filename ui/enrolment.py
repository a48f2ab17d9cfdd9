"""Assisted face enrolment at the counter: consent first, then quality-guided capture, then
one template made on this device and uploaded with the consent's version and time.

Consent (本人授权): the text and its version are shown; staff tick that the patient read and
agreed; nothing is captured before that. Capture takes several frames spaced in time, each
passing the same quality gate as the kiosk (so guidance reads the same), and refuses with a
reason when the pictures stay poor or do not look like one person. Frames and templates
never leave this process except the one averaged template sent to the platform.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
from PySide6.QtCore import QObject, QRectF, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from kiosk.backend import BackendError
from kiosk.protocol.schemas import Consent, EnrolTemplateRequest, TemplatePayload
from kiosk.recognition.engine import FaceEngine
from kiosk.recognition.template import Template
from ui.bridge import to_qimage
from ui.cashier.service import CashierService
from ui.i18n import tr
from ui.screens.preview import CameraPreview
from ui.worker import Worker

log = logging.getLogger(__name__)

CONSENT_VERSION = "face-pay-2024.1"
FRAMES_NEEDED = 5
MAX_FRAMES = 80  # frames looked at before refusing for quality
MIN_INTERVAL_S = 0.2  # accepted frames are moments apart, not one burst
CAPTURE_TIMEOUT_S = 30.0
CAMERA_SILENCE_S = 5.0

CAPTURING, DONE, REFUSED = "capturing", "done", "refused"


@dataclass(frozen=True)
class CaptureStatus:
    state: str  # capturing | done | refused
    guidance: str  # an i18n key: quality.<reason> or enrol.capturing
    accepted: int
    needed: int
    reason: str = ""  # refusal code: enrol.quality_poor | enrol.inconsistent | enrol.timeout
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
            return self.refuse("enrol.quality_poor")
        self.status = CaptureStatus(CAPTURING, guidance, len(self.accepted), self.needed)
        return self.status

    def refuse(self, reason: str) -> CaptureStatus:
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
            return self.refuse("enrol.inconsistent")
        self.status = CaptureStatus(DONE, "enrol.uploading", len(self.accepted), self.needed)
        return self.status

    def template(self) -> Template:
        """The enrolment template: the normalised mean of the accepted frames' templates."""
        if not self.accepted:
            raise ValueError("no frames accepted")
        mean = np.mean(np.stack([t.vector for t in self.accepted]), axis=0)
        return Template.create(self.pack, mean, self.dim)


class FrameFeed(Protocol):
    """``device.camera.FrameSource``: the newest frame, or None after ``timeout``."""

    def latest(self, timeout: float | None = None) -> Any: ...


class CaptureRunner(QObject):
    """Runs capture on its own thread; status and preview frames arrive as signals."""

    status = Signal(object)  # CaptureStatus
    frame = Signal(QImage, object)  # preview, face box (QRectF) | None

    def __init__(self, engine: FaceEngine, camera: FrameFeed, *, max_frames: int = MAX_FRAMES,
                 clock: Callable[[], float] = time.monotonic,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine, self.camera, self.clock = engine, camera, clock
        self.max_frames = max_frames
        self.capture: EnrolmentCapture | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> EnrolmentCapture:
        self.stop()
        self.capture = EnrolmentCapture(self.engine.pack, self.engine.manifest.embedding_dim,
                                        self.engine.policy.threshold,
                                        max_frames=self.max_frames)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self.capture, self._stop),
                                        name="enrol-capture", daemon=True)
        self._thread.start()
        return self.capture

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self, capture: EnrolmentCapture, stop: threading.Event) -> None:
        started = last_frame = self.clock()
        status = capture.status
        while not stop.is_set() and status.state == CAPTURING:
            now = self.clock()
            if now - started > CAPTURE_TIMEOUT_S:
                status = capture.refuse("enrol.timeout")
                break
            frame = self.camera.latest(timeout=0.5)
            if frame is None:
                if self.clock() - last_frame > CAMERA_SILENCE_S:
                    status = capture.refuse("enrol.camera_failed")
                    break
                continue
            last_frame = self.clock()
            try:
                analysis = self.engine.analyse(frame.image)
            except Exception:  # one bad frame must not end the capture
                log.exception("enrol.frame_failed")
                continue
            status = capture.feed(analysis.quality.reasons, analysis.template,
                                  frame.timestamp_ns / 1e9)
            self._emit_frame(frame.image, analysis.quality.face)
            self._emit(status)
        if not stop.is_set():
            self._emit(status)

    def _emit(self, status: CaptureStatus) -> None:
        try:
            self.status.emit(status)
        except RuntimeError:
            log.debug("status dropped: runner deleted")

    def _emit_frame(self, image: np.ndarray, face: Any) -> None:
        qimage, scale = to_qimage(image)
        box = None
        if face is not None:
            x1, y1, x2, y2 = (float(v) * scale for v in face.box)
            box = QRectF(x1, y1, x2 - x1, y2 - y1)
        try:
            self.frame.emit(qimage, box)
        except RuntimeError:
            log.debug("frame dropped: runner deleted")


def enrol_request(template: Template, consented_at: datetime) -> EnrolTemplateRequest:
    """The wire body: the template and the consent it was given under."""
    return EnrolTemplateRequest(template=TemplatePayload(**template.to_dict()),
                                consent=Consent(text_version=CONSENT_VERSION,
                                                consented_at=consented_at))


class EnrolmentPanel(QWidget):
    """Consent → capture → upload for the patient the console looked up."""

    finished = Signal(str, str)  # outcome (done | refused | failed), code

    def __init__(self, service: CashierService, worker: Worker, engine: FaceEngine | None,
                 camera: FrameFeed | None, *, max_frames: int = MAX_FRAMES,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service, self.worker = service, worker
        self.engine, self.camera = engine, camera
        self.lang = "zh"
        self.patient_id = ""
        self.consented_at: datetime | None = None
        self.capturing = False
        self.runner = (CaptureRunner(engine, camera, max_frames=max_frames, parent=self)
                       if engine and camera else None)
        if self.runner is not None:
            self.runner.status.connect(self._on_status)
            self.runner.frame.connect(self._on_frame)

        layout = QHBoxLayout(self)
        left = QVBoxLayout()
        self.patient = QLabel()
        self.consent_title = QLabel()
        self.consent_text = QTextBrowser()
        self.ack = QCheckBox()
        self.ack.toggled.connect(self._update_buttons)
        self.start_button = QPushButton()
        self.start_button.setObjectName("enrol_start")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton()
        self.cancel_button.clicked.connect(self.cancel)
        self.message = QLabel()
        self.message.setObjectName("enrol_message")
        self.message.setWordWrap(True)
        for widget in (self.patient, self.consent_title, self.consent_text, self.ack):
            left.addWidget(widget)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.cancel_button)
        left.addLayout(row)
        left.addWidget(self.message)
        layout.addLayout(left, 3)
        right = QVBoxLayout()
        self.preview = CameraPreview()
        self.progress = QLabel()
        self.guidance = QLabel()
        self.guidance.setWordWrap(True)
        right.addWidget(self.preview, 1)
        right.addWidget(self.progress)
        right.addWidget(self.guidance)
        layout.addLayout(right, 2)
        self.retranslate()
        self._update_buttons()

    # ------------------------------------------------------------- state
    def set_patient(self, patient_id: str, shown_as: str) -> None:
        self.reset()
        self.patient_id = patient_id
        self.patient.setText(shown_as)
        self._update_buttons()

    def reset(self) -> None:
        if self.runner is not None:
            self.runner.stop()
        self.capturing = False
        self.patient_id = ""
        self.consented_at = None
        self.patient.setText("")
        self.ack.setChecked(False)
        self.preview.clear()
        self.progress.setText("")
        self.guidance.setText("")
        self.message.setText("")
        self._update_buttons()

    def retranslate(self, lang: str | None = None) -> None:
        self.lang = lang or self.lang
        self.consent_title.setText(tr("enrol.consent_title", self.lang, version=CONSENT_VERSION))
        self.consent_text.setPlainText(tr("enrol.consent_text", self.lang))
        self.ack.setText(tr("enrol.consent_ack", self.lang))
        self.start_button.setText(tr("enrol.start", self.lang))
        self.cancel_button.setText(tr("enrol.cancel", self.lang))

    def _update_buttons(self) -> None:
        busy = self.capturing or self.worker.busy("enrol")
        self.start_button.setEnabled(bool(self.patient_id) and self.ack.isChecked() and not busy)
        self.cancel_button.setEnabled(self.capturing)

    # ----------------------------------------------------------- actions
    def start(self) -> None:
        if not self.patient_id:
            self.message.setText(tr("enrol.need_patient", self.lang))
            return
        if not self.ack.isChecked():
            self.message.setText(tr("enrol.need_ack", self.lang))
            return
        if self.runner is None:
            self._refused("enrol.camera_failed")
            return
        self.consented_at = datetime.now(UTC)
        self.message.setText("")
        self.capturing = True
        self.runner.start()
        self._update_buttons()

    def cancel(self) -> None:
        if self.runner is not None:
            self.runner.stop()
        self.capturing = False
        self.consented_at = None
        self.preview.clear()
        self.guidance.setText("")
        self._update_buttons()

    def _on_frame(self, image: QImage, box: QRectF | None) -> None:
        self.preview.set_frame(image, box)

    def _on_status(self, status: CaptureStatus) -> None:
        self.progress.setText(tr("enrol.progress", self.lang, n=status.accepted,
                                 total=status.needed))
        self.guidance.setText(tr(status.guidance, self.lang))
        self.preview.good = status.guidance == "enrol.capturing"
        self.capturing = status.state == CAPTURING
        if status.state == REFUSED:
            self._refused(status.reason, status.detail)
        elif status.state == DONE:
            self._upload()
        self._update_buttons()

    def _refused(self, reason: str, detail: str = "") -> None:
        why = tr(reason, self.lang, detail=tr(f"quality.{detail}", self.lang) if detail else "-")
        self.message.setText(tr("enrol.refused", self.lang, reason=why))
        self.preview.clear()
        log.info("enrol.refused", extra={"reason": reason, "detail": detail})
        self.finished.emit("refused", reason)

    def _upload(self) -> None:
        assert self.runner is not None and self.runner.capture is not None
        assert self.consented_at is not None
        request = enrol_request(self.runner.capture.template(), self.consented_at)
        patient_id = self.patient_id
        self.message.setText(tr("enrol.uploading", self.lang))
        self.preview.clear()
        self.worker.submit("enrol", lambda: self.service.enrol(patient_id, request),
                           self._uploaded, self._upload_failed)

    def _uploaded(self, _response: object) -> None:
        self.message.setText(tr("enrol.done", self.lang))
        self.consented_at = None
        self._update_buttons()
        self.finished.emit("done", "")

    def _upload_failed(self, exc: BaseException) -> None:
        code = exc.code if isinstance(exc, BackendError) else "generic.problem"
        self.message.setText(tr("cashier.failed", self.lang, message=tr(code, self.lang)))
        self.consented_at = None
        self._update_buttons()
        self.finished.emit("failed", code)
