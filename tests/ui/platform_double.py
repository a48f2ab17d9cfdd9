"""An in-memory platform for the UI tests: the shapes and rules of the real one (masked
patients, integer fen, one settlement per bill, idempotent settle keys, counted second-factor
attempts, quote-changed refusals), without HTTP. Both the kiosk's ``Backend`` and the
console's ``CashierService`` are served from the same ledger, so a settlement made at the
kiosk shows up in the cashier's list and reconciliation.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from kiosk.backend import BackendError, GalleryPage
from kiosk.flow.model import BillLine, Method, PatientView, Quote
from kiosk.protocol import schemas as s
from ui.cashier.service import Handoff, LookupBy

NOW = datetime(2024, 6, 1, 9, 30, tzinfo=UTC)


@dataclass
class Person:
    patient_id: str
    name_masked: str
    id_masked: str
    phone_last4: str
    card_no: str
    voucher: str
    category: str = "employee"
    credit_limit_fen: int = 500_000
    consent: bool = True


@dataclass
class BillRecord:
    bill_id: str
    patient_id: str
    items: list[tuple[str, str, int]]  # description, kind, fen
    basic_pct: int = 70  # of the total, integer percent
    critical_fen: int = 0
    settled: bool = False

    @property
    def total_fen(self) -> int:
        return sum(fen for _, _, fen in self.items)

    def layers(self) -> s.Layers:
        basic = self.total_fen * self.basic_pct // 100
        critical = min(self.critical_fen, self.total_fen - basic)
        return s.Layers(basic_pool_fen=basic, critical_illness_fen=critical, medical_aid_fen=0,
                        self_pay_fen=self.total_fen - basic - critical)


@dataclass
class PlatformDouble:
    persons: dict[str, Person] = field(default_factory=dict)
    bills: dict[str, BillRecord] = field(default_factory=dict)
    settlements: dict[str, s.Settlement] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)  # idempotency key -> settlement id
    attempts: dict[str, int] = field(default_factory=dict)
    handoff_list: list[Handoff] = field(default_factory=list)
    reprints: list[str] = field(default_factory=list)
    enrolments: list[tuple[str, s.EnrolTemplateRequest]] = field(default_factory=list)
    unreachable: bool = False
    ids: Any = field(default_factory=lambda: itertools.count(1))

    # ------------------------------------------------------------- helpers
    def _person(self, patient_id: str) -> Person:
        if self.unreachable:
            raise BackendError("backend.unreachable", "no route to platform", True)
        person = self.persons.get(patient_id)
        if person is None:
            raise BackendError("patient.not_found", "no such patient", False, 404)
        return person

    def _outstanding(self, patient_id: str) -> int:
        return sum(st.charge_to_credit_fen for st in self.settlements.values()
                   if st.patient.patient_id == patient_id and st.status == "settled")

    def _masked(self, p: Person) -> s.MaskedPatient:
        return s.MaskedPatient(patient_id=p.patient_id, name=p.name_masked,
                               national_id=p.id_masked, phone="138****" + p.phone_last4,
                               category=p.category)

    def _credit(self, p: Person) -> s.CreditState:
        used = self._outstanding(p.patient_id)
        return s.CreditState(status="active", limit_fen=p.credit_limit_fen,
                             outstanding_fen=used, available_fen=p.credit_limit_fen - used)

    def _pending(self, patient_id: str) -> list[BillRecord]:
        return [b for b in self.bills.values() if b.patient_id == patient_id and not b.settled]

    # ---------------------------------------------------- kiosk Backend
    def lookup(self, method: Method, key: str) -> tuple[PatientView, Quote | None]:
        person = self._find(method.value, key)
        bills = self._pending(person.patient_id)
        view = PatientView(person.patient_id, person.name_masked, person.id_masked,
                           person.category)
        if not bills:
            return view, None
        lines, layers, bill_self = [], {"basic_pool": 0, "critical_illness": 0}, []
        for bill in bills:
            lines += [BillLine(d, k, fen) for d, k, fen in bill.items]
            split = bill.layers()
            layers["basic_pool"] += split.basic_pool_fen
            layers["critical_illness"] += split.critical_illness_fen
            bill_self.append((bill.bill_id, split.self_pay_fen))
        self_pay = sum(fen for _, fen in bill_self)
        total = sum(b.total_fen for b in bills)
        quote = Quote(f"Q{next(self.ids)}", tuple(b.bill_id for b in bills), tuple(lines),
                      total, (*((k, v) for k, v in layers.items() if v), ("self_pay", self_pay)),
                      self_pay, self._credit(person).available_fen, tuple(bill_self))
        return view, quote

    def _find(self, by: str, key: str) -> Person:
        for person in self.persons.values():
            if (by in ("face", "patient") and person.patient_id == key) or (
                    by == "card" and person.card_no == key) or (
                    by == "voucher" and person.voucher == key):
                return self._person(person.patient_id)
        if self.unreachable:
            raise BackendError("backend.unreachable", "no route to platform", True)
        code = {"card": "card.not_found", "voucher": "voucher.not_found"}.get(
            by, "patient.not_found")
        raise BackendError(code, "not found", False, 404)

    def narrow(self, last4: str, candidates: list[str] | None) -> list[str]:
        pool = candidates if candidates is not None else list(self.persons)
        return [pid for pid in pool if pid in self.persons
                and self.persons[pid].phone_last4 == last4]

    def verify_digits(self, session_id: str, patient_id: str, last4: str) -> tuple[bool, int]:
        person = self._person(patient_id)
        used = self.attempts.get(session_id, 0) + 1
        self.attempts[session_id] = used
        if used > 3:
            raise BackendError("second_factor.locked", "locked", False, 423)
        return person.phone_last4 == last4, 3 - used

    def settle(self, idempotency_key: str, payload: dict[str, Any]) -> dict[str, Any]:
        request = s.SettleRequest(**payload)
        return self.settle_request(request, idempotency_key).model_dump(mode="json")

    def sync_gallery(self, cursor: int) -> GalleryPage:
        if self.unreachable:
            raise BackendError("backend.unreachable", "no route to platform", True)
        return GalleryPage(cursor, False, [], [])

    # ------------------------------------------------- cashier service
    def handoffs(self) -> list[Handoff]:
        return list(self.handoff_list)

    def take_over(self, handoff_id: str) -> Handoff:
        for i, handoff in enumerate(self.handoff_list):
            if handoff.handoff_id == handoff_id:
                taken = Handoff(handoff.handoff_id, handoff.kiosk_id, handoff.session_id,
                                handoff.reason, handoff.at, taken_by="cashier-1")
                self.handoff_list[i] = taken
                return taken
        raise BackendError("request.not_found", "no such hand-off", False, 404)

    def lookup_bills(self, person: Person) -> s.PendingBills:
        bills = [s.Bill(bill_id=b.bill_id, site_id="S1", patient_id=b.patient_id,
                        visit_id="V1", category=person.category, status="pending",
                        total_fen=b.total_fen, eligible_fen=b.total_fen, created_at=NOW,
                        items=[s.BillItem(line_no=i + 1, kind=k, description=d, quantity=1,
                                          unit_fen=fen, amount_fen=fen, eligible=True)
                               for i, (d, k, fen) in enumerate(b.items)])
                 for b in self._pending(person.patient_id)]
        return s.PendingBills(patient=self._masked(person), credit=self._credit(person),
                              bills=bills)

    def lookup_by(self, by: LookupBy, key: str) -> s.PendingBills:
        return self.lookup_bills(self._find(by.value, key))

    def quote(self, bill_id: str, patient_id: str, method: s.PaymentMethod) -> s.Quote:
        bill = self._bill(bill_id, patient_id)
        person = self._person(patient_id)
        layers = bill.layers()
        cash = method == s.PaymentMethod.CASH
        return s.Quote(bill_id=bill_id, patient_id=patient_id, method=method,
                       total_fen=bill.total_fen, layers=layers,
                       charge_to_credit_fen=0 if cash else layers.self_pay_fen,
                       pay_at_counter_fen=layers.self_pay_fen if cash else 0,
                       credit=self._credit(person), payable=True)

    def _bill(self, bill_id: str, patient_id: str) -> BillRecord:
        bill = self.bills.get(bill_id)
        if bill is None:
            raise BackendError("bill.not_found", "no such bill", False, 404)
        if bill.patient_id != patient_id:
            raise BackendError("bill.patient_mismatch", "not this patient's", False, 409)
        return bill

    def settle_request(self, request: s.SettleRequest, key: str) -> s.Settlement:
        if key in self.by_key:
            return self.settlements[self.by_key[key]]
        bill = self._bill(request.bill_id, request.patient_id)
        person = self._person(request.patient_id)
        if bill.settled:
            raise BackendError("bill.already_settled", "already settled", False, 409)
        layers = bill.layers()
        if request.expected_self_pay_fen not in (None, layers.self_pay_fen):
            raise BackendError("settlement.quote_changed", "split changed", False, 409)
        cash = request.method == s.PaymentMethod.CASH
        number = next(self.ids)
        settlement = s.Settlement(
            settlement_id=f"ST{number:06d}", receipt_no=f"R{number:06d}", bill_id=bill.bill_id,
            site_id="S1", patient=self._masked(person), method=request.method,
            status="settled", total_fen=bill.total_fen, layers=layers,
            charge_to_credit_fen=0 if cash else layers.self_pay_fen,
            pay_at_counter_fen=layers.self_pay_fen if cash else 0, settled_at=NOW,
            device_id="K1", items=[])
        bill.settled = True
        self.settlements[settlement.settlement_id] = settlement
        self.by_key[key] = settlement.settlement_id
        return settlement

    def reverse(self, settlement_id: str, reason: str) -> s.Settlement:
        settlement = self.settlements.get(settlement_id)
        if settlement is None:
            raise BackendError("settlement.not_found", "no such settlement", False, 404)
        if settlement.status == "reversed":
            raise BackendError("settlement.already_reversed", "already reversed", False, 409)
        reversed_ = settlement.model_copy(update={
            "status": s.SettlementStatus.REVERSED,
            "reversal": s.Reversal(reason=reason, reversed_at=NOW, device_id="C1",
                                   refund_fen=settlement.pay_at_counter_fen)})
        self.settlements[settlement_id] = reversed_
        self.bills[settlement.bill_id].settled = False
        return reversed_

    def reprint(self, settlement_id: str) -> None:
        if settlement_id not in self.settlements:
            raise BackendError("settlement.not_found", "no such settlement", False, 404)
        self.reprints.append(settlement_id)

    def settlements_on(self, day: date) -> s.SettlementList:
        return s.SettlementList(site_id="S1", date=day.isoformat(),
                                settlements=list(self.settlements.values()))

    def reconciliation(self, day: date) -> s.Reconciliation:
        def totals(rows: list[s.Settlement]) -> s.ReconTotals:
            return s.ReconTotals(
                count=len(rows), total_fen=sum(r.total_fen for r in rows),
                basic_pool_fen=sum(r.layers.basic_pool_fen for r in rows),
                critical_illness_fen=sum(r.layers.critical_illness_fen for r in rows),
                medical_aid_fen=sum(r.layers.medical_aid_fen for r in rows),
                self_pay_fen=sum(r.layers.self_pay_fen for r in rows),
                charge_to_credit_fen=sum(r.charge_to_credit_fen for r in rows),
                pay_at_counter_fen=sum(r.pay_at_counter_fen for r in rows))
        all_rows = list(self.settlements.values())
        reversed_rows = [r for r in all_rows if r.status == "reversed"]
        live = [r for r in all_rows if r.status == "settled"]
        by_method = {m: totals([r for r in live if r.method == m])
                     for m in {r.method for r in live}}
        return s.Reconciliation(site_id="S1", date=day.isoformat(), timezone="Asia/Shanghai",
                                generated_at=NOW, settled=totals(all_rows),
                                reversed=totals(reversed_rows), net=totals(live),
                                by_method=by_method, lines=[], balanced=True)

    def withdraw_consent(self, patient_id: str, reason: str | None
                         ) -> s.WithdrawConsentResponse:
        person = self._person(patient_id)
        person.consent = False
        removed = sum(1 for pid, _ in self.enrolments if pid == patient_id)
        self.enrolments = [(pid, r) for pid, r in self.enrolments if pid != patient_id]
        return s.WithdrawConsentResponse(patient_id=patient_id, withdrawn_at=NOW,
                                         templates_deleted=removed)

    def enrol(self, patient_id: str, request: s.EnrolTemplateRequest
              ) -> s.EnrolTemplateResponse:
        self._person(patient_id)
        self.enrolments.append((patient_id, request))
        return s.EnrolTemplateResponse(patient_id=patient_id, pack=request.template.pack,
                                       enrolled_at=NOW)


class CashierAdapter:
    """The double seen through the console's ``CashierService`` names."""

    def __init__(self, platform: PlatformDouble) -> None:
        self.p = platform

    def handoffs(self) -> list[Handoff]:
        return self.p.handoffs()

    def take_over(self, handoff_id: str) -> Handoff:
        return self.p.take_over(handoff_id)

    def lookup(self, by: LookupBy, key: str) -> s.PendingBills:
        return self.p.lookup_by(by, key)

    def quote(self, bill_id: str, patient_id: str, method: s.PaymentMethod) -> s.Quote:
        return self.p.quote(bill_id, patient_id, method)

    def settle(self, request: s.SettleRequest, idempotency_key: str) -> s.Settlement:
        return self.p.settle_request(request, idempotency_key)

    def reverse(self, settlement_id: str, reason: str) -> s.Settlement:
        return self.p.reverse(settlement_id, reason)

    def reprint(self, settlement_id: str) -> None:
        self.p.reprint(settlement_id)

    def settlements(self, day: date) -> s.SettlementList:
        return self.p.settlements_on(day)

    def reconciliation(self, day: date) -> s.Reconciliation:
        return self.p.reconciliation(day)

    def withdraw_consent(self, patient_id: str, reason: str | None
                         ) -> s.WithdrawConsentResponse:
        return self.p.withdraw_consent(patient_id, reason)

    def enrol(self, patient_id: str, request: s.EnrolTemplateRequest
              ) -> s.EnrolTemplateResponse:
        return self.p.enrol(patient_id, request)
