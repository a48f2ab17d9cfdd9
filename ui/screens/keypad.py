"""Second factor: the last four digits of the patient's phone on a large on-screen keypad.

Digits are shown as dots (people queue behind the patient); nothing is sent until four
digits are in and OK is pressed. The digits are dropped as soon as they are sent.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from kiosk.flow.machine import FlowView
from kiosk.i18n import tr
from ui.port import KioskPort
from ui.screens.base import Screen, button, text_label

DIGITS = 4
FILLED, EMPTY = "●", "○"


class KeypadScreen(Screen):
    def __init__(self, port: KioskPort, parent: QWidget | None = None) -> None:
        super().__init__(port, parent)
        self.digits = ""
        body = self.flip(QHBoxLayout())
        info = QVBoxLayout()
        self.title = text_label("body")
        self.dots = text_label("title")
        self.guidance = text_label("guidance")
        self.attempts = text_label("body", tone="muted")
        info.addStretch(1)
        for widget in (self.title, self.dots, self.guidance, self.attempts):
            info.addWidget(widget)
        info.addStretch(1)
        body.addLayout(info, 1)
        pad = QGridLayout()
        pad.setSpacing(8)
        self.keys: dict[str, QPushButton] = {}
        for i, key in enumerate("123456789"):
            self._key(pad, key, i // 3, i % 3)
        self.clear_key = self._action(pad, "clear", 3, 0, self._clear)
        self._key(pad, "0", 3, 1)
        self.delete_key = self._action(pad, "delete", 3, 2, self._delete)
        self.cancel = button("key", "cancel")
        self.cancel.clicked.connect(self.port.cancel)
        self.ok = button("primary", "ok")
        self.ok.clicked.connect(self._submit)
        pad.addWidget(self.cancel, 4, 0)
        pad.addWidget(self.ok, 4, 1, 1, 2)
        body.addLayout(pad, 1)
        self.root.addLayout(body, 1)

    def _key(self, grid: QGridLayout, digit: str, row: int, col: int) -> None:
        key = button("key", f"key_{digit}")
        key.setText(digit)
        key.clicked.connect(lambda: self._press(digit))
        grid.addWidget(key, row, col)
        self.keys[digit] = key

    def _action(self, grid: QGridLayout, name: str, row: int, col: int,
                slot: Callable[[], None]) -> QPushButton:
        key = button("key", name)
        key.clicked.connect(slot)
        grid.addWidget(key, row, col)
        return key

    def _press(self, digit: str) -> None:
        if len(self.digits) < DIGITS:
            self.digits += digit
        self._show_digits()

    def _delete(self) -> None:
        self.digits = self.digits[:-1]
        self._show_digits()

    def _clear(self) -> None:
        self.digits = ""
        self._show_digits()

    def _submit(self) -> None:
        if len(self.digits) == DIGITS:
            digits, self.digits = self.digits, ""
            self.port.enter_digits(digits)
            self._show_digits()

    def _show_digits(self) -> None:
        self.dots.setText(" ".join(FILLED if i < len(self.digits) else EMPTY
                                   for i in range(DIGITS)))
        self.ok.setEnabled(len(self.digits) == DIGITS)

    def render(self, view: FlowView) -> None:
        self.title.setText(tr("keypad.title", self.lang))  # the prompt says it in full
        self.guidance.setText("" if view.guidance == "second_factor.enter_phone_digits"
                              else tr(view.guidance, self.lang))
        self.attempts.setText(tr("keypad.attempts_left", self.lang, n=view.attempts_left)
                              if view.attempts_left else "")
        self.attempts.setVisible(view.attempts_left > 0)
        self.clear_key.setText(tr("keypad.clear", self.lang))
        self.delete_key.setText(tr("keypad.delete", self.lang))
        self.cancel.setText(tr("ui.cancel", self.lang))
        self.ok.setText(tr("keypad.ok", self.lang))
        checking = view.guidance == "second_factor.checking"
        for key in self.keys.values():
            key.setEnabled(not checking)
        self._show_digits()
        if checking:
            self.ok.setEnabled(False)

    def clear(self) -> None:
        self.digits = ""
        self._show_digits()
