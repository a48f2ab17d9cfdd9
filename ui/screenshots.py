"""Render screens offscreen to PNG at the supported sizes, and find layout faults in them.

``layout_problems`` is what a person checks by eye, made mechanical: every visible label and
button lies inside the window, shows its whole text (nothing cut off), and does not overlap
a sibling. Tests run it on every screen at every size; the gallery in docs/screenshots is
written by ``python -m ui screenshots``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QEventLoop, QPoint, QRect, QRectF, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QAbstractButton, QLabel, QScrollArea, QWidget

from kiosk.flow.machine import FlowView
from ui.kiosk_window import KioskWindow
from ui.screens.result import ResultScreen
from ui.screens.scan import ScanScreen

SIZES: dict[str, tuple[int, int]] = {
    "1024x768": (1024, 768),
    "768x1024": (768, 1024),
    "1920x1080": (1920, 1080),
    "1080x1920": (1080, 1920),
}
SLACK_PX = 1
# A changed text can need a few event-loop turns to reach the window's layout (each nested
# layout posts its own request): what a person sees is the state after them.
LAYOUT_PASSES = 3


def pump(ms: int = 0) -> None:
    """Run the event loop for ``ms`` (queued signals, layouts, repaints)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(predicate: Callable[[], bool], timeout_ms: int = 5_000, step_ms: int = 20
               ) -> bool:
    waited = 0
    while not predicate():
        if waited >= timeout_ms:
            return False
        pump(step_ms)
        waited += step_ms
    return True


def settled(window: KioskWindow) -> bool:
    """Nothing still arriving in the background (the receipt image on the result screen)."""
    screen = window.stack.currentWidget()
    if isinstance(screen, ResultScreen):
        return screen.receipt.image is not None or bool(screen.receipt_note.text())
    return True


def show_view(window: KioskWindow, view: FlowView, size: tuple[int, int],
              frame: tuple[QImage, QRectF | None] | None = None) -> None:
    if not window.isVisible():
        window.show()  # layouts place widgets only in shown windows (offscreen is fine)
    window.resize(*size)
    window.render(view)
    screen = window.stack.currentWidget()
    if frame is not None and isinstance(screen, ScanScreen):
        screen.set_frame(*frame)
    pump(0)
    wait_until(lambda: settled(window))
    for _ in range(LAYOUT_PASSES):
        pump(0)


def capture(window: KioskWindow, view: FlowView, size: tuple[int, int],
            frame: tuple[QImage, QRectF | None] | None = None) -> QImage:
    show_view(window, view, size, frame)
    return window.grab().toImage()


def _in_scroll_area(widget: QWidget, root: QWidget) -> bool:
    parent = widget.parentWidget()
    while parent is not None and parent is not root:
        if isinstance(parent, QScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def _cut_off(widget: QWidget) -> bool:
    if isinstance(widget, QLabel) and widget.text():
        if widget.wordWrap():
            return widget.heightForWidth(widget.width()) > widget.height() + SLACK_PX
        return widget.sizeHint().width() > widget.width() + SLACK_PX
    if isinstance(widget, QAbstractButton) and widget.text():
        return widget.fontMetrics().horizontalAdvance(widget.text()) > widget.width()
    return False


def layout_problems(root: QWidget) -> list[str]:
    """Visible labels/buttons outside ``root``, with cut-off text, or overlapping."""
    problems = []
    layout = root.layout()
    if layout is not None:
        need = layout.totalMinimumSize()
        if need.width() > root.width() or need.height() > root.height():
            problems.append(f"window {root.width()}x{root.height()} is smaller than its "
                            f"layout's minimum {need.width()}x{need.height()}")
    bounds = root.rect().adjusted(-SLACK_PX, -SLACK_PX, SLACK_PX, SLACK_PX)
    widgets = [w for w in root.findChildren(QWidget)
               if isinstance(w, QLabel | QAbstractButton) and w.isVisibleTo(root)
               and not _in_scroll_area(w, root)]
    placed: list[tuple[str, QRect]] = []
    for widget in widgets:
        rect = QRect(widget.mapTo(root, QPoint(0, 0)), widget.size())
        name = widget.objectName() or type(widget).__name__
        text = widget.text() if isinstance(widget, QLabel | QAbstractButton) else ""
        label = f"{name} {text[:24]!r}"
        if not bounds.contains(rect):
            problems.append(f"outside the window: {label} at {rect.getRect()}")
        if _cut_off(widget):
            problems.append(f"text cut off: {label} ({widget.width()}x{widget.height()})")
        if text:
            for other, other_rect in placed:
                overlap = rect.intersected(other_rect)
                if overlap.width() > 2 and overlap.height() > 2:
                    problems.append(f"overlap: {label} and {other}")
            placed.append((label, rect))
    return problems


def write_gallery(window: KioskWindow, views: dict[str, FlowView], out_dir: Path,
                  sizes: Iterable[str] = ("1024x768",), *, suffix: str = "",
                  frame: tuple[QImage, QRectF | None] | None = None,
                  lang: str | None = None, elderly: bool | None = None) -> list[Path]:
    """``out_dir/<view>-<size><suffix>.png`` for every view at every size, in ``lang`` and
    text size ``elderly`` (default: the window's now). Both are chosen again for every view:
    a return to the idle screen resets them for the next patient."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lang = window.lang if lang is None else lang
    elderly = window.elderly if elderly is None else elderly
    written = []
    for size in sizes:
        for name, view in views.items():
            window.render(view)
            window.set_language(lang)
            window.set_elderly(elderly)
            path = out_dir / f"{name}-{size}{suffix}.png"
            capture(window, view, SIZES[size], frame).save(str(path))
            written.append(path)
    return written


def variant_suffix(lang: str, elderly: bool) -> str:
    """The gallery's file-name suffix: none for Chinese normal text, else -en / -elderly."""
    return ("-en" if lang == "en" else "") + ("-elderly" if elderly else "")
