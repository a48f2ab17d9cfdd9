"""Look-up and charge: find the patient (card, e-voucher QR, id), see their credit, each
bill's line items and the insurance split (quoted as soon as a bill is selected), then charge
after a confirmation. Consent withdrawal sits apart, behind its own confirmation and reason.
Opened from the 亲情付 tab for a dependant, the charge names the relative paying
(``paid_by``) and says so everywhere; the dependant's own consent is not theirs to withdraw.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from kiosk.backend import BackendError
from kiosk.counter.charge import ChargeGuard
from kiosk.counter.family import Payer
from kiosk.counter.inputs import BadInput, lookup_key, withdrawal_reason
from kiosk.counter.service import LookupBy
from kiosk.i18n import label, tr, yuan
from kiosk.protocol.schemas import (
    Bill,
    PaymentMethod,
    PendingBills,
    Quote,
    Settlement,
    SettleRequest,
    WithdrawConsentResponse,
)
from ui.cashier.widgets import Host, button, fill, make_table, selected_key, set_headers
from ui.cashier.words import credit_line, item_rows, local, patient_line, say, split_lines

log = logging.getLogger(__name__)

SETTLE_METHODS = (PaymentMethod.CARD, PaymentMethod.VOUCHER, PaymentMethod.CASH)
BILL_COLUMNS = ("cashier.col_bill", "cashier.col_time", "cashier.col_total", "counter.col_lines")
ITEM_COLUMNS = ("counter.col_item", "counter.col_kind", "counter.col_qty", "counter.col_unit",
                "counter.col_amount_item", "counter.col_eligible")


def _section(name: str) -> QLabel:
    widget = QLabel()
    widget.setObjectName(name)
    widget.setProperty("role", "section")
    return widget


class LookupTab(QWidget):
    patient_changed = Signal(object)  # PendingBills | None

    def __init__(self, host: Host, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.pending: PendingBills | None = None
        self.quote: Quote | None = None
        self.payer: Payer | None = None  # 亲情付: the relative at the desk paying
        self.asked = 0  # look-ups asked for: a reload of an earlier one shows nothing
        self.guard = ChargeGuard()
        column = QVBoxLayout(self)

        row = QHBoxLayout()
        self.lookup_by = QComboBox()
        self.lookup_by.setObjectName("lookup_by")
        self.key = QLineEdit()
        self.key.setObjectName("lookup_key")
        self.key.returnPressed.connect(self.lookup)
        self.lookup_button = button("lookup")
        self.lookup_button.clicked.connect(self.lookup)
        row.addWidget(self.lookup_by)
        row.addWidget(self.key, 1)
        row.addWidget(self.lookup_button)
        column.addLayout(row)

        self.patient = QLabel()
        self.patient.setObjectName("patient")
        self.patient.setProperty("role", "title")
        self.credit = QLabel()
        self.credit.setObjectName("credit")
        self.credit.setWordWrap(True)
        self.paying = QLabel()
        self.paying.setObjectName("paying_for")
        self.paying.setProperty("role", "money")
        self.paying.setWordWrap(True)
        column.addWidget(self.patient)
        column.addWidget(self.credit)
        column.addWidget(self.paying)

        split = QSplitter()
        left, right = QWidget(), QWidget()
        left_column, right_column = QVBoxLayout(left), QVBoxLayout(right)
        left_column.setContentsMargins(0, 0, 0, 0)
        right_column.setContentsMargins(0, 0, 0, 0)
        self.bills_title = _section("bills_title")
        self.bills = make_table(len(BILL_COLUMNS), "bills")
        self.bills.itemSelectionChanged.connect(self._bill_changed)
        left_column.addWidget(self.bills_title)
        left_column.addWidget(self.bills, 1)
        self.items_title = _section("items_title")
        self.items = make_table(len(ITEM_COLUMNS), "items")
        right_column.addWidget(self.items_title)
        right_column.addWidget(self.items, 1)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([2, 3])
        column.addWidget(split, 1)

        self.split_title = _section("split_title")
        self.quote_text = QLabel()
        self.quote_text.setObjectName("quote")
        self.quote_text.setProperty("role", "money")
        self.quote_text.setWordWrap(True)
        column.addWidget(self.split_title)
        column.addWidget(self.quote_text)

        row = QHBoxLayout()
        self.settle_as = QComboBox()
        self.settle_as.setObjectName("settle_as")
        self.settle_as.currentIndexChanged.connect(self._bill_changed)
        self.settle_button = button("settle", "primary")
        self.settle_button.clicked.connect(self.settle)
        self.withdraw_button = button("withdraw", "danger")
        self.withdraw_button.clicked.connect(self.withdraw_consent)
        row.addWidget(self.settle_as)
        row.addWidget(self.settle_button)
        row.addStretch(1)
        row.addWidget(self.withdraw_button)  # far from the charge button, and confirmed
        column.addLayout(row)

    def retranslate(self, lang: str) -> None:
        _fill_combo(self.lookup_by, [(by, say(f"cashier.by_{by.value}", lang))
                                     for by in LookupBy])
        _fill_combo(self.settle_as, [(m, label("method", m.value, lang))
                                     for m in SETTLE_METHODS])
        self.key.setPlaceholderText(tr("cashier.lookup_key", lang))
        self.lookup_button.setText(say("counter.lookup", lang))
        self.settle_button.setText(say("counter.charge", lang))
        self.withdraw_button.setText(say("counter.withdraw", lang))
        self.bills_title.setText(tr("cashier.col_bill", lang))
        self.items_title.setText(say("counter.items_title", lang))
        self.split_title.setText(say("counter.split_title", lang))
        set_headers(self.bills, BILL_COLUMNS, lang)
        set_headers(self.items, ITEM_COLUMNS, lang)

    def clear(self) -> None:
        self.pending = self.quote = self.payer = None
        self.guard.forget()
        for table in (self.bills, self.items):
            table.setRowCount(0)
        for widget in (self.patient, self.credit, self.paying, self.quote_text):
            widget.setText("")
        self.key.clear()

    # ---------------------------------------------------------------- look-up
    def lookup(self) -> None:
        by = LookupBy(self.lookup_by.currentData())
        try:
            key = lookup_key(by, self.key.text())
        except BadInput as exc:
            self.host.tell(tr("cashier.bad_key", self.host.lang, detail=str(exc)), "bad")
            return
        self.key.clear()  # a card number or voucher must not linger on screen
        self.asked += 1
        self.host.run("lookup", lambda: self.host.service.lookup(by, key), self.show_patient)

    def open_patient(self, patient_id: str, payer: Payer | None = None) -> None:
        """The patient a kiosk handed over, or a dependant the relative at the desk pays
        for (``payer``), opened without typing."""
        self.asked += 1
        self.host.run("lookup", lambda: self.host.service.lookup(LookupBy.PATIENT, patient_id),
                      lambda pending: self.show_patient(pending, keep_banner=True,
                                                        payer=payer))

    def reload(self) -> None:
        """After every action: credit available, outstanding and due date as they are now."""
        if self.pending is not None:
            patient_id, payer, asked = self.pending.patient.patient_id, self.payer, self.asked
            self.host.run("reload", lambda: self.host.service.lookup(LookupBy.PATIENT,
                                                                     patient_id),
                          lambda pending: self._reloaded(pending, payer, asked))

    def _reloaded(self, pending: object, payer: Payer | None, asked: int) -> None:
        if asked == self.asked:  # nobody else was looked up meanwhile
            self.show_patient(pending, keep_banner=True, payer=payer)

    def show_patient(self, pending: object, keep_banner: bool = False,
                     payer: Payer | None = None) -> None:
        assert isinstance(pending, PendingBills)
        same = self.pending is not None and \
            self.pending.patient.patient_id == pending.patient.patient_id
        if not same or payer != self.payer:
            self.guard.forget()
        self.pending, self.payer = pending, payer
        lang = self.host.lang
        self.patient.setText(patient_line(pending.patient, lang))
        self.credit.setText(credit_line(pending.credit, self.host.zone, lang))
        self.paying.setText(say("family.paying_for", lang, payer=patient_line(
            payer.relative, lang), relation=label("relation", payer.relation.value, lang))
            if payer else "")
        self.withdraw_button.setEnabled(payer is None)  # the patient is not at the desk
        bills = self.open_bills()
        fill(self.bills, [[b.bill_id, local(b.created_at, self.host.zone, "%m-%d %H:%M"),
                           yuan(b.total_fen, lang), str(len(b.items))] for b in bills],
             [b.bill_id for b in bills])
        if bills and not selected_key(self.bills):
            self.bills.selectRow(0)
        if not bills:
            self.items.setRowCount(0)
            self.quote = None
            self.quote_text.setText(tr("cashier.no_bills", lang))
        if not keep_banner:
            self.host.tell("")
        self.patient_changed.emit(pending)

    def open_bills(self) -> list[Bill]:
        return [b for b in self.pending.bills if b.status.value == "pending"] \
            if self.pending else []

    def selected_bill(self) -> Bill | None:
        key = selected_key(self.bills)
        return next((b for b in self.open_bills() if b.bill_id == key), None)

    # ------------------------------------------------------------------ quote
    def method(self) -> PaymentMethod:
        return PaymentMethod(self.settle_as.currentData())

    def _bill_changed(self) -> None:
        """A bill or method chosen: its items now, and its split as soon as it is quoted."""
        self.quote = None
        bill = self.selected_bill()
        lang = self.host.lang
        if bill is None or self.pending is None:
            self.items.setRowCount(0)
            self.quote_text.setText("")
            return
        fill(self.items, item_rows(bill, lang), [str(i.line_no) for i in bill.items])
        self.quote_text.setText(say("counter.quoting", lang))
        patient_id, method = self.pending.patient.patient_id, self.method()
        self.host.run("quote", lambda: self.host.service.quote(bill.bill_id, patient_id,
                                                                 method), self._quoted,
                      self._quote_failed)

    def _quoted(self, quote: object) -> None:
        assert isinstance(quote, Quote)
        bill = self.selected_bill()
        if bill is None or quote.bill_id != bill.bill_id or quote.method != self.method():
            self._bill_changed()  # the selection moved on while the quote was on its way
            return
        self.quote = quote
        self.quote_text.setText("\n".join(split_lines(quote, self.host.lang)))

    def _quote_failed(self, exc: BaseException) -> None:
        self.quote_text.setText("")
        self.host.failed(exc)

    # ----------------------------------------------------------------- charge
    def settle(self) -> None:
        quote, pending, lang = self.quote, self.pending, self.host.lang
        if quote is None or pending is None:
            self.host.tell(tr("cashier.select_bill", lang), "warn")
            return
        if self.guard.in_flight:
            self.host.tell(say("counter.charge_in_flight", lang), "warn")
            return
        payer = self.payer
        request = SettleRequest(bill_id=quote.bill_id, patient_id=quote.patient_id,
                                method=quote.method,
                                expected_self_pay_fen=quote.layers.self_pay_fen,
                                paid_by=payer.patient_id if payer else None)
        split, pay = split_lines(quote, lang)
        text = say("counter.confirm_charge_text", lang,
                   patient=patient_line(pending.patient, lang), bill=quote.bill_id,
                   total=yuan(quote.total_fen, lang), split=split, pay=pay,
                   method=label("method", quote.method.value, lang))
        if payer is not None:
            text += "\n" + say("family.payer_line", lang,
                                payer=patient_line(payer.relative, lang),
                                relation=label("relation", payer.relation.value, lang))
        if self.guard.retry_pending:
            text += "\n" + say("counter.confirm_retry", lang)
        self.host.confirm(say("counter.confirm_charge", lang), text,
                          lambda _: self._charge(request))

    def _charge(self, request: SettleRequest) -> None:
        """Runs once per confirmed dialog; the guard makes a repeat charge nothing."""
        key = self.guard.begin(request)
        if key is None:
            log.info("cashier.charge_ignored", extra={"in_flight": self.guard.in_flight})
            self.host.tell(say("counter.charge_in_flight" if self.guard.in_flight
                               else "counter.already_settled_here", self.host.lang), "warn")
            return
        if not self.host.run("settle", lambda: self.host.service.settle(request, key),
                             self._settled, self._settle_failed):
            self.guard.unknown()  # nothing was sent: the same key next time

    def _settled(self, settlement: object) -> None:
        assert isinstance(settlement, Settlement)
        self.guard.settled(settlement.bill_id)
        self.quote = None
        self.host.tell(tr("cashier.settled", self.host.lang, receipt=settlement.receipt_no),
                       "good")
        self.reload()

    def _settle_failed(self, exc: BaseException) -> None:
        if isinstance(exc, BackendError) and exc.retryable:
            # the outcome is unknown: the kept key answers it, and never charges twice
            self.guard.unknown()
            lang = self.host.lang
            self.host.tell(tr("cashier.failed", lang, message=(
                f"{tr('cashier.charge_unconfirmed', lang)} ({exc.code})")), "warn")
            return
        self.guard.refused()
        self.host.failed(exc)
        self.reload()

    # ---------------------------------------------------------------- consent
    def withdraw_consent(self) -> None:
        lang = self.host.lang
        if self.pending is None:
            self.host.tell(tr("cashier.need_patient", lang), "warn")
            return
        patient = self.pending.patient
        self.host.confirm(say("counter.confirm_withdraw", lang),
                          say("counter.confirm_withdraw_text", lang,
                              patient=patient_line(patient, lang)),
                          lambda reason: self._withdraw(patient.patient_id, reason),
                          reason=withdrawal_reason)

    def _withdraw(self, patient_id: str, reason: str) -> None:
        self.host.run("withdraw", lambda: self.host.service.withdraw_consent(patient_id, reason),
                      self._withdrawn)

    def _withdrawn(self, response: object) -> None:
        assert isinstance(response, WithdrawConsentResponse)
        self.host.tell(tr("cashier.withdrawn", self.host.lang, n=response.templates_deleted),
                       "good")
        self.reload()


def _fill_combo(combo: QComboBox, items: list[tuple[object, str]]) -> None:
    current = combo.currentIndex()
    combo.blockSignals(True)
    combo.clear()
    for value, text in items:
        combo.addItem(text, value)
    combo.setCurrentIndex(max(0, current))
    combo.blockSignals(False)
