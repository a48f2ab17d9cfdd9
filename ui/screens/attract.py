"""Attract / idle: a calm welcome that says the three ways to pay and how face pay starts;
a greeting while someone stands in front (face pay starts only when they touch it);
我的欠款 for a patient who came to see or repay what they owe."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from kiosk.flow.machine import FlowView
from kiosk.i18n import tr
from ui.port import KioskPort
from ui.screens.base import Screen, button, text_label


class AttractScreen(Screen):
    def __init__(self, port: KioskPort, parent: QWidget | None = None) -> None:
        super().__init__(port, parent)
        self.welcome = text_label("hero")
        self.subtitle = text_label("guidance", tone="muted")
        self.face_tip = text_label("body", tone="muted")
        self.notice = text_label("body", tone="warn")
        self.root.addStretch(2)
        for widget in (self.welcome, self.subtitle, self.face_tip, self.notice):
            self.root.addWidget(widget)
            self.root.addSpacing(12)
        self.root.addStretch(2)
        self.owed = button("secondary", "owed")  # 我的欠款: see and repay what is owed
        self.owed.clicked.connect(self.port.start_owed)
        self.root.addWidget(self.owed)
        self.root.addStretch(1)

    def render(self, view: FlowView) -> None:
        # someone stepped up: greet them, and wait for their choice (nothing is recognised)
        self.welcome.setText(tr("idle.greet" if view.guidance == "idle.greet"
                                else "idle.welcome", self.lang))
        self.subtitle.setText(tr("idle.subtitle", self.lang))
        self.face_tip.setText(tr("idle.face_tip", self.lang) if view.face_available else "")
        self.face_tip.setVisible(view.face_available)
        self.notice.setText("" if view.face_available else tr("face.camera_failed", self.lang))
        self.notice.setVisible(not view.face_available)
        self.owed.setText(tr("ui.owed", self.lang))
