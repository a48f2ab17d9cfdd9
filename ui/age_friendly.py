"""Age-friendly figures measured on the rendered patient screens, after the MIIT rules for
age-friendly apps (互联网应用适老化设计规范) and WCAG 2.1:

* text contrast at least 4.5:1, computed with the WCAG formula on the colours actually
  painted (a grab of each label: its background and its strongest text pixel);
* tap targets at least 60 px on a 1024x768 screen (scaled with the screen's short side);
* main text at least 30 px at 1024x768, elderly mode at least 1.5x that;
* no title or hero line that breaks with a single character left on its own line;
* a scroll bar (long bills) whose thumb a finger can hold: 3/4 of a tap target wide.

``problems`` lists what breaks them on the window as it is shown now.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFontMetrics, QImage, QTextLayout, QTextOption
from PySide6.QtWidgets import QLabel, QPushButton, QScrollBar, QWidget

MIN_CONTRAST = 4.5
TARGET_PX_AT_768 = 60
MAIN_TEXT_PX_AT_768 = 30
ELDERLY_FACTOR = 1.5
MAIN_ROLES = frozenset({"body", "guidance", "tile", "title", "hero", "money"})
HEADING_ROLES = frozenset({"title", "hero"})
SCROLL_THUMB_OF_TARGET = 0.75  # a scroll bar's thumb: at least this much of a finger's target


def luminance(color: QColor) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return (0.2126 * channel(color.red()) + 0.7152 * channel(color.green())
            + 0.0722 * channel(color.blue()))


def contrast(a: QColor, b: QColor) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def painted_contrast(label: QLabel) -> float | None:
    """Background = the most frequent colour of the grab; text = the pixel that differs from
    it most (the glyphs' solid core; antialiased edges lie in between)."""
    # the label as painted on the window (its own grab has no parent background behind it)
    top = label.window()
    shown = label.visibleRegion().boundingRect()  # a list row scrolled half out: its part
    if shown.width() < 2 or shown.height() < 2:
        return None
    rect = QRect(label.mapTo(top, shown.topLeft()), shown.size())
    image = top.grab(rect).toImage().convertToFormat(QImage.Format.Format_RGB32)
    if image.width() < 2 or image.height() < 2:
        return None
    step = max(1, image.width() * image.height() // 40_000)
    rows = np.frombuffer(image.constBits(), np.uint32, image.sizeInBytes() // 4)
    pixels = rows.reshape(image.height(), -1)[::step, :image.width():step].ravel()
    # the colours in the order a row-by-row scan first meets them, so ties go to the first
    colours, first, counts = np.unique(pixels, return_index=True, return_counts=True)
    order = np.argsort(first)
    colours, counts = colours[order], counts[order]
    background = int(colours[np.argmax(counts)])
    text = int(colours[np.argmax(_contrasts(colours, background))])
    if text == background:
        return None
    return contrast(QColor(text), QColor(background))


def _luminances(rgb: np.ndarray) -> np.ndarray:
    """``luminance`` of many 0xAARRGGBB pixels at once."""
    channels = np.stack([(rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255]) / 255
    linear = np.where(channels <= 0.03928, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrasts(rgb: np.ndarray, background: int) -> np.ndarray:
    lum = _luminances(rgb)
    back = float(_luminances(np.array([background], np.uint32))[0])
    return (np.maximum(lum, back) + 0.05) / (np.minimum(lum, back) + 0.05)


def lone_character_line(label: QLabel) -> bool:
    """A wrapped heading whose last line holds one character (a widow)."""
    text = label.text()
    if not text or not label.wordWrap():
        return False
    layout = QTextLayout(text, label.font())
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    width = label.contentsRect().width()
    layout.beginLayout()
    lines = []
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        lines.append((line.textStart(), line.textLength()))
    layout.endLayout()
    if len(lines) < 2:
        return False
    start, length = lines[-1]
    return len(text[start:start + length].strip()) == 1


def _shown(root: QWidget, kind: type) -> list:
    return [w for w in root.findChildren(kind) if w.isVisibleTo(root) and w.isVisible()]


def _text_px(label: QLabel) -> int:
    font = label.font()
    return QFontMetrics(font).height() if font.pixelSize() < 0 else font.pixelSize()


def figures(window: QWidget) -> dict[str, float]:
    """The smallest main text (px), tap target (px, the shorter side of the smallest button)
    and text contrast on the window as shown now: what ``problems`` holds against limits."""
    labels = [w for w in _shown(window, QLabel) if w.text().strip()]
    main = [_text_px(w) for w in labels if str(w.property("role") or "body") in MAIN_ROLES]
    ratios = [r for r in map(painted_contrast, labels) if r is not None]
    targets = [min(b.width(), b.height()) for b in _shown(window, QPushButton)]
    return {"text_px": min(main, default=0), "target_px": min(targets, default=0),
            "contrast": round(min(ratios, default=0.0), 2)}


def problems(window: QWidget, elderly: bool) -> list[str]:
    short = min(window.width(), window.height())
    scale = short / 768
    min_target = TARGET_PX_AT_768 * scale
    min_text = MAIN_TEXT_PX_AT_768 * scale * (ELDERLY_FACTOR if elderly else 1.0)
    found: list[str] = []
    for button in _shown(window, QPushButton):
        if button.height() < min_target - 0.5 or button.width() < min_target - 0.5:
            found.append(f"tap target {button.objectName() or button.text()!r} "
                         f"{button.width()}x{button.height()} < {min_target:.0f} px")
    for bar in _shown(window, QScrollBar):
        if bar.orientation() == Qt.Orientation.Vertical and bar.maximum() > bar.minimum() \
                and bar.width() < min_target * SCROLL_THUMB_OF_TARGET - 0.5:
            found.append(f"scroll bar {bar.width()} px wide: a finger needs "
                         f"{min_target * SCROLL_THUMB_OF_TARGET:.0f}")
    for label in _shown(window, QLabel):
        if not label.text().strip():
            continue
        role = str(label.property("role") or "body")
        px = _text_px(label)
        if role in MAIN_ROLES and px < min_text - 0.5:
            found.append(f"{role} text {label.text()[:16]!r} {px} px < {min_text:.0f} px")
        ratio = painted_contrast(label)
        if ratio is not None and ratio < MIN_CONTRAST:
            found.append(f"contrast {ratio:.2f}:1 < {MIN_CONTRAST}:1 for {label.text()[:16]!r}")
        if role in HEADING_ROLES and lone_character_line(label):
            found.append(f"heading {label.text()[:16]!r} leaves one character on a line")
    return found
