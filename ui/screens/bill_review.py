"""Bill review: who (masked), what (bill lines), who pays what (the insurance split), and the
patient's own part in large yellow figures; then one big Confirm and a Cancel."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QScroller,
    QVBoxLayout,
    QWidget,
)

from kiosk.flow.machine import FlowView
from kiosk.i18n import label, tr, yuan
from ui.port import KioskPort
from ui.screens.base import Screen, button, panel, text_label

LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
TOP_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop


class BillReviewScreen(Screen):
    """Laid out like the slip: the bill's lines (each with its category beneath it, never
    beside its amount), the total, what insurance pays, in one list that scrolls with a
    finger (drag it, or the finger-wide thumb) when the bill is long; beside it (below it on
    a portrait screen) what the patient pays, large, and the two buttons."""

    def __init__(self, port: KioskPort, parent: QWidget | None = None) -> None:
        super().__init__(port, parent)
        who = QHBoxLayout()
        self.patient = text_label("body", align=LEFT)
        self.patient_id = text_label("small", tone="muted", align=RIGHT, wrap=False)
        who.addWidget(self.patient, 1)
        who.addWidget(self.patient_id)
        self.root.addLayout(who)
        self.guidance = text_label("body", align=LEFT)
        self.root.addWidget(self.guidance)
        body = self.flip(QHBoxLayout())
        items_panel = panel()
        items = QVBoxLayout(items_panel)
        self.items_title = text_label("small", tone="muted", align=LEFT)
        items.addWidget(self.items_title)
        self.lines = QWidget()
        sheet = QVBoxLayout(self.lines)
        sheet.setContentsMargins(0, 0, 0, 0)
        self.lines_grid = QGridLayout()
        self.lines_grid.setHorizontalSpacing(24)
        self.lines_grid.setVerticalSpacing(2)
        self.lines_grid.setColumnStretch(0, 1)
        sheet.addLayout(self.lines_grid)
        total_row = QHBoxLayout()
        self.total_label = text_label("body", align=LEFT, wrap=False)
        self.total = text_label("body", align=RIGHT, wrap=False)
        total_row.addWidget(self.total_label, 1)
        total_row.addWidget(self.total)
        sheet.addSpacing(8)
        sheet.addLayout(total_row)
        sheet.addSpacing(8)
        self.split_title = text_label("small", tone="muted", align=LEFT)
        sheet.addWidget(self.split_title)
        self.layers = QGridLayout()
        self.layers.setHorizontalSpacing(24)
        self.layers.setColumnStretch(0, 1)
        sheet.addLayout(self.layers)
        sheet.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.lines)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        QScroller.grabGesture(self.scroll.viewport(),
                              QScroller.ScrollerGestureType.LeftMouseButtonGesture)
        items.addWidget(self.scroll, 1)
        body.addWidget(items_panel, 3)
        side = QVBoxLayout()
        self.self_pay_label = text_label("body", align=LEFT)
        self.self_pay = text_label("money", align=RIGHT, wrap=False)
        pay_row = QHBoxLayout()  # label above the figure beside the bill,
        pay_row.addWidget(self.self_pay_label, 1)  # beside it under the bill (portrait)
        pay_row.addWidget(self.self_pay)
        self._pay_row = pay_row
        self.credit = text_label("small", tone="muted", align=RIGHT)
        side.addLayout(pay_row)
        side.addWidget(self.credit)
        side.addStretch(1)
        self.actions = QHBoxLayout()  # stacked beside the bill, side by side under it
        self.cancel = button(name="cancel")
        self.cancel.clicked.connect(self.port.cancel)
        self.confirm = button("primary", "confirm")
        self.confirm.clicked.connect(self.port.confirm)
        side.addLayout(self.actions)
        body.addLayout(side, 2)
        self._body = body
        self.root.addLayout(body, 1)
        self._cells: dict[tuple[int, int, int], QLabel] = {}
        self._shown: set[tuple[int, int, int]] = set()
        self.set_landscape(True)

    def set_landscape(self, landscape: bool) -> None:
        super().set_landscape(landscape)
        self._body.setStretch(1, 2 if landscape else 0)  # portrait: the bill takes the height
        self._pay_row.setDirection(QBoxLayout.Direction.TopToBottom if landscape
                                   else QBoxLayout.Direction.LeftToRight)
        for widget in (self.confirm, self.cancel):
            self.actions.removeWidget(widget)
        self.actions.setDirection(QBoxLayout.Direction.TopToBottom if landscape
                                  else QBoxLayout.Direction.LeftToRight)
        first, second = (self.confirm, self.cancel) if landscape else (self.cancel, self.confirm)
        self.actions.addWidget(first, 1 if landscape else (1 if first is self.cancel else 2))
        self.actions.addWidget(second, 1 if landscape else 2)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """At least two bill lines stay visible whatever the text size."""
        self.scroll.setMinimumHeight(self.total.fontMetrics().lineSpacing() * 2 + 8)
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
        self.self_pay_label.setText(tr("review.you_pay", lang))
        self.guidance.setText(tr(view.guidance, lang))
        self.cancel.setText(tr("ui.cancel", lang))
        self.confirm.setText(tr("ui.confirm", lang))
        p, q = view.patient, view.quote
        self.patient.setText(f"{p.name_masked}  {label('category', p.category, lang)}"
                             if p else "")
        self.patient_id.setText(p.id_masked if p else "")
        self.confirm.setEnabled(q is not None and p is not None)
        if q is None:
            self.total.setText("")
            self.self_pay.setText("")
            self.credit.setText("")
            return
        for i, line in enumerate(q.lines):  # the category under its line, apart from amounts
            self._add(self.lines_grid, line.description, 2 * i, 0)
            self._add(self.lines_grid, yuan(line.amount_fen, lang), 2 * i, 1, align=TOP_RIGHT,
                      wrap=False)
            self._add(self.lines_grid, label("item", line.category, lang), 2 * i + 1, 0,
                      role="small", tone="muted", wrap=False)
        self.total.setText(yuan(q.total_fen, lang))
        shares = [(name, fen) for name, fen in q.layers if name != "self_pay"]
        for row, (name, fen) in enumerate(shares):
            self._add(self.layers, label("layer", name, lang), row, 0)
            self._add(self.layers, yuan(fen, lang), row, 1, align=RIGHT, wrap=False)
        self.self_pay.setText(yuan(q.self_pay_fen, lang))
        self.credit.setText(tr("review.credit_available", lang,
                               amount=yuan(q.credit_available_fen, lang)))

    def clear(self) -> None:
        self._drop_rows()
        for widget in (self.patient, self.patient_id, self.total, self.self_pay, self.credit):
            widget.setText("")
