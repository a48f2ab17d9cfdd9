"""Assisted face enrolment at the counter: consent first, a live preview with the face guide
and the quality gate's feedback in words, then capture of several good frames from different
moments, one template made here and uploaded with the consent's version and time.

Consent (本人授权): the text and its version are shown; staff tick that the patient read and
agreed (the date shown is today's, in the site's zone); nothing is captured before that.
A simulated camera outside demo mode is refused (``kiosk.counter.enrolment.camera_refusal``).
One status line says what is happening, never two at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

from PySide6.QtCore import QObject, QRectF, Signal
from PySide6.QtGui import QHideEvent, QImage, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from common.errors import ErrorCode
from kiosk.backend import BackendError
from kiosk.counter.enrolment import (
    CAPTURING,
    CONSENT_VERSION,
    DONE,
    FACE_OK,
    FRAMES_NEEDED,
    MAX_FRAMES,
    MIN_INTERVAL_S,
    REFUSED,
    CameraLoop,
    CaptureStatus,
    EnrolmentCapture,
    FrameFeed,
    PreviewFrame,
    enrol_request,
)
from kiosk.counter.service import CashierService
from kiosk.recognition.engine import FaceEngine
from ui.bridge import to_qimage
from ui.cashier.widgets import button
from ui.cashier.words import say
from ui.screens.preview import CameraPreview
from ui.worker import Worker

log = logging.getLogger(__name__)


class CameraBridge(QObject):
    """The core's camera loop, its callbacks turned into signals for the GUI thread."""

    status = Signal(object)  # CaptureStatus
    frame = Signal(QImage, object, str)  # preview, face box (QRectF) | None, guidance key

    def __init__(self, engine: FaceEngine, camera: FrameFeed,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.loop = CameraLoop(engine, camera, self._on_frame, self._on_status)

    def _on_status(self, status: CaptureStatus) -> None:
        try:
            self.status.emit(status)
        except RuntimeError:
            log.debug("status dropped: bridge deleted")

    def _on_frame(self, preview: PreviewFrame) -> None:
        image, box = QImage(), None
        if preview.image is not None:
            image, scale = to_qimage(preview.image)
            if preview.box is not None:
                x1, y1, x2, y2 = (v * scale for v in preview.box)
                box = QRectF(x1, y1, x2 - x1, y2 - y1)
        try:
            self.frame.emit(image, box, preview.guidance)
        except RuntimeError:
            log.debug("frame dropped: bridge deleted")


class EnrolmentPanel(QWidget):
    """Consent → live preview → capture → upload for the patient the console looked up."""

    finished = Signal(str, str)  # outcome (done | refused | failed), code

    def __init__(self, service: CashierService, worker: Worker, engine: FaceEngine | None,
                 camera: FrameFeed | None, *, camera_refusal: ErrorCode | None,
                 needed: int = FRAMES_NEEDED, max_frames: int = MAX_FRAMES,
                 min_interval_s: float = MIN_INTERVAL_S,
                 today: Callable[[], str] | None = None, zone: tzinfo = UTC,
                 parent: QWidget | None = None) -> None:
        """``camera_refusal``: None or why this camera may not enrol anyone (from the
        device config: a simulator outside demo mode)."""
        super().__init__(parent)
        self.service, self.worker = service, worker
        self.engine = engine
        self.camera_refusal = camera_refusal
        self.needed, self.max_frames, self.min_interval_s = needed, max_frames, min_interval_s
        self.today = today or (lambda: datetime.now(zone).date().isoformat())
        self.lang = "zh"
        self.patient_id = ""
        self.consented_at: datetime | None = None
        self.capturing = False
        self.capture: EnrolmentCapture | None = None
        self.bridge = CameraBridge(engine, camera, self) if engine and camera else None
        if self.bridge is not None:
            self.bridge.status.connect(self._on_status)
            self.bridge.frame.connect(self._on_frame)

        layout = QHBoxLayout(self)
        left = QVBoxLayout()
        self.patient = QLabel()
        self.patient.setObjectName("enrol_patient")
        self.patient.setProperty("role", "title")
        self.consent_title = QLabel()
        self.consent_title.setProperty("role", "section")
        self.consent_text = QTextBrowser()
        self.ack = QCheckBox()
        self.ack.setObjectName("enrol_ack")
        self.ack.toggled.connect(self._acked)
        self.consent_date = QLabel()
        self.consent_date.setObjectName("consent_date")
        self.start_button = button("enrol_start", "primary")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = button("enrol_cancel")
        self.cancel_button.clicked.connect(self.cancel)
        for widget in (self.patient, self.consent_title, self.consent_text, self.ack,
                       self.consent_date):
            left.addWidget(widget)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        left.addLayout(row)
        layout.addLayout(left, 3)
        right = QVBoxLayout()
        self.preview = CameraPreview()
        self.progress = QProgressBar()
        self.progress.setObjectName("enrol_progress")
        self.progress.setRange(0, needed)
        self.progress.setFormat("%v / %m")
        self.status = QLabel()
        self.status.setObjectName("enrol_status")
        self.status.setWordWrap(True)
        right.addWidget(self.preview, 1)
        right.addWidget(self.progress)
        right.addWidget(self.status)
        layout.addLayout(right, 2)
        self.retranslate()
        self._update_buttons()

    # ------------------------------------------------------------- state
    def set_patient(self, patient_id: str, shown_as: str) -> None:
        self.reset()
        self.patient_id = patient_id
        self.patient.setText(shown_as)
        self._preview_on()
        self._update_buttons()

    def reset(self) -> None:
        self._preview_off()
        self.capturing = False
        self.capture = None
        self.patient_id = ""
        self.consented_at = None
        self.patient.setText("")
        self.ack.setChecked(False)
        self.progress.setValue(0)
        self._say("")
        self._update_buttons()

    def retranslate(self, lang: str | None = None) -> None:
        self.lang = lang or self.lang
        self.consent_title.setText(say("enrol.consent_title", self.lang,
                                       version=CONSENT_VERSION))
        self.consent_text.setPlainText(say("enrol.consent_text", self.lang))
        self.ack.setText(say("enrol.consent_ack", self.lang))
        self.start_button.setText(say("enrol.start", self.lang))
        self.cancel_button.setText(say("enrol.cancel", self.lang))
        self._acked()

    def _say(self, text: str, tone: str = "") -> None:
        self.status.setText(text)
        self.status.setProperty("tone", tone)

    def _acked(self) -> None:
        self.consent_date.setText(say("counter.consent_date", self.lang, date=self.today())
                                  if self.ack.isChecked() else "")
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.capturing or self.worker.busy("enrol")
        self.start_button.setEnabled(bool(self.patient_id) and self.ack.isChecked() and not busy)
        self.cancel_button.setEnabled(self.capturing)

    def _preview_on(self) -> None:
        """The live preview runs while a patient is being enrolled and the panel shows."""
        if self.bridge is not None and self.patient_id and self.isVisible() \
                and not self.camera_refusal:
            self.bridge.loop.start()

    def _preview_off(self) -> None:
        if self.bridge is not None:
            self.bridge.loop.stop()
        self.preview.clear()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._preview_on()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        if not self.capturing:
            self._preview_off()

    # ----------------------------------------------------------- actions
    def start(self) -> None:
        if not self.patient_id:
            self._say(say("enrol.need_patient", self.lang), "warn")
            return
        if not self.ack.isChecked():
            self._say(say("enrol.need_ack", self.lang), "warn")
            return
        if self.camera_refusal or self.bridge is None or self.engine is None:
            self._refused(self.camera_refusal or ErrorCode.ENROL_CAMERA_FAILED)
            return
        self.consented_at = datetime.now(UTC)
        self.capture = EnrolmentCapture(self.engine.pack, self.engine.manifest.embedding_dim,
                                        self.engine.policy.threshold, needed=self.needed,
                                        max_frames=self.max_frames,
                                        min_interval_s=self.min_interval_s)
        self.capturing = True
        self.progress.setValue(0)
        self._say(say("enrol.capturing", self.lang))
        self.bridge.loop.begin_capture(self.capture)
        self._update_buttons()

    def cancel(self) -> None:
        if self.bridge is not None:
            self.bridge.loop.end_capture()
        self.capturing = False
        self.capture = None
        self.consented_at = None
        self.progress.setValue(0)
        self._say("")
        self._update_buttons()

    def _on_frame(self, image: QImage, box: QRectF | None, guidance: str) -> None:
        if self.bridge is None or not self.bridge.loop.running:
            return  # queued before the preview went off: no face picture after that
        if image.isNull():
            self.preview.clear()
        else:
            self.preview.set_frame(image, box)
        self.preview.good = guidance == FACE_OK
        if not self.worker.busy("enrol"):  # the upload's status is not talked over
            prefix = say("enrol.progress", self.lang, n=self.progress.value(),
                         total=self.needed) + " · " if self.capturing else ""
            self._say(prefix + say(guidance, self.lang),
                      "good" if guidance == FACE_OK else "warn")

    def _on_status(self, status: CaptureStatus) -> None:
        if self.capture is None:
            return  # cancelled meanwhile
        self.progress.setValue(status.accepted)
        self.capturing = status.state == CAPTURING
        if status.state == REFUSED:
            assert status.reason is not None  # EnrolmentCapture.refuse always names it
            self._refused(status.reason, status.detail)
        elif status.state == DONE:
            self._upload()
        self._update_buttons()

    def _refused(self, reason: ErrorCode, detail: str = "") -> None:
        self._preview_off()
        why = say(reason, self.lang, detail=say(f"quality.{detail}", self.lang)
                  if detail else "-")
        self._say(say("enrol.refused", self.lang, reason=why), "bad")
        log.info("enrol.refused", extra={"reason": reason, "detail": detail})
        self.finished.emit("refused", reason)

    def _upload(self) -> None:
        assert self.capture is not None and self.consented_at is not None
        self._preview_off()  # no face picture stays on screen
        request = enrol_request(self.capture.template(), self.consented_at)
        patient_id = self.patient_id
        self.worker.submit("enrol", lambda: self.service.enrol(patient_id, request),
                           self._uploaded, self._upload_failed)
        self._say(say("enrol.uploading", self.lang))

    def _uploaded(self, _response: object) -> None:
        self._say(say("enrol.done", self.lang), "good")
        self.consented_at = None
        self.capture = None
        self._update_buttons()
        self.finished.emit("done", "")

    def _upload_failed(self, exc: BaseException) -> None:
        code = exc.code if isinstance(exc, BackendError) else "generic.problem"
        self._say(say("cashier.failed", self.lang, message=say(code, self.lang)), "bad")
        self.consented_at = None
        self.capture = None
        self._update_buttons()
        self.finished.emit("failed", code)
