"""Shared test data and helpers for the UI tests (the fixtures are in conftest.py).

The people are the platform's seeded demo patients (``server_stub seed demo``), plus the
"astronaut": a patient the tests register through the admin CLI so that one face belongs to
one bill of known lines (see the ``astro`` fixture).
"""

from __future__ import annotations

from dataclasses import dataclass

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

from device.scanner.wedge import keystrokes


@dataclass(frozen=True)
class Person:
    """A credit user as the platform shows them (masked), and what must never stay on a
    screen once they are gone."""

    patient_id: str
    name_masked: str
    id_masked: str
    phone_last4: str
    card_no: str | None
    bill_id: str
    total: str  # the pending bill as the screens print it
    self_pay: str
    descriptions: tuple[str, ...]

    @property
    def personal(self) -> tuple[str, ...]:
        return (self.name_masked, self.id_masked, *self.descriptions, self.total,
                self.self_pay)


# Seeded demo patients (server_stub/seed.py): each has one pending bill at site_yk01.
P1001 = Person("P1001", "张*丰", "3307**********1234", "1001", "YB33078400001001", "B1001-1",
               "¥62.60", "¥20.95", ("血常规", "阿莫西林", "病历本"))
P1002 = Person("P1002", "李*四", "3307**********2345", "1002", None, "B1002-1",
               "¥325.00", "¥70.74", ("CT 胸部", "静脉输液"))
P1003 = Person("P1003", "王*", "3307**********3456", "1003", "YB33078400001003", "B1003-1",
               "¥1770.40", "¥594.03", ("门诊手术", "一次性耗材"))
P1004 = Person("P1004", "赵*妹", "3307**********4567", "1004", None, "B1004-1",
               "¥62.60", "¥32.58", ("血常规", "阿莫西林", "病历本"))
P1005 = Person("P1005", "陈*", "3307**********5678", "1005", "YB33078400001005", "B1005-1",
               "¥325.00", "¥32.50", ("CT 胸部", "静脉输液"))
P1006 = Person("P1006", "欧*八", "3307**********678X", "1006", None, "B1006-1",
               "¥1770.40", "¥285.40", ("门诊手术", "一次性耗材"))

# The astronaut's registration (admin CLI arguments) and the bill she is treated for.
ASTRO_NAME, ASTRO_NATIONAL_ID, ASTRO_PHONE = "王小芳", "330184199001011234", "13800005678"
BILL_ITEMS = [("头孢克肟胶囊 0.1g×12", "drug", 3_650), ("血常规（五分类）", "exam", 2_500),
              ("胸部 CT 平扫", "exam", 28_000)]
BILL_TOTAL_FEN = 34_150
CONSENT = "credit-face-v1"


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


def personal_left(root: QWidget, personal: tuple[str, ...]) -> list[str]:
    return [t for t in visible_texts(root) if any(p in t for p in personal)]


def type_keys(window: QWidget, text: str, start_ns: int, interval_ms: float) -> None:
    """Key presses as a keyboard-wedge scanner (or a person) would send them, then Enter."""
    for char, stamp in keystrokes(text, start_ns, interval_ms):
        key = Qt.Key.Key_Return if char == "\r" else Qt.Key.Key_unknown
        event = QKeyEvent(QEvent.Type.KeyPress, key, Qt.KeyboardModifier.NoModifier, char)
        event.setTimestamp(stamp // 1_000_000)
        QApplication.sendEvent(window, event)
