"""Fallback: face did not work (not recognised, liveness, too many wrong digits, or the
patient asked for a person). Says why in plain words and what to do now: the card and QR
still work right here, or the cashier takes over."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from kiosk.flow.machine import FlowView
from ui.i18n import tr
from ui.port import KioskPort
from ui.screens.base import Screen, button, panel, text_label

ALL_WAYS = ("fallback.option_card", "fallback.option_voucher", "fallback.option_cashier")


class FallbackScreen(Screen):
    title_key = "fallback.title"

    def __init__(self, port: KioskPort, parent: QWidget | None = None) -> None:
        super().__init__(port, parent)
        self.title = text_label("title")
        self.message = text_label("guidance")
        self.code = text_label("small", tone="muted")
        self.options_title = text_label("body", tone="muted")
        self.root.addStretch(1)
        self.root.addWidget(self.title)
        self.root.addWidget(self.message)
        self.root.addSpacing(12)
        self.root.addWidget(self.options_title)
        row = self.flip(QHBoxLayout())
        self.panels: list[QWidget] = []
        self.options: list[QLabel] = []
        for _ in ALL_WAYS:
            card = panel()
            inner = QVBoxLayout(card)
            text = text_label("body")
            inner.addWidget(text)
            self.panels.append(card)
            self.options.append(text)
            row.addWidget(card, 1)
        self.root.addLayout(row)
        self.root.addStretch(1)
        self.root.addWidget(self.code)
        self.back = button("primary", "back")
        self.back.clicked.connect(self.port.cancel)
        self.root.addWidget(self.back)

    def ways_forward(self, reason: str) -> tuple[str, ...]:
        return ALL_WAYS

    def render(self, view: FlowView) -> None:
        self.title.setText(tr(self.title_key, self.lang))
        self.message.setText(tr(view.reason or view.guidance, self.lang))
        self.options_title.setText(tr("fallback.options", self.lang))
        ways = self.ways_forward(view.reason)
        for i, (card, text) in enumerate(zip(self.panels, self.options, strict=True)):
            card.setVisible(i < len(ways))
            text.setText(tr(ways[i], self.lang) if i < len(ways) else "")
        self.code.setText(tr("ui.code", self.lang, code=view.reason) if view.reason else "")
        self.back.setText(tr("ui.back_to_start", self.lang))
