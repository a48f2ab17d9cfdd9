"""The checkout state machine, driven purely: no camera, no Qt, no network."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kiosk.config import FlowConfig
from kiosk.flow.effects import (
    Audit,
    CheckDigits,
    LookupPatient,
    NotifyCashier,
    PrintReceipt,
    Settle,
)
from kiosk.flow.machine import CheckoutFlow, FrameObservation
from kiosk.flow.model import BillLine, KioskPatient, KioskQuote, SettlementResult, State
from kiosk.flow.ways import Way, ways_forward
from kiosk.liveness.result import LivenessResult as LivenessVerdict
from kiosk.protocol.schemas import PaymentMethod
from kiosk.recognition.detection import Detection
from kiosk.recognition.gallery import Candidate, Policy, decide

POLICY = Policy(threshold=0.363, candidate_threshold=0.30, margin=0.05)
FACE = Detection(np.array([200, 100, 320, 250], np.float32), 0.9,
                 np.array([[230, 160], [290, 160], [260, 190], [238, 220], [283, 220]],
                          np.float32))
PATIENT = KioskPatient("P001", "张*三", "3301**********1234", "employee")


def quote(self_pay: int = 3_000, credit: int = 500_000, bills: tuple[str, ...] = ("B1",)):
    return KioskQuote("Q1", bills, (BillLine("CT 检查", "exam", 20_000),), 20_000,
                      (("basic_pool", 20_000 - self_pay), ("self_pay", self_pay)), self_pay, credit)


def decision(*scores: float):
    return decide([Candidate(f"P00{i + 1}", s, f"t{i}") for i, s in enumerate(scores)], POLICY)


def frame(t: float, dec=None, reasons=(), face=FACE) -> FrameObservation:
    return FrameObservation(t, face, tuple(reasons), None, dec)


def kinds(effects) -> list[str]:
    return [type(e).__name__ for e in effects if not isinstance(e, Audit)]


@pytest.fixture
def flow():
    ids = (f"s{i}" for i in itertools.count())
    return CheckoutFlow(FlowConfig(), new_id=lambda: next(ids))


def test_face_checkout_happy_path(flow: CheckoutFlow):
    assert flow.on_frame(frame(0.0)) == [] and flow.state == State.IDLE  # greets, no more
    assert flow.view(0.0).guidance == "idle.greet"
    assert flow.start_face(0.1) and flow.state == State.SEARCHING
    flow.on_frame(frame(0.2, reasons=("too_far",)))
    assert flow.view(0.2).guidance == "quality.too_far"
    effects = flow.on_frame(frame(0.4, decision(0.8, 0.2)))
    lookup = [e for e in effects if isinstance(e, LookupPatient)]
    assert lookup == [LookupPatient("s0", PaymentMethod.FACE, "P001")]
    assert flow.view(0.4).liveness_off  # no liveness factory: the screen must say so
    flow.on_lookup(1.0, "s0", PATIENT, quote())
    view = flow.view(1.0)
    assert view.state == State.BILL_REVIEW and view.patient.name_masked == "张*三"
    effects = flow.confirm(2.0)
    (settle,) = [e for e in effects if isinstance(e, Settle)]
    assert settle.intent.self_pay_fen == 3_000 and settle.intent.idempotency_key.startswith("s0-")
    assert flow.cancel(2.5) == [] and flow.state == State.SETTLING
    result = SettlementResult("ST1", "settled", 3_000, {"settlement_id": "ST1"})
    assert kinds(flow.on_settled(3.0, "s0", result)) == ["PrintReceipt"]
    assert flow.state == State.DONE
    flow.tick(3.0 + FlowConfig().result_display_s + 0.1)
    assert flow.state == State.IDLE and flow.session is None
    assert flow.view(20).patient is None


def test_uncertain_match_asks_digits_and_locks_after_three_wrong(flow: CheckoutFlow):
    flow.start_face(0)
    flow.on_frame(frame(0.5, decision(0.62, 0.60)))  # two look-alikes
    assert flow.state == State.SECOND_FACTOR and flow.view(0.5).attempts_left == 3
    assert flow.enter_digits(1, "12a4") == []
    assert flow.view(1).guidance == "second_factor.need_four_digits"
    (check,) = flow.enter_digits(1.1, "5678")
    assert isinstance(check, CheckDigits) and check.candidates == ("P001", "P002")
    assert flow.enter_digits(1.2, "5678") == []  # no double submit while checking
    flow.on_digits(2, "s0", None)
    flow.enter_digits(2.1, "1111")
    flow.on_digits(2.2, "s0", None)
    flow.enter_digits(2.3, "2222")
    effects = flow.on_digits(2.4, "s0", None)
    assert flow.state == State.FALLBACK and flow.view(2.4).reason == "second_factor.locked"
    assert any(isinstance(e, NotifyCashier) for e in effects)
    assert flow.view(2.4).patient is None


def test_right_digits_continue_to_the_bill(flow: CheckoutFlow):
    flow.start_face(0)
    flow.on_frame(frame(0.5, decision(0.33)))
    flow.enter_digits(1, "5678")
    (lookup,) = kinds(flow.on_digits(1.5, "s0", "P001"))
    assert lookup == "LookupPatient"
    flow.on_lookup(2, "s0", PATIENT, quote())
    assert flow.state == State.BILL_REVIEW


def test_large_amount_asks_digits_after_the_quote(flow: CheckoutFlow):
    flow.start_face(0)
    flow.on_frame(frame(0.5, decision(0.9)))
    flow.on_lookup(1, "s0", PATIENT, quote(self_pay=60_000))
    assert flow.state == State.SECOND_FACTOR
    flow.enter_digits(2, "5678")
    flow.on_digits(2.5, "s0", "P001")
    assert flow.state == State.BILL_REVIEW and flow.view(2.5).quote.self_pay_fen == 60_000


def test_large_gallery_narrows_by_digits_over_the_whole_gallery():
    flow = CheckoutFlow(FlowConfig(), gallery_size=lambda: 5_000, new_id=lambda: "s")
    flow.start_face(0)
    flow.on_frame(frame(0.5, decision(0.9, 0.1)))
    assert flow.state == State.SECOND_FACTOR
    (check,) = flow.enter_digits(1, "0000")
    assert check.candidates == ()


def test_no_match_tries_again_once_then_hands_off(flow: CheckoutFlow):
    flow.start_face(0)
    n = FlowConfig().no_match_frames
    for i in range(n):
        effects = flow.on_frame(frame(0.1 * (i + 1), decision(0.1)))
    assert flow.state == State.SEARCHING and flow.guidance == "searching.try_again"
    assert kinds(effects) == []  # nobody is called yet
    for i in range(n):
        effects = flow.on_frame(frame(1 + 0.1 * i, decision(0.1)))
    assert flow.state == State.FALLBACK and flow.reason == "face.not_recognised"
    assert "NotifyCashier" in kinds(effects)
    view = flow.view(2)
    assert view.ways == (Way.FACE_AGAIN, Way.CARD, Way.VOUCHER, Way.CASHIER, Way.START)
    assert view.cashier_called and view.guidance == "fallback.staff_coming"
    assert flow.start_face(2.5) and flow.state == State.SEARCHING  # "try face again" works
    assert flow.session.face_tries == 0


def test_an_idle_face_greets_and_never_identifies(flow: CheckoutFlow):
    for t in range(10):
        assert flow.on_frame(frame(t * 0.5, decision(0.9))) == []
    assert flow.state == State.IDLE and flow.session is None
    assert flow.view(5).guidance == "idle.greet"
    flow.tick(4.5 + 2)
    assert flow.guidance == "idle.greet"
    flow.tick(4.5 + 3.5)  # nobody in view for a while: back to the welcome
    assert flow.guidance == "idle.welcome"


def test_every_state_times_out(flow: CheckoutFlow):
    cfg = FlowConfig()
    flow.start_face(0)
    flow.tick(cfg.searching_timeout_s + 0.01)
    assert flow.state == State.FALLBACK and flow.reason == "face.timeout"
    flow.tick(cfg.searching_timeout_s + cfg.fallback_display_s + 0.02)
    assert flow.state == State.IDLE
    flow.card_read(100, "C123")
    flow.tick(100 + cfg.settling_timeout_s + 1)
    assert flow.reason == "backend.unreachable"


def test_walk_away_drops_personal_data_within_ttl(flow: CheckoutFlow):
    cfg = FlowConfig()
    flow.start_face(0)
    flow.on_frame(frame(0.5, decision(0.9)))
    flow.on_lookup(1, "s0", PATIENT, quote())
    flow.on_frame(frame(5, face=None))  # nobody in front of the camera any more
    flow.tick(1 + cfg.personal_data_ttl_s - 0.1)
    assert flow.state == State.BILL_REVIEW
    effects = flow.tick(1 + cfg.personal_data_ttl_s + 0.1)
    assert flow.state == State.IDLE and flow.session is None
    assert effects[0].fields["reason"] == "session.abandoned"
    assert cfg.personal_data_ttl_s <= 30


def test_elderly_mode_gives_more_time(flow: CheckoutFlow):
    cfg = FlowConfig()
    flow.set_elderly(True)
    flow.start_face(0)
    flow.tick(cfg.searching_timeout_s + 1)
    assert flow.state == State.SEARCHING
    flow.tick(cfg.searching_timeout_s * cfg.elderly_time_factor + 1)
    assert flow.state == State.FALLBACK


def test_stale_backend_replies_are_ignored(flow: CheckoutFlow):
    flow.card_read(0, "C1")
    flow.cancel(1)
    flow.card_read(2, "C2")
    assert flow.on_lookup(3, "s0", PATIENT, quote()) == []  # the first patient's reply
    assert flow.state == State.LOOKING_UP
    flow.on_lookup(3, "s1", PATIENT, quote())
    assert flow.state == State.BILL_REVIEW


def test_card_and_voucher_paths_skip_the_face(flow: CheckoutFlow):
    (lookup,) = [e for e in flow.voucher_scanned(0, "CHSEV1-X-0000") if
                 isinstance(e, LookupPatient)]
    assert lookup.method == PaymentMethod.VOUCHER
    flow.on_lookup(1, "s0", PATIENT, quote())
    (settle,) = [e for e in flow.confirm(2) if isinstance(e, Settle)]
    assert settle.intent.method == PaymentMethod.VOUCHER


def test_business_refusals_go_to_the_cashier_with_reasons(flow: CheckoutFlow):
    flow.card_read(0, "C1")
    flow.on_lookup(1, "s0", PATIENT, quote(bills=()))
    assert flow.reason == "bill.none_pending"
    flow.tick(100)
    flow.card_read(200, "C1")
    flow.on_lookup(201, "s1", PATIENT, quote(self_pay=9_000, credit=5_000))
    assert flow.reason == "credit.limit_exceeded"
    flow.tick(300)
    flow.card_read(400, "C1")
    flow.on_lookup_failed(401, "s2", "credit.blacklisted")
    assert flow.reason == "credit.blacklisted"
    flow.tick(500)
    flow.card_read(600, "C1")
    flow.on_lookup(601, "s3", PATIENT, quote())
    flow.confirm(602)
    flow.on_settle_failed(603, "s3", "settlement.rejected")
    assert flow.state == State.FALLBACK and flow.view(603).patient is None


def test_settling_has_a_deadline_and_the_cashier_is_told(flow: CheckoutFlow):
    flow.card_read(0, "C1")
    flow.on_lookup(1, "s0", PATIENT, quote())
    flow.confirm(2)
    assert flow.view(3).seconds_left == 0  # money moving: no countdown on screen
    assert kinds(flow.call_cashier(3)) == ["NotifyCashier"]  # really calls, money stays
    assert flow.state == State.SETTLING and flow.view(3).cashier_called
    assert flow.call_cashier(3.5) == []  # called once
    effects = flow.tick(2 + FlowConfig().settling_timeout_s + 0.1)
    assert flow.reason == "settlement.unconfirmed" and "NotifyCashier" in kinds(effects)
    assert flow.view(30).ways == (Way.CASHIER, Way.START)  # no payment tile: do not pay again
    assert flow.card_read(30, "C1") == [] and flow.state == State.FALLBACK


def test_call_cashier_from_anywhere_and_camera_failure(flow: CheckoutFlow):
    flow.call_cashier(0)
    assert flow.state == State.FALLBACK and flow.reason == "patient.requested_cashier"
    flow.tick(100)
    flow.start_face(200)
    flow.camera_status(201, ok=False)
    assert flow.reason == "face.camera_failed" and not flow.view(201).face_available
    flow.tick(300)
    assert flow.start_face(301) == [] and flow.state == State.IDLE
    flow.card_read(302, "C9")
    assert flow.state == State.LOOKING_UP


class ScriptedLiveness:
    """Replays verdicts, as a real check would produce them over frames."""

    def __init__(self, verdicts):
        self.verdicts = list(verdicts)

    def feed(self, timestamp_s, detection, frame_bgr=None, template=None):
        return self.verdicts.pop(0)


def test_liveness_gates_identification():
    passed = [LivenessVerdict("pending", "liveness.turn_left"), LivenessVerdict("passed")]
    flow = CheckoutFlow(FlowConfig(), liveness_factory=lambda: ScriptedLiveness(passed),
                        new_id=lambda: "s")
    flow.start_face(0)
    flow.on_frame(frame(0.5, decision(0.9)))
    assert flow.state == State.LIVENESS and flow.view(0.5).guidance == "liveness.turn_left"
    assert not flow.view(0.5).liveness_off
    assert kinds(flow.on_frame(frame(1.0))) == ["LookupPatient"]
    failed = [LivenessVerdict("failed", reason="liveness.no_parallax")]
    flow = CheckoutFlow(FlowConfig(face_retries=0),
                        liveness_factory=lambda: ScriptedLiveness(failed))
    flow.start_face(0)
    flow.on_frame(frame(0.5, decision(0.9)))
    assert flow.state == State.FALLBACK and flow.reason == "liveness.no_parallax"


def test_a_failed_head_turn_gets_one_more_try():
    failed = [LivenessVerdict("failed", reason="liveness.no_parallax")]
    flow = CheckoutFlow(FlowConfig(), liveness_factory=lambda: ScriptedLiveness(list(failed)),
                        new_id=lambda: "s")
    flow.start_face(0)
    flow.on_frame(frame(0.5, decision(0.9)))
    assert flow.state == State.SEARCHING and flow.guidance == "liveness.try_again"
    flow.on_frame(frame(1.0, decision(0.9)))
    assert flow.state == State.FALLBACK and flow.reason == "liveness.no_parallax"


@pytest.mark.parametrize(("reason", "method", "ways"), [
    ("credit.limit_exceeded", PaymentMethod.FACE, (Way.CASHIER, Way.START)),
    ("credit.user_blacklisted", PaymentMethod.CARD, (Way.CASHIER, Way.START)),
    ("second_factor.locked", PaymentMethod.FACE, (Way.CASHIER, Way.START)),
    ("card.not_found", PaymentMethod.CARD, (Way.VOUCHER, Way.CASHIER, Way.START)),
    ("voucher.expired", PaymentMethod.VOUCHER, (Way.CARD, Way.CASHIER, Way.START)),
    ("consent.missing", PaymentMethod.FACE, (Way.CARD, Way.VOUCHER, Way.CASHIER, Way.START)),
    ("bill.none_pending", PaymentMethod.CARD, (Way.START,)),
    ("settlement.unconfirmed", PaymentMethod.CARD, (Way.CASHIER, Way.START)),
])
def test_every_fallback_has_ways_that_work(reason: str, method: PaymentMethod, ways: tuple):
    assert ways_forward(reason, face_available=True, method=method) == ways


def test_nothing_to_pay_is_information_and_calls_nobody(flow: CheckoutFlow):
    flow.card_read(0, "C1")
    effects = flow.on_lookup(1, "s0", PATIENT, None)
    assert kinds(effects) == [] and flow.state == State.FALLBACK
    view = flow.view(1)
    assert view.guidance == "fallback.notice" and not view.cashier_called
    assert kinds(flow.call_cashier(2)) == ["NotifyCashier"]  # asked for a person anyway
    assert flow.view(2).guidance == "fallback.staff_coming"


def test_receipt_is_printed_for_offline_queued_settlements(flow: CheckoutFlow):
    flow.card_read(0, "C1")
    flow.on_lookup(1, "s0", PATIENT, quote())
    flow.confirm(2)
    effects = flow.on_settled(3, "s0", SettlementResult(None, "queued", 3_000, {"pending": True}))
    assert next(e for e in effects if isinstance(e, PrintReceipt)).receipt == {"pending": True}
    assert flow.view(3).guidance == "done.queued"


def test_card_payment_of_a_large_amount_checks_that_patients_digits(flow: CheckoutFlow):
    flow.card_read(0, "C1")
    flow.on_lookup(1, "s0", PATIENT, quote(self_pay=80_000))
    assert flow.state == State.SECOND_FACTOR
    (check,) = flow.enter_digits(2, "5678")
    assert check.candidates == ("P001",)
