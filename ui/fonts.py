"""Make Simplified Chinese render: register the face ``common.fonts`` picks with Qt at start-up.

Without it Qt on a bare terminal draws boxes for every Chinese character, and nobody notices
until a patient does; so the result is also reported as a doctor-style check line. The check
measures what Qt itself draws: the family Qt resolves for the application font, and the probe
characters rasterised by Qt (fallback fonts included), against the SC and TC references.
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QFont, QFontDatabase, QFontInfo, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QApplication

from common.errors import ErrorCode
from common.fonts import (
    PROBE_ORIGIN,
    PROBE_PX,
    CjkFace,
    FontMissing,
    Raster,
    cjk_font,
    simplified_problem,
)
from ui.checks import Check

log = logging.getLogger(__name__)

SAMPLE = "先看病后缴费"  # every glyph must be in the font


def qt_raster(font: QFont, char: str) -> Raster:
    """``char`` as Qt draws it in ``font`` (fallbacks included), on the probe canvas of
    ``common.fonts``."""
    probe = QFont(font)
    probe.setPixelSize(PROBE_PX)
    image = QImage(2 * PROBE_PX, 2 * PROBE_PX, QImage.Format.Format_Grayscale8)
    image.fill(QColor("black"))
    painter = QPainter(image)
    painter.setFont(probe)
    painter.setPen(QColor("white"))
    painter.drawText(QPoint(*PROBE_ORIGIN), char)
    painter.end()
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(
        image.height(), image.bytesPerLine())[:, :image.width()]
    return pixels > 127


def register_cjk_font(app: QApplication, face: CjkFace | None = None) -> Check:
    """Register the SC face (default: ``cjk_font()``) and make it the application's default;
    FAIL unless Qt then draws Simplified Chinese. Idempotent."""
    try:
        face = face or cjk_font()
    except FontMissing as exc:
        log.error("font.cjk_missing", extra={"code": exc.code})
        return Check("font", False, exc.message, exc.code)
    font_id = QFontDatabase.addApplicationFont(str(face.path))
    families = QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else []
    if face.family not in families:
        log.error("font.unusable", extra={"font": str(face.path)})
        return Check("font", False, f"Qt cannot load {face.family} from {face.path}",
                     ErrorCode.FONT_UNUSABLE)
    font = QFont(app.font())
    font.setFamilies([face.family])
    if not all(QFontMetrics(font).inFontUcs4(ord(char)) for char in SAMPLE):
        return Check("font", False, f"{face.family} ({face.path}) has no glyphs for Chinese",
                     ErrorCode.FONT_CJK_MISSING)
    app.setFont(font)
    family = QFontInfo(app.font()).family()
    problem = simplified_problem(family, lambda char: qt_raster(app.font(), char))
    if problem:
        log.error("font.not_simplified", extra={"family": family})
        return Check("font", False, problem, ErrorCode.FONT_NOT_SIMPLIFIED)
    return Check("font", True, f"{family}, Simplified glyphs ({face.path}, face {face.index})")
