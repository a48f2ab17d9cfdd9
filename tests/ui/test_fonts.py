"""The application font is Simplified Chinese as Qt itself reports and draws it; a Traditional
face registered in its place fails the check (``python -m ui check`` prints that line)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QFont, QFontInfo
from PySide6.QtWidgets import QApplication

import common.fonts as fonts
from ui.fonts import qt_raster, register_cjk_font

ROOT = Path(__file__).resolve().parents[2]


def test_qt_reports_and_draws_the_sc_face():
    app = QApplication.instance()
    assert QFontInfo(app.font()).family() == fonts.SC_FAMILY
    assert fonts.traditional_glyphs(lambda c: qt_raster(app.font(), c)) == ""


def test_a_traditional_face_fails_the_font_check():
    app = QApplication.instance()
    tc = fonts.bundled_faces()[fonts.TC_FAMILY]
    try:
        check = register_cjk_font(app, tc)
        assert not check.ok and check.code == "font.not_simplified"
        assert check.line() == ("FAIL font: font.not_simplified: Noto Sans CJK TC is not a "
                                "Simplified Chinese face")
        # what Qt draws in it is measured too, whatever the face calls itself
        drawn = QFont(app.font())
        assert fonts.traditional_glyphs(lambda c: qt_raster(drawn, c)) == "令角，。"
    finally:
        assert register_cjk_font(app).ok
    assert QFontInfo(app.font()).family() == fonts.SC_FAMILY


def test_ui_check_names_the_sc_family():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", "ui", "check"], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"PASS font: {fonts.SC_FAMILY}, Simplified glyphs" in proc.stdout
