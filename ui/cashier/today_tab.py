"""Today's settlements at this site: reverse (confirmed, with a reason for the audit) and
reprint a slip from the counter printer's spool; and this counter's charges not settled for
sure (pending, expired, refused after an unknown outcome), with a way to send them again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from kiosk.counter.inputs import reversal_reason
from kiosk.i18n import label, tr, yuan
from kiosk.protocol.schemas import Settlement, SettlementList, SettlementStatus
from kiosk.settlement.outbox import OutboxRow, RowState
from ui.cashier.widgets import Host, button, fill, make_table, selected_key, set_headers
from ui.cashier.words import local, say

COLUMNS = ("cashier.col_receipt", "cashier.col_time", "cashier.col_patient",
           "cashier.col_method", "cashier.col_total", "cashier.col_self_pay",
           "cashier.col_status")


class TodayTab(QWidget):
    reversed = Signal(object)  # Settlement

    def __init__(self, host: Host, today: Callable[[], date],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host, self.today = host, today
        self.settlements: list[Settlement] = []
        column = QVBoxLayout(self)
        self.table = make_table(len(COLUMNS), "today")
        column.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.refresh_button = button("today_refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.reprint_button = button("reprint")
        self.reprint_button.clicked.connect(self.reprint)
        self.reverse_button = button("reverse", "danger")
        self.reverse_button.clicked.connect(self.reverse)
        row.addWidget(self.refresh_button)
        row.addWidget(self.reprint_button)
        row.addStretch(1)
        row.addWidget(self.reverse_button)
        column.addLayout(row)
        # charges of this counter not settled for sure: never a dead end for the cashier
        self.unresolved = QLabel()
        self.unresolved.setObjectName("unresolved")
        self.unresolved.setWordWrap(True)
        self.unresolved.setTextFormat(Qt.TextFormat.PlainText)
        self.retry_button = button("retry_unresolved")
        self.retry_button.clicked.connect(self.retry)
        unresolved_row = QHBoxLayout()
        unresolved_row.addWidget(self.unresolved, 1)
        unresolved_row.addWidget(self.retry_button)
        column.addLayout(unresolved_row)
        self.rows: list[OutboxRow] = []

    def retranslate(self, lang: str) -> None:
        set_headers(self.table, COLUMNS, lang)
        self.refresh_button.setText(tr("cashier.refresh", lang))
        self.reprint_button.setText(tr("cashier.reprint", lang))
        self.reverse_button.setText(say("counter.reverse", lang))
        self.retry_button.setText(say("counter.retry_unresolved", lang))
        self._show_unresolved(self.rows)

    def clear(self) -> None:
        self.settlements = []
        self.table.setRowCount(0)

    def refresh(self) -> None:
        day = self.today()
        self.host.run("today", lambda: self.host.service.settlements(day), self._show)
        self.host.run("unresolved", self.host.service.unresolved, self._show_unresolved)

    def _show_unresolved(self, rows: object) -> None:
        assert isinstance(rows, list)
        self.rows = rows
        lang = self.host.lang
        self.retry_button.setVisible(any(r.state is RowState.PENDING for r in rows))
        if not rows:
            self.unresolved.setText(say("counter.unresolved_none", lang))
            return
        lines = [say("counter.unresolved_" + r.state.value, lang, bill=r.request.bill_id,
                     amount=yuan(r.amount_fen, lang), code=r.last_error or "",
                     taken=r.taken_by or "-") for r in rows]
        self.unresolved.setText(say("counter.unresolved", lang, n=len(rows)) + "\n"
                                + "\n".join(lines))

    def retry(self) -> None:
        self.host.run("retry", self.host.service.retry_unresolved,
                      lambda n: self.host.tell(say("counter.retried", self.host.lang, n=n),
                                               "good"))

    def _show(self, listing: object) -> None:
        assert isinstance(listing, SettlementList)
        self.settlements = listing.settlements
        lang, zone = self.host.lang, self.host.zone
        fill(self.table, [[
            s.receipt_no, local(s.settled_at, zone, "%H:%M:%S"), s.patient.name,
            label("method", s.method.value, lang), yuan(s.total_fen, lang),
            yuan(s.layers.self_pay_fen, lang),
            tr("cashier.status_reversed" if s.status == SettlementStatus.REVERSED
               else "cashier.status_settled", lang)] for s in listing.settlements],
            [s.settlement_id for s in listing.settlements])

    def selected(self) -> Settlement | None:
        key = selected_key(self.table)
        found = next((s for s in self.settlements if s.settlement_id == key), None)
        if found is None:
            self.host.tell(tr("cashier.select_settlement", self.host.lang), "warn")
        return found

    def reverse(self) -> None:
        settlement = self.selected()
        if settlement is None:
            return
        lang = self.host.lang
        self.host.confirm(say("counter.confirm_reverse", lang),
                          say("counter.confirm_reverse_text", lang,
                              receipt=settlement.receipt_no, patient=settlement.patient.name,
                              total=yuan(settlement.total_fen, lang)),
                          lambda reason: self._reverse(settlement.settlement_id, reason),
                          reason=reversal_reason)

    def _reverse(self, settlement_id: str, reason: str) -> None:
        self.host.run("reverse", lambda: self.host.service.reverse(settlement_id, reason),
                      self._reversed)

    def _reversed(self, settlement: object) -> None:
        assert isinstance(settlement, Settlement)
        refund = settlement.reversal.refund_fen if settlement.reversal else 0
        self.host.tell(tr("cashier.reversed", self.host.lang,
                          refund=yuan(refund, self.host.lang)), "good")
        self.reversed.emit(settlement)
        self.refresh()

    def reprint(self) -> None:
        settlement = self.selected()
        if settlement is None:
            return
        receipt = settlement.receipt_no
        self.host.run("reprint", lambda: self.host.service.reprint(settlement.settlement_id),
                      lambda _: self.host.tell(tr("cashier.reprinted", self.host.lang,
                                                  receipt=receipt), "good"))
