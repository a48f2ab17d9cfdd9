"""我的欠款 and the repayment QR on screen: the buttons send what they say; the statement shows
the masked name, the total and each charge's due date; and end to end, a real kiosk runtime
against the real platform and the simulated payment provider: identify by card, see the debt
a checkout just took on, repay it through the QR decoded from the screen itself, and see the
balance at zero."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator

import numpy as np
import pytest
import zxingcpp
from PySide6.QtGui import QImage

from common.net import free_port
from kiosk.demo.local_platform import LocalPlatform
from kiosk.demo.payments import PaymentSimulator, start_payment_simulator
from kiosk.flow.model import State
from kiosk.i18n import tr, yuan
from tests.ui.screens.test_result import card_patient
from ui.preview_views import ORDER, STATEMENT, RecordingPort, sample_views
from ui.screens.result import day_text

WAIT_MS = 20_000


@pytest.fixture(scope="module")
def paysim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PaymentSimulator]:
    sim = start_payment_simulator(tmp_path_factory.mktemp("provider"))
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory,
             paysim: PaymentSimulator) -> Iterator[LocalPlatform]:
    """This module's platform takes repayments through the simulated provider."""
    root = tmp_path_factory.mktemp("platform")
    port = free_port()
    (root / "server.toml").write_text(
        f'[server]\ndb_url = "sqlite:///{root}/server.db"\n'
        f'key_file = "{root}/server_key.pem"\ndata_key_file = "{root}/data_key.bin"\n'
        '[gallery]\nscope = "all_active"\n' + paysim.config(port, order_ttl_s=60),
        encoding="utf-8")
    started = LocalPlatform(root, port, {})
    started.admin("init")
    started.seed = json.loads(started.admin("seed", "demo"))
    started.start()
    yield started
    started.stop()


def in_debt(started, runtime, window, qtbot, name: str, item: str) -> tuple[str, str]:
    """A patient who checked out on credit at this kiosk just now: (patient id, card)."""
    patient_id, card_no, _ = card_patient(started, [[item]], name=name)
    runtime.card_read(card_no)
    qtbot.waitUntil(lambda: window.current == "bill_review", timeout=WAIT_MS)
    runtime.confirm()
    qtbot.waitUntil(lambda: window.current == "result", timeout=WAIT_MS)
    runtime.cancel()
    qtbot.waitUntil(lambda: window.current == "attract", timeout=WAIT_MS)
    return patient_id, card_no


def own_statement(runtime, window, qtbot, card_no: str) -> None:
    """From the attract screen, 我的欠款 and the card: the patient's own statement."""
    window.screens["attract"].owed.click()
    qtbot.waitUntil(lambda: window.view.state == State.OWED_IDENTIFY, timeout=WAIT_MS)
    runtime.card_read(card_no)
    qtbot.waitUntil(lambda: window.view.state == State.OWED, timeout=WAIT_MS)


def pay_the_qr(window, qtbot, paysim: PaymentSimulator, owed: int) -> None:
    """Pay the QR on screen as a phone would, and see all of ``owed`` repaid, nothing left."""
    (code_url,) = decoded(window)
    assert paysim.pay(code_url).json()["trade_state"] == "SUCCESS"
    qtbot.waitUntil(lambda: window.view.state == State.REPAID, timeout=WAIT_MS)
    repaid = window.screens["repay"]
    assert repaid.amount.text() == tr("repay.paid_amount", "zh", amount=yuan(owed))
    assert repaid.note.text() == tr("repay.left", "zh", amount=yuan(0))


def decoded(window) -> list[str]:
    """What a phone reads from the screen as it is drawn."""
    image = window.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    width, height = image.width(), image.height()
    raw = bytes(image.constBits())[: image.bytesPerLine() * height]
    pixels = np.frombuffer(raw, np.uint8).reshape(height, image.bytesPerLine())[:, :width]
    return [code.text for code in zxingcpp.read_barcodes(np.ascontiguousarray(pixels))]


# ------------------------------------------------------------------- the widgets alone

def test_the_start_screens_button_asks_for_the_statement(make_window):
    port = RecordingPort()
    window = make_window(port)
    window.render(sample_views()["01-attract"])
    window.screens["attract"].owed.click()
    assert port.commands[-1] == ("start_owed", None)


def test_asked_how_to_identify_the_face_tile_is_for_the_statement(make_window):
    port = RecordingPort()
    window = make_window(port)
    window.render(sample_views()["15-owed-identify"])
    assert window.current == "owed"
    assert window.tiles["face"].isEnabled() and window.tiles["card"].isEnabled()
    window.tiles["face"].click()
    assert port.commands[-1] == ("owed_face", None)


def test_the_statement_shows_each_charge_and_its_due_date(make_window):
    port = RecordingPort()
    window = make_window(port)
    window.render(sample_views()["16-owed-list"])
    screen = window.screens["owed"]
    assert screen.title.text() == tr("owed.title", "zh", name="张*三")
    assert screen.total.text() == tr("owed.total", "zh", amount=yuan(24_685))
    overdue, later = STATEMENT.charges
    first, second = (label.text() for _, label, _ in screen.rows[:2])
    assert day_text(overdue.due_date, "zh") in first and "已逾期" in first
    assert day_text(later.due_date, "zh") in second and yuan(later.owed_fen) in second
    assert screen.rows[0][1].property("tone") == "warn"
    screen.repay_all.click()
    screen.rows[1][2].click()
    assert port.commands[-2:] == [("repay", None), ("repay", later.settlement_id)]


def test_no_repay_button_where_the_platform_takes_none(make_window):
    window = make_window(RecordingPort())
    view = dataclasses.replace(sample_views()["16-owed-list"],
                               statement=dataclasses.replace(STATEMENT, can_repay=False))
    window.render(view)
    screen = window.screens["owed"]
    assert not screen.repay_all.isVisible()
    assert not any(button.isVisible() for _, _, button in screen.rows)
    assert screen.guidance.text() == tr("owed.no_repay", "zh")


def test_the_qr_on_screen_reads_back_and_back_closes_it(make_window, qtbot):
    port = RecordingPort()
    window = make_window(port)
    window.render(sample_views()["18-repay-qr"])
    qtbot.waitUntil(lambda: window.current == "repay")
    assert decoded(window) == [ORDER.code_url]
    screen = window.screens["repay"]
    screen.back.click()
    assert port.commands[-1] == ("cancel", None)
    closing = dataclasses.replace(sample_views()["18-repay-qr"], state=State.REPAY_CLOSING,
                                  guidance="repay.closing")
    window.render(closing)
    assert not screen.back.isVisible() and not screen.qr.isVisible()
    assert decoded(window) == []  # no QR once it is being closed


def test_leaving_clears_the_statement(make_window):
    window = make_window(RecordingPort())
    window.render(sample_views()["16-owed-list"])
    window.render(sample_views()["01-attract"])
    screen = window.screens["owed"]
    assert screen.title.text() == "" and screen.total.text() == ""
    assert all(label.text() == "" for _, label, _ in screen.rows)


# --------------------------------------------------------------------------- end to end

def test_a_patient_sees_the_debt_and_repays_it_at_the_kiosk(platform, paysim, make_runtime,
                                                             make_window, counter, qtbot):
    patient_id, card_no, _ = card_patient(platform, [["exam:胸部 CT 平扫:1:28000"]])
    runtime = make_runtime()
    window = make_window(runtime)
    runtime.card_read(card_no)  # checkout first: the debt is taken on here
    qtbot.waitUntil(lambda: window.current == "bill_review", timeout=WAIT_MS)
    runtime.confirm()
    qtbot.waitUntil(lambda: window.current == "result", timeout=WAIT_MS)
    settled = counter.settlement(runtime.last_view.result.settlement_id)
    runtime.cancel()
    qtbot.waitUntil(lambda: window.current == "attract", timeout=WAIT_MS)

    own_statement(runtime, window, qtbot, card_no)
    screen = window.screens["owed"]
    owed = settled.charge_to_credit_fen
    assert screen.total.text() == tr("owed.total", "zh", amount=yuan(owed))
    assert day_text(settled.credit_due_date, "zh") in screen.rows[0][1].text()
    assert settled.receipt_no in screen.rows[0][1].text()
    assert settled.credit_due_date > dt.date.today() - dt.timedelta(days=1)

    screen.repay_all.click()
    qtbot.waitUntil(lambda: window.current == "repay" and window.screens["repay"]
                    .qr.isVisible(), timeout=WAIT_MS)
    pay_the_qr(window, qtbot, paysim, owed)
    assert counter.pending_bills(patient_id).credit.outstanding_fen == 0


def test_leaving_the_qr_closes_the_order_and_nothing_is_paid(platform, paysim, make_runtime,
                                                              make_window, counter, qtbot):
    runtime = make_runtime()
    window = make_window(runtime)
    patient_id, card_no = in_debt(platform, runtime, window, qtbot, "李小红",
                                  "drug:头孢克肟胶囊:1:3650")
    runtime.start_owed()
    runtime.card_read(card_no)
    qtbot.waitUntil(lambda: window.view.state == State.OWED, timeout=WAIT_MS)
    owed = counter.pending_bills(patient_id).credit.outstanding_fen
    runtime.repay()
    qtbot.waitUntil(lambda: window.screens["repay"].qr.isVisible(), timeout=WAIT_MS)
    (code_url,) = decoded(window)
    window.screens["repay"].back.click()
    qtbot.waitUntil(lambda: window.view.guidance == "owed.repay_cancelled",
                    timeout=WAIT_MS)
    assert paysim.pay(code_url).status_code == 400  # the QR is dead
    assert counter.pending_bills(patient_id).credit.outstanding_fen == owed
