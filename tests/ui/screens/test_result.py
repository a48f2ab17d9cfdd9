"""A card checkout against the real platform: the slip and the result screen show the
receipt number (the counter's key to the payment), what went on credit and its due date
``repayment_days`` after the platform's today, what is owed in all; the settlement id only in
small print. A partial checkout shows what is still to pay. Slip and screen in both languages
are written to ``tmp_path`` as PNGs."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from zoneinfo import ZoneInfo

from device.printer import Receipt, render_escpos, save_png
from kiosk.i18n import tr, yuan
from server_stub.config import load_config
from tests.ui.helpers import ASTRO_PHONE, CONSENT
from ui.screens.result import day_text

WAIT_MS = 15_000


def card_patient(platform, bills: list[list[str]], name: str = "李小红"
                 ) -> tuple[str, str, list[str]]:
    """A credit user with an insurance card (no face) and these pending bills."""
    patient_id = f"PC{uuid.uuid4().hex[:10].upper()}"
    card_no = f"CC{uuid.uuid4().hex[:14].upper()}"
    platform.admin("user", "enrol", "--patient-id", patient_id, "--name", name,
                   "--national-id", "330184199202021234", "--phone", ASTRO_PHONE,
                   "--category", "employee", "--card-no", card_no, "--consent-version", CONSENT)
    made = [json.loads(platform.admin(
        "bill", "create", "--site", platform.seed["site_id"], "--patient", patient_id,
        "--visit", f"V{patient_id}-{n}", *(arg for item in items for arg in ("--item", item))))
        ["bill_id"] for n, items in enumerate(bills)]
    return patient_id, card_no, made


def due_date(platform) -> dt.date:
    config = load_config(platform.config)
    today = dt.datetime.now(ZoneInfo(config.server.timezone)).date()
    return today + dt.timedelta(days=config.credit.repayment_days)


def test_card_checkout_shows_receipt_no_credit_and_due_date(platform, make_runtime,
                                                             make_window, counter, qtbot,
                                                             tmp_path):
    patient_id, card_no, _ = card_patient(platform, [["exam:胸部 CT 平扫:1:28000"]])
    runtime = make_runtime()
    window = make_window(runtime, hospital="永康市第一人民医院")
    runtime.card_read(card_no)
    qtbot.waitUntil(lambda: window.current == "bill_review", timeout=WAIT_MS)
    runtime.confirm()
    qtbot.waitUntil(lambda: window.current == "result", timeout=WAIT_MS)
    result = runtime.last_view.result
    settled = counter.settlement(result.settlement_id)
    owed = counter.pending_bills(patient_id).credit.outstanding_fen
    receipt = Receipt.from_dict(result.receipt)
    assert receipt.receipt_nos == (settled.receipt_no,)
    assert receipt.credit_fen == settled.charge_to_credit_fen == receipt.self_pay_fen > 0
    assert receipt.credit_due_date == settled.credit_due_date == due_date(platform)
    assert receipt.credit_outstanding_fen == owed
    slip = render_escpos(receipt).decode("gb18030", errors="replace")
    assert settled.receipt_no in slip and receipt.credit_due_date.isoformat() in slip

    screen = window.screens["result"]
    qtbot.waitUntil(lambda: screen.receipt.image is not None, timeout=WAIT_MS)
    for lang in ("zh", "en"):
        if window.lang != lang:
            window.lang_button.click()
        assert screen.receipt_no.text() == settled.receipt_no and screen.receipt_no.isVisible()
        assert screen.credit.text() == tr("done.credit_due", lang,
                                          amount=yuan(receipt.credit_fen, lang),
                                          date=day_text(receipt.credit_due_date, lang))
        assert screen.owed.text() == tr("done.credit_owed", lang, amount=yuan(owed, lang))
        assert screen.repay_hint.text() == receipt.repay_hint[lang == "en"]
        assert screen.reference.property("role") == "small"
        assert result.settlement_id in screen.reference.text()
        assert result.settlement_id not in screen.receipt_no.text()
        window.grab().save(str(tmp_path / f"result-card-{lang}.png"))
    save_png(receipt, tmp_path / "receipt-card.png")


def test_a_partial_checkout_shows_what_is_still_to_pay(platform, make_runtime, make_window,
                                                        counter, qtbot, tmp_path):
    from kiosk.protocol.schemas import PaymentMethod, SettleRequest

    patient_id, card_no, _ = card_patient(platform, [
        ["exam:血常规:1:2500"], ["exam:复查:1:3000"], ["drug:头孢克肟胶囊:1:3650"]])
    runtime = make_runtime()
    window = make_window(runtime)
    runtime.card_read(card_no)
    qtbot.waitUntil(lambda: window.current == "bill_review", timeout=WAIT_MS)
    quote = runtime.last_view.quote
    _, second, third = quote.bill_ids
    # the desk takes the second bill in cash while the patient reads the bill
    counter.settle(SettleRequest(bill_id=second, patient_id=patient_id,
                                 method=PaymentMethod.CASH), str(uuid.uuid4()))
    runtime.confirm()
    qtbot.waitUntil(lambda: window.current == "result", timeout=WAIT_MS)
    result = runtime.last_view.result
    assert result.status == "partial" and result.unpaid_bill_ids == (second, third)
    receipt = Receipt.from_dict(result.receipt)
    still = dict(quote.bill_self_pay)[third]  # the second was paid at the desk meanwhile
    assert receipt.unpaid_fen == still > 0
    assert receipt.receipt_nos == (counter.settlement(result.settlement_id).receipt_no,)
    screen = window.screens["result"]
    assert screen.unpaid.text() == tr("done.unpaid", amount=yuan(still))
    assert screen.unpaid.isVisible()
    qtbot.waitUntil(lambda: screen.receipt.image is not None, timeout=WAIT_MS)
    window.grab().save(str(tmp_path / "result-partial-zh.png"))
    save_png(receipt, tmp_path / "receipt-partial.png")
