"""The console's style sheet: the kiosk theme's palette and contrast (``ui.theme``), at desk
density — staff sit close to a 1280×1024 or 1920×1080 screen and need many rows, not
finger-sized tiles. The patient screens keep their own sheet; nothing here touches them."""

from __future__ import annotations

from ui import theme

BODY_PX = 16  # staff read this all day, often standing: larger than the desktop default


def stylesheet(body_px: int = BODY_PX) -> str:
    pad = max(4, body_px // 3)
    radius = max(4, body_px // 3)
    return f"""
QWidget#cashier {{ background: {theme.BACKGROUND}; }}
QWidget#cashier QWidget {{ color: {theme.TEXT}; font-size: {body_px}px; }}
QLabel {{ background: transparent; }}
QLabel[role="title"] {{ font-size: {round(body_px * 1.4)}px; font-weight: bold; }}
QLabel[role="section"] {{ color: {theme.MUTED}; font-weight: bold; }}
QLabel[role="money"] {{ color: {theme.ACCENT}; font-weight: bold; }}
QLabel#banner {{ padding: {pad}px {pad * 2}px; border-radius: {radius}px;
    font-size: {round(body_px * 1.15)}px; font-weight: bold; }}
QLabel#banner[tone="info"] {{ background: {theme.PANEL}; border: 2px solid {theme.LINE}; }}
QLabel#banner[tone="good"] {{ background: #12402A; border: 2px solid {theme.GOOD}; }}
QLabel#banner[tone="bad"] {{ background: #4A1A1A; border: 2px solid {theme.BAD}; }}
QLabel#banner[tone="warn"] {{ background: #4A3410; border: 2px solid {theme.WARN}; }}
QLabel#banner[tone="none"] {{ background: transparent; border: 2px solid transparent; }}
QTabWidget::pane {{ border: 2px solid {theme.LINE}; background: {theme.BACKGROUND}; }}
QTabBar::tab {{ background: {theme.PANEL}; color: {theme.MUTED}; padding: {pad}px {pad * 3}px;
    border: 2px solid {theme.LINE}; border-bottom: none; }}
QTabBar::tab:selected {{ color: {theme.ACCENT}; border-color: {theme.ACCENT}; }}
QPushButton {{ min-height: {body_px * 2}px; padding: 0 {pad * 2}px; border-radius: {radius}px;
    background: {theme.PANEL}; color: {theme.TEXT}; border: 2px solid {theme.MUTED}; }}
QPushButton:pressed {{ background: {theme.LINE}; }}
QPushButton:disabled {{ color: #7A8BA6; border-color: #4A5D7C; }}
QPushButton[role="primary"] {{ background: {theme.ACCENT}; color: {theme.ACCENT_TEXT};
    border-color: {theme.ACCENT}; font-weight: bold; }}
QPushButton[role="primary"]:disabled {{ background: #6B6230; color: #2A2A2A;
    border-color: #6B6230; }}
QPushButton[role="danger"] {{ border-color: {theme.BAD}; color: {theme.BAD}; }}
QLineEdit, QComboBox {{ min-height: {round(body_px * 1.8)}px; padding: 0 {pad}px;
    background: {theme.PANEL}; border: 2px solid {theme.LINE}; border-radius: {radius}px;
    color: {theme.TEXT}; }}
QLineEdit:focus, QComboBox:focus {{ border-color: {theme.ACCENT}; }}
QComboBox QAbstractItemView {{ background: {theme.PANEL}; color: {theme.TEXT};
    selection-background-color: {theme.LINE}; }}
QTableWidget, QTextBrowser {{ background: {theme.PANEL}; alternate-background-color: #17315A;
    gridline-color: {theme.LINE}; border: 2px solid {theme.LINE};
    selection-background-color: {theme.ACCENT}; selection-color: {theme.ACCENT_TEXT}; }}
QHeaderView {{ background: {theme.BACKGROUND}; }}
QWidget#cashier QLabel[role="money"] {{ color: {theme.ACCENT}; }}
QWidget#cashier QPushButton[role="primary"], QDialog QPushButton[role="primary"] {{
    color: {theme.ACCENT_TEXT}; }}
QWidget#cashier QPushButton[role="danger"] {{ color: {theme.BAD}; }}
QWidget#cashier QLabel[role="section"] {{ color: {theme.MUTED}; }}
QHeaderView::section {{ background: {theme.BACKGROUND}; color: {theme.MUTED};
    padding: {pad}px; border: none; border-bottom: 2px solid {theme.LINE}; font-weight: bold; }}
QCheckBox {{ spacing: {pad * 2}px; }}
QProgressBar {{ border: 2px solid {theme.MUTED}; border-radius: {radius}px;
    background: {theme.PANEL}; text-align: center; min-height: {body_px}px; }}
QProgressBar::chunk {{ background: {theme.ACCENT}; }}
QDialog {{ background: {theme.BACKGROUND}; }}
QDialog QWidget {{ color: {theme.TEXT}; font-size: {body_px}px; }}
"""
