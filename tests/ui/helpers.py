"""Shared test data and helpers for the UI tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QLabel,
    QLineEdit,
    QTableWidget,
    QWidget,
)

from device.scanner import make_evoucher
from device.scanner.wedge import keystrokes
from tests.ui.platform_double import Person

VOUCHER = make_evoucher("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
ASTRO = Person("P-ASTRO", "王*芳", "3301**********1234", "5678", "CARD0001", VOUCHER)
HANKS = Person("P-HANKS", "李*明", "3302**********4321", "1111", "CARD0002",
               make_evoucher("ZYXWVUTSRQPONMLKJIHGFEDCBA"))
BILL_ITEMS = [("头孢克肟胶囊 0.1g×12", "drug", 3_650), ("血常规（五分类）", "exam", 2_500),
              ("胸部 CT 平扫", "exam", 28_000)]
# What must never be on any widget once the kiosk is back at the start.
PERSONAL = ("王*芳", "3301**********1234", "头孢克肟", "血常规", "胸部", "¥341.50", "¥72.45")


def padded(image: np.ndarray, size: tuple[int, int] = (640, 640)) -> np.ndarray:
    """The image on a grey camera-sized canvas, as a kiosk camera frames a person."""
    h, w = image.shape[:2]
    canvas = np.full((max(size[1], h), max(size[0], w), 3), 96, np.uint8)
    y, x = (canvas.shape[0] - h) // 2, (canvas.shape[1] - w) // 2
    canvas[y:y + h, x:x + w] = image
    return canvas


def visible_texts(root: QWidget) -> list[str]:
    """Every text any widget under ``root`` holds, shown or hidden: labels, buttons, inputs
    and table cells."""
    texts = []
    for widget in root.findChildren(QWidget):
        if isinstance(widget, QLabel | QAbstractButton | QLineEdit):
            texts.append(widget.text())
        elif isinstance(widget, QTableWidget):
            texts += [widget.item(r, c).text() for r in range(widget.rowCount())
                      for c in range(widget.columnCount()) if widget.item(r, c)]
    return texts


def personal_left(root: QWidget, personal: tuple[str, ...] = PERSONAL) -> list[str]:
    return [t for t in visible_texts(root) if any(p in t for p in personal)]


def type_keys(window: QWidget, text: str, start_ns: int, interval_ms: float) -> None:
    """Key presses as a keyboard-wedge scanner (or a person) would send them, then Enter."""
    for char, stamp in keystrokes(text, start_ns, interval_ms):
        key = Qt.Key.Key_Return if char == "\r" else Qt.Key.Key_unknown
        event = QKeyEvent(QEvent.Type.KeyPress, key, Qt.KeyboardModifier.NoModifier, char)
        event.setTimestamp(stamp // 1_000_000)
        QApplication.sendEvent(window, event)
