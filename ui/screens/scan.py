"""Face scan: the live preview with its guide frame and one instruction at a time (what to
change in words: closer, farther, into the frame, more light, one person only)."""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from kiosk.config import QualityConfig
from kiosk.flow.machine import FlowView
from kiosk.i18n import tr
from ui.port import KioskPort
from ui.screens.base import Screen, button, set_style_property, text_label
from ui.screens.preview import CameraPreview

GOOD_GUIDANCE = frozenset({"searching.hold_still", "liveness.hold_still",
                           "liveness.look_straight"})


class ScanScreen(Screen):
    title_key = "scan.title"

    def __init__(self, port: KioskPort, quality: QualityConfig | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(port, parent)
        self.title = text_label("title")
        self.root.addWidget(self.title)
        body = self.flip(QHBoxLayout())
        quality = quality or QualityConfig()
        self.preview = CameraPreview(quality.min_face_px, quality.max_face_fraction)
        body.addWidget(self.preview, 3)
        side = QVBoxLayout()
        self.guidance = text_label("guidance")
        self.hint = text_label("body", tone="muted")
        self.demo_notice = text_label("small", tone="warn")
        side.addStretch(1)
        side.addWidget(self.guidance)
        side.addWidget(self.hint)
        side.addStretch(1)
        side.addWidget(self.demo_notice)
        self.cancel = button(name="cancel")
        self.cancel.clicked.connect(self.port.cancel)
        side.addWidget(self.cancel)
        body.addLayout(side, 2)
        self.root.addLayout(body, 1)

    def render(self, view: FlowView) -> None:
        self.title.setText(tr(self.title_key, self.lang))
        self.guidance.setText(tr(view.guidance, self.lang))
        set_style_property(self.guidance, "tone",
                           "warn" if view.guidance.startswith("quality.") else "")
        self.hint.setText(self.hint_text(view))
        self.preview.good = view.guidance in GOOD_GUIDANCE
        self.demo_notice.setText(tr("ui.liveness_off", self.lang) if view.liveness_off else "")
        self.demo_notice.setVisible(view.liveness_off)
        self.cancel.setText(tr("ui.cancel", self.lang))

    def hint_text(self, view: FlowView) -> str:
        return ""  # one instruction at a time: the guidance says it

    def set_frame(self, image: QImage, box: QRectF | None) -> None:
        self.preview.set_frame(image, box)

    def clear(self) -> None:
        self.preview.clear()
