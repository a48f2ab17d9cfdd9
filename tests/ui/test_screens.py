"""Every screen renders for its states at every supported size, in both languages and in
elderly mode, with nothing cut off or overlapping; the keypad, the language and large-text
switches, the wedge scanner and the threads-to-GUI bridge behave."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QThread, QTimer
from PySide6.QtWidgets import QApplication

from device.scanner.wedge import WedgeScanner
from kiosk.flow.machine import FlowView
from kiosk.flow.model import SettlementResult, State
from kiosk.flow.ways import Way, ways_forward
from kiosk.i18n import tr
from kiosk.protocol.schemas import PaymentMethod
from kiosk.protocol.voucher import format_payload
from kiosk.recognition.detection import Detection
from tests.ui.helpers import type_keys
from ui.kiosk_window import screen_name
from ui.preview_views import PATIENT, QUOTE, RecordingPort, sample_views
from ui.screenshots import SIZES, layout_problems, pump, show_view, wait_until
from ui.stall import StallProbe


@pytest.fixture
def port() -> RecordingPort:
    return RecordingPort()


@pytest.mark.parametrize("size", list(SIZES))
def test_every_screen_fits_at_every_size_language_and_text_size(make_window, port, size):
    window = make_window(port, SIZES[size])
    views = sample_views()
    seen = set()
    for lang in ("zh", "en"):
        for elderly in (False, True):
            for name, view in views.items():
                window.render(view)  # a return to idle resets language and text size...
                window.set_language(lang)  # ...so choose them for every view
                window.set_elderly(elderly)
                show_view(window, view, SIZES[size])
                seen.add(window.current)
                assert window.size().toTuple() == SIZES[size]
                assert (window.lang, window.elderly) == (lang, elderly)
                assert layout_problems(window) == [], (name, lang, elderly)
    assert seen == set(window.screens)  # every screen was exercised


def test_layout_check_catches_what_a_person_would(make_window, port):
    window = make_window(port)
    show_view(window, sample_views()["07-bill-review"], (1024, 768))
    window.screens["bill_review"].guidance.setText("很长的说明" * 200)
    window.screens["bill_review"].guidance.setWordWrap(False)
    assert any("cut off" in p for p in layout_problems(window))


@pytest.mark.parametrize(("reason", "screen"), [
    ("face.not_recognised", "fallback"), ("liveness.screen_detected", "fallback"),
    ("second_factor.locked", "fallback"), ("patient.requested_cashier", "fallback"),
    ("credit.limit_exceeded", "error"), ("backend.unreachable", "error"),
    ("voucher.expired", "error"), ("something.new", "error")])
def test_fallback_reasons_pick_the_screen(reason, screen):
    assert screen_name(FlowView(State.FALLBACK, "fallback.staff_coming", reason=reason)) \
        == screen


def test_error_screen_offers_only_what_can_work(make_window, port):
    window = make_window(port)
    down = FlowView(State.FALLBACK, "fallback.staff_coming", reason="backend.unreachable",
                    ways=(Way.CASHIER, Way.START))
    show_view(window, down, (1024, 768))
    error = window.screens["error"]
    shown = [b.caption.text() for b in error.buttons.values() if b.isVisibleTo(window)]
    assert shown == [tr("way.cashier"), tr("way.start")]
    error.buttons[Way.CASHIER].click()  # a real button that really calls
    error.buttons[Way.START].click()
    assert port.commands[-2:] == [("call_cashier", None), ("cancel", None)]
    assert error.message.text() == tr("backend.unreachable")
    assert "backend.unreachable" in error.code.text()  # for the staff
    face = FlowView(State.FALLBACK, "fallback.staff_coming", reason="face.not_recognised",
                    ways=ways_forward("face.not_recognised", face_available=True,
                                      method=PaymentMethod.FACE), cashier_called=True)
    show_view(window, face, (1024, 768))
    fallback = window.screens["fallback"]
    assert [b.caption.text() for b in fallback.buttons.values() if b.isVisibleTo(window)] == [
        tr("way.face_again"), tr("way.card"), tr("way.voucher"), tr("way.cashier_called"),
        tr("way.start")]
    assert not fallback.buttons[Way.CASHIER].isEnabled()  # already called, says so
    assert window.tiles["card"].isEnabled() and window.tiles["voucher"].isEnabled()
    fallback.buttons[Way.FACE_AGAIN].click()
    assert port.commands[-1] == ("start_face", None)


def test_keypad_takes_exactly_four_digits(make_window, port):
    window = make_window(port)
    show_view(window, sample_views()["05-keypad"], (1024, 768))
    pad = window.screens["keypad"]
    assert pad.attempts.text() == tr("keypad.attempts_left", n=2)
    for digit in "12":
        pad.keys[digit].click()
    assert pad.dots.text() == "● ● ○ ○" and not pad.ok.isEnabled()
    pad.ok.click()
    assert ("enter_digits", "12") not in port.commands
    for digit in "3456":
        pad.keys[digit].click()
    assert pad.digits == "1234"  # a fifth digit is ignored
    pad.delete_key.click()
    pad.keys["9"].click()
    pad.ok.click()
    assert port.commands[-1] == ("enter_digits", "1239")
    assert pad.digits == "" and pad.dots.text() == "○ ○ ○ ○"  # not kept after sending
    pad.keys["7"].click()
    pad.clear_key.click()
    assert pad.digits == ""


def test_keypad_is_frozen_while_checking(make_window, port):
    window = make_window(port)
    checking = FlowView(State.SECOND_FACTOR, "second_factor.checking", attempts_left=3)
    show_view(window, checking, (1024, 768))
    pad = window.screens["keypad"]
    assert not any(key.isEnabled() for key in pad.keys.values()) and not pad.ok.isEnabled()
    assert pad.guidance.text() == tr("second_factor.checking")


def test_language_switches_live_and_back(make_window, port):
    window = make_window(port)
    show_view(window, sample_views()["07-bill-review"], (1024, 768))
    review = window.screens["bill_review"]
    assert review.confirm.text() == "确认支付" and "职工医保" in review.patient.text()
    window.lang_button.click()
    assert review.confirm.text() == "Confirm" and "Employee insurance" in review.patient.text()
    assert window.lang_button.text() == "中文"
    assert window.tiles["face"].caption.text() == "✓ Face pay"  # in use, not greyed out
    assert "¥86.85" in review.self_pay.text()  # amounts do not depend on the language
    window.lang_button.click()
    assert review.confirm.text() == "确认支付" and window.lang_button.text() == "English"


def test_elderly_mode_is_larger_and_asks_for_slower_timeouts(make_window, port):
    window = make_window(port)
    show_view(window, sample_views()["01-attract"], (1024, 768))
    welcome = window.screens["attract"].welcome
    normal = welcome.fontInfo().pixelSize()
    window.elderly_button.click()
    pump(0)
    assert welcome.fontInfo().pixelSize() >= normal * 1.2
    assert port.commands[-1] == ("set_elderly", True)
    assert window.elderly_button.text() == tr("ui.elderly_off")
    window.elderly_button.click()
    pump(0)
    assert welcome.fontInfo().pixelSize() == normal
    assert port.commands[-1] == ("set_elderly", False)


def test_three_ways_to_pay_are_always_on_screen(make_window, port):
    window = make_window(port)
    for name, view in sample_views().items():
        show_view(window, view, (1024, 768))
        for tile in (*window.tiles.values(), window.cashier_button):
            assert tile.isVisible() and tile.caption.text(), name
    show_view(window, sample_views()["01-attract"], (1024, 768))
    window.tiles["face"].click()
    window.cashier_button.click()
    assert port.commands[-2:] == [("start_face", None), ("call_cashier", None)]
    window.tiles["card"].click()
    assert window.notice.isVisible() and window.notice.text() == tr("ui.card_hint")
    show_view(window, sample_views()["14-attract-no-camera"], (1024, 768))
    assert not window.tiles["face"].isEnabled()
    assert window.tiles["face"].caption.text() == tr("ui.face_unavailable")


def test_countdown_follows_the_flow_deadline(make_window, port):
    now = [100.0]
    window = make_window(port, clock=lambda: now[0])
    show_view(window, sample_views()["07-bill-review"], (1024, 768))
    assert window.countdown.text() == tr("ui.seconds_left", seconds=55)
    now[0] += 10
    window._show_countdown()
    assert window.countdown.text() == tr("ui.seconds_left", seconds=45)
    show_view(window, sample_views()["01-attract"], (1024, 768))
    assert window.countdown.text() == ""


def _type(window, text: str, start_ns: int, interval_ms: float) -> None:
    type_keys(window.stack.currentWidget(), text, start_ns, interval_ms)


def test_wedge_scanner_keys_become_a_voucher_scan(make_window, port):
    window = make_window(port, wedge=WedgeScanner())
    show_view(window, sample_views()["01-attract"], (1024, 768))
    payload = format_payload("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    _type(window, payload, 1_000_000_000_000, interval_ms=8)  # a scanner: fast
    assert port.commands[-1] == ("voucher_scanned", payload)
    before = len(port.commands)
    _type(window, payload, 2_000_000_000_000, interval_ms=250)  # a person: slow
    assert len(port.commands) == before
    _type(window, "https://example.com/pay", 3_000_000_000_000, interval_ms=8)
    assert len(port.commands) == before  # not an e-voucher: never sent to the platform
    assert window.notice.isVisible() and window.notice.text() == tr("evoucher.not_evoucher")
    broken = payload[:-1] + ("0" if payload[-1] != "0" else "1")
    _type(window, broken, 4_000_000_000_000, interval_ms=8)
    assert window.notice.text() == tr("evoucher.checksum_mismatch")
    assert len(port.commands) == before


def test_scans_from_any_thread_reach_the_flow(make_window, port, qtbot):
    window = make_window(port)
    payload = format_payload()
    thread = threading.Thread(target=window.scan_arrived.emit, args=(payload,))
    with qtbot.waitSignal(window.scan_arrived, timeout=2000):
        thread.start()
    thread.join()
    qtbot.waitUntil(lambda: ("voucher_scanned", payload) in port.commands, timeout=2000)


def test_views_from_the_flow_thread_render_on_the_gui_thread(make_window, port, qtbot):
    window = make_window(port)
    rendered_on = []
    window.rendered.connect(lambda *_: rendered_on.append(QThread.currentThread()))
    view = sample_views()["07-bill-review"]
    thread = threading.Thread(target=port.emit, args=(view,), name="kiosk-flow")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: window.current == "bill_review", timeout=2000)
    assert rendered_on and all(t is QApplication.instance().thread() for t in rendered_on)
    assert window.screens["bill_review"].patient.text().count(PATIENT.name_masked) == 1


def test_preview_frames_are_dropped_while_the_gui_is_busy(make_window, port, qtbot,
                                                          astronaut):
    window = make_window(port)
    show_view(window, sample_views()["02-scan-too-far"], (1024, 768))
    face = Detection(np.array([180, 120, 330, 300], np.float32), 0.9,
                     np.zeros((5, 2), np.float32))
    thread = threading.Thread(
        target=lambda: [port.emit_frame(astronaut, face) for _ in range(5)],
        name="kiosk-recognition")
    thread.start()
    thread.join()  # five frames while the GUI thread did nothing
    assert window.bridge.frames_dropped == 4
    qtbot.waitUntil(lambda: window.bridge.frames_shown == 1, timeout=2000)
    assert window.screens["scan"].preview.has_image
    port.emit_frame(astronaut, None)  # the GUI caught up: the next frame goes through
    qtbot.waitUntil(lambda: window.bridge.frames_shown == 2, timeout=2000)
    show_view(window, sample_views()["01-attract"], (1024, 768))
    assert not window.screens["scan"].preview.has_image  # no camera image kept at idle


def test_bad_frames_are_skipped_not_fatal(make_window, port):
    window = make_window(port)
    port.emit_frame(np.zeros((0,), np.uint8), None)
    assert window.bridge.frames_dropped == 0 and window.bridge.frames_shown == 0
    port.emit_frame(np.zeros((48, 64, 3), np.uint8), None)  # and the next one still works
    assert wait_until(lambda: window.bridge.frames_shown == 1, 2000)


def test_stall_probe_measures_a_blocked_event_loop(qtbot):
    probe = StallProbe(interval_ms=10).start()
    qtbot.wait(100)
    QTimer.singleShot(0, lambda: time.sleep(0.15))  # something blocks the GUI thread
    qtbot.wait(150)
    probe.stop()
    assert probe.max_stall_ms >= 120 and probe.stalls >= 1 and probe.ticks > 5
    probe.start()
    assert probe.max_stall_ms == 0 and probe.stalls == 0
    probe.stop()


def test_result_screen_shows_the_receipt_as_printed(make_window, port, qtbot):
    window = make_window(port)
    show_view(window, sample_views()["09-result-paid"], (1024, 768))
    result = window.screens["result"]
    assert result.receipt.image is not None and result.receipt.image.width() == 576
    assert "ST20240601A1B2C3" in result.reference.text()
    assert tr("done.printing") == result.printing.text()
    show_view(window, sample_views()["10-result-queued"], (1024, 768))
    assert result.title.text() == tr("done.queued")
    assert "s9f3a-77c1" in result.reference.text()
    broken = SettlementResult("ST1", "settled", 100, {"settlement_id": "ST1"})  # no lines
    show_view(window, FlowView(State.DONE, "done.paid", result=broken), (1024, 768))
    assert result.receipt.image is None
    assert result.receipt_note.text() == tr("done.receipt_unavailable")


def test_bill_review_lists_every_line_and_the_split(make_window, port):
    window = make_window(port)
    show_view(window, sample_views()["07-bill-review"], (1024, 768))
    review = window.screens["bill_review"]
    texts = [w.text() for w in review.cells()]
    for line in QUOTE.lines:
        assert line.description in texts
    assert "¥272.65" in texts and "¥30.00" in texts and "基本医疗保险" in texts
    assert review.total.text() == "¥389.50" and review.self_pay.text() == "¥86.85"
    review.confirm.click()
    review.cancel.click()
    assert port.commands[-2:] == [("confirm", None), ("cancel", None)]
