"""Small pieces every tab uses: tables keyed by id, the result banner, the confirm dialog,
and ``Host`` — what a tab asks of the console that holds it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.counter.inputs import BadInput
from kiosk.counter.service import CashierService
from ui.cashier.words import say


class Host(Protocol):
    """The console, as its tabs see it."""

    service: CashierService
    lang: str
    zone: tzinfo

    def run(self, kind: str, call: Callable[[], object], on_ok: Callable[[object], None],
            on_fail: Callable[[BaseException], None] | None = None, *,
            touch: bool = True) -> bool: ...

    def tell(self, text: str, tone: str = "info") -> None: ...

    def failed(self, exc: BaseException) -> None: ...

    def confirm(self, title: str, text: str, on_ok: Callable[[str], None], *,
                reason: Callable[[str], str] | None = None) -> None: ...


def make_table(columns: int, name: str) -> QTableWidget:
    table = QTableWidget(0, columns)
    table.setObjectName(name)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().setVisible(False)
    return table


def fill(table: QTableWidget, rows: list[list[str]], keys: list[str]) -> None:
    """Rows of text; each row's first item carries its key (bill id, settlement id...). The
    selection stays on the same key when it is still there."""
    selected = selected_key(table)
    table.setRowCount(0)
    for row_index, (row, key) in enumerate(zip(rows, keys, strict=True)):
        table.insertRow(row_index)
        for col, text in enumerate(row):
            item = QTableWidgetItem(text)
            if col == 0:
                item.setData(Qt.ItemDataRole.UserRole, key)
            table.setItem(row_index, col, item)
    table.resizeColumnsToContents()
    if selected and selected in keys:
        table.selectRow(keys.index(selected))


def key_at(table: QTableWidget, row: int) -> str:
    item = table.item(row, 0) if row >= 0 else None
    return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""


def selected_key(table: QTableWidget) -> str:
    rows = table.selectionModel().selectedRows() if table.selectionModel() else []
    return key_at(table, rows[0].row()) if rows else ""


def set_headers(table: QTableWidget, keys: tuple[str, ...], lang: str) -> None:
    table.setHorizontalHeaderLabels([say(k, lang) for k in keys])


def button(name: str, role: str = "") -> QPushButton:
    widget = QPushButton()
    widget.setObjectName(name)
    if role:
        widget.setProperty("role", role)
    return widget


class Banner(QLabel):
    """The one place results and errors are said: large, coloured by tone, never beside the
    title in small print."""

    TONES = ("info", "good", "bad", "warn")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setWordWrap(True)
        self.show_text("")

    def show_text(self, text: str, tone: str = "info") -> None:
        self.setProperty("tone", tone if text else "none")
        self.setText(text)
        self.style().unpolish(self)
        self.style().polish(self)

    @property
    def tone(self) -> str:
        return str(self.property("tone"))


class ConfirmDialog(QDialog):
    """Asks before money moves or consent is withdrawn. With ``reason`` (a checker that
    raises ``BadInput``) the reason field is required: Confirm stays disabled until it
    passes. ``confirmed`` fires at most once per dialog, however often it is accepted."""

    confirmed = Signal(str)  # the checked reason ("" when none is asked)

    def __init__(self, title: str, text: str, lang: str, *,
                 reason: Callable[[str], str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("confirm")
        self.setWindowTitle(title)
        self.setModal(True)
        self.check = reason
        self._fired = False
        column = QVBoxLayout(self)
        heading = QLabel(title)
        heading.setProperty("role", "title")
        self.text = QLabel(text)
        self.text.setObjectName("confirm_text")
        self.text.setWordWrap(True)
        column.addWidget(heading)
        column.addWidget(self.text)
        self.reason = QLineEdit()
        self.reason.setObjectName("confirm_reason")
        self.reason.setPlaceholderText(say("counter.reason", lang))
        self.reason.setVisible(reason is not None)
        self.reason.textChanged.connect(self._update)
        column.addWidget(self.reason)
        row = QHBoxLayout()
        self.cancel_button = button("confirm_cancel")
        self.cancel_button.setText(say("counter.cancel", lang))
        self.cancel_button.clicked.connect(self.reject)
        self.ok_button = button("confirm_ok", "primary")
        self.ok_button.setText(say("counter.ok", lang))
        self.ok_button.clicked.connect(self.accept)
        row.addStretch(1)
        row.addWidget(self.cancel_button)
        row.addWidget(self.ok_button)
        column.addLayout(row)
        self.setMinimumWidth(560)
        self._update()

    def _checked(self) -> str | None:
        if self.check is None:
            return ""
        try:
            return self.check(self.reason.text())
        except BadInput:
            return None

    def _update(self) -> None:
        self.ok_button.setEnabled(self._checked() is not None)

    def accept(self) -> None:
        reason = self._checked()
        if reason is None:
            return
        super().accept()
        if not self._fired:
            self._fired = True
            self.confirmed.emit(reason)
