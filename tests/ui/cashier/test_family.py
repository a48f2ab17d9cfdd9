"""The console's 亲情付 tab (offscreen) over the real platform through a counter's signed
client: the elder at the desk authorises her son after the consent is shown and confirmed;
with the son at the desk his mother is listed, he repays part of her debt and settles her
bill (the charge naming him); a withdrawal made meanwhile at another counter refuses his
next charge in staff words, changing nothing; her withdrawal is listed; locking leaves
nothing personal on the tab."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.client import PlatformClient
from kiosk.counter.family import CONSENT_VERSION
from kiosk.counter.pin import PinGate, hash_pin
from kiosk.counter.platform_service import PlatformCashierService
from kiosk.counter.service import LookupBy
from kiosk.demo.local_platform import LocalPlatform
from kiosk.i18n import label, tr, yuan
from kiosk.protocol.schemas import AuthoriseRelativeRequest, Consent, Relation
from kiosk.provisioning import connect
from kiosk.settlement.outbox import Outbox
from tests.kiosk.counter.test_family import other_site_debtor
from tests.server.live import audit_details
from tests.ui.helpers import P1001, P1005, personal_left
from ui.cashier.console import FAMILY, LOOKUP, CashierConsole
from ui.cashier.widgets import ConfirmDialog
from ui.cashier.words import patient_line, say, staff_error

PIN = "246810"
WAIT_MS = 10_000
MOTHER, SON = P1005, P1001


@pytest.fixture(scope="module")
def desk(platform: LocalPlatform) -> PlatformClient:
    return connect(platform.device("counter", "family-counter"))


@pytest.fixture(scope="module")
def other_desk(platform: LocalPlatform) -> PlatformClient:
    """Another counter of the site, where the mother withdraws meanwhile."""
    return connect(platform.device("counter", "family-counter-2"))


@pytest.fixture
def console(qtbot, desk: PlatformClient, tmp_path: Path) -> Iterator[CashierConsole]:
    service = PlatformCashierService(desk, Outbox(tmp_path / "counter-outbox.db"))
    day = dt.date.fromisoformat(desk.settlements_today().date)
    widget = CashierConsole(service, PinGate(hash_pin(PIN)), today=lambda: day)
    qtbot.addWidget(widget)
    widget.resize(1280, 1024)
    widget.show()
    widget.pin.setText(PIN)
    widget.unlock_button.click()
    assert widget.unlocked
    yield widget
    widget.lock()


def dialog_of(console: CashierConsole, qtbot) -> ConfirmDialog:
    qtbot.waitUntil(lambda: console.dialog is not None and console.dialog.isVisible(),
                    timeout=WAIT_MS)
    assert console.dialog is not None
    return console.dialog


def look_up(console: CashierConsole, qtbot, by: LookupBy, key: str, name: str) -> None:
    console.tabs.setCurrentIndex(LOOKUP)
    console.lookup.lookup_by.setCurrentIndex(list(LookupBy).index(by))
    console.lookup.key.setText(key)
    console.lookup.lookup_button.click()
    qtbot.waitUntil(lambda: name in console.lookup.patient.text(), timeout=WAIT_MS)


def find_relative(console: CashierConsole, qtbot, by: LookupBy, key: str) -> None:
    family = console.family
    family.find_by.setCurrentIndex(list(LookupBy).index(by))
    family.find_key.setText(key)
    family.find_button.click()
    qtbot.waitUntil(lambda: not console.worker.busy("family_find"), timeout=WAIT_MS)


def texts(table) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())]


def paid_by_in_audit(platform: LocalPlatform, action: str) -> list[str | None]:
    return [d.get("paid_by") for d in audit_details(platform.config, action)]


def test_family_pay_at_the_counter(console: CashierConsole, desk: PlatformClient,
                                   other_desk: PlatformClient, platform: LocalPlatform, qtbot):
    family = console.family
    console.tabs.setCurrentIndex(FAMILY)
    assert family.at_desk.text() == say("family.need_patient")

    # the mother at the desk: nobody authorised yet; she reads the consent and agrees
    look_up(console, qtbot, LookupBy.CARD, MOTHER.card_no, MOTHER.name_masked)
    console.tabs.setCurrentIndex(FAMILY)
    assert MOTHER.name_masked in family.at_desk.text()
    assert CONSENT_VERSION in family.consent_title.text()
    assert family.consent_text.toPlainText() == tr("family.consent_text")
    find_relative(console, qtbot, LookupBy.PATIENT, MOTHER.patient_id)  # herself: refused
    assert console.banner.tone == "bad"
    assert staff_error("family.self") in console.banner.text() and family.found is None
    find_relative(console, qtbot, LookupBy.CARD, SON.card_no)
    qtbot.waitUntil(lambda: SON.name_masked in family.found_text.text(), timeout=WAIT_MS)
    assert family.find_key.text() == ""  # the card number does not linger
    family.relation.setCurrentIndex(family.relation.findData("child"))
    family.authorise_button.click()
    assert console.dialog is None and console.banner.text() == say("family.need_ack")
    family.ack.setChecked(True)
    family.authorise_button.click()
    dialog = dialog_of(console, qtbot)
    for part in (MOTHER.name_masked, SON.name_masked, label("relation", "child"),
                 CONSENT_VERSION):
        assert part in dialog.text.text()
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: family.relatives.rowCount() == 1, timeout=WAIT_MS)
    assert console.banner.tone == "good"
    [row] = texts(family.relatives)
    assert SON.name_masked in row[0] and row[1] == label("relation", "child")
    assert row[2] == CONSENT_VERSION and row[4] == say("family.state_standing")
    assert not family.ack.isChecked() and family.found is None  # the next one starts anew
    assert family.dependants.rowCount() == 0
    assert family.no_dependants.text() == say("family.no_dependants")

    # the son at the desk: his mother is listed; he settles her bill (in the look-up tab,
    # the charge naming him), on her credit
    look_up(console, qtbot, LookupBy.CARD, SON.card_no, SON.name_masked)
    console.tabs.setCurrentIndex(FAMILY)
    qtbot.waitUntil(lambda: family.dependants.rowCount() == 1, timeout=WAIT_MS)
    assert SON.name_masked in family.at_desk.text()
    [row] = texts(family.dependants)
    assert MOTHER.name_masked in row[0] and row[1] == label("relation", "child")
    assert row[2] == yuan(desk.patient(MOTHER.patient_id).credit.outstanding_fen)
    family.settle_button.click()
    lookup = console.lookup
    assert console.tabs.currentIndex() == LOOKUP
    qtbot.waitUntil(lambda: MOTHER.name_masked in lookup.patient.text(), timeout=WAIT_MS)
    son = desk.patient(SON.patient_id).patient
    assert patient_line(son, "zh") in lookup.paying.text()
    assert not lookup.withdraw_button.isEnabled()  # her face consent is hers, not his
    assert SON.name_masked in family.at_desk.text()  # the son is still the one at the desk
    qtbot.waitUntil(lambda: lookup.quote is not None, timeout=WAIT_MS)
    bill = lookup.quote.bill_id
    lookup.settle()
    dialog = dialog_of(console, qtbot)
    assert say("family.payer_line", payer=patient_line(son, "zh"),
               relation=label("relation", "child")) in dialog.text.text()
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: console.banner.tone == "good", timeout=WAIT_MS)
    assert paid_by_in_audit(platform, "settlement.settled")[-1] == SON.patient_id
    assert bill not in [b.bill_id for b in desk.pending_bills(MOTHER.patient_id).bills
                        if b.status.value == "pending"]

    # back on the 亲情付 tab he repays part of her debt in cash, once however often confirmed
    console.tabs.setCurrentIndex(FAMILY)
    owed = desk.patient(MOTHER.patient_id).credit.outstanding_fen
    assert owed > 100
    qtbot.waitUntil(lambda: texts(family.dependants)[0][2] == yuan(owed), timeout=WAIT_MS)
    family.amount.setText("abc")
    family.repay_button.click()
    assert console.dialog is None and console.banner.tone == "bad"
    family.amount.setText("1.00")
    family.repay_method.setCurrentIndex(family.repay_method.findData("cash"))
    family.repay_button.click()
    dialog = dialog_of(console, qtbot)
    for part in (yuan(100), say("repay_method.cash"), SON.name_masked, MOTHER.name_masked,
                 yuan(owed - 100)):
        assert part in dialog.text.text()
    dialog.ok_button.click()
    dialog.accept()  # a second confirmation of the same dialog repays nothing more
    qtbot.waitUntil(lambda: say("family.repaid", patient=MOTHER.name_masked,
                                amount=yuan(100), left=yuan(owed - 100))
                    == console.banner.text(), timeout=WAIT_MS)
    assert desk.patient(MOTHER.patient_id).credit.outstanding_fen == owed - 100
    qtbot.waitUntil(lambda: texts(family.dependants)[0][2] == yuan(owed - 100),
                    timeout=WAIT_MS)
    assert paid_by_in_audit(platform, "credit.repaid")[-1] == SON.patient_id
    assert family.amount.text() == ""

    # another bill; meanwhile she withdraws at another counter: his charge is refused
    made = json.loads(platform.admin("bill", "create", "--site", platform.seed["site_id"],
                                     "--patient", MOTHER.patient_id, "--visit",
                                     f"V{uuid.uuid4().hex}", "--item", "exam:血常规:1:2500"))
    other_desk.withdraw_relative(MOTHER.patient_id, SON.patient_id)
    console.tabs.setCurrentIndex(LOOKUP)
    lookup.reload()
    qtbot.waitUntil(lambda: lookup.quote is not None and lookup.quote.bill_id ==
                    made["bill_id"], timeout=WAIT_MS)
    assert SON.name_masked in lookup.paying.text()  # the reload keeps who pays
    lookup.settle()
    dialog_of(console, qtbot).ok_button.click()
    qtbot.waitUntil(lambda: console.banner.tone == "bad", timeout=WAIT_MS)
    assert staff_error("family.not_authorised") in console.banner.text()
    assert "family.not_authorised" in console.banner.text()
    assert made["bill_id"] in [b.bill_id for b in desk.pending_bills(MOTHER.patient_id).bills
                               if b.status.value == "pending"]  # nothing charged

    # the mother at the desk again: her withdrawal is listed, with its date
    look_up(console, qtbot, LookupBy.CARD, MOTHER.card_no, MOTHER.name_masked)
    qtbot.waitUntil(lambda: lookup.payer is None, timeout=WAIT_MS)  # herself, not paid for
    assert lookup.paying.text() == "" and lookup.withdraw_button.isEnabled()
    console.tabs.setCurrentIndex(FAMILY)
    qtbot.waitUntil(lambda: MOTHER.name_masked in family.at_desk.text() and
                    family.relatives.rowCount() == 1 and
                    texts(family.relatives)[0][4] != say("family.state_standing"),
                    timeout=WAIT_MS)
    assert texts(family.relatives)[0][4].startswith(say("family.state_withdrawn", date="X")
                                                    .split("X")[0])
    family.relatives.selectRow(0)
    family.withdraw_button.click()  # nothing standing to withdraw
    assert console.dialog is None and console.banner.text() == say("family.need_standing")

    console.lock()
    assert personal_left(family, (MOTHER.name_masked, SON.name_masked, MOTHER.id_masked)) == []
    assert family.person is None and family.family is None


def test_a_dependant_of_another_site_is_repaid_after_saying_why(
        console: CashierConsole, desk: PlatformClient, platform: LocalPlatform, tmp_path: Path,
        qtbot):
    elder = other_site_debtor(platform, tmp_path)
    desk.authorise_relative(elder, AuthoriseRelativeRequest(
        relative_id=SON.patient_id, relation=Relation.CHILD, consent=Consent(
            text_version=CONSENT_VERSION, consented_at=dt.datetime.now(dt.UTC))))
    owed = desk.patient(elder).credit.outstanding_fen
    look_up(console, qtbot, LookupBy.CARD, SON.card_no, SON.name_masked)
    console.tabs.setCurrentIndex(FAMILY)
    family = console.family
    qtbot.waitUntil(lambda: any("孙*兰" in row[0] for row in texts(family.dependants)),
                    timeout=WAIT_MS)
    family.dependants.selectRow(next(r for r, row in enumerate(texts(family.dependants))
                                     if "孙*兰" in row[0]))
    family.amount.setText("2")
    family.repay_button.click()
    dialog = dialog_of(console, qtbot)
    assert not dialog.reason.isVisible()  # nobody knew she is of another site
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: "repayment.reason_required" in console.banner.text(),
                    timeout=WAIT_MS)
    assert console.banner.text().startswith(tr("cashier.failed", message="")[:5])
    qtbot.waitUntil(lambda: console.dialog is None, timeout=WAIT_MS)
    family.repay_button.click()  # again: now the reason is asked, and required
    dialog = dialog_of(console, qtbot)
    assert dialog.reason.isVisible() and not dialog.ok_button.isEnabled()
    dialog.reason.setText("子女在本院代还")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: console.banner.tone == "good", timeout=WAIT_MS)
    assert desk.patient(elder).credit.outstanding_fen == owed - 200
    desk.withdraw_relative(elder, SON.patient_id)
