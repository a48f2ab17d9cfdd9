"""亲情付 (family pay) for the person at the desk, both ways side by side (the Qt-free part is
``kiosk.counter.family``): on the left, the relatives they let pay for them — withdraw one,
or authorise another after the patient read the consent text; on the right, the patients
who let *them* pay — settle one's bill (in the look-up tab, the charge naming them) or repay
one's debt. Every change is confirmed first; the lists follow the look-up tab's patient.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from common.errors import ErrorCode
from kiosk.backend import BackendError
from kiosk.counter.charge import ChargeGuard
from kiosk.counter.family import (
    CONSENT_VERSION,
    RELATIONS,
    REPAY_METHODS,
    Family,
    Payer,
    check_relative,
    standing,
)
from kiosk.counter.inputs import BadInput, amount_fen, lookup_key, repayment_reason
from kiosk.counter.service import LookupBy
from kiosk.i18n import label, tr, yuan
from kiosk.protocol.schemas import (
    Dependant,
    MaskedPatient,
    PatientView,
    Relation,
    RelativeAuthorisation,
    Repayment,
    RepaymentMethod,
    RepayRequest,
)
from ui.cashier.widgets import Host, button, fill, make_table, selected_key, set_headers
from ui.cashier.words import local, patient_line, person_short, say

log = logging.getLogger(__name__)

RELATIVE_COLUMNS = ("family.col_relative", "family.col_relation", "family.col_version",
                    "family.col_since", "family.col_state")
DEPENDANT_COLUMNS = ("family.col_dependant", "family.col_payer_is", "family.col_outstanding",
                     "family.col_available")


def _section(name: str) -> QLabel:
    widget = QLabel()
    widget.setObjectName(name)
    widget.setProperty("role", "section")
    widget.setWordWrap(True)
    return widget


def _fill_combo(combo: QComboBox, items: list[tuple[object, str]]) -> None:
    current = combo.currentIndex()
    combo.clear()
    for value, text in items:
        combo.addItem(text, value)
    combo.setCurrentIndex(max(0, current))


def _available(dependant: Dependant, lang: str) -> str:
    """The credit left, and why it cannot be used when it cannot (a repayment still can)."""
    credit = dependant.credit
    available = yuan(credit.available_fen, lang)
    if credit.status.value == "active":
        return available
    return f"{available} · {say(f'credit_status.{credit.status.value}', lang)}"


class FamilyTab(QWidget):
    settle_for = Signal(str, object)  # the dependant's patient id, Payer

    def __init__(self, host: Host, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.person: MaskedPatient | None = None
        self.family: Family | None = None
        self.found: PatientView | None = None
        self.guard = ChargeGuard()  # one key per confirmed repayment
        self.reason_needed: set[str] = set()  # dependants of another site: say why
        column = QVBoxLayout(self)
        self.at_desk = QLabel()
        self.at_desk.setObjectName("family_person")
        self.at_desk.setProperty("role", "title")
        column.addWidget(self.at_desk)

        split = QSplitter()
        left, right = QWidget(), QWidget()
        mine, theirs = QVBoxLayout(left), QVBoxLayout(right)
        mine.setContentsMargins(0, 0, 0, 0)
        theirs.setContentsMargins(0, 0, 0, 0)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        column.addWidget(split, 1)

        self.relatives_title = _section("relatives_title")
        self.relatives = make_table(len(RELATIVE_COLUMNS), "relatives")
        self.withdraw_button = button("family_withdraw", "danger")
        self.withdraw_button.clicked.connect(self.withdraw)
        mine.addWidget(self.relatives_title)
        mine.addWidget(self.relatives, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.withdraw_button)
        mine.addLayout(row)

        self.add_title = _section("add_title")
        self.find_by = QComboBox()
        self.find_by.setObjectName("family_find_by")
        self.find_key = QLineEdit()
        self.find_key.setObjectName("family_find_key")
        self.find_key.returnPressed.connect(self.find)
        self.find_button = button("family_find")
        self.find_button.clicked.connect(self.find)
        mine.addWidget(self.add_title)
        row = QHBoxLayout()
        row.addWidget(self.find_by)
        row.addWidget(self.find_key, 1)
        row.addWidget(self.find_button)
        mine.addLayout(row)
        self.found_text = QLabel()
        self.found_text.setObjectName("family_found")
        self.relation_text = QLabel()
        self.relation = QComboBox()
        self.relation.setObjectName("family_relation")
        row = QHBoxLayout()
        row.addWidget(self.found_text, 1)
        row.addWidget(self.relation_text)
        row.addWidget(self.relation)
        mine.addLayout(row)
        self.consent_title = _section("family_consent_title")
        self.consent_text = QTextBrowser()
        self.consent_text.setObjectName("family_consent")
        self.ack = QCheckBox()
        self.ack.setObjectName("family_ack")
        self.authorise_button = button("family_authorise", "primary")
        self.authorise_button.clicked.connect(self.authorise)
        mine.addWidget(self.consent_title)
        mine.addWidget(self.consent_text, 1)
        row = QHBoxLayout()
        row.addWidget(self.ack, 1)
        row.addWidget(self.authorise_button)
        mine.addLayout(row)

        self.dependants_title = _section("dependants_title")
        self.dependants = make_table(len(DEPENDANT_COLUMNS), "dependants")
        self.no_dependants = QLabel()
        self.no_dependants.setObjectName("no_dependants")
        self.settle_button = button("family_settle_for", "primary")
        self.settle_button.clicked.connect(self.settle)
        theirs.addWidget(self.dependants_title)
        theirs.addWidget(self.dependants, 1)
        theirs.addWidget(self.no_dependants)
        row = QHBoxLayout()
        row.addWidget(self.settle_button)
        row.addStretch(1)
        theirs.addLayout(row)
        self.amount_text = QLabel()
        self.amount = QLineEdit()
        self.amount.setObjectName("family_amount")
        self.repay_method = QComboBox()
        self.repay_method.setObjectName("family_repay_method")
        self.repay_button = button("family_repay", "primary")
        self.repay_button.clicked.connect(self.repay)
        row = QHBoxLayout()
        row.addWidget(self.amount_text)
        row.addWidget(self.amount, 1)
        row.addWidget(self.repay_method)
        row.addWidget(self.repay_button)
        theirs.addLayout(row)

    def retranslate(self, lang: str) -> None:
        _fill_combo(self.find_by, [(by, say(f"cashier.by_{by.value}", lang))
                                   for by in LookupBy])
        _fill_combo(self.relation, [(r, label("relation", r.value, lang)) for r in RELATIONS])
        _fill_combo(self.repay_method, [(m, say(f"repay_method.{m.value}", lang))
                                        for m in REPAY_METHODS])
        set_headers(self.relatives, RELATIVE_COLUMNS, lang)
        set_headers(self.dependants, DEPENDANT_COLUMNS, lang)
        self.relatives_title.setText(say("family.relatives_title", lang))
        self.withdraw_button.setText(say("family.withdraw", lang))
        self.add_title.setText(say("family.add_title", lang))
        self.find_key.setPlaceholderText(tr("cashier.lookup_key", lang))
        self.find_button.setText(say("family.find", lang))
        self.relation_text.setText(say("family.relation", lang))
        self.consent_title.setText(tr("family.consent_title", lang, version=CONSENT_VERSION))
        self.consent_text.setPlainText(tr("family.consent_text", lang))
        self.ack.setText(tr("family.consent_ack", lang))
        self.authorise_button.setText(say("family.authorise", lang))
        self.dependants_title.setText(say("family.dependants_title", lang))
        self.settle_button.setText(say("family.settle_for", lang))
        self.amount_text.setText(say("family.amount", lang))
        self.repay_button.setText(say("family.repay", lang))
        self._show_person()
        self._show_found()
        if self.family is not None:
            self._show(self.family)

    def clear(self) -> None:
        """Nothing personal left: the lock and a new person at the desk both start here."""
        self.person = self.family = self.found = None
        self.guard.forget()
        self.reason_needed.clear()
        for table in (self.relatives, self.dependants):
            table.setRowCount(0)
        for edit in (self.find_key, self.amount):
            edit.clear()
        self.ack.setChecked(False)
        self.no_dependants.setText("")
        self._show_person()
        self._show_found()

    # ---------------------------------------------------------- the person
    def set_person(self, patient: MaskedPatient) -> None:
        """The person at the desk (the look-up tab's patient); the same again refreshes."""
        if self.person is None or self.person.patient_id != patient.patient_id:
            self.clear()
        self.person = patient
        self._show_person()
        self.refresh()

    def _show_person(self) -> None:
        lang = self.host.lang
        self.at_desk.setText(say("family.at_desk", lang, patient=patient_line(self.person, lang))
                             if self.person else say("family.need_patient", lang))

    def showEvent(self, event: QShowEvent) -> None:
        """Shown again after a payment elsewhere: credit and authorisations as they are now."""
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        if self.person is None:
            return
        person_id = self.person.patient_id
        self.host.run("family", lambda: self.host.service.family.family(person_id), self._show)

    def _show(self, family: object) -> None:
        assert isinstance(family, Family)
        if self.person is None or family.person_id != self.person.patient_id:
            return  # the person at the desk changed while this was on its way
        self.family = family
        lang, zone = self.host.lang, self.host.zone
        fill(self.relatives, [[
            person_short(a.relative, lang), label("relation", a.relation.value, lang),
            a.consent_version, local(a.authorised_at, zone, "%Y-%m-%d"),
            say("family.state_standing", lang) if standing(a) else
            say("family.state_withdrawn", lang, date=local(a.withdrawn_at, zone, "%Y-%m-%d"))
            if a.withdrawn_at else ""] for a in family.relatives],
            [a.relative.patient_id for a in family.relatives])
        fill(self.dependants, [[
            person_short(d.patient, lang), label("relation", d.relation.value, lang),
            yuan(d.credit.outstanding_fen, lang), _available(d, lang)] for d in family.dependants],
            [d.patient.patient_id for d in family.dependants])
        if family.dependants and not selected_key(self.dependants):
            self.dependants.selectRow(0)
        self.no_dependants.setText("" if family.dependants
                                   else say("family.no_dependants", lang))

    # ------------------------------------------------ authorise a relative
    def find(self) -> None:
        lang = self.host.lang
        if self.person is None:
            self.host.tell(say("family.need_patient", lang), "warn")
            return
        by = LookupBy(self.find_by.currentData())
        try:
            key = lookup_key(by, self.find_key.text())
        except BadInput as exc:
            self.host.tell(tr("cashier.bad_key", lang, detail=str(exc)), "bad")
            return
        self.find_key.clear()  # a card number or voucher must not linger on screen
        self.found = None
        self._show_found()
        self.host.run("family_find", lambda: self.host.service.family.find(by, key),
                      self._found)

    def _found(self, view: object) -> None:
        assert isinstance(view, PatientView)
        if self.person is None:
            return
        try:
            check_relative(self.person.patient_id, view)
        except BackendError as exc:
            self.host.failed(exc)
            return
        self.found = view
        self.ack.setChecked(False)  # agreed to *this* relative, not an earlier one
        self._show_found()
        self.host.tell("")

    def _show_found(self) -> None:
        self.found_text.setText(say("family.found", self.host.lang,
                                    relative=patient_line(self.found.patient, self.host.lang))
                                if self.found else "")

    def authorise(self) -> None:
        lang, person, found = self.host.lang, self.person, self.found
        if person is None:
            self.host.tell(say("family.need_patient", lang), "warn")
            return
        if found is None:
            self.host.tell(say("family.need_relative", lang), "warn")
            return
        if not self.ack.isChecked():
            self.host.tell(say("family.need_ack", lang), "warn")
            return
        relation = Relation(self.relation.currentData())
        today = datetime.now(self.host.zone).date().isoformat()
        self.host.confirm(say("family.confirm_authorise", lang),
                          say("family.confirm_authorise_text", lang,
                              patient=patient_line(person, lang),
                              relative=patient_line(found.patient, lang),
                              relation=label("relation", relation.value, lang),
                              version=CONSENT_VERSION, date=today),
                          lambda _: self._authorise(person.patient_id,
                                                    found.patient.patient_id, relation))

    def _authorise(self, patient_id: str, relative_id: str, relation: Relation) -> None:
        consented_at = datetime.now(UTC)  # agreed just now, in front of the cashier
        self.host.run("family_authorise", lambda: self.host.service.family.authorise(
            patient_id, relative_id, relation, consented_at), self._authorised)

    def _authorised(self, authorisation: object) -> None:
        assert isinstance(authorisation, RelativeAuthorisation)
        lang = self.host.lang
        self.found = None
        self.ack.setChecked(False)
        self._show_found()
        self.host.tell(say("family.authorised", lang, relative=authorisation.relative.name,
                           relation=label("relation", authorisation.relation.value, lang)),
                       "good")
        log.info("cashier.family_authorised", extra={"relation": authorisation.relation.value})
        self.refresh()

    # ------------------------------------------------------------ withdraw
    def selected_relative(self) -> RelativeAuthorisation | None:
        key = selected_key(self.relatives)
        relatives = self.family.relatives if self.family else []
        return next((a for a in relatives if a.relative.patient_id == key and standing(a)),
                    None)

    def withdraw(self) -> None:
        lang, person, chosen = self.host.lang, self.person, self.selected_relative()
        if person is None or chosen is None:
            self.host.tell(say("family.need_standing", lang), "warn")
            return
        self.host.confirm(say("family.confirm_withdraw", lang),
                          say("family.confirm_withdraw_text", lang,
                              patient=patient_line(person, lang),
                              relative=patient_line(chosen.relative, lang),
                              relation=label("relation", chosen.relation.value, lang)),
                          lambda _: self.host.run(
                              "family_withdraw", lambda: self.host.service.family.withdraw(
                                  person.patient_id, chosen.relative.patient_id),
                              self._withdrawn))

    def _withdrawn(self, authorisation: object) -> None:
        assert isinstance(authorisation, RelativeAuthorisation)
        self.host.tell(say("family.withdrawn", self.host.lang,
                           relative=authorisation.relative.name), "good")
        self.refresh()

    # --------------------------------------------------- pay for a dependant
    def selected_dependant(self) -> Dependant | None:
        key = selected_key(self.dependants)
        found = next((d for d in (self.family.dependants if self.family else [])
                      if d.patient.patient_id == key), None)
        if found is None:
            self.host.tell(say("family.need_dependant", self.host.lang), "warn")
        return found

    def settle(self) -> None:
        """The dependant's bills, in the look-up tab, charged naming the person at the desk."""
        dependant = self.selected_dependant()
        if dependant is not None and self.person is not None:
            self.settle_for.emit(dependant.patient.patient_id,
                                 Payer(self.person, dependant.relation))

    def repay(self) -> None:
        lang, person, dependant = self.host.lang, self.person, self.selected_dependant()
        if dependant is None or person is None:
            return
        if self.guard.in_flight:
            self.host.tell(say("counter.charge_in_flight", lang), "warn")
            return
        owed = dependant.credit.outstanding_fen
        try:
            fen = amount_fen(self.amount.text(), owed)
        except BadInput as exc:
            self.host.tell(say("family.bad_amount", lang, detail=str(exc)), "bad")
            return
        method = RepaymentMethod(self.repay_method.currentData())
        request = RepayRequest(patient_id=dependant.patient.patient_id, amount_fen=fen,
                               method=method, paid_by=person.patient_id)
        text = say("family.confirm_repay_text", lang, payer=patient_line(person, lang),
                   patient=patient_line(dependant.patient, lang),
                   relation=label("relation", dependant.relation.value, lang),
                   amount=yuan(fen, lang), method=say(f"repay_method.{method.value}", lang),
                   left=yuan(owed - fen, lang))
        if self.guard.retry_pending:
            text += "\n" + say("family.repay_unconfirmed", lang)
        needs_reason = request.patient_id in self.reason_needed
        self.host.confirm(say("family.confirm_repay", lang), text,
                          lambda reason: self._repay(request.model_copy(
                              update={"reason": reason or None}), dependant.patient),
                          reason=repayment_reason if needs_reason else None)

    def _repay(self, request: RepayRequest, patient: MaskedPatient) -> None:
        """Runs once per confirmed dialog; the guard keeps a lost answer's key."""
        key = self.guard.begin(request)
        if key is None:
            self.host.tell(say("counter.charge_in_flight", self.host.lang), "warn")
            return
        if not self.host.run("family_repay",
                             lambda: self.host.service.family.repay(request, key),
                             lambda done: self._repaid(done, patient),
                             lambda exc: self._repay_failed(exc, request.patient_id)):
            self.guard.unknown()  # nothing was sent: the same key next time

    def _repaid(self, repayment: object, patient: MaskedPatient) -> None:
        assert isinstance(repayment, Repayment)
        self.guard.repaid()
        self.amount.clear()
        lang = self.host.lang
        self.host.tell(say("family.repaid", lang, patient=patient.name,
                           amount=yuan(repayment.amount_fen, lang),
                           left=yuan(repayment.credit.outstanding_fen, lang)), "good")
        self.refresh()

    def _repay_failed(self, exc: BaseException, patient_id: str) -> None:
        if isinstance(exc, BackendError) and exc.code == ErrorCode.REASON_REQUIRED:
            self.reason_needed.add(patient_id)  # the next confirmation asks for it
        if isinstance(exc, BackendError) and exc.retryable:
            self.guard.unknown()
            lang = self.host.lang
            self.host.tell(tr("cashier.failed", lang, message=(
                f"{say('family.repay_unconfirmed', lang)} ({exc.code})")), "warn")
            return
        self.guard.refused()
        self.host.failed(exc)
        self.refresh()  # a withdrawal meanwhile: the dependant leaves the list
