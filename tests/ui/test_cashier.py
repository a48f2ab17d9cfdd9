"""The cashier console behind its PIN, over the real platform through a counter's signed
client: hand-off queue fed by a kiosk, take-over, look-up, quote, settle, today's list,
reversal with a reason, reprint from the kiosk's receipt spool, reconciliation, consent
withdrawal, locking; and the adapter's own promises (idempotent settle, plain errors)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget

from device.scanner import make_evoucher
from kiosk.backend import BackendError
from kiosk.config import FlowConfig
from kiosk.flow.model import State
from kiosk.protocol.schemas import PaymentMethod, SettlementStatus, SettleRequest
from kiosk.settlement.outbox import Outbox
from tests.ui.helpers import P1001, P1002, P1003, P1004, P1005, P1006, personal_left
from ui.cashier import console as console_module
from ui.cashier.console import CashierConsole
from ui.cashier.logic import BadInput, lookup_key, reversal_reason
from ui.cashier.pin import PinError, PinGate, hash_pin, verify_pin
from ui.cashier.platform import PlatformCashierService
from ui.cashier.service import LookupBy
from ui.i18n import label, tr, yuan

PIN = "246810"
WAIT_MS = 10_000
VOUCHER = make_evoucher("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@pytest.fixture(scope="module")
def pin_hash() -> str:
    return hash_pin(PIN)


def test_pin_hash_round_trip_and_refusals(pin_hash):
    assert pin_hash.startswith("scrypt$16384$8$1$") and PIN not in pin_hash
    assert verify_pin(PIN, pin_hash) and not verify_pin("246811", pin_hash)
    assert not verify_pin("abc", pin_hash)
    assert hash_pin(PIN) != pin_hash  # salted
    for bad in ("12", "12345678901234", "12a4", ""):
        with pytest.raises(PinError):
            hash_pin(bad)
    for broken in ("", "md5$x", "scrypt$3$8$1$AAAA$AAAA", "scrypt$16384$8$1$!!$AAAA"):
        with pytest.raises(PinError) as exc:
            verify_pin(PIN, broken)
        assert exc.value.code == "pin.hash_invalid"
    with pytest.raises(PinError):
        PinGate("not a hash")  # a broken config fails at start-up, not at the counter


def test_pin_gate_locks_after_too_many_tries(pin_hash):
    now = [0.0]
    gate = PinGate(pin_hash, max_attempts=3, lockout_s=60, clock=lambda: now[0])
    assert gate.attempt("0000").attempts_left == 2
    assert gate.attempt("1111").attempts_left == 1
    locked = gate.attempt("2222")
    assert not locked.ok and locked.locked_for_s == 60
    assert not gate.attempt(PIN).ok  # even the right PIN, while locked
    now[0] += 61
    assert gate.attempt(PIN).ok


@pytest.mark.parametrize(("by", "text", "key"), [
    (LookupBy.CARD, " YB33078400001001 ", "YB33078400001001"),
    (LookupBy.PATIENT, "P1001", "P1001"), (LookupBy.VOUCHER, VOUCHER + "\r\n", VOUCHER)])
def test_lookup_keys_are_checked_before_sending(by, text, key):
    assert lookup_key(by, text) == key


@pytest.mark.parametrize(("by", "text"), [(LookupBy.CARD, "12"), (LookupBy.CARD, "卡号1234"),
                                          (LookupBy.VOUCHER, "CHSEV1-AAAA-0000"),
                                          (LookupBy.PATIENT, "a b"), (LookupBy.PATIENT, "")])
def test_bad_lookup_keys_are_refused(by, text):
    with pytest.raises(BadInput):
        lookup_key(by, text)


def test_reversal_needs_a_reason():
    assert reversal_reason("  重复收费 ") == "重复收费"
    with pytest.raises(BadInput):
        reversal_reason("x")


# --------------------------------------------------------------------- the console

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
            for reason in ("face.not_recognised", "credit.limit_exceeded")]


@pytest.fixture
def console(qtbot, service, pin_hash, server_day, handoffs):
    widget = CashierConsole(service, PinGate(pin_hash), today=lambda: server_day)
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
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
    qtbot.waitUntil(lambda: all(row_of(console.queue, h) >= 0 for h in handoffs),
                    timeout=WAIT_MS)


def test_console_stays_locked_without_the_pin(console, qtbot):
    assert not console.unlocked
    console.pin.setText("999999")
    console.unlock_button.click()
    assert not console.unlocked and console.pin.text() == ""
    assert console.pin_message.text() == tr("cashier.pin_wrong", n=4)
    console.refresh_queue()  # nothing runs while locked
    qtbot.wait(300)
    assert console.queue.rowCount() == 0


def test_take_over_then_settle_by_cash_then_reverse_and_reprint(console, counter, handoffs,
                                                               receipt_printer, server_day,
                                                               qtbot):
    unlock(console, qtbot, handoffs)
    first = handoffs[0]
    assert console.queue.item(row_of(console.queue, first), 2).text() == \
        tr("face.not_recognised")
    console.queue.selectRow(row_of(console.queue, first))
    console.take_button.click()
    qtbot.waitUntil(lambda: console.tabs.currentIndex() == 1, timeout=WAIT_MS)
    taken = {h.handoff_id: h for h in counter.handoffs(open_only=False).handoffs}[first]
    assert taken.taken_by == counter.device_id  # recorded on the platform
    assert tr("face.not_recognised") in console.status.text()
    qtbot.waitUntil(lambda: console.queue.item(row_of(console.queue, first), 3).text()
                    == tr("cashier.taken"), timeout=WAIT_MS)
    second = console.queue.item(row_of(console.queue, handoffs[1]), 3).text()
    assert second == tr("cashier.waiting")

    console.lookup_by.setCurrentIndex(list(LookupBy).index(LookupBy.CARD))
    console.key.setText("12")
    console.lookup_button.click()
    assert tr("cashier.bad_key", detail="")[:8] in console.status.text()
    console.key.setText(P1001.card_no)
    console.lookup_button.click()
    qtbot.waitUntil(lambda: console.bills.rowCount() == 1, timeout=WAIT_MS)
    assert console.key.text() == ""  # the card number does not linger
    assert P1001.name_masked in console.patient.text() and "¥2000.00" in console.patient.text()
    assert console.bills.item(0, 0).text() == P1001.bill_id
    assert console.bills.item(0, 2).text() == P1001.total

    console.settle_button.click()  # not quoted yet
    assert console.status.text() == tr("cashier.select_bill")
    console.bills.selectRow(0)
    console.settle_as.setCurrentIndex(2)
    assert console.settle_as.currentData() == PaymentMethod.CASH
    console.quote_button.click()
    qtbot.waitUntil(lambda: P1001.total in console.quote_text.text(), timeout=WAIT_MS)
    assert P1001.self_pay in console.quote_text.text()
    console.settle_button.click()
    qtbot.waitUntil(lambda: console.bills.rowCount() == 0, timeout=WAIT_MS)
    (settlement,) = [s for s in counter.settlements_today(server_day.isoformat()).settlements
                     if s.bill_id == P1001.bill_id]
    assert console.status.text() == tr("cashier.settled", receipt=settlement.receipt_no)
    assert settlement.method == PaymentMethod.CASH and settlement.pay_at_counter_fen == 2_095
    assert settlement.charge_to_credit_fen == 0 and settlement.device_id == counter.device_id
    assert counter.pending_bills(P1001.patient_id).bills == []

    console.tabs.setCurrentIndex(2)
    console.today_refresh.click()
    qtbot.waitUntil(lambda: row_of(console.today_table, settlement.settlement_id) >= 0,
                    timeout=WAIT_MS)
    row = row_of(console.today_table, settlement.settlement_id)
    assert console.today_table.item(row, 0).text() == settlement.receipt_no
    assert console.today_table.item(row, 5).text() == P1001.self_pay
    console.today_table.selectRow(row)
    console.reverse_reason.setText("x")
    console.reverse_button.click()
    assert console.status.text() == tr("cashier.reason_too_short")
    assert counter.settlement(settlement.settlement_id).status == SettlementStatus.SETTLED
    console.reverse_reason.setText("患者要求改用医保卡")
    console.reverse_button.click()
    qtbot.waitUntil(lambda: console.today_table.item(
        row_of(console.today_table, settlement.settlement_id), 6).text()
        == tr("cashier.status_reversed"), timeout=WAIT_MS)
    reversed_ = counter.settlement(settlement.settlement_id)
    assert reversed_.status == SettlementStatus.REVERSED
    assert reversed_.reversal.reason == "患者要求改用医保卡"
    assert console.status.text() == tr("cashier.reversed", refund=P1001.self_pay)  # cash back
    assert [b.bill_id for b in counter.pending_bills(P1001.patient_id).bills] == [P1001.bill_id]
    # the counter printed a slip when it took the cash; that slip can be printed again
    slip = receipt_printer.spool.load(settlement.settlement_id)
    assert slip.method == "cash" and slip.self_pay_fen == settlement.layers.self_pay_fen
    console.today_table.selectRow(row_of(console.today_table, settlement.settlement_id))
    console.reprint_button.click()
    qtbot.waitUntil(lambda: console.status.text() == tr(
        "cashier.reprinted", receipt=settlement.receipt_no), timeout=WAIT_MS)
    # a settlement this printer never printed: said so, with the code
    (receipt_printer.spool.folder / f"{settlement.settlement_id}.json").unlink()
    console.reprint_button.click()
    qtbot.waitUntil(lambda: "(receipt.not_found)" in console.status.text(), timeout=WAIT_MS)


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
    console.recon_refresh.click()
    qtbot.waitUntil(lambda: console.recon_text.text() != "", timeout=WAIT_MS)
    text = console.recon_text.text()
    assert server_day.isoformat() in text and tr("cashier.recon_balanced") in text
    count, total = before.settled.count + 2, before.settled.total_fen + 177_040 + 177_040
    assert f"{tr('cashier.recon_settled')}：{count} 笔，总额 {yuan(total)}" in text  # fen
    assert label("method", "card", "zh") in text and label("method", "cash", "zh") in text

    console.tabs.setCurrentIndex(2)
    console.today_refresh.click()
    qtbot.waitUntil(lambda: row_of(console.today_table, kiosk_settlement) >= 0,
                    timeout=WAIT_MS)
    row = row_of(console.today_table, kiosk_settlement)
    receipt_no = console.today_table.item(row, 0).text()
    assert console.today_table.item(row, 3).text() == label("method", "card", "zh")
    console.today_table.selectRow(row)
    console.reprint_button.click()
    qtbot.waitUntil(lambda: console.status.text() == tr("cashier.reprinted",
                                                        receipt=receipt_no), timeout=WAIT_MS)
    job = printed / f"{kiosk_settlement}-reprint.escpos"
    assert b"REPRINT" in job.read_bytes()  # the kept slip, marked as a copy


def test_withdraw_consent_and_errors_in_plain_words(console, counter, platform, handoffs,
                                                    qtbot):
    unlock(console, qtbot, handoffs)
    console.tabs.setCurrentIndex(1)
    console.withdraw_button.click()
    assert console.status.text() == tr("cashier.need_patient")
    assert counter.patient(P1003.patient_id).face_consent  # Tom Hanks's face is enrolled
    console.lookup_by.setCurrentIndex(list(LookupBy).index(LookupBy.PATIENT))
    console.key.setText(P1003.patient_id)
    console.key.returnPressed.emit()
    qtbot.waitUntil(lambda: P1003.name_masked in console.patient.text(), timeout=WAIT_MS)
    console.withdraw_reason.setText("本人要求")
    console.withdraw_button.click()
    qtbot.waitUntil(lambda: console.status.text() == tr("cashier.withdrawn", n=1),
                    timeout=WAIT_MS)
    assert not counter.patient(P1003.patient_id).face_consent
    platform.stop()
    try:
        console.key.setText(P1003.patient_id)
        console.lookup_button.click()
        qtbot.waitUntil(lambda: tr("backend.unreachable") in console.status.text(),
                        timeout=WAIT_MS)
    finally:
        platform.start()


def test_locking_forgets_everything_shown(console, handoffs, qtbot):
    now = [0.0]
    console.clock = lambda: now[0]
    unlock(console, qtbot, handoffs)
    console.lookup_by.setCurrentIndex(list(LookupBy).index(LookupBy.CARD))
    console.key.setText(P1005.card_no)
    console.lookup_button.click()
    qtbot.waitUntil(lambda: console.bills.rowCount() == 1, timeout=WAIT_MS)
    assert personal_left(console, P1005.personal)
    now[0] += console_module.IDLE_LOCK_S + 1
    qtbot.waitUntil(lambda: not console.unlocked, timeout=WAIT_MS)  # locked by itself
    assert personal_left(console, P1005.personal) == [] and console.pending is None
    assert console.enrolment.patient_id == ""


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
