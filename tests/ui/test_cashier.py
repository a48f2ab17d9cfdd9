"""The cashier console behind its PIN: hand-off queue, take-over, look-up, quote, settle,
today's list, reversal with a reason, reprint, reconciliation, consent withdrawal, locking."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from kiosk.protocol.schemas import PaymentMethod
from tests.ui.helpers import ASTRO, HANKS, personal_left
from tests.ui.platform_double import CashierAdapter
from ui.cashier import console as console_module
from ui.cashier.console import CashierConsole
from ui.cashier.logic import BadInput, lookup_key, reversal_reason
from ui.cashier.pin import PinError, PinGate, hash_pin, verify_pin
from ui.cashier.service import Handoff, LookupBy
from ui.i18n import tr

PIN = "246810"
WAIT_MS = 10_000


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
    (LookupBy.CARD, " CARD0001 ", "CARD0001"), (LookupBy.PATIENT, "P-ASTRO", "P-ASTRO"),
    (LookupBy.VOUCHER, ASTRO.voucher + "\r\n", ASTRO.voucher)])
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


@pytest.fixture
def console(qtbot, platform, pin_hash):
    platform.handoff_list = [
        Handoff("H1", "K-01", "s1", "face.not_recognised", datetime(2024, 6, 1, 9, tzinfo=UTC)),
        Handoff("H2", "K-02", "s2", "credit.limit_exceeded",
                datetime(2024, 6, 1, 9, 5, tzinfo=UTC))]
    widget = CashierConsole(CashierAdapter(platform), PinGate(pin_hash),
                            today=lambda: date(2024, 6, 1))
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    return widget


def unlock(console, qtbot) -> None:
    console.pin.setText(PIN)
    console.unlock_button.click()
    assert console.unlocked
    qtbot.waitUntil(lambda: console.queue.rowCount() == 2, timeout=WAIT_MS)


def test_console_stays_locked_without_the_pin(console, qtbot):
    assert not console.unlocked
    console.pin.setText("999999")
    console.unlock_button.click()
    assert not console.unlocked and console.pin.text() == ""
    assert console.pin_message.text() == tr("cashier.pin_wrong", n=4)
    console.refresh_queue()  # nothing runs while locked
    qtbot.wait(100)
    assert console.queue.rowCount() == 0


def test_take_over_then_settle_by_cash_then_reverse_and_reprint(console, platform, qtbot):
    unlock(console, qtbot)
    assert console.queue.item(0, 2).text() == tr("face.not_recognised")
    console.queue.selectRow(0)
    console.take_button.click()
    qtbot.waitUntil(lambda: console.tabs.currentIndex() == 1, timeout=WAIT_MS)
    assert platform.handoff_list[0].taken_by
    assert tr("face.not_recognised") in console.status.text()
    qtbot.waitUntil(lambda: console.queue.item(0, 3).text() == tr("cashier.taken"),
                    timeout=WAIT_MS)

    console.lookup_by.setCurrentIndex(list(LookupBy).index(LookupBy.CARD))
    console.key.setText("12")
    console.lookup_button.click()
    assert tr("cashier.bad_key", detail="")[:8] in console.status.text()
    console.key.setText(ASTRO.card_no)
    console.lookup_button.click()
    qtbot.waitUntil(lambda: console.bills.rowCount() == 1, timeout=WAIT_MS)
    assert console.key.text() == ""  # the card number does not linger
    assert ASTRO.name_masked in console.patient.text() and "¥5000.00" in console.patient.text()
    assert console.bills.item(0, 2).text() == "¥341.50"

    console.settle_button.click()  # not quoted yet
    assert console.status.text() == tr("cashier.select_bill")
    console.bills.selectRow(0)
    console.settle_as.setCurrentIndex(2)
    assert console.settle_as.currentData() == PaymentMethod.CASH
    console.quote_button.click()
    qtbot.waitUntil(lambda: "¥341.50" in console.quote_text.text(), timeout=WAIT_MS)
    assert "¥72.45" in console.quote_text.text()
    console.settle_button.click()
    qtbot.waitUntil(lambda: "R0000" in console.status.text(), timeout=WAIT_MS)
    (settlement,) = platform.settlements.values()
    assert settlement.method == "cash" and settlement.pay_at_counter_fen == 7_245
    assert console.bills.rowCount() == 0 and platform.bills["B1"].settled

    console.tabs.setCurrentIndex(2)
    console.today_refresh.click()
    qtbot.waitUntil(lambda: console.today_table.rowCount() == 1, timeout=WAIT_MS)
    assert console.today_table.item(0, 5).text() == "¥72.45"
    console.today_table.selectRow(0)
    console.reverse_reason.setText("x")
    console.reverse_button.click()
    assert console.status.text() == tr("cashier.reason_too_short")
    assert platform.settlements[settlement.settlement_id].status == "settled"
    console.reverse_reason.setText("患者要求改用医保卡")
    console.reverse_button.click()
    qtbot.waitUntil(lambda: console.today_table.item(0, 6).text()
                    == tr("cashier.status_reversed"), timeout=WAIT_MS)
    assert platform.settlements[settlement.settlement_id].reversal.reason == "患者要求改用医保卡"
    assert console.status.text() == tr("cashier.reversed", refund="¥72.45")  # cash back
    console.today_table.selectRow(0)
    console.reprint_button.click()
    qtbot.waitUntil(lambda: platform.reprints == [settlement.settlement_id], timeout=WAIT_MS)
    assert settlement.receipt_no in console.status.text()


def test_reconciliation_of_the_day(console, platform, qtbot):
    from kiosk.protocol.schemas import SettleRequest

    platform.settle_request(SettleRequest(bill_id="B1", patient_id="P-ASTRO", method="face"),
                            "k1")
    platform.settle_request(SettleRequest(bill_id="B9", patient_id="P-HANKS", method="cash"),
                            "k2")
    unlock(console, qtbot)
    console.tabs.setCurrentIndex(3)
    console.recon_refresh.click()
    qtbot.waitUntil(lambda: console.recon_text.text() != "", timeout=WAIT_MS)
    text = console.recon_text.text()
    assert "2024-06-01" in text and tr("cashier.recon_balanced") in text
    assert "2 笔，总额 ¥361.50" in text  # 341.50 + 20.00, integer fen throughout
    assert tr("method.face") in text and tr("method.cash") in text


def test_withdraw_consent_and_errors_in_plain_words(console, platform, qtbot):
    unlock(console, qtbot)
    console.tabs.setCurrentIndex(1)
    console.withdraw_button.click()
    assert console.status.text() == tr("cashier.need_patient")
    console.lookup_by.setCurrentIndex(list(LookupBy).index(LookupBy.PATIENT))
    console.key.setText(HANKS.patient_id)
    console.key.returnPressed.emit()
    qtbot.waitUntil(lambda: HANKS.name_masked in console.patient.text(), timeout=WAIT_MS)
    console.withdraw_reason.setText("本人要求")
    console.withdraw_button.click()
    qtbot.waitUntil(lambda: not platform.persons["P-HANKS"].consent, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: console.status.text() == tr("cashier.withdrawn", n=0),
                    timeout=WAIT_MS)
    platform.unreachable = True
    console.key.setText(HANKS.patient_id)
    console.lookup_button.click()
    qtbot.waitUntil(lambda: tr("backend.unreachable") in console.status.text(),
                    timeout=WAIT_MS)


def test_locking_forgets_everything_shown(console, platform, qtbot):
    now = [0.0]
    console.clock = lambda: now[0]
    unlock(console, qtbot)
    console.lookup_by.setCurrentIndex(list(LookupBy).index(LookupBy.CARD))
    console.key.setText(ASTRO.card_no)
    console.lookup_button.click()
    qtbot.waitUntil(lambda: console.bills.rowCount() == 1, timeout=WAIT_MS)
    assert personal_left(console)
    now[0] += console_module.IDLE_LOCK_S + 1
    qtbot.waitUntil(lambda: not console.unlocked, timeout=WAIT_MS)  # locked by itself
    assert personal_left(console) == [] and console.pending is None
    assert console.enrolment.patient_id == ""
