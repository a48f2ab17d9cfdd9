"""我的欠款 and repayment at the kiosk, in the flow alone: no camera, no Qt, no network."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from kiosk.config import FlowConfig
from kiosk.flow.effects import (
    Audit,
    CloseRepayOrder,
    LookupCredit,
    LookupPatient,
    NotifyCashier,
    OpenRepayOrder,
    PollRepayOrder,
)
from kiosk.flow.machine import CheckoutFlow
from kiosk.flow.model import State
from kiosk.flow.owed import POLL_S, KioskOwedCharge, KioskRepayOrder, Statement
from kiosk.flow.ways import Way
from kiosk.protocol.schemas import PaymentMethod
from tests.kiosk.flow.test_machine import PATIENT, decision, frame

CFG = FlowConfig()
IDENTITY = object()  # what the backend's identification returned: handed back untouched
CHARGES = (KioskOwedCharge("stl_1", "YK01-00000001", 12_000, dt.date(2027, 1, 2), False),
           KioskOwedCharge("stl_2", "YK01-00000002", 3_450, dt.date(2027, 1, 9), False))


def statement(charges: tuple[KioskOwedCharge, ...] = CHARGES, can_repay: bool = True) -> Statement:
    return Statement(PATIENT, sum(c.owed_fen for c in charges), charges, can_repay, IDENTITY)


def order(state: str = "open", amount: int = 15_450, ttl: float = 180.0) -> KioskRepayOrder:
    return KioskRepayOrder("rpo_1", amount, "http://pay.example/pay/x", state, ttl,
                           0 if state == "paid" else None)


@pytest.fixture
def flow() -> CheckoutFlow:
    ids = (f"s{i}" for i in itertools.count())
    return CheckoutFlow(CFG, new_id=lambda: next(ids))


def owed_by_card(flow: CheckoutFlow, at: float = 0.0) -> None:
    flow.start_owed(at)
    assert flow.state == State.OWED_IDENTIFY
    effects = flow.card_read(at + 1, "YB33078400001003")
    assert [e for e in effects if isinstance(e, LookupCredit)] == [
        LookupCredit("s1", PaymentMethod.CARD, "YB33078400001003")]
    flow.on_statement(at + 2, "s1", statement())
    assert flow.state == State.OWED


def showing_qr(flow: CheckoutFlow, at: float = 3.0) -> OpenRepayOrder:
    owed_by_card(flow)
    (opened,) = [e for e in flow.repay(at) if isinstance(e, OpenRepayOrder)]
    flow.on_repay_opened(at + 0.5, "s1", order())
    assert flow.view(at + 0.5).guidance == "repay.scan"
    return opened


def test_the_statement_shows_charges_and_due_dates_nothing_more(flow: CheckoutFlow):
    owed_by_card(flow)
    view = flow.view(2.0)
    assert view.guidance == "owed.list" and view.statement is not None
    assert [(c.owed_fen, c.due_date) for c in view.statement.charges] == [
        (12_000, dt.date(2027, 1, 2)), (3_450, dt.date(2027, 1, 9))]
    assert view.patient.name_masked == "张*三" and view.quote is None  # no bill, no items


def test_by_face_the_identification_is_for_the_statement(flow: CheckoutFlow):
    flow.start_owed(0.0)
    flow.owed_face(0.5)
    assert flow.state == State.SEARCHING
    effects = flow.on_frame(frame(1.0, decision(0.8, 0.2)))
    assert [e for e in effects if isinstance(e, (LookupCredit, LookupPatient))] == [
        LookupCredit(flow.session.id, PaymentMethod.FACE, "P001")]


def test_nothing_owed_is_said_so(flow: CheckoutFlow):
    flow.start_owed(0.0)
    flow.voucher_scanned(1.0, "CHSEV1-X")
    flow.on_statement(2.0, flow.session.id, statement(()))
    assert (flow.state, flow.guidance) == (State.OWED, "owed.none")
    assert flow.repay(3.0) == []  # nothing to pay


def test_the_idle_timeout_clears_the_statement(flow: CheckoutFlow):
    owed_by_card(flow)
    assert flow.tick(2.0 + CFG.personal_data_ttl_s - 1) == []
    flow.tick(2.0 + CFG.personal_data_ttl_s + 0.1)
    assert flow.state == State.IDLE and flow.session is None
    assert flow.view(40).statement is None and flow.view(40).patient is None


def test_repay_everything_through_the_qr(flow: CheckoutFlow):
    opened = showing_qr(flow)
    assert (opened.amount_fen, opened.settlement_id, opened.patient_id) == (15_450, None, "P001")
    assert opened.identity is IDENTITY  # the identification travels with the repayment
    assert flow.view(3.5).repay_order.code_url.startswith("http://pay.example")
    # no touch while the patient pays on their phone: the QR stays (money may move)
    assert flow.tick(3.5 + CFG.personal_data_ttl_s + 5) == [PollRepayOrder("s1", "rpo_1")]
    assert flow.state == State.REPAY_QR
    assert flow.tick(40.0) == []  # one poll at a time
    flow.on_repay_state(40.1, "s1", order())
    assert flow.tick(40.2) == [] and flow.tick(40.1 + POLL_S) == [PollRepayOrder("s1", "rpo_1")]
    flow.on_repay_state(43.0, "s1", order("paid"))
    assert (flow.state, flow.guidance) == (State.REPAID, "repay.paid")
    assert flow.view(43.0).repay_order.outstanding_fen == 0
    flow.tick(43.0 + CFG.result_display_s + 0.1)
    assert flow.state == State.IDLE and flow.session is None


def test_one_charge_can_be_chosen(flow: CheckoutFlow):
    owed_by_card(flow)
    (opened,) = [e for e in flow.repay(3.0, "stl_2") if isinstance(e, OpenRepayOrder)]
    assert (opened.amount_fen, opened.settlement_id) == (3_450, "stl_2")
    assert flow.repay(3.1, "stl_9") == []


def test_a_failed_payment_goes_back_to_the_statement(flow: CheckoutFlow):
    showing_qr(flow)
    flow.on_repay_state(10.0, "s1", order("failed"))
    assert (flow.state, flow.guidance) == (State.OWED, "owed.repay_failed")
    assert [e for e in flow.repay(11.0) if isinstance(e, OpenRepayOrder)]  # try again


def test_the_qr_runs_out_then_is_closed_first(flow: CheckoutFlow):
    showing_qr(flow)
    effects = flow.tick(3.5 + 180 + 5.1)
    assert effects == [CloseRepayOrder("s1", "rpo_1")] and flow.state == State.REPAY_CLOSING
    assert flow.view(189.0).seconds_left == 0.0  # no countdown while it closes
    flow.on_repay_state(189.5, "s1", order("closed"))
    assert (flow.state, flow.guidance) == (State.OWED, "owed.repay_timeout")


def test_leaving_the_qr_closes_it_and_a_payment_made_meanwhile_counts(flow: CheckoutFlow):
    showing_qr(flow)
    assert flow.cancel(10.0) == [CloseRepayOrder("s1", "rpo_1")]
    assert flow.cancel(10.1) == []  # closing: no second close, no reset
    flow.on_repay_state(10.5, "s1", order("paid"))
    assert flow.state == State.REPAID


def test_a_close_that_fails_hands_over_to_staff(flow: CheckoutFlow):
    showing_qr(flow)
    flow.cancel(10.0)
    effects = flow.on_repay_close_failed(11.0, "s1", "backend.unreachable")
    assert flow.state == State.FALLBACK and flow.reason == "repay.unconfirmed"
    assert any(isinstance(e, NotifyCashier) for e in effects)
    assert flow.ways() == (Way.CASHIER, Way.START)  # money may have moved: not pay again


def test_no_qr_when_the_provider_is_unavailable(flow: CheckoutFlow):
    owed_by_card(flow)
    flow.repay(3.0)
    flow.on_repay_open_failed(4.0, "s1", "payment.unavailable")
    assert (flow.state, flow.guidance) == (State.OWED, "owed.repay_unavailable")


def test_staff_can_be_called_while_the_qr_shows(flow: CheckoutFlow):
    showing_qr(flow)
    effects = flow.call_cashier(5.0)
    assert [type(e) for e in effects if not isinstance(e, Audit)] == [NotifyCashier]
    assert flow.state == State.REPAY_QR and flow.cashier_called  # the QR stays


def test_a_statement_for_another_session_is_ignored(flow: CheckoutFlow):
    flow.start_owed(0.0)
    flow.card_read(1.0, "YB1")
    assert flow.on_statement(2.0, "s0", statement()) == []
    assert flow.state == State.LOOKING_UP


def test_after_the_statement_the_start_screen_checks_out_again(flow: CheckoutFlow):
    owed_by_card(flow)
    flow.cancel(5.0)
    assert flow.state == State.IDLE
    effects = flow.card_read(6.0, "YB1")
    assert [type(e) for e in effects if not isinstance(e, Audit)] == [LookupPatient]
