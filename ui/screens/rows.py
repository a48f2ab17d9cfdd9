"""A finger-scrolled list of rows, each a line of text with a button beside it (stacked in
portrait where the screen asks): 我的欠款's charges and 为家人还款's patients. Rows are made
as needed and reused; those beyond what is shown are hidden."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QBoxLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QScroller,
    QVBoxLayout,
    QWidget,
)

from ui.screens.base import button, text_label

LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


class RowList(QScrollArea):
    """``rows`` holds (row, label, button) per row made; a row's button calls ``on_click``
    with the row's index. ``flip`` (a screen's) makes each row stack in portrait."""

    def __init__(self, button_role: str, on_click: Callable[[int], None], *,
                 flip: Callable[[QBoxLayout], QBoxLayout] | None = None,
                 row_gap: int = 0) -> None:
        super().__init__()
        self._button_role, self._on_click = button_role, on_click
        self._flip, self._row_gap = flip, row_gap
        self.lines = QWidget()
        self._list = QVBoxLayout(self.lines)
        self._list.addStretch(1)
        self.setWidgetResizable(True)
        self.setWidget(self.lines)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        QScroller.grabGesture(self.viewport(),
                              QScroller.ScrollerGestureType.LeftMouseButtonGesture)
        self.rows: list[tuple[QWidget, QLabel, QPushButton]] = []

    def row(self, index: int) -> tuple[QWidget, QLabel, QPushButton]:
        while len(self.rows) <= index:
            row = QWidget()
            line = QHBoxLayout(row)
            if self._flip is not None:
                self._flip(line)
            line.setContentsMargins(0, 0, 0, self._row_gap)
            label = text_label("body", align=LEFT)
            choose = button(self._button_role)
            position = len(self.rows)
            choose.clicked.connect(lambda _=False, i=position: self._on_click(i))
            line.addWidget(label, 3)
            line.addWidget(choose, 1)
            self._list.insertWidget(len(self.rows), row)
            self.rows.append((row, label, choose))
        return self.rows[index]

    def show_rows(self, count: int) -> None:
        for i, (row, _, _) in enumerate(self.rows):
            row.setVisible(i < count)

    def keep_in_view(self, label: QLabel) -> None:
        """At least one row stays in view at ``label``'s text size (from a resize event)."""
        self.setMinimumHeight(label.fontMetrics().lineSpacing() * 2 + 8)

    def clear(self) -> None:
        for _, label, _ in self.rows:
            label.setText("")
