"""The cashier console behind its PIN, over the real platform through a counter's signed
client: a live hand-off queue fed by a kiosk, take-over, look-up with line items and the
insurance split, confirmed charges (once, however often confirmed), the credit panel after
a charge, today's list, confirmed reversal with a reason, reprint, reconciliation, confirmed
consent withdrawal, locking; and the adapter's own promises (idempotent settle, plain errors).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTableWidget

from kiosk.backend import BackendError
from kiosk.config import FlowConfig
from kiosk.counter.pin import PinGate, hash_pin
from kiosk.counter.platform_service import PlatformCashierService
from kiosk.counter.service import LookupBy
from kiosk.flow.model import State
from kiosk.i18n import label, tr, yuan
from kiosk.protocol.schemas import PaymentMethod, SettlementStatus, SettleRequest
from kiosk.protocol.voucher import format_payload
from kiosk.settlement.outbox import Outbox
from tests.ui.helpers import P1001, P1002, P1003, P1004, P1005, P1006, personal_left
from ui.cashier.console import LOOKUP, CashierConsole
from ui.cashier.widgets import ConfirmDialog
from ui.cashier.words import staff_reason

PIN = "246810"
WAIT_MS = 10_000
VOUCHER = format_payload("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@pytest.fixture(scope="module")
def pin_hash() -> str:
    return hash_pin(PIN)


@pytest.fixture
def service(counter, receipt_printer, tmp_path) -> PlatformCashierService:
    """The console's platform: the counter's client and outbox, and a printer whose spool
    the kiosk's slips also go to (reprints of kiosk receipts work from it)."""
    return PlatformCashierService(counter, Outbox(tmp_path / "counter-outbox.db"),
                                  receipt_printer)


@pytest.fixture
def handoffs(kiosk_client) -> list[str]:
    """Two checkout sessions the kiosk gave up on, handed to the counters."""
    return [kiosk_client.handoff(f"sess-{uuid.uuid4().hex}", reason).handoff_id
            for reason in ("liveness.screen_detected", "credit.limit_exceeded")]


@pytest.fixture
def console(qtbot, service, pin_hash, server_day, handoffs):
    widget = CashierConsole(service, PinGate(pin_hash), today=lambda: server_day)
    qtbot.addWidget(widget)
    widget.resize(1280, 1024)
    widget.show()
    return widget


def row_of(table: QTableWidget, key: str) -> int:
    """The row whose first cell carries ``key`` (a hand-off or settlement id), or -1."""
    return next((r for r in range(table.rowCount())
                 if table.item(r, 0).data(Qt.ItemDataRole.UserRole) == key), -1)


def unlock(console, qtbot, handoffs: list[str]) -> None:
    console.pin.setText(PIN)
    console.unlock_button.click()
    assert console.unlocked
    qtbot.waitUntil(lambda: all(row_of(console.queue.table, h) >= 0 for h in handoffs),
                    timeout=WAIT_MS)


def dialog_of(console, qtbot) -> ConfirmDialog:
    qtbot.waitUntil(lambda: console.dialog is not None and console.dialog.isVisible(),
                    timeout=WAIT_MS)
    return console.dialog


def look_up(console, qtbot, by: LookupBy, key: str, name: str) -> None:
    console.tabs.setCurrentIndex(LOOKUP)
    console.lookup.lookup_by.setCurrentIndex(list(LookupBy).index(by))
    console.lookup.key.setText(key)
    console.lookup.lookup_button.click()
    qtbot.waitUntil(lambda: name in console.lookup.patient.text(), timeout=WAIT_MS)


def quoted(console, qtbot, method: PaymentMethod) -> None:
    lookup = console.lookup
    lookup.settle_as.setCurrentIndex(
        [lookup.settle_as.itemData(i) for i in range(lookup.settle_as.count())].index(method))
    qtbot.waitUntil(lambda: lookup.quote is not None and lookup.quote.method == method,
                    timeout=WAIT_MS)


def test_console_stays_locked_without_the_pin(console, qtbot):
    assert not console.unlocked
    assert console.windowTitle() == "人工收费台 · 收费员工作台"
    console.pin.setText("999999")
    console.unlock_button.click()
    assert not console.unlocked and console.pin.text() == ""
    assert console.pin_page.message.text() == tr("cashier.pin_wrong", n=4)
    console.queue.refresh()  # nothing runs while locked
    qtbot.wait(300)
    assert console.queue.table.rowCount() == 0


def test_a_kiosk_handoff_appears_by_itself_in_staff_words(console, kiosk_client,
                                                          kiosk_config, handoffs,
                                                          monkeypatch, counter, qtbot):
    beeps = []
    monkeypatch.setattr(QApplication, "beep", staticmethod(lambda: beeps.append(1)))
    unlock(console, qtbot, handoffs)
    table = console.queue.table
    first = row_of(table, handoffs[0])
    assert table.item(first, 2).text() == staff_reason("liveness.screen_detected")
    assert table.item(first, 2).text() != tr("liveness.screen_detected")  # not the patient's
    assert table.item(first, 1).text() == (kiosk_config.site.kiosk_name or
                                           kiosk_client.device_id)
    assert beeps == [] and not console.queue.is_new(handoffs[0])  # there before unlocking

    session = f"sess-{uuid.uuid4().hex}"
    new = kiosk_client.handoff(session, "second_factor.locked", P1002.patient_id, 7_074)
    qtbot.waitUntil(lambda: row_of(table, new.handoff_id) >= 0, timeout=2_000)  # no click
    row = row_of(table, new.handoff_id)
    assert table.item(row, 2).text() == staff_reason("second_factor.locked")
    assert table.item(row, 3).text() == P1002.name_masked
    assert table.item(row, 4).text() == yuan(7_074)
    assert table.item(row, 5).text() == "×1" and table.item(row, 6).text() == tr(
        "cashier.waiting")
    assert "秒" in table.item(row, 0).text()  # how long they have waited
    assert console.queue.is_new(new.handoff_id) and beeps == [1]
    assert table.item(row, 0).background().color().name() != \
        table.item(row_of(table, handoffs[0]), 0).background().color().name()

    again = kiosk_client.handoff(f"sess-{uuid.uuid4().hex}", "second_factor.locked",
                                 P1002.patient_id, 7_074)
    assert again.handoff_id == new.handoff_id and again.count == 2  # merged on the platform
    qtbot.waitUntil(lambda: table.item(row_of(table, new.handoff_id), 5).text() == "×2",
                    timeout=2_000)

    table.selectRow(row_of(table, new.handoff_id))
    press(console, qtbot, Qt.Key.Key_F2)  # take over from the keyboard
    qtbot.waitUntil(lambda: P1002.name_masked in console.lookup.patient.text(),
                    timeout=WAIT_MS)  # the patient the kiosk knew, opened without typing
    assert console.tabs.currentIndex() == LOOKUP
    assert console.banner.tone == "good" and "。。" not in console.banner.text()
    assert staff_reason("second_factor.locked") in console.banner.text()
    qtbot.waitUntil(lambda: table.item(row_of(table, new.handoff_id), 6).text()
                    == tr("cashier.taken"), timeout=WAIT_MS)

    table.selectRow(row_of(table, handoffs[1]))
    console.queue.dismiss_reason.setCurrentIndex(1)  # duplicate
    console.queue.dismiss_button.click()
    dialog_of(console, qtbot).ok_button.click()
    qtbot.waitUntil(lambda: row_of(table, handoffs[1]) == -1, timeout=WAIT_MS)
    closed = {h.handoff_id: h for h in counter.handoffs(open_only=False).handoffs}
    assert closed[handoffs[1]].state == "dismissed"  # on the platform, for every counter
    assert closed[handoffs[1]].outcome == "duplicate"
    qtbot.wait(2_000)  # the next polls keep it away
    assert row_of(table, handoffs[1]) == -1

    table.selectRow(row_of(table, new.handoff_id))  # the patient taken over was served
    console.queue.resolve_outcome.setCurrentIndex(1)  # nothing to pay
    console.queue.resolve_button.click()
    qtbot.waitUntil(lambda: row_of(table, new.handoff_id) == -1, timeout=WAIT_MS)
    done = {h.handoff_id: h for h in counter.handoffs(open_only=False).handoffs}
    assert done[new.handoff_id].state == "resolved"
    assert done[new.handoff_id].outcome == "no_charge"


def press(console, qtbot, key: Qt.Key) -> None:
    """A function key as the cashier presses it (the console's shortcuts)."""
    console.activateWindow()
    qtbot.waitUntil(console.isActiveWindow, timeout=WAIT_MS)
    qtbot.keyClick(console.focusWidget() or console, key)


def test_charge_is_confirmed_once_and_the_credit_panel_follows(console, counter, handoffs,
                                                              server_day, qtbot):
    unlock(console, qtbot, handoffs)
    look_up(console, qtbot, LookupBy.CARD, P1005.card_no, P1005.name_masked)
    lookup = console.lookup
    assert lookup.key.text() == ""  # the card number does not linger
    before = counter.patient(P1005.patient_id).credit
    assert yuan(before.available_fen) in lookup.credit.text()
    assert lookup.bills.item(0, 0).text() == P1005.bill_id
    items = [lookup.items.item(r, 0).text() for r in range(lookup.items.rowCount())]
    assert all(any(d in i for i in items) for d in P1005.descriptions)  # items, not a count
    assert lookup.items.item(0, 1).text() in {label("item", k) for k in (
        "drug", "exam", "treatment", "material", "bed", "other")}
    quoted(console, qtbot, PaymentMethod.CARD)
    quote = lookup.quote
    assert yuan(quote.layers.basic_pool_fen) in lookup.quote_text.text()  # the split
    assert P1005.self_pay in lookup.quote_text.text()

    lookup.settle_button.click()
    dialog = dialog_of(console, qtbot)
    assert P1005.bill_id in dialog.text.text() and P1005.self_pay in dialog.text.text()
    dialog.cancel_button.click()  # changed their mind: nothing charged
    qtbot.wait(300)
    assert counter.pending_bills(P1005.patient_id).bills != []

    lookup.settle_button.click()
    lookup.settle_button.click()  # a double click opens one dialog
    dialog = dialog_of(console, qtbot)
    dialog.accept()
    dialog.accept()  # and a double confirm is one charge
    press(console, qtbot, Qt.Key.Key_F9)  # a third try from the keyboard
    qtbot.waitUntil(lambda: console.banner.tone == "good", timeout=WAIT_MS)
    charged = [s for s in counter.settlements_today(server_day.isoformat()).settlements
               if s.bill_id == P1005.bill_id]
    assert len(charged) == 1
    assert console.banner.text() == tr("cashier.settled", receipt=charged[0].receipt_no)
    after = counter.patient(P1005.patient_id).credit
    assert after.available_fen == before.available_fen - charged[0].charge_to_credit_fen > 0 \
        or charged[0].charge_to_credit_fen == 0
    qtbot.waitUntil(lambda: yuan(after.available_fen) in lookup.credit.text()
                    and yuan(after.outstanding_fen) in lookup.credit.text(), timeout=WAIT_MS)
    assert lookup.bills.rowCount() == 0
    lookup.settle_button.click()  # nothing left to charge
    assert console.banner.text() == tr("cashier.select_bill")


def test_cash_settle_then_confirmed_reversal_with_a_reason_and_reprint(
        console, counter, handoffs, receipt_printer, server_day, qtbot):
    unlock(console, qtbot, handoffs)
    look_up(console, qtbot, LookupBy.CARD, P1001.card_no, P1001.name_masked)
    assert console.lookup.bills.item(0, 2).text() == P1001.total
    quoted(console, qtbot, PaymentMethod.CASH)
    console.lookup.settle_button.click()
    dialog_of(console, qtbot).ok_button.click()
    qtbot.waitUntil(lambda: console.lookup.bills.rowCount() == 0, timeout=WAIT_MS)
    (settlement,) = [s for s in counter.settlements_today(server_day.isoformat()).settlements
                     if s.bill_id == P1001.bill_id]
    assert settlement.method == PaymentMethod.CASH and settlement.pay_at_counter_fen == 2_095
    assert settlement.charge_to_credit_fen == 0 and settlement.device_id == counter.device_id

    today = console.today_tab
    console.tabs.setCurrentIndex(2)
    today.refresh_button.click()
    qtbot.waitUntil(lambda: row_of(today.table, settlement.settlement_id) >= 0,
                    timeout=WAIT_MS)
    row = row_of(today.table, settlement.settlement_id)
    assert today.table.item(row, 0).text() == settlement.receipt_no
    assert today.table.item(row, 5).text() == P1001.self_pay
    today.table.selectRow(row)
    today.reverse_button.click()
    dialog = dialog_of(console, qtbot)
    assert settlement.receipt_no in dialog.text.text()
    assert dialog.reason.isVisible() and not dialog.ok_button.isEnabled()  # required
    dialog.reason.setText("x")
    assert not dialog.ok_button.isEnabled()
    dialog.accept()  # refused without a reason
    assert dialog.isVisible()
    assert counter.settlement(settlement.settlement_id).status == SettlementStatus.SETTLED
    dialog.reason.setText("患者要求改用医保卡")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: today.table.item(
        row_of(today.table, settlement.settlement_id), 6).text()
        == tr("cashier.status_reversed"), timeout=WAIT_MS)
    reversed_ = counter.settlement(settlement.settlement_id)
    assert reversed_.status == SettlementStatus.REVERSED
    assert reversed_.reversal.reason == "患者要求改用医保卡"  # in the audit
    assert console.banner.text() == tr("cashier.reversed", refund=P1001.self_pay)
    assert [b.bill_id for b in counter.pending_bills(P1001.patient_id).bills] == [P1001.bill_id]
    qtbot.waitUntil(lambda: console.lookup.bills.rowCount() == 1, timeout=WAIT_MS)  # reloaded

    slip = receipt_printer.spool.load(settlement.settlement_id)
    assert slip.method == "cash" and slip.self_pay_fen == settlement.layers.self_pay_fen
    today.table.selectRow(row_of(today.table, settlement.settlement_id))
    today.reprint_button.click()
    qtbot.waitUntil(lambda: console.banner.text() == tr(
        "cashier.reprinted", receipt=settlement.receipt_no), timeout=WAIT_MS)
    (receipt_printer.spool.folder / f"{settlement.settlement_id}.json").unlink()
    today.reprint_button.click()
    qtbot.waitUntil(lambda: "(receipt.not_found)" in console.banner.text(), timeout=WAIT_MS)
    assert console.banner.tone == "bad"


def test_reconciliation_and_reprint_of_a_kiosk_receipt(console, counter, service, handoffs,
                                                       make_runtime, receipt_printer,
                                                       server_day, qtbot):
    before = counter.reconciliation(server_day.isoformat())
    # a patient pays by card at the kiosk, whose printer keeps the slip in its spool...
    runtime = make_runtime(flow=FlowConfig(second_factor_amount_fen=100_000),
                           printer=receipt_printer)
    runtime.card_read(P1003.card_no)
    qtbot.waitUntil(lambda: runtime.last_view.state == State.BILL_REVIEW, timeout=WAIT_MS)
    runtime.confirm()
    qtbot.waitUntil(lambda: runtime.last_view.state == State.DONE, timeout=WAIT_MS)
    kiosk_settlement = runtime.last_view.result.settlement_id
    printed = Path(receipt_printer.config.path)
    qtbot.waitUntil(lambda: (printed / f"{kiosk_settlement}.escpos").exists(),
                    timeout=WAIT_MS)  # printing runs after the result is shown
    assert receipt_printer.spool.load(kiosk_settlement).settlement_id == kiosk_settlement
    # ...and another pays cash at the counter
    cash = service.settle(SettleRequest(bill_id=P1006.bill_id, patient_id=P1006.patient_id,
                                        method=PaymentMethod.CASH), uuid.uuid4().hex)
    assert cash.pay_at_counter_fen == 28_540
    slip = receipt_printer.spool.load(cash.settlement_id)  # the counter printed its own slip
    assert (printed / f"{cash.settlement_id}.escpos").exists()
    assert slip.method == "cash" and slip.self_pay_fen == cash.layers.self_pay_fen
    assert slip.total_fen == cash.total_fen and slip.patient_name == P1006.name_masked

    unlock(console, qtbot, handoffs)
    console.tabs.setCurrentIndex(3)
    console.recon.refresh_button.click()
    qtbot.waitUntil(lambda: console.recon.text.text() != "", timeout=WAIT_MS)
    text = console.recon.text.text()
    assert server_day.isoformat() in text and tr("cashier.recon_balanced") in text
    count, total = before.settled.count + 2, before.settled.total_fen + 177_040 + 177_040
    assert f"{tr('cashier.recon_settled')}：{count} 笔，总额 {yuan(total)}" in text  # fen
    assert label("method", "card", "zh") in text and label("method", "cash", "zh") in text

    today = console.today_tab
    console.tabs.setCurrentIndex(2)
    today.refresh_button.click()
    qtbot.waitUntil(lambda: row_of(today.table, kiosk_settlement) >= 0, timeout=WAIT_MS)
    row = row_of(today.table, kiosk_settlement)
    receipt_no = today.table.item(row, 0).text()
    assert today.table.item(row, 3).text() == label("method", "card", "zh")
    today.table.selectRow(row)
    today.reprint_button.click()
    qtbot.waitUntil(lambda: console.banner.text() == tr("cashier.reprinted",
                                                        receipt=receipt_no), timeout=WAIT_MS)
    job = printed / f"{kiosk_settlement}-reprint.escpos"
    assert b"REPRINT" in job.read_bytes()  # the kept slip, marked as a copy


def test_withdraw_consent_is_confirmed_with_a_reason(console, counter, platform, handoffs,
                                                    qtbot):
    unlock(console, qtbot, handoffs)
    console.tabs.setCurrentIndex(LOOKUP)
    console.lookup.withdraw_button.click()
    assert console.banner.text() == tr("cashier.need_patient")
    assert counter.patient(P1003.patient_id).face_consent  # Tom Hanks's face is enrolled
    console.lookup.lookup_by.setCurrentIndex(list(LookupBy).index(LookupBy.PATIENT))
    console.lookup.key.setText(P1003.patient_id)
    console.lookup.key.returnPressed.emit()
    qtbot.waitUntil(lambda: P1003.name_masked in console.lookup.patient.text(),
                    timeout=WAIT_MS)
    console.lookup.withdraw_button.click()
    dialog = dialog_of(console, qtbot)
    assert P1003.name_masked in dialog.text.text() and not dialog.ok_button.isEnabled()
    dialog.reject()
    qtbot.wait(200)
    assert counter.patient(P1003.patient_id).face_consent  # cancelled: nothing withdrawn
    console.lookup.withdraw_button.click()
    dialog = dialog_of(console, qtbot)
    dialog.reason.setText("本人要求")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: console.banner.text() == tr("cashier.withdrawn", n=1),
                    timeout=WAIT_MS)
    assert not counter.patient(P1003.patient_id).face_consent
    platform.stop()
    try:
        console.lookup.key.setText(P1003.patient_id)
        console.lookup.lookup_button.click()
        qtbot.waitUntil(lambda: tr("backend.unreachable") in console.banner.text(),
                        timeout=WAIT_MS)
        assert console.banner.tone == "bad"
    finally:
        platform.start()


def test_locking_after_idle_lock_s_forgets_everything_shown(service, pin_hash, server_day,
                                                            handoffs, qtbot):
    now = [0.0]
    console = CashierConsole(service, PinGate(pin_hash), today=lambda: server_day,
                             idle_lock_s=30, clock=lambda: now[0])
    qtbot.addWidget(console)
    console.show()
    unlock(console, qtbot, handoffs)
    look_up(console, qtbot, LookupBy.PATIENT, P1002.patient_id, P1002.name_masked)
    assert personal_left(console, P1002.personal)
    now[0] += 20
    qtbot.wait(2_500)  # the queue kept polling meanwhile: that is not staff activity
    assert console.unlocked
    now[0] += 11
    qtbot.waitUntil(lambda: not console.unlocked, timeout=WAIT_MS)  # locked by itself
    assert personal_left(console, P1002.personal) == [] and console.pending is None
    assert console.enrolment.patient_id == "" and console.queue.table.rowCount() == 0



def test_a_closed_console_is_locked_and_polls_no_more(console, qtbot, handoffs):
    unlock(console, qtbot, handoffs)
    assert console.queue.poll.isActive()
    look_up(console, qtbot, LookupBy.PATIENT, P1002.patient_id, P1002.name_masked)
    console.close()
    assert not console.unlocked and not console.queue.poll.isActive()
    assert personal_left(console, P1002.personal) == []

# ------------------------------------------------------------ the adapter's promises

def test_lookup_by_voucher_card_and_id_find_the_same_patient(service, platform):
    voucher = platform.seed["voucher"]["payload"]
    by_voucher = service.lookup(LookupBy.VOUCHER, voucher)
    assert by_voucher.patient.patient_id == P1002.patient_id
    assert by_voucher.patient.name == P1002.name_masked  # masked on the wire
    assert [b.bill_id for b in by_voucher.bills] == [P1002.bill_id]
    assert service.lookup(LookupBy.PATIENT, P1002.patient_id) == by_voucher
    assert service.lookup(LookupBy.CARD, P1005.card_no).patient.patient_id == P1005.patient_id
    for by, key, code in ((LookupBy.CARD, "NOSUCHCARD", "card.not_found"),
                          (LookupBy.VOUCHER, VOUCHER, "voucher.not_found"),
                          (LookupBy.PATIENT, "P9999", "patient.not_found")):
        with pytest.raises(BackendError) as exc:
            service.lookup(by, key)
        assert exc.value.code == code


def test_settle_keeps_the_consoles_key_so_a_retry_charges_once(service, counter):
    quote = service.quote(P1004.bill_id, P1004.patient_id, PaymentMethod.VOUCHER)
    assert quote.payable and quote.charge_to_credit_fen == quote.layers.self_pay_fen == 3_258
    request = SettleRequest(bill_id=P1004.bill_id, patient_id=P1004.patient_id,
                            method=PaymentMethod.VOUCHER, expected_self_pay_fen=3_258)
    with pytest.raises(BackendError) as exc:  # the patient saw another amount: refused
        service.settle(request.model_copy(update={"expected_self_pay_fen": 3_000}), "k-stale")
    assert exc.value.code == "settlement.quote_changed"
    key = uuid.uuid4().hex
    first = service.settle(request, key)
    again = service.settle(request, key)  # the answer was lost; the console retries
    assert again == first and first.charge_to_credit_fen == 3_258
    with pytest.raises(BackendError) as exc:  # a new attempt is a new charge: refused
        service.settle(request, uuid.uuid4().hex)
    assert exc.value.code == "bill.already_settled"
    credit = counter.patient(P1004.patient_id).credit
    assert credit.outstanding_fen == 3_258  # charged once


def test_reprint_without_a_printer_is_a_coded_error(counter, tmp_path):
    with pytest.raises(BackendError) as exc:
        PlatformCashierService(counter, Outbox(tmp_path / "o.db")).reprint("stl_0000")
    assert exc.value.code == "printer.offline"


def test_a_charge_the_platform_did_not_confirm_is_shown_and_sent_again(
        console, service, counter, platform, handoffs, qtbot):
    """The counter's own outbox: a charge whose outcome is unknown stays listed (with what
    to do) until the same key settles it; a second charge never happens."""
    platform.admin("bill", "create", "--site", platform.seed["site_id"], "--patient", "P1003",
                   "--visit", "V-UNRES", "--bill-id", "B-UNRES",
                   "--item", "exam:血常规 blood count:1:2500")
    request = SettleRequest(bill_id="B-UNRES", patient_id="P1003", method=PaymentMethod.CASH)
    key = uuid.uuid4().hex
    unlock(console, qtbot, handoffs)
    platform.stop()
    try:
        with pytest.raises(BackendError) as exc:
            service.settle(request, key)
        assert exc.value.retryable  # not known: not "failed"
        (row,) = [r for r in service.unresolved() if r.idempotency_key == key]
        assert row.state == "pending" and row.request.bill_id == "B-UNRES"
        console.today_tab._show_unresolved(service.unresolved())
        text = console.today_tab.unresolved.text()
        assert "B-UNRES" in text and not console.today_tab.retry_button.isHidden()
    finally:
        platform.start()
    assert service.retry_unresolved() >= 0
    service.desk.run_due()
    assert [r for r in service.unresolved() if r.idempotency_key == key] == []
    charged = [s for s in counter.settlements_today().settlements if s.bill_id == "B-UNRES"]
    assert len(charged) == 1
    console.today_tab._show_unresolved(service.unresolved())
    assert "B-UNRES" not in console.today_tab.unresolved.text()
