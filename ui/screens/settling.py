"""Please wait: while the bills are looked up, and while the payment is being made."""

from __future__ import annotations

from PySide6.QtWidgets import QProgressBar, QWidget

from kiosk.flow.machine import FlowView
from kiosk.flow.model import State
from kiosk.i18n import tr
from ui.port import KioskPort
from ui.screens.base import Screen, button, text_label


class SettlingScreen(Screen):
    def __init__(self, port: KioskPort, parent: QWidget | None = None) -> None:
        super().__init__(port, parent)
        self.title = text_label("title")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate: it moves, so the kiosk does not look frozen
        self.busy.setTextVisible(False)
        self.note = text_label("guidance", tone="muted")
        self.root.addStretch(2)
        self.root.addWidget(self.title)
        self.root.addSpacing(24)
        self.root.addWidget(self.busy)
        self.root.addSpacing(24)
        self.root.addWidget(self.note)
        self.root.addStretch(3)
        self.cancel = button(name="cancel")
        self.cancel.clicked.connect(self.port.cancel)
        self.root.addWidget(self.cancel)

    def render(self, view: FlowView) -> None:
        self.title.setText(tr(view.guidance, self.lang))
        settling = view.state == State.SETTLING
        self.note.setText(tr("settling.do_not_leave", self.lang) if settling else "")
        self.note.setVisible(settling)
        self.cancel.setText(tr("ui.cancel", self.lang))
        self.cancel.setVisible(not settling)  # a payment in flight cannot be abandoned
