"""The day's reconciliation, as the platform adds it up (and says loudly when it does not)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from kiosk.i18n import tr
from kiosk.protocol.schemas import Reconciliation
from ui.cashier.widgets import Host, button
from ui.cashier.words import recon_lines


class ReconTab(QWidget):
    def __init__(self, host: Host, today: Callable[[], date],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host, self.today = host, today
        column = QVBoxLayout(self)
        self.refresh_button = button("recon_refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.text = QLabel()
        self.text.setObjectName("recon")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.refresh_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addWidget(self.text, 1, Qt.AlignmentFlag.AlignTop)

    def retranslate(self, lang: str) -> None:
        self.refresh_button.setText(tr("cashier.refresh", lang))

    def clear(self) -> None:
        self.text.setText("")

    def refresh(self) -> None:
        day = self.today()
        self.host.run("recon", lambda: self.host.service.reconciliation(day), self._show)

    def _show(self, recon: object) -> None:
        assert isinstance(recon, Reconciliation)
        lines = recon_lines(recon, self.host.lang)
        self.text.setText("\n".join(lines))
        self.text.setProperty("tone", "good" if recon.balanced else "bad")
