"""The window on a real kiosk runtime: real recognition of a replayed camera, the real flow
thread and its timeouts, a real SQLite outbox, the signed client of a provisioned kiosk, and
the real platform process on loopback (its answers checked through the counter's client)."""

from __future__ import annotations

import threading

import pytest

from device.scanner.wedge import WedgeScanner, keystrokes
from kiosk.config import FlowConfig
from kiosk.flow.ways import Way
from kiosk.i18n import tr
from kiosk.protocol.schemas import PaymentMethod
from tests.ui.helpers import BILL_TOTAL_FEN, P1002, P1003, P1005, personal_left, type_keys
from ui.headless import drive_checkout

WAIT_MS = 15_000
LAYERS = ("basic_pool", "critical_illness", "medical_aid", "self_pay")


def pending(counter, patient_id: str) -> list[str]:
    return [b.bill_id for b in counter.pending_bills(patient_id).bills]


def open_handoffs(counter, kiosk_id: str, reason: str) -> int:
    """How many of the kiosk's sessions wait at the counters for this reason today (one
    kiosk's sessions for the same reason are merged into one hand-off with a count)."""
    return sum(h.count for h in counter.handoffs().handoffs
               if h.kiosk_id == kiosk_id and h.reason == reason)


def test_full_face_checkout_end_to_end(make_runtime, make_window, replay_camera, astro,
                                       counter, tmp_path, qtbot):
    runtime = make_runtime(camera=replay_camera)
    window = make_window(runtime, hospital="永康市第一人民医院")
    report = drive_checkout(window, tmp_path / "shots", timeout_s=30)
    assert report.outcome == "settled", report.summary()
    assert report.screens[0] == "attract" and "bill_review" in report.screens
    assert report.screens[-1] == "result"
    screens = report.screens  # the bill look-up is not called "settling" (it is not)
    assert screens.index("looking_up") < screens.index("bill_review") < screens.index("settling")
    assert report.patient == astro.name_masked and report.method == "face"
    assert report.total_fen == BILL_TOTAL_FEN
    settlement = counter.settlement(report.settlement_id)  # what the platform recorded
    assert settlement.patient.patient_id == astro.patient_id and settlement.bill_id == astro.bill_id
    assert settlement.method == PaymentMethod.FACE and settlement.total_fen == BILL_TOTAL_FEN
    assert dict(report.layers) == {name: getattr(settlement.layers, f"{name}_fen")
                                   for name in LAYERS}
    assert report.self_pay_fen == settlement.charge_to_credit_fen > 0
    assert sum(fen for _, fen in report.layers) == BILL_TOTAL_FEN
    assert pending(counter, astro.patient_id) == []
    assert any(astro.self_pay[1:] in line for line in report.receipt)
    shots = [p.stem for p in report.screenshots]
    assert shots == [f"{i:02d}-{name.split('-', 1)[1]}" for i, name in enumerate(shots, 1)]
    assert {"bill_review", "result"} <= {name.split("-", 1)[1] for name in shots}
    assert all(p.stat().st_size > 10_000 for p in report.screenshots)
    assert report.frames_shown > 0  # the live preview ran through the bridge
    result = window.screens["result"]
    assert result.receipt.image is not None and "K-01" not in result.reference.text()
    assert runtime.outbox.pending() == []  # delivered, nothing left to retry

    result.finish.click()
    qtbot.waitUntil(lambda: window.current == "attract", timeout=WAIT_MS)
    assert personal_left(window, astro.personal) == []
    assert result.receipt.image is None


def test_cancel_on_the_bill_goes_back_to_the_start(make_runtime, make_window, counter,
                                                   server_day, qtbot):
    runtime = make_runtime()
    window = make_window(runtime)
    runtime.card_read(P1005.card_no)
    qtbot.waitUntil(lambda: window.current == "bill_review", timeout=WAIT_MS)
    review = window.screens["bill_review"]
    assert P1005.name_masked in review.patient.text() and review.total.text() == P1005.total
    assert window.tiles["card"].caption.property("active") == "true"
    window.lang_button.click()
    window.elderly_button.click()
    assert review.cancel.text() == "Cancel"
    review.cancel.click()
    qtbot.waitUntil(lambda: window.current == "attract", timeout=WAIT_MS)
    assert personal_left(window, P1005.personal) == []
    # the next patient starts in Chinese, normal text, normal timeouts
    assert window.lang == "zh" and not window.elderly and not runtime.flow.elderly
    assert window.screens["attract"].welcome.text() == tr("idle.welcome", "zh")
    assert pending(counter, P1005.patient_id) == [P1005.bill_id]  # nothing was charged
    settled = counter.settlements_today(server_day.isoformat()).settlements
    assert P1005.bill_id not in {s.bill_id for s in settled}


def test_every_screen_times_out_back_to_idle(make_runtime, make_window, qtbot):
    now = [1_000.0]
    flow = FlowConfig(review_timeout_s=60, personal_data_ttl_s=120)
    runtime = make_runtime(flow=flow, clock=lambda: now[0])
    window = make_window(runtime, clock=lambda: now[0])
    runtime.card_read(P1005.card_no)
    qtbot.waitUntil(lambda: window.current == "bill_review", timeout=WAIT_MS)
    assert window.countdown.text() == tr("ui.seconds_left", seconds=60)
    now[0] += 59
    qtbot.wait(500)  # the flow thread ticks: nothing happens before the deadline
    assert window.current == "bill_review"
    now[0] += 2
    qtbot.waitUntil(lambda: window.current == "attract", timeout=WAIT_MS)
    assert personal_left(window, P1005.personal) == []
    # the fallback screen times out too (and elderly mode makes it slower)
    window.elderly_button.click()
    runtime.call_cashier()
    qtbot.waitUntil(lambda: window.current == "fallback", timeout=WAIT_MS)
    now[0] += flow.fallback_display_s + 1
    qtbot.wait(500)
    assert window.current == "fallback"  # 1.5x longer for elderly patients
    now[0] += flow.fallback_display_s * (flow.elderly_time_factor - 1)
    qtbot.waitUntil(lambda: window.current == "attract", timeout=WAIT_MS)


def test_second_factor_on_the_keypad(make_runtime, make_window, replay_camera, astro,
                                     counter, qtbot):
    runtime = make_runtime(flow=FlowConfig(second_factor_amount_fen=5_000),
                           camera=replay_camera)
    window = make_window(runtime)
    window.tiles["face"].click()  # the face is recognised; a self-pay over 50 yuan asks digits
    qtbot.waitUntil(lambda: window.current == "keypad", timeout=WAIT_MS)
    pad = window.screens["keypad"]
    assert pad.attempts.text() == tr("keypad.attempts_left", n=3)
    for digit in "0000":
        pad.keys[digit].click()
    pad.ok.click()
    qtbot.waitUntil(lambda: pad.guidance.text() == tr("second_factor.wrong_digits"),
                    timeout=WAIT_MS)
    assert pad.attempts.text() == tr("keypad.attempts_left", n=2)
    for digit in astro.phone_last4:
        pad.keys[digit].click()
    pad.ok.click()
    qtbot.waitUntil(lambda: window.current == "bill_review", timeout=WAIT_MS)
    window.screens["bill_review"].confirm.click()
    qtbot.waitUntil(lambda: window.current == "result", timeout=WAIT_MS)
    assert pending(counter, astro.patient_id) == []


def test_too_many_wrong_digits_hand_over_to_the_cashier(make_runtime, make_window,
                                                        replay_camera, astro, counter,
                                                        kiosk_config, qtbot):
    kiosk_id = kiosk_config.site.kiosk_id
    before = open_handoffs(counter, kiosk_id, "second_factor.locked")
    runtime = make_runtime(flow=FlowConfig(second_factor_amount_fen=5_000),
                           camera=replay_camera)
    window = make_window(runtime)
    window.tiles["face"].click()
    qtbot.waitUntil(lambda: window.current == "keypad", timeout=WAIT_MS)
    pad = window.screens["keypad"]
    for left in (2, 1):
        for digit in "9999":
            pad.keys[digit].click()
        pad.ok.click()
        qtbot.waitUntil(lambda n=left: pad.attempts.text() == tr("keypad.attempts_left", n=n)
                        and pad.keys["9"].isEnabled(), timeout=WAIT_MS)
    for digit in "9999":
        pad.keys[digit].click()
    pad.ok.click()
    qtbot.waitUntil(lambda: window.current == "fallback", timeout=WAIT_MS)
    assert window.screens["fallback"].message.text() == tr("second_factor.locked")
    assert personal_left(window, astro.personal) == []  # the screen says nothing of her
    # the counter's queue got the session, with the reason and no patient
    qtbot.waitUntil(lambda: open_handoffs(counter, kiosk_id, "second_factor.locked")
                    == before + 1, timeout=WAIT_MS)
    assert pending(counter, astro.patient_id) == [astro.bill_id]


def test_call_cashier_then_pay_by_card_at_the_fallback(make_runtime, make_window, counter,
                                                       kiosk_config, qtbot):
    kiosk_id = kiosk_config.site.kiosk_id
    before = open_handoffs(counter, kiosk_id, "patient.requested_cashier")
    runtime = make_runtime()
    window = make_window(runtime)
    window.cashier_button.click()
    qtbot.waitUntil(lambda: window.current == "fallback", timeout=WAIT_MS)
    fallback = window.screens["fallback"]
    assert fallback.message.text() == tr("patient.requested_cashier")
    assert not window.cashier_button.isEnabled() and window.tiles["card"].isEnabled()
    qtbot.waitUntil(lambda: open_handoffs(counter, kiosk_id, "patient.requested_cashier")
                    == before + 1, timeout=WAIT_MS)
    runtime.card_read(P1003.card_no)  # the patient inserts a card after all
    qtbot.waitUntil(lambda: window.current == "keypad", timeout=WAIT_MS)  # 594.03 yuan: a
    pad = window.screens["keypad"]  # card is not proof of who holds it, so digits too
    for digit in P1003.phone_last4:
        pad.keys[digit].click()
    pad.ok.click()
    qtbot.waitUntil(lambda: window.current == "bill_review", timeout=WAIT_MS)
    window.screens["bill_review"].confirm.click()
    qtbot.waitUntil(lambda: window.current == "result", timeout=WAIT_MS)
    assert pending(counter, P1003.patient_id) == []


def test_platform_down_shows_the_error_with_a_way_forward(make_runtime, make_window,
                                                          platform, qtbot):
    runtime = make_runtime()
    window = make_window(runtime)
    platform.stop()
    try:
        runtime.card_read(P1005.card_no)
        qtbot.waitUntil(lambda: window.current == "error", timeout=WAIT_MS)
    finally:
        platform.start()
    error = window.screens["error"]
    assert error.message.text() == tr("backend.unreachable")
    shown = [w for w, b in error.buttons.items() if b.isVisibleTo(window)]
    assert shown == [Way.CASHIER, Way.START]  # a card or QR would fail the same way
    assert not window.tiles["card"].isEnabled() and not window.tiles["voucher"].isEnabled()
    error.buttons[Way.START].click()
    qtbot.waitUntil(lambda: window.current == "attract", timeout=WAIT_MS)


def test_wedge_scanned_voucher_reaches_the_bill(make_runtime, make_window, platform, qtbot):
    runtime = make_runtime()
    window = make_window(runtime, wedge=WedgeScanner())
    voucher = platform.seed["voucher"]
    assert voucher["patient_id"] == P1002.patient_id
    type_keys(window.stack.currentWidget(), voucher["payload"], 5_000_000_000, interval_ms=5)
    qtbot.waitUntil(lambda: window.current == "bill_review", timeout=WAIT_MS)
    assert window.tiles["voucher"].caption.property("active") == "true"
    review = window.screens["bill_review"]
    assert P1002.name_masked in review.patient.text() and review.total.text() == P1002.total


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_unknown_card_says_so_in_plain_words(make_runtime, make_window, qtbot, lang):
    runtime = make_runtime()
    window = make_window(runtime)
    window.set_language(lang)
    threading.Thread(target=runtime.card_read, args=("NOSUCHCARD",)).start()
    qtbot.waitUntil(lambda: window.current == "error", timeout=WAIT_MS)
    assert window.screens["error"].message.text() == tr("card.not_found", lang)


def test_keystrokes_helper_matches_the_scanner():
    assert [c for c, _ in keystrokes("AB", 0)] == ["A", "B", "\r"]
