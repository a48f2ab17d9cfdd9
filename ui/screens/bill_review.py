"""Bill review: who (masked), what (bill lines), who pays what (the insurance split), and the
patient's own part in large yellow figures; then one big Confirm and a Cancel."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QScroller,
    QVBoxLayout,
    QWidget,
)

from kiosk.flow.machine import FlowView
from ui.i18n import label, tr, yuan
from ui.port import KioskPort
from ui.screens.base import Screen, button, panel, text_label

LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


class BillReviewScreen(Screen):
    def __init__(self, port: KioskPort, parent: QWidget | None = None) -> None:
        super().__init__(port, parent)
        self.patient = text_label("body", align=LEFT)
        self.root.addWidget(self.patient)
        body = self.flip(QHBoxLayout())
        items_panel = panel()
        items = QVBoxLayout(items_panel)
        self.items_title = text_label("body", tone="muted", align=LEFT)
        items.addWidget(self.items_title)
        self.lines = QWidget()
        self.lines_grid = QGridLayout(self.lines)
        self.lines_grid.setContentsMargins(0, 0, 0, 0)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.lines)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        QScroller.grabGesture(self.scroll.viewport(),
                              QScroller.ScrollerGestureType.LeftMouseButtonGesture)
        items.addWidget(self.scroll, 1)
        total_row = QHBoxLayout()
        self.total_label = text_label("body", align=LEFT, wrap=False)
        self.total = text_label("body", align=RIGHT, wrap=False)
        total_row.addWidget(self.total_label, 1)
        total_row.addWidget(self.total)
        items.addLayout(total_row)
        body.addWidget(items_panel, 1)
        split_panel = panel()
        split = QVBoxLayout(split_panel)
        self.split_title = text_label("body", tone="muted", align=LEFT)
        split.addWidget(self.split_title)
        self.layers = QGridLayout()
        split.addLayout(self.layers)
        split.addStretch(1)
        self.self_pay_label = text_label("body", align=LEFT)
        self.self_pay = text_label("money", align=RIGHT, wrap=False)
        self.credit = text_label("small", tone="muted", align=RIGHT)
        split.addWidget(self.self_pay_label)
        split.addWidget(self.self_pay)
        split.addWidget(self.credit)
        body.addWidget(split_panel, 1)
        self.root.addLayout(body, 1)
        self.guidance = text_label("body")
        self.root.addWidget(self.guidance)
        actions = QHBoxLayout()
        self.cancel = button(name="cancel")
        self.cancel.clicked.connect(self.port.cancel)
        self.confirm = button("primary", "confirm")
        self.confirm.clicked.connect(self.port.confirm)
        actions.addWidget(self.cancel, 1)
        actions.addWidget(self.confirm, 2)
        self.root.addLayout(actions)
        self._cells: dict[tuple[int, int, int], QLabel] = {}
        self._shown: set[tuple[int, int, int]] = set()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """At least three bill lines stay visible whatever the text size."""
        self.scroll.setMinimumHeight(self.total.fontMetrics().lineSpacing() * 3 + 8)
        super().resizeEvent(event)

    def _add(self, grid: QGridLayout, text: str, row: int, col: int, *, role: str = "body",
             align: Qt.AlignmentFlag = LEFT, wrap: bool = True, tone: str = "") -> None:
        """Put ``text`` in a grid cell, reusing the cell's label from earlier bills (a new
        label costs a stylesheet pass on the GUI thread)."""
        key = (id(grid), row, col)
        widget = self._cells.get(key)
        if widget is None:
            widget = text_label(role, align=align, wrap=wrap, tone=tone)
            grid.addWidget(widget, row, col)
            self._cells[key] = widget
        widget.setText(text)
        widget.setVisible(True)
        self._shown.add(key)

    def cells(self) -> list[QLabel]:
        """The bill lines' and layers' labels now on screen."""
        return [self._cells[key] for key in sorted(self._shown)]

    def _drop_rows(self) -> None:
        for key in self._shown:
            self._cells[key].setText("")
            self._cells[key].setVisible(False)
        self._shown.clear()

    def render(self, view: FlowView) -> None:
        self._drop_rows()
        lang = self.lang
        self.items_title.setText(tr("review.items", lang))
        self.split_title.setText(tr("review.split", lang))
        self.total_label.setText(tr("review.total", lang))
        self.self_pay_label.setText(tr("review.self_pay", lang))
        self.guidance.setText(tr(view.guidance, lang))
        self.cancel.setText(tr("ui.cancel", lang))
        self.confirm.setText(tr("ui.confirm", lang))
        p, q = view.patient, view.quote
        self.patient.setText(
            f"{tr('review.patient', lang)}  {p.name_masked}  {p.id_masked}  "
            f"{label('category', p.category, lang)}" if p else "")
        self.confirm.setEnabled(q is not None and p is not None)
        if q is None:
            self.total.setText("")
            self.self_pay.setText("")
            self.credit.setText("")
            return
        for row, line in enumerate(q.lines):
            self._add(self.lines_grid, line.description, row, 0)
            self._add(self.lines_grid, label("item", line.category, lang), row, 1, role="small",
                      tone="muted", wrap=False)
            self._add(self.lines_grid, yuan(line.amount_fen, lang), row, 2, align=RIGHT,
                      wrap=False)
        self.lines_grid.setColumnStretch(0, 1)
        self.lines_grid.setRowStretch(len(q.lines), 1)
        self.total.setText(yuan(q.total_fen, lang))
        shares = [(name, fen) for name, fen in q.layers if name != "self_pay"]
        for row, (name, fen) in enumerate(shares):
            self._add(self.layers, label("layer", name, lang), row, 0, wrap=False)
            self._add(self.layers, yuan(fen, lang), row, 1, align=RIGHT, wrap=False)
        self.layers.setColumnStretch(0, 1)
        self.self_pay.setText(yuan(q.self_pay_fen, lang))
        self.credit.setText(tr("review.credit_available", lang,
                               amount=yuan(q.credit_available_fen, lang)))

    def clear(self) -> None:
        self._drop_rows()
        for widget in (self.patient, self.total, self.self_pay, self.credit):
            widget.setText("")
