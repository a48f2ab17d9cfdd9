"""What every patient screen shares: rendering a ``FlowView``, forgetting it, layouts that
turn from side-by-side (landscape) to stacked (portrait), and the widgets they are built of."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QResizeEvent, QTextLayout, QTextOption
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.flow.machine import FlowView
from ui.port import KioskPort

HEADINGS = frozenset({"title", "hero"})


def last_line_length(text: str, font: QFont, width: int) -> tuple[int, int]:
    """(lines, characters on the last line) of ``text`` wrapped at ``width``."""
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    layout.beginLayout()
    lines, last = 0, ""
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(max(1, width))
        lines += 1
        last = text[line.textStart():line.textStart() + line.textLength()]
    layout.endLayout()
    return lines, len(last.strip())


class HeadingLabel(QLabel):
    """A title that never leaves one character alone on its last line (a widow such as
    "认"): when its words would wrap so, it narrows itself (equal side margins) until the
    last line takes two or more."""

    def setText(self, text: str) -> None:
        super().setText(text)
        self._balance()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._balance()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._balance()

    def _balance(self) -> None:
        inset, text, width = 0, self.text(), self.width()
        if self.wordWrap() and text and "\n" not in text:
            step = max(2, QFontMetrics(self.font()).height() // 4)
            lines, _ = last_line_length(text, self.font(), width)
            while inset < width // 4:
                wrapped, last = last_line_length(text, self.font(), width - 2 * inset)
                if lines < 2 or last != 1 or wrapped > lines:
                    break
                inset += step
            if last_line_length(text, self.font(), width - 2 * inset)[1] == 1:
                inset = 0  # no narrower width helps: leave it as it was
        margins = self.contentsMargins()
        if (margins.left(), margins.right()) != (inset, inset):
            self.setContentsMargins(inset, 0, inset, 0)


def text_label(role: str = "body", *, tone: str = "", wrap: bool = True,
               align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignCenter) -> QLabel:
    label = HeadingLabel() if role in HEADINGS else QLabel()
    label.setProperty("role", role)
    if tone:
        label.setProperty("tone", tone)
    label.setWordWrap(wrap)
    label.setAlignment(align)
    label.setTextFormat(Qt.TextFormat.PlainText)  # data never renders as markup
    return label


def button(role: str = "", name: str = "") -> QPushButton:
    widget = QPushButton()
    if role:
        widget.setProperty("role", role)
    if name:
        widget.setObjectName(name)
    widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the scanner, not buttons
    return widget


class TileButton(QPushButton):
    """A large button whose caption wraps onto more lines instead of forcing the window
    wider: long English or large-text captions must never push the layout off screen."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setProperty("role", "tile")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.caption = text_label("tile")
        self.caption.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.caption)

    def set_caption(self, text: str) -> None:
        self.caption.setText(text)
        self.setAccessibleName(text)

    def set_active(self, active: bool) -> None:
        for widget in (self, self.caption):
            set_style_property(widget, "active", "true" if active else "false")

    def sizeHint(self) -> QSize:
        return self.layout().sizeHint().expandedTo(self.minimumSize())

    def minimumSizeHint(self) -> QSize:
        return self.layout().minimumSize().expandedTo(self.minimumSize())

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return max(self.layout().totalHeightForWidth(width), self.minimumHeight())


def set_style_property(widget: QWidget, name: str, value: str) -> None:
    """Change a property that the stylesheet selects on, and restyle the widget."""
    if widget.property(name) != value:
        widget.setProperty(name, value)
        widget.style().unpolish(widget)
        widget.style().polish(widget)


def panel() -> QFrame:
    frame = QFrame()
    frame.setProperty("panel", "true")
    return frame


class Screen(QWidget):
    """One patient screen. ``show_view`` renders a snapshot in ``lang``; ``clear`` drops
    anything personal it shows, and is called whenever the screen is not the current one."""

    def __init__(self, port: KioskPort, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.port = port
        self.lang = "zh"
        self._flips: list[QBoxLayout] = []
        self._landscape = True
        self.root = QVBoxLayout(self)
        margin = 24
        self.root.setContentsMargins(margin, margin // 3, margin, margin // 3)

    def flip(self, layout: QBoxLayout) -> QBoxLayout:
        """Register a layout that lays out side by side in landscape, stacked in portrait (one
        made after the window chose, like a list's new row, takes the current direction)."""
        self._flips.append(layout)
        if not self._landscape:
            layout.setDirection(QBoxLayout.Direction.TopToBottom)
        return layout

    def set_landscape(self, landscape: bool) -> None:
        """Side by side on a landscape screen, stacked on a portrait one (the window decides
        for every screen at once, so hidden screens never hold on to the other layout)."""
        self._landscape = landscape
        direction = (QBoxLayout.Direction.LeftToRight if landscape
                     else QBoxLayout.Direction.TopToBottom)
        for layout in self._flips:
            if layout.direction() != direction:
                layout.setDirection(direction)

    def show_view(self, view: FlowView, lang: str) -> None:
        self.lang = lang
        self.render(view)

    def render(self, view: FlowView) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        """Forget personal data (masked names, amounts, receipts, camera images)."""
