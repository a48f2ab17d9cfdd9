"""The cashier console: behind a staff PIN, everything a cashier does when the kiosk cannot.

Hand-off queue → take over → look the patient up (card, e-voucher QR, id) → quote → settle
by card, QR or cash; today's settlements → reverse with a reason, reprint; the day's
reconciliation; withdraw face consent; assisted enrolment. Every platform call runs on the
worker pool; the console locks itself (and forgets what it showed) after inactivity.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.backend import BackendError
from kiosk.config import DEFAULT_TIMEZONE
from kiosk.protocol.schemas import (
    PaymentMethod,
    PendingBills,
    Quote,
    Reconciliation,
    Settlement,
    SettlementList,
    SettlementStatus,
    SettleRequest,
    WithdrawConsentResponse,
)
from kiosk.recognition.engine import FaceEngine
from ui.cashier.logic import (
    BadInput,
    lookup_key,
    patient_line,
    quote_line,
    recon_lines,
    reversal_reason,
    withdrawal_reason,
)
from ui.cashier.pin import PinGate
from ui.cashier.service import CashierService, Handoff, LookupBy
from ui.enrolment import EnrolmentPanel, FrameFeed
from ui.i18n import label, tr, yuan
from ui.worker import Worker

log = logging.getLogger(__name__)

IDLE_LOCK_S = 300  # the console locks itself after this long without a touch or key
STAFF_FONT_PX = 16  # staff read this all day, often standing: larger than desktop default
SETTLE_METHODS = (PaymentMethod.CARD, PaymentMethod.VOUCHER, PaymentMethod.CASH)


def _table(columns: int) -> QTableWidget:
    table = QTableWidget(0, columns)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().setVisible(False)
    return table


def _fill(table: QTableWidget, rows: list[list[str]], keys: list[str]) -> None:
    """Rows of text; each row's first item carries its key (bill id, settlement id...)."""
    table.setRowCount(0)
    for row_index, (row, key) in enumerate(zip(rows, keys, strict=True)):
        table.insertRow(row_index)
        for col, text in enumerate(row):
            item = QTableWidgetItem(text)
            if col == 0:
                item.setData(Qt.ItemDataRole.UserRole, key)
            table.setItem(row_index, col, item)
    table.resizeColumnsToContents()


def _key_at(table: QTableWidget, row: int) -> str:
    item = table.item(row, 0) if row >= 0 else None
    return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""


def _selected_key(table: QTableWidget) -> str:
    return _key_at(table, table.currentRow())


DEFAULT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)


class CashierConsole(QWidget):
    def __init__(self, service: CashierService, pin_gate: PinGate, *,
                 engine: FaceEngine | None = None, camera: FrameFeed | None = None,
                 today: Callable[[], date] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 zone: tzinfo = DEFAULT_ZONE,  # [site] timezone: not the machine's TZ
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cashier")
        self.setStyleSheet(f"QWidget {{ font-size: {STAFF_FONT_PX}px; }}")
        self.service, self.pin_gate, self.clock, self.zone = service, pin_gate, clock, zone
        self.today = today or (lambda: datetime.now(zone).date())
        self.lang = "zh"
        self.worker = Worker(self)
        self.handoffs: list[Handoff] = []
        self.pending: PendingBills | None = None
        self.quote: Quote | None = None
        self._settle_key = ""  # reused while retrying one quoted settlement: never charge twice
        self.settlements: list[Settlement] = []
        self.last_activity = clock()

        self.pages = QStackedWidget()
        QVBoxLayout(self).addWidget(self.pages)
        self.pages.addWidget(self._pin_page())
        self.tabs = QTabWidget()
        main = QWidget()
        column = QVBoxLayout(main)
        top = QHBoxLayout()
        self.title = QLabel()
        self.status = QLabel()
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.lock_button = QPushButton()
        self.lock_button.clicked.connect(self.lock)
        top.addWidget(self.title)
        top.addWidget(self.status, 1)
        top.addWidget(self.lock_button)
        column.addLayout(top)
        column.addWidget(self.tabs, 1)
        self.pages.addWidget(main)
        self.tabs.addTab(self._queue_tab(), "")
        self.tabs.addTab(self._lookup_tab(), "")
        self.tabs.addTab(self._today_tab(), "")
        self.tabs.addTab(self._recon_tab(), "")
        self.enrolment = EnrolmentPanel(service, self.worker, engine, camera)
        self.tabs.addTab(self.enrolment, "")

        self._idle = QTimer(self, interval=1000)
        self._idle.timeout.connect(self._check_idle)
        self._idle.start()
        self.installEventFilter(self)
        self.retranslate()

    # ------------------------------------------------------------------ pages
    def _pin_page(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        self.pin_prompt = QLabel()
        self.pin = QLineEdit()
        self.pin.setObjectName("pin")
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.returnPressed.connect(self.unlock)
        self.unlock_button = QPushButton()
        self.unlock_button.clicked.connect(self.unlock)
        self.pin_message = QLabel()
        column.addStretch(1)
        for widget in (self.pin_prompt, self.pin, self.unlock_button, self.pin_message):
            column.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addStretch(2)
        return page

    def _queue_tab(self) -> QWidget:
        tab = QWidget()
        column = QVBoxLayout(tab)
        self.queue = _table(4)
        self.queue.setObjectName("queue")
        row = QHBoxLayout()
        self.queue_refresh = QPushButton()
        self.queue_refresh.clicked.connect(self.refresh_queue)
        self.take_button = QPushButton()
        self.take_button.setObjectName("take_over")
        self.take_button.clicked.connect(self.take_over)
        row.addWidget(self.queue_refresh)
        row.addWidget(self.take_button)
        row.addStretch(1)
        column.addWidget(self.queue, 1)
        column.addLayout(row)
        return tab

    def _lookup_tab(self) -> QWidget:
        tab = QWidget()
        column = QVBoxLayout(tab)
        row = QHBoxLayout()
        self.lookup_by_label = QLabel()
        row.addWidget(self.lookup_by_label)
        self.lookup_by = QComboBox()
        self.lookup_by.setObjectName("lookup_by")
        self.key = QLineEdit()
        self.key.setObjectName("lookup_key")
        self.key.returnPressed.connect(self.lookup)
        self.lookup_button = QPushButton()
        self.lookup_button.clicked.connect(self.lookup)
        row.addWidget(self.lookup_by)
        row.addWidget(self.key, 1)
        row.addWidget(self.lookup_button)
        column.addLayout(row)
        self.patient = QLabel()
        self.patient.setObjectName("patient")
        column.addWidget(self.patient)
        self.bills = _table(4)
        self.bills.setObjectName("bills")
        self.bills.itemSelectionChanged.connect(self._bill_changed)
        column.addWidget(self.bills, 1)
        row = QHBoxLayout()
        self.settle_as_label = QLabel()
        row.addWidget(self.settle_as_label)
        self.settle_as = QComboBox()
        self.settle_as.setObjectName("settle_as")
        self.settle_as.currentIndexChanged.connect(self._bill_changed)
        self.quote_button = QPushButton()
        self.quote_button.clicked.connect(self.request_quote)
        self.settle_button = QPushButton()
        self.settle_button.setObjectName("settle")
        self.settle_button.clicked.connect(self.settle)
        row.addWidget(self.settle_as)
        row.addWidget(self.quote_button)
        row.addWidget(self.settle_button)
        row.addStretch(1)
        column.addLayout(row)
        self.quote_text = QLabel()
        self.quote_text.setObjectName("quote")
        self.quote_text.setWordWrap(True)
        column.addWidget(self.quote_text)
        row = QHBoxLayout()
        self.withdraw_reason = QLineEdit()
        self.withdraw_button = QPushButton()
        self.withdraw_button.setObjectName("withdraw")
        self.withdraw_button.clicked.connect(self.withdraw_consent)
        row.addWidget(self.withdraw_reason, 1)
        row.addWidget(self.withdraw_button)
        column.addLayout(row)
        return tab

    def _today_tab(self) -> QWidget:
        tab = QWidget()
        column = QVBoxLayout(tab)
        self.today_table = _table(7)
        self.today_table.setObjectName("today")
        column.addWidget(self.today_table, 1)
        row = QHBoxLayout()
        self.today_refresh = QPushButton()
        self.today_refresh.clicked.connect(self.refresh_today)
        self.reverse_reason = QLineEdit()
        self.reverse_reason.setObjectName("reverse_reason")
        self.reverse_button = QPushButton()
        self.reverse_button.setObjectName("reverse")
        self.reverse_button.clicked.connect(self.reverse)
        self.reprint_button = QPushButton()
        self.reprint_button.setObjectName("reprint")
        self.reprint_button.clicked.connect(self.reprint)
        row.addWidget(self.today_refresh)
        row.addWidget(self.reverse_reason, 1)
        row.addWidget(self.reverse_button)
        row.addWidget(self.reprint_button)
        column.addLayout(row)
        return tab

    def _recon_tab(self) -> QWidget:
        tab = QWidget()
        column = QVBoxLayout(tab)
        self.recon_refresh = QPushButton()
        self.recon_refresh.clicked.connect(self.refresh_recon)
        self.recon_text = QLabel()
        self.recon_text.setObjectName("recon")
        self.recon_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.recon_refresh, 0, Qt.AlignmentFlag.AlignLeft)
        column.addWidget(self.recon_text, 1, Qt.AlignmentFlag.AlignTop)
        return tab

    def retranslate(self, lang: str | None = None) -> None:
        self.lang = lang = lang or self.lang
        self.title.setText(tr("cashier.title", lang))
        self.lock_button.setText(tr("cashier.lock", lang))
        self.pin_prompt.setText(tr("cashier.pin_prompt", lang))
        self.unlock_button.setText(tr("cashier.unlock", lang))
        for index, key in enumerate(("cashier.tab_queue", "cashier.tab_lookup",
                                     "cashier.tab_today", "cashier.tab_recon",
                                     "cashier.tab_enrol")):
            self.tabs.setTabText(index, tr(key, lang))
        self.queue.setHorizontalHeaderLabels([tr(k, lang) for k in (
            "cashier.col_time", "cashier.col_kiosk", "cashier.col_reason", "cashier.col_status")])
        self.bills.setHorizontalHeaderLabels([tr(k, lang) for k in (
            "cashier.col_bill", "cashier.col_time", "cashier.col_total", "cashier.col_items")])
        self.today_table.setHorizontalHeaderLabels([tr(k, lang) for k in (
            "cashier.col_receipt", "cashier.col_time", "cashier.col_patient",
            "cashier.col_method", "cashier.col_total", "cashier.col_self_pay",
            "cashier.col_status")])
        self.queue_refresh.setText(tr("cashier.refresh", lang))
        self.take_button.setText(tr("cashier.take_over", lang))
        self.lookup_by_label.setText(tr("cashier.lookup_by", lang))
        self.settle_as_label.setText(tr("cashier.settle_as", lang))
        self._fill_combo(self.lookup_by, [(by, f"cashier.by_{by.value}") for by in LookupBy])
        self.key.setPlaceholderText(tr("cashier.lookup_key", lang))
        self.lookup_button.setText(tr("cashier.lookup", lang))
        self._fill_combo(self.settle_as, [(m, f"method.{m.value}") for m in SETTLE_METHODS])
        self.quote_button.setText(tr("cashier.quote", lang))
        self.settle_button.setText(tr("cashier.settle", lang))
        self.withdraw_reason.setPlaceholderText(tr("cashier.withdraw_reason", lang))
        self.withdraw_button.setText(tr("cashier.withdraw", lang))
        self.today_refresh.setText(tr("cashier.refresh", lang))
        self.reverse_reason.setPlaceholderText(tr("cashier.reverse_reason", lang))
        self.reverse_button.setText(tr("cashier.reverse", lang))
        self.reprint_button.setText(tr("cashier.reprint", lang))
        self.recon_refresh.setText(tr("cashier.refresh", lang))
        self.enrolment.retranslate(lang)

    def _fill_combo(self, combo: QComboBox, items: list[tuple[object, str]]) -> None:
        current = combo.currentIndex()
        combo.blockSignals(True)
        combo.clear()
        for value, key in items:
            combo.addItem(tr(key, self.lang), value)
        combo.setCurrentIndex(max(0, current))
        combo.blockSignals(False)

    # ---------------------------------------------------------------- locking
    @property
    def unlocked(self) -> bool:
        return self.pages.currentIndex() == 1

    def unlock(self) -> None:
        result = self.pin_gate.attempt(self.pin.text())
        self.pin.clear()
        if result.ok:
            self.pin_message.setText("")
            self.pages.setCurrentIndex(1)
            self.last_activity = self.clock()
            log.info("cashier.unlocked")
            self.refresh_queue()
            return
        log.info("cashier.pin_refused", extra={"locked": bool(result.locked_for_s)})
        self.pin_message.setText(
            tr("cashier.pin_locked", self.lang, seconds=result.locked_for_s)
            if result.locked_for_s else tr("cashier.pin_wrong", self.lang,
                                           n=result.attempts_left))

    def lock(self) -> None:
        """Back to the PIN page, with nothing personal left on any widget."""
        self.worker.forget()
        self.pending = self.quote = None
        self._settle_key = ""
        self.settlements = []
        self.handoffs = []
        for table in (self.queue, self.bills, self.today_table):
            table.setRowCount(0)
        for widget in (self.patient, self.quote_text, self.recon_text, self.status):
            widget.setText("")
        for line in (self.key, self.reverse_reason, self.withdraw_reason, self.pin):
            line.clear()
        self.enrolment.reset()
        self.pages.setCurrentIndex(0)
        log.info("cashier.locked")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress):
            self.last_activity = self.clock()
        return False

    def _check_idle(self) -> None:
        if self.unlocked and self.clock() - self.last_activity > IDLE_LOCK_S \
                and not self.enrolment.capturing:
            self.lock()

    # ----------------------------------------------------------------- helpers
    def _say(self, text: str) -> None:
        self.status.setText(text)

    def _settle_failed(self, exc: BaseException) -> None:
        if isinstance(exc, BackendError) and exc.retryable:
            # the outcome is unknown: the kept key answers it, and never charges twice
            self._say(tr("cashier.failed", self.lang, message=(
                f"{tr('cashier.charge_unconfirmed', self.lang)} ({exc.code})")))
            return
        self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, BackendError):
            message = f"{tr(exc.code, self.lang)} ({exc.code})"
        else:
            log.error("cashier.call_failed", extra={"error": type(exc).__name__})
            message = tr("generic.problem", self.lang)
        self._say(tr("cashier.failed", self.lang, message=message))

    def _run(self, kind: str, call: Callable[[], object],
             on_ok: Callable[[object], None],
             on_fail: Callable[[BaseException], None] | None = None) -> None:
        self.last_activity = self.clock()
        if not self.unlocked:
            return
        self.worker.submit(kind, call, on_ok, on_fail or self._failed)

    # -------------------------------------------------------------------- queue
    def refresh_queue(self) -> None:
        self._run("queue", self.service.handoffs, self._show_queue)

    def _show_queue(self, handoffs: object) -> None:
        assert isinstance(handoffs, list)
        self.handoffs = handoffs
        _fill(self.queue, [[h.at.astimezone(self.zone).strftime("%H:%M:%S"), h.kiosk_id,
                            tr(h.reason, self.lang),
                            tr("cashier.taken" if h.taken_by else "cashier.waiting", self.lang)]
                           for h in handoffs], [h.handoff_id for h in handoffs])

    def take_over(self) -> None:
        handoff_id = _selected_key(self.queue)
        if handoff_id:
            self._run("take", lambda: self.service.take_over(handoff_id), self._taken)

    def _taken(self, handoff: object) -> None:
        assert isinstance(handoff, Handoff)
        self._say(tr("cashier.took_over", self.lang, reason=tr(handoff.reason, self.lang)))
        self.tabs.setCurrentIndex(1)
        self.refresh_queue()

    # ------------------------------------------------------------ look-up, settle
    def lookup(self) -> None:
        by = LookupBy(self.lookup_by.currentData())
        try:
            key = lookup_key(by, self.key.text())
        except BadInput as exc:
            self._say(tr("cashier.bad_key", self.lang, detail=str(exc)))
            return
        self.key.clear()  # a card number or voucher must not linger on screen
        self._run("lookup", lambda: self.service.lookup(by, key), self._show_patient)

    def _show_patient(self, pending: object) -> None:
        assert isinstance(pending, PendingBills)
        self.pending, self.quote, self._settle_key = pending, None, ""
        self.patient.setText(patient_line(pending.patient, pending.credit.available_fen,
                                          self.lang))
        bills = [b for b in pending.bills if b.status.value == "pending"]
        _fill(self.bills, [[b.bill_id, b.created_at.astimezone(self.zone).strftime("%m-%d %H:%M"),
                            yuan(b.total_fen, self.lang), str(len(b.items))] for b in bills],
              [b.bill_id for b in bills])
        self.quote_text.setText("" if bills else tr("cashier.no_bills", self.lang))
        self.enrolment.set_patient(pending.patient.patient_id,
                                   f"{pending.patient.name} {pending.patient.national_id}")
        self._say("")

    def _bill_changed(self) -> None:
        self.quote, self._settle_key = None, ""
        self.quote_text.setText("")

    def _method(self) -> PaymentMethod:
        return PaymentMethod(self.settle_as.currentData())

    def request_quote(self) -> None:
        bill_id = _selected_key(self.bills)
        if self.pending is None or not bill_id:
            self._say(tr("cashier.select_bill", self.lang))
            return
        patient_id, method = self.pending.patient.patient_id, self._method()
        self._run("quote", lambda: self.service.quote(bill_id, patient_id, method),
                  self._show_quote)

    def _show_quote(self, quote: object) -> None:
        assert isinstance(quote, Quote)
        if quote.bill_id != _selected_key(self.bills):
            return  # the selection moved on while the quote was on its way
        self.quote, self._settle_key = quote, secrets.token_hex(12)
        self.quote_text.setText(quote_line(quote, self.lang))

    def settle(self) -> None:
        quote = self.quote
        if quote is None or self.pending is None:
            self._say(tr("cashier.select_bill", self.lang))
            return
        request = SettleRequest(bill_id=quote.bill_id, patient_id=quote.patient_id,
                                method=quote.method,
                                expected_self_pay_fen=quote.layers.self_pay_fen)
        key = self._settle_key
        self._run("settle", lambda: self.service.settle(request, key), self._settled,
                  self._settle_failed)

    def _settled(self, settlement: object) -> None:
        assert isinstance(settlement, Settlement)
        self.quote, self._settle_key = None, ""
        self._say(tr("cashier.settled", self.lang, receipt=settlement.receipt_no))
        rows = [r for r in range(self.bills.rowCount())
                if _key_at(self.bills, r) == settlement.bill_id]
        for row in reversed(rows):
            self.bills.removeRow(row)
        self.quote_text.setText("")

    def withdraw_consent(self) -> None:
        if self.pending is None:
            self._say(tr("cashier.need_patient", self.lang))
            return
        try:
            reason = withdrawal_reason(self.withdraw_reason.text())
        except BadInput as exc:
            self._say(tr("cashier.bad_key", self.lang, detail=str(exc)))
            return
        patient_id = self.pending.patient.patient_id
        self._run("withdraw", lambda: self.service.withdraw_consent(patient_id, reason),
                  self._withdrawn)

    def _withdrawn(self, response: object) -> None:
        assert isinstance(response, WithdrawConsentResponse)
        self.withdraw_reason.clear()
        self._say(tr("cashier.withdrawn", self.lang, n=response.templates_deleted))

    # ------------------------------------------------------------------ today
    def refresh_today(self) -> None:
        day = self.today()
        self._run("today", lambda: self.service.settlements(day), self._show_today)

    def _show_today(self, listing: object) -> None:
        assert isinstance(listing, SettlementList)
        self.settlements = listing.settlements
        lang = self.lang
        _fill(self.today_table, [[
            s.receipt_no, s.settled_at.astimezone(self.zone).strftime("%H:%M:%S"), s.patient.name,
            label("method", s.method.value, lang), yuan(s.total_fen, lang),
            yuan(s.layers.self_pay_fen, lang),
            tr("cashier.status_reversed" if s.status == SettlementStatus.REVERSED
               else "cashier.status_settled", lang)] for s in listing.settlements],
            [s.settlement_id for s in listing.settlements])

    def reverse(self) -> None:
        settlement_id = _selected_key(self.today_table)
        if not settlement_id:
            self._say(tr("cashier.select_settlement", self.lang))
            return
        try:
            reason = reversal_reason(self.reverse_reason.text())
        except BadInput:
            self._say(tr("cashier.reason_too_short", self.lang))
            return
        self._run("reverse", lambda: self.service.reverse(settlement_id, reason),
                  self._reversed)

    def _reversed(self, settlement: object) -> None:
        assert isinstance(settlement, Settlement)
        self.reverse_reason.clear()
        refund = settlement.reversal.refund_fen if settlement.reversal else 0
        self._say(tr("cashier.reversed", self.lang, refund=yuan(refund, self.lang)))
        self.refresh_today()

    def reprint(self) -> None:
        settlement_id = _selected_key(self.today_table)
        if not settlement_id:
            self._say(tr("cashier.select_settlement", self.lang))
            return
        receipt = next((s.receipt_no for s in self.settlements
                        if s.settlement_id == settlement_id), settlement_id)
        self._run("reprint", lambda: self.service.reprint(settlement_id),
                  lambda _: self._say(tr("cashier.reprinted", self.lang, receipt=receipt)))

    # ---------------------------------------------------------- reconciliation
    def refresh_recon(self) -> None:
        day = self.today()
        self._run("recon", lambda: self.service.reconciliation(day), self._show_recon)

    def _show_recon(self, recon: object) -> None:
        assert isinstance(recon, Reconciliation)
        self.recon_text.setText("\n".join(recon_lines(recon, self.lang)))

