"""亲情付 at the kiosk, in the flow alone: a relative identified in 我的欠款 lists the patients
who authorised them, reads one's statement and repays it by QR with that patient's token; a
withdrawal meanwhile is a notice and a way on; nothing personal outlives the session."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

import pytest

from common.errors import ErrorCode
from kiosk.config import FlowConfig
from kiosk.flow.effects import Audit, LookupFamilyCredit, OpenRepayOrder
from kiosk.flow.family import FamilyMember
from kiosk.flow.machine import CheckoutFlow
from kiosk.flow.model import KioskPatient, State
from kiosk.flow.owed import KioskOwedCharge, KioskRepayOrder, Statement
from kiosk.voice import prompt_for, prompt_keys
from tests.kiosk.flow.test_machine import frame
from tests.kiosk.flow.test_owed import order, statement

CFG = FlowConfig()
MOTHER = KioskPatient("P0M", "陈*", "3301**********4321", "resident")
FATHER = KioskPatient("P0F", "王*", "3301**********8765", "resident")
MOTHER_TOKEN, FATHER_TOKEN = object(), object()  # the tokens issued via the relative
FAMILY = (FamilyMember(MOTHER, "child", 28_000, MOTHER_TOKEN),
          FamilyMember(FATHER, "child", 0, FATHER_TOKEN))
MOTHER_OWES = Statement(MOTHER, 28_000, (
    KioskOwedCharge("stl_m", "YK01-00000077", 28_000, dt.date(2027, 1, 5), False),), True,
    MOTHER_TOKEN)


@pytest.fixture
def flow() -> CheckoutFlow:
    ids = (f"s{i}" for i in itertools.count())
    return CheckoutFlow(CFG, new_id=lambda: next(ids))


def own_statement(flow: CheckoutFlow, family: tuple[FamilyMember, ...] = FAMILY,
                  charges: tuple[KioskOwedCharge, ...] | None = None) -> None:
    flow.start_owed(0.0)
    flow.card_read(1.0, "YB33078400001003")
    own = statement() if charges is None else statement(charges)
    flow.on_statement(2.0, "s1", dataclasses.replace(own, family=family))
    assert flow.state == State.OWED


def mothers_statement(flow: CheckoutFlow) -> None:
    own_statement(flow)
    flow.pay_for_family(3.0)
    effects = flow.choose_dependant(4.0, "P0M")
    assert [e for e in effects if not isinstance(e, Audit)] == [
        LookupFamilyCredit("s1", MOTHER_TOKEN)]
    assert flow.state == State.LOOKING_UP
    flow.on_family_statement(5.0, "s1", MOTHER_OWES)


def test_the_own_statement_offers_family_pay_only_when_someone_authorised(flow):
    own_statement(flow)
    assert flow.view(2.0).family == FAMILY and flow.view(2.0).paying_for is None
    fresh = CheckoutFlow(CFG, new_id=iter(f"s{i}" for i in itertools.count()).__next__)
    own_statement(fresh, family=())
    assert fresh.view(2.0).family == ()
    assert fresh.pay_for_family(3.0) == [] and fresh.state == State.OWED


def test_the_list_shows_each_dependant_and_what_they_owe(flow):
    own_statement(flow, charges=())  # the relative owes nothing themselves
    assert flow.guidance == "owed.none"
    flow.pay_for_family(3.0)
    view = flow.view(3.0)
    assert (view.state, view.guidance) == (State.FAMILY, "family.choose")
    assert [(m.patient.name_masked, m.relation, m.outstanding_fen) for m in view.family] == [
        ("陈*", "child", 28_000), ("王*", "child", 0)]
    assert flow.choose_dependant(3.5, "P0X") == []  # not on the list: nothing is read


def test_the_dependants_statement_says_whose_debt_it_is(flow):
    mothers_statement(flow)
    view = flow.view(5.0)
    assert (view.state, view.guidance) == (State.OWED, "family.owed")
    assert view.statement == MOTHER_OWES and view.paying_for == MOTHER
    assert view.patient == MOTHER and view.family == ()  # no family pay of family pay
    assert flow.pay_for_family(5.5) == []


def test_repaying_a_dependant_carries_their_token(flow):
    mothers_statement(flow)
    (opened,) = [e for e in flow.repay(6.0) if isinstance(e, OpenRepayOrder)]
    assert (opened.patient_id, opened.amount_fen) == ("P0M", 28_000)
    assert opened.identity is MOTHER_TOKEN  # the platform records the relative as payer
    flow.on_repay_opened(6.5, "s1", order(amount=28_000))
    assert flow.view(6.5).paying_for == MOTHER  # the QR screen says for whom
    flow.on_repay_state(20.0, "s1", KioskRepayOrder("rpo_1", 28_000, "http://pay.example/pay/x",
                                                    "paid", 0.0, 0))
    assert flow.state == State.REPAID and flow.view(20.0).paying_for == MOTHER


def test_back_goes_to_the_list_then_to_ones_own_statement(flow):
    mothers_statement(flow)
    flow.family_back(6.0)
    view = flow.view(6.0)
    assert view.state == State.FAMILY and view.paying_for is None and view.family == FAMILY
    assert view.statement.patient.name_masked == "张*三"  # the mother's debts are gone
    flow.family_back(7.0)
    view = flow.view(7.0)
    assert (view.state, view.guidance) == (State.OWED, "owed.list")
    assert view.statement.patient.name_masked == "张*三" and view.family == FAMILY


def test_withdrawn_meanwhile_on_reading_leaves_the_list_with_a_notice(flow):
    own_statement(flow)
    flow.pay_for_family(3.0)
    flow.choose_dependant(4.0, "P0M")
    effects = flow.on_family_failed(5.0, "s1", ErrorCode.FAMILY_NOT_AUTHORISED)
    assert [e.event for e in effects] == ["family.not_authorised"]
    view = flow.view(5.0)
    assert (view.state, view.guidance) == (State.FAMILY, "family.withdrawn")
    assert [m.patient for m in view.family] == [FATHER]  # the father can still be paid for


def test_withdrawn_when_opening_the_qr_the_last_one_back_to_ones_own(flow):
    own_statement(flow, family=FAMILY[:1])
    flow.pay_for_family(3.0)
    flow.choose_dependant(4.0, "P0M")
    flow.on_family_statement(5.0, "s1", MOTHER_OWES)
    flow.repay(6.0)
    flow.on_repay_open_failed(7.0, "s1", ErrorCode.FAMILY_NOT_AUTHORISED)
    view = flow.view(7.0)
    assert (view.state, view.guidance) == (State.OWED, "family.withdrawn")
    assert view.paying_for is None and view.statement.patient.name_masked == "张*三"
    assert view.family == () and view.repay_order is None
    assert flow.pay_for_family(8.0) == []


def test_other_failures_reading_a_dependant_go_to_the_fallback(flow):
    own_statement(flow)
    flow.pay_for_family(3.0)
    flow.choose_dependant(4.0, "P0M")
    flow.on_family_failed(5.0, "s1", "backend.unreachable")
    assert flow.state == State.FALLBACK and flow.reason == "backend.unreachable"
    assert flow.view(5.0).statement is None and flow.view(5.0).paying_for is None


def test_the_idle_timeout_forgets_the_family(flow):
    mothers_statement(flow)
    flow.tick(5.0 + CFG.personal_data_ttl_s + 0.1)
    assert flow.state == State.IDLE and flow.session is None
    view = flow.view(100.0)
    assert view.family == () and view.paying_for is None and view.statement is None


def test_the_list_times_out_like_the_statement(flow):
    own_statement(flow)
    flow.pay_for_family(3.0)
    for t in range(10, int(CFG.review_timeout_s) + 4, 10):  # someone stands there all along
        assert flow.on_frame(frame(float(t))) == [] and flow.tick(float(t)) == []
    assert flow.state == State.FAMILY
    (reset,) = flow.tick(3.0 + CFG.review_timeout_s + 0.1)
    assert reset.fields["reason"] == "review.timeout"
    assert flow.state == State.IDLE and flow.session is None


def test_a_late_answer_for_a_dependant_is_ignored(flow):
    own_statement(flow)
    flow.pay_for_family(3.0)
    flow.choose_dependant(4.0, "P0M")
    flow.cancel(4.5)
    assert flow.on_family_statement(5.0, "s1", MOTHER_OWES) == []
    assert flow.state == State.IDLE


def test_the_voice_offers_family_pay_on_ones_own_statement_only(flow):
    own_statement(flow)
    assert [key for key, _ in prompt_keys(flow.view(2.0))] == [
        "owed.list", "owed.total", "family.offer"]
    assert prompt_for(flow.view(2.0), "zh").text.endswith("为授权您的家人还款。")
    flow.pay_for_family(3.0)
    assert [key for key, _ in prompt_keys(flow.view(3.0))] == ["family.choose"]
    flow.choose_dependant(4.0, "P0M")
    flow.on_family_statement(5.0, "s1", MOTHER_OWES)
    assert [key for key, _ in prompt_keys(flow.view(5.0))] == ["family.owed", "owed.total"]
