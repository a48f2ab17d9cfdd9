"""Make Chinese render: register the CJK font ``device.fonts`` finds with Qt at start-up.

Without it Qt on a bare terminal draws boxes for every Chinese character, and nobody notices
until a patient does; so the result is also reported as a doctor-style check line.
"""

from __future__ import annotations

import logging

from PySide6.QtGui import QFont, QFontDatabase, QFontMetrics
from PySide6.QtWidgets import QApplication

from device.errors import DeviceError
from device.fonts import cjk_font_path
from ui.checks import Check

log = logging.getLogger(__name__)

SAMPLE = "先看病后缴费"  # every glyph must be in the font


def register_cjk_font(app: QApplication) -> Check:
    """Register the CJK font and make it the application's default; idempotent."""
    try:
        path = cjk_font_path()
    except DeviceError as exc:
        log.error("font.cjk_missing", extra={"code": exc.code})
        return Check("font", False, exc.message, exc.code)
    font_id = QFontDatabase.addApplicationFont(str(path))
    families = QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else []
    if not families:
        log.error("font.unusable", extra={"font": str(path)})
        return Check("font", False, f"Qt cannot load {path}", "font.unusable")
    font = QFont(app.font())
    font.setFamilies([families[0]])
    if not all(QFontMetrics(font).inFontUcs4(ord(char)) for char in SAMPLE):
        return Check("font", False, f"{families[0]} ({path}) has no glyphs for Chinese",
                     "font.cjk_missing")
    app.setFont(font)
    return Check("font", True, f"{families[0]} ({path})")
