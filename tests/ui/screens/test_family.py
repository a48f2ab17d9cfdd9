"""为家人还款 (亲情付) at the kiosk on screen: the buttons send what they say, the list shows
each patient's masked name, relation and debt, and whose debt is paid is said on the
statement and the QR; end to end, a real kiosk runtime against the real platform and the
simulated payment provider: a son identifies with his own card, finds the mother who
authorised him, repays her debt through the QR decoded from the screen, and the platform
records him as the payer; a withdrawal made at the counter meanwhile is a notice and nothing
is paid; the idle timeout leaves nothing of hers on screen."""

from __future__ import annotations

import dataclasses
import datetime as dt

from kiosk.config import FlowConfig
from kiosk.counter.family import CONSENT_VERSION
from kiosk.flow.model import State
from kiosk.i18n import tr, yuan
from kiosk.protocol.schemas import AuthoriseRelativeRequest, Consent, Relation
from tests.ui.cashier.test_family import paid_by_in_audit
from tests.ui.helpers import personal_left
from tests.ui.screens.test_owed import (  # noqa: F401 (paysim, platform: fixtures)
    WAIT_MS,
    in_debt,
    own_statement,
    pay_the_qr,
    paysim,
    platform,
)
from tests.ui.screens.test_result import card_patient
from ui.preview_views import FAMILY, MOTHER, RecordingPort, sample_views
from ui.screens.family import member_text

# a relative is a patient of this site like any other (a kiosk finds nobody else): he has a
# bill still to pay, and owes nothing on credit
SON_BILL = ["drug:维生素C片:1:800"]


def authorise(counter, patient_id: str, relative_id: str) -> None:
    """The patient's consent, given at the counter, that the relative may pay for them."""
    counter.authorise_relative(patient_id, AuthoriseRelativeRequest(
        relative_id=relative_id, relation=Relation.CHILD, consent=Consent(
            text_version=CONSENT_VERSION, consented_at=dt.datetime.now(dt.UTC))))


# ------------------------------------------------------------------- the widgets alone

def test_the_own_statement_offers_family_pay_with_the_count(make_window):
    port = RecordingPort()
    window = make_window(port)
    window.render(sample_views()["16-owed-list"])
    screen = window.screens["owed"]
    assert not screen.family.isVisible()  # nobody authorised this patient's relatives
    window.render(sample_views()["20-owed-family-offer"])
    assert screen.family.isVisible()
    assert screen.family.text() == tr("family.pay_for", "zh", n=2)
    screen.family.click()
    screen.finish.click()
    assert port.commands[-2:] == [("pay_for_family", None), ("cancel", None)]


def test_the_list_shows_name_relation_and_debt_and_chooses(make_window):
    port = RecordingPort()
    window = make_window(port)
    window.render(sample_views()["21-family-list"])
    assert window.current == "family"
    screen = window.screens["family"]
    mother, father = (label.text() for _, label, _ in screen.rows[:2])
    assert mother == "陈*　您是其子女　欠款 ¥280.00" == member_text(FAMILY[0], "zh")
    assert "王*明" in father and "没有欠款" in father
    assert screen.rows[0][2].isVisible() and not screen.rows[1][2].isVisible()
    screen.rows[0][2].click()
    screen.back.click()
    screen.finish.click()
    assert port.commands[-3:] == [("choose_dependant", MOTHER.patient_id),
                                  ("family_back", None), ("cancel", None)]
    window.set_language("en")
    assert screen.rows[0][1].text() == "陈* · you are their child · owes ¥280.00"


def test_whose_debt_is_said_on_the_statement_and_the_qr(make_window, qtbot):
    port = RecordingPort()
    window = make_window(port)
    window.render(sample_views()["22-family-owed"])
    owed = window.screens["owed"]
    assert owed.title.text() == "为 陈* 还款"
    assert not owed.family.isVisible()
    assert owed.finish.text() == tr("family.back", "zh")
    owed.finish.click()  # back to the list, not the end of the visit
    assert port.commands[-1] == ("family_back", None)
    window.render(sample_views()["23-family-repay-qr"])
    qtbot.waitUntil(lambda: window.current == "repay")
    repay = window.screens["repay"]
    assert repay.payee.isVisible() and repay.payee.text() == "为 陈* 还款"
    window.render(sample_views()["18-repay-qr"])  # one's own debt: no payee line
    assert not repay.payee.isVisible()


def test_a_withdrawal_is_said_in_amber(make_window):
    window = make_window(RecordingPort())
    window.render(sample_views()["21-family-list"])
    window.render(sample_views()["24-family-withdrawn"])  # the mother has left the list
    screen = window.screens["family"]
    assert screen.guidance.text() == tr("family.withdrawn", "zh")
    assert screen.guidance.property("tone") == "warn"
    assert [row.isVisible() for row, _, _ in screen.rows] == [True, False]
    assert "王*明" in screen.rows[0][1].text()


def test_leaving_clears_the_family(make_window):
    window = make_window(RecordingPort())
    window.render(sample_views()["21-family-list"])
    window.render(sample_views()["01-attract"])
    assert personal_left(window, ("陈*", "王*明", "¥280.00")) == []
    assert all(label.text() == "" for _, label, _ in window.screens["family"].rows)


# --------------------------------------------------------------------------- end to end

def test_a_son_repays_his_mothers_debt_at_the_kiosk(platform, paysim, make_runtime,  # noqa: F811
                                                    make_window, counter, qtbot):
    runtime = make_runtime()
    window = make_window(runtime)
    mother, _ = in_debt(platform, runtime, window, qtbot, "陈桂英", "exam:胸部 CT 平扫:1:28000")
    son, son_card, _ = card_patient(platform, [SON_BILL], name="王建国")
    owed = counter.pending_bills(mother).credit.outstanding_fen
    assert owed > 0
    authorise(counter, mother, son)

    own_statement(runtime, window, qtbot, son_card)
    screen = window.screens["owed"]
    assert screen.title.text() == tr("owed.title", "zh", name="王*国")
    assert screen.guidance.text() == tr("owed.none", "zh")  # he owes nothing himself
    assert screen.family.isVisible() and screen.family.text() == tr("family.pay_for", "zh", n=1)
    screen.family.click()
    qtbot.waitUntil(lambda: window.current == "family", timeout=WAIT_MS)
    family = window.screens["family"]
    assert family.rows[0][1].text() == f"陈*英　您是其子女　欠款 {yuan(owed)}"
    family.rows[0][2].click()
    qtbot.waitUntil(lambda: window.view.state == State.OWED
                    and window.view.paying_for is not None, timeout=WAIT_MS)
    assert screen.title.text() == "为 陈*英 还款"
    assert screen.total.text() == tr("owed.total", "zh", amount=yuan(owed))

    screen.repay_all.click()
    qtbot.waitUntil(lambda: window.current == "repay" and window.screens["repay"]
                    .qr.isVisible(), timeout=WAIT_MS)
    assert window.screens["repay"].payee.text() == "为 陈*英 还款"
    pay_the_qr(window, qtbot, paysim, owed)
    assert counter.pending_bills(mother).credit.outstanding_fen == 0
    assert paid_by_in_audit(platform, "credit.repaid")[-1] == son


def test_withdrawn_meanwhile_is_a_notice_and_nothing_is_paid(platform, make_runtime,  # noqa: F811
                                                             make_window, counter, qtbot):
    runtime = make_runtime()
    window = make_window(runtime)
    mother, _ = in_debt(platform, runtime, window, qtbot, "赵秀兰", "drug:头孢克肟胶囊:1:3650")
    son, son_card, _ = card_patient(platform, [SON_BILL], name="赵明")
    authorise(counter, mother, son)
    owed = counter.pending_bills(mother).credit.outstanding_fen
    own_statement(runtime, window, qtbot, son_card)
    runtime.pay_for_family()
    qtbot.waitUntil(lambda: window.current == "family", timeout=WAIT_MS)
    counter.withdraw_relative(mother, son)  # at the counter, while he stands here
    window.screens["family"].rows[0][2].click()
    qtbot.waitUntil(lambda: window.view.guidance == "family.withdrawn", timeout=WAIT_MS)
    assert window.current == "owed"  # his own statement: she was the only one
    screen = window.screens["owed"]
    assert screen.guidance.text() == tr("family.withdrawn", "zh")
    assert screen.guidance.property("tone") == "warn"
    assert not screen.family.isVisible()
    assert personal_left(window, ("赵*兰",)) == []
    assert counter.pending_bills(mother).credit.outstanding_fen == owed


def test_the_idle_timeout_leaves_nothing_of_the_family(platform, make_runtime,  # noqa: F811
                                                       make_window, counter, qtbot):
    runtime = make_runtime(dataclasses.replace(FlowConfig(), personal_data_ttl_s=2.0))
    window = make_window(runtime)
    mother, _ = in_debt(platform, runtime, window, qtbot, "孙玉芬", "exam:血常规:1:2500")
    son, son_card, _ = card_patient(platform, [SON_BILL], name="孙强")
    authorise(counter, mother, son)
    own_statement(runtime, window, qtbot, son_card)
    runtime.pay_for_family()
    qtbot.waitUntil(lambda: window.current == "family", timeout=WAIT_MS)
    assert personal_left(window, ("孙*芬",))
    qtbot.waitUntil(lambda: window.current == "attract", timeout=WAIT_MS)
    assert personal_left(window, ("孙*芬", "孙*", yuan(2500))) == []
    assert all(label.text() == "" for _, label, _ in window.screens["family"].rows)
