"""Example ``FlowView`` snapshots of every screen, and a port that only records commands.

For the screenshot gallery (docs/screenshots), layout checks at every supported size, and
designers reviewing wording without a camera or a backend. The figures add up like a real
quote (integer fen); the names are masked as the platform sends them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np

from kiosk.flow.family import FamilyMember
from kiosk.flow.machine import FlowView
from kiosk.flow.model import (
    LAYER_LABELS,
    BillLine,
    KioskPatient,
    KioskQuote,
    SettlementResult,
    State,
)
from kiosk.flow.owed import KioskOwedCharge, KioskRepayOrder, Statement
from kiosk.flow.ways import ways_forward
from kiosk.protocol.schemas import PaymentMethod

PATIENT = KioskPatient("P-DEMO-01", "张*三", "3301**********1234", "employee")
LINES = (
    BillLine("头孢克肟胶囊 0.1g×12", "drug", 3_650),
    BillLine("血常规（五分类）", "exam", 2_500),
    BillLine("胸部 CT 平扫", "exam", 28_000),
    BillLine("静脉输液（第一组）", "treatment", 4_800),
)
QUOTE = KioskQuote(
    quote_id="Q-DEMO-01", bill_ids=("B-DEMO-01",), lines=LINES, total_fen=38_950,
    layers=(("basic_pool", 27_265), ("critical_illness", 3_000), ("self_pay", 8_685)),
    self_pay_fen=8_685, credit_available_fen=492_000, bill_self_pay=(("B-DEMO-01", 8_685),))


def _receipt(settlement_id: str, pending: bool) -> dict[str, object]:
    """The sample patient's receipt in the printer's ``Receipt.to_dict`` form, as the runtime
    sends it with every result."""
    return {"hospital": "永康市第一人民医院", "kiosk_id": "K-01",
            "issued_at": "2024-06-01T09:30:00+08:00", "patient_name": PATIENT.name_masked,
            "lines": [{"item": line.description, "amount_fen": line.amount_fen}
                      for line in LINES],
            "shares": [{"layer": LAYER_LABELS[name], "amount_fen": fen}
                       for name, fen in QUOTE.layers if name != "self_pay"],
            "self_pay_fen": QUOTE.self_pay_fen, "method": "face",
            "settlement_id": settlement_id, "pending": pending, "extra": [],
            "receipt_nos": [] if pending else ["YK01-00000123"],
            "credit_fen": QUOTE.self_pay_fen,
            "credit_due_date": None if pending else "2024-07-01",
            "credit_outstanding_fen": None if pending else 24_685,
            "repay_hint": ["请在到期日前到人工收费窗口还款",
                           "Repay at the cashier counter by the due date"]}


RESULT = SettlementResult("ST20240601A1B2C3", "settled", 8_685,
                          _receipt("ST20240601A1B2C3", pending=False))
QUEUED = SettlementResult(None, "queued", 8_685, _receipt("s9f3a-77c1", pending=True))
STATEMENT = Statement(PATIENT, 24_685, (
    KioskOwedCharge("stl_demo_1", "YK01-00000098", 16_000, dt.date(2024, 5, 28), True),
    KioskOwedCharge("stl_demo_2", "YK01-00000123", 8_685, dt.date(2024, 7, 1), False)), True)
ORDER = KioskRepayOrder("rpo_demo", 24_685, "http://127.0.0.1:8700/pay/4b1Xq9vTzR0pLw2E",
                        "open", 176.0)
# 亲情付: the patient at the kiosk may pay for their mother and their father
MOTHER = KioskPatient("P-DEMO-02", "陈*", "3301**********5678", "resident")
FATHER = KioskPatient("P-DEMO-03", "王*明", "3301**********2468", "resident")
FAMILY = (FamilyMember(MOTHER, "child", 28_000), FamilyMember(FATHER, "child", 0))
MOTHER_OWES = Statement(MOTHER, 28_000, (
    KioskOwedCharge("stl_demo_3", "YK01-00000145", 28_000, dt.date(2024, 7, 3), False),), True)


def sample_views() -> dict[str, FlowView]:
    """One view per screen (and a few variants), keyed by a file-name-safe label."""
    face = {"method": PaymentMethod.FACE, "liveness_off": False}
    personal = {"patient": PATIENT, "quote": QUOTE, **face}
    return {
        "01-attract": FlowView(State.IDLE, "idle.welcome"),
        "02-scan-too-far": FlowView(State.SEARCHING, "quality.too_far", seconds_left=27,
                                    **face),
        "03-scan-hold-still": FlowView(State.SEARCHING, "searching.hold_still",
                                       seconds_left=24, method=PaymentMethod.FACE,
                                       liveness_off=True),
        "04-liveness-turn-left": FlowView(State.LIVENESS, "liveness.turn_left",
                                          seconds_left=25, **face),
        "05-keypad": FlowView(State.SECOND_FACTOR, "second_factor.wrong_digits",
                              attempts_left=2, seconds_left=40, **face),
        "06-looking-up": FlowView(State.LOOKING_UP, "lookup.please_wait", seconds_left=18,
                                  **face),
        "07-bill-review": FlowView(State.BILL_REVIEW, "review.check_and_confirm",
                                   seconds_left=55, **personal),
        "08-settling": FlowView(State.SETTLING, "settling.please_wait", seconds_left=19,
                                **personal),
        "09-result-paid": FlowView(State.DONE, "done.paid", result=RESULT, seconds_left=12,
                                   **personal),
        "10-result-queued": FlowView(State.DONE, "done.queued", result=QUEUED,
                                     seconds_left=12, **personal),
        "11-fallback-not-recognised": FlowView(
            State.FALLBACK, "fallback.staff_coming", reason="face.not_recognised",
            cashier_called=True,
            seconds_left=20, ways=ways_forward("face.not_recognised", face_available=True,
                                               method=PaymentMethod.FACE), **face),
        "12-error-credit": FlowView(
            State.FALLBACK, "fallback.staff_coming", reason="credit.limit_exceeded",
            cashier_called=True,
            seconds_left=20, method=PaymentMethod.CARD,
            ways=ways_forward("credit.limit_exceeded", face_available=True,
                              method=PaymentMethod.CARD)),
        "13-error-unreachable": FlowView(
            State.FALLBACK, "fallback.staff_coming", reason="backend.unreachable",
            cashier_called=True,
            seconds_left=20, method=PaymentMethod.VOUCHER,
            ways=ways_forward("backend.unreachable", face_available=True,
                              method=PaymentMethod.VOUCHER)),
        "14-attract-no-camera": FlowView(State.IDLE, "idle.welcome", face_available=False),
        "15-owed-identify": FlowView(State.OWED_IDENTIFY, "owed.identify", seconds_left=58),
        "16-owed-list": FlowView(State.OWED, "owed.list", patient=PATIENT,
                                 method=PaymentMethod.CARD, statement=STATEMENT,
                                 seconds_left=55),
        "17-owed-repay-timeout": FlowView(State.OWED, "owed.repay_timeout", patient=PATIENT,
                                          method=PaymentMethod.CARD, statement=STATEMENT,
                                          seconds_left=50),
        "18-repay-qr": FlowView(State.REPAY_QR, "repay.scan", patient=PATIENT,
                                method=PaymentMethod.CARD, statement=STATEMENT, repay_order=ORDER,
                                seconds_left=176),
        "19-repay-paid": FlowView(State.REPAID, "repay.paid", patient=PATIENT,
                                  method=PaymentMethod.CARD, statement=STATEMENT,
                                  repay_order=KioskRepayOrder(ORDER.order_id, 24_685,
                                                              ORDER.code_url, "paid", 0.0, 0),
                                  seconds_left=12),
        "20-owed-family-offer": FlowView(
            State.OWED, "owed.list", patient=PATIENT, method=PaymentMethod.CARD,
            statement=dataclasses.replace(STATEMENT, family=FAMILY), family=FAMILY,
            seconds_left=55),
        "21-family-list": FlowView(State.FAMILY, "family.choose", patient=PATIENT,
                                   method=PaymentMethod.CARD, statement=STATEMENT, family=FAMILY,
                                   seconds_left=55),
        "22-family-owed": FlowView(State.OWED, "family.owed", patient=MOTHER,
                                   method=PaymentMethod.CARD, statement=MOTHER_OWES,
                                   paying_for=MOTHER, seconds_left=55),
        "23-family-repay-qr": FlowView(
            State.REPAY_QR, "repay.scan", patient=MOTHER, method=PaymentMethod.CARD,
            statement=MOTHER_OWES, paying_for=MOTHER, seconds_left=176,
            repay_order=KioskRepayOrder("rpo_demo_2", 28_000, ORDER.code_url, "open", 176.0)),
        "24-family-withdrawn": FlowView(State.FAMILY, "family.withdrawn", patient=PATIENT,
                                        method=PaymentMethod.CARD, statement=STATEMENT,
                                        family=FAMILY[1:], seconds_left=55),
    }


class RecordingPort:
    """A ``KioskPort`` that records the commands it gets and feeds what it is told to.

    ``emit(view)`` / ``emit_frame(image, face)`` call the subscribed listeners like the
    runtime's threads would (call them from another thread to exercise the bridge)."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, Any]] = []
        self._views: list[Callable[[FlowView], None]] = []
        self._frames: list[Callable[[np.ndarray, Any], None]] = []

    def start_face(self) -> None:
        self.commands.append(("start_face", None))

    def confirm(self) -> None:
        self.commands.append(("confirm", None))

    def cancel(self) -> None:
        self.commands.append(("cancel", None))

    def start_owed(self) -> None:
        self.commands.append(("start_owed", None))

    def owed_face(self) -> None:
        self.commands.append(("owed_face", None))

    def repay(self, settlement_id: str | None = None) -> None:
        self.commands.append(("repay", settlement_id))

    def pay_for_family(self) -> None:
        self.commands.append(("pay_for_family", None))

    def choose_dependant(self, patient_id: str) -> None:
        self.commands.append(("choose_dependant", patient_id))

    def family_back(self) -> None:
        self.commands.append(("family_back", None))

    def call_cashier(self) -> None:
        self.commands.append(("call_cashier", None))

    def enter_digits(self, digits: str) -> None:
        self.commands.append(("enter_digits", digits))

    def card_read(self, card_no: str) -> None:
        self.commands.append(("card_read", card_no))

    def voucher_scanned(self, payload: str) -> None:
        self.commands.append(("voucher_scanned", payload))

    def set_elderly(self, on: bool) -> None:
        self.commands.append(("set_elderly", on))

    def replay_prompt(self) -> None:
        self.commands.append(("replay_prompt", None))

    def set_language(self, lang: str) -> None:
        self.commands.append(("set_language", lang))

    def subscribe(self, listener: Callable[[FlowView], None]) -> None:
        self._views.append(listener)

    def subscribe_preview(self, listener: Callable[[np.ndarray, Any], None]) -> None:
        self._frames.append(listener)

    def emit(self, view: FlowView) -> None:
        for listener in self._views:
            listener(view)

    def emit_frame(self, image: np.ndarray, face: Any) -> None:
        for listener in self._frames:
            listener(image, face)
