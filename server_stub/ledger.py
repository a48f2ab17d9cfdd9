"""Money: quote, settle, reverse, repay, and overdue handling (先看病，后缴费).

Each public function runs inside one caller-provided transaction, so a settlement — bill,
credit balance, credit charge, gallery scope and audit record — is applied whole or not
at all, whatever happens to the process. Invariants (tested with hypothesis):
``outstanding_fen`` = sum of unrepaid, uncancelled credit charges, never negative; the four
layers of every settlement add up to its bill total.
"""

from __future__ import annotations

import datetime as dt
import secrets
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from common.errors import ErrorCode
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from server_stub import audit, gallery, relatives
from server_stub.clock import day_bounds, local_day, local_year, to_datetime
from server_stub.config import ServerConfig
from server_stub.db import bills, credit_charges, next_value, repayments, settlements, users
from server_stub.permissions import may_settle
from server_stub.policy import LayerTotals, Split, split_bill
from server_stub.records.bills import items_of
from server_stub.records.devices import Device
from server_stub.records.patients import credit_state, has_face_consent, masked_patient, user_row
from server_stub.records.sites import site_code

CREDIT_METHODS = {schemas.PaymentMethod.FACE, schemas.PaymentMethod.CARD,
                  schemas.PaymentMethod.VOUCHER}
OVERDUE_REASON = "overdue"

_BILL = select(bills).where(bills.c.bill_id == bindparam("bill_id"),
                            bills.c.site_id == bindparam("site_id"))
_BILL_FOR_UPDATE = _BILL.with_for_update()
_YEAR_TO_DATE = select(
    func.coalesce(func.sum(settlements.c.basic_pool_fen), 0),
    func.coalesce(func.sum(settlements.c.critical_illness_fen), 0),
    func.coalesce(func.sum(settlements.c.medical_aid_fen), 0),
).where(settlements.c.patient_id == bindparam("patient_id"),
        settlements.c.year == bindparam("year"),
        settlements.c.status == schemas.SettlementStatus.SETTLED.value)
_INSERT_SETTLEMENT = insert(settlements)
_MARK_BILL = update(bills).where(bills.c.bill_id == bindparam("b_id")).values(
    status=bindparam("b_status"), settlement_id=bindparam("b_settlement"))
_ADD_OUTSTANDING = update(users).where(users.c.patient_id == bindparam("u_id")).values(
    outstanding_fen=users.c.outstanding_fen + bindparam("delta"))
_INSERT_CHARGE = insert(credit_charges)


def _bill_for(conn: Connection, *, site_id: str, bill_id: str, patient_id: str,
              for_update: bool = False) -> Any:
    bill = conn.execute(_BILL_FOR_UPDATE if for_update else _BILL,
                        {"bill_id": bill_id, "site_id": site_id}).first()
    if bill is None:  # a bill of another site is as unknown as a missing one
        raise ProtocolError(ErrorCode.BILL_NOT_FOUND, "no such bill at this site")
    if bill.patient_id != patient_id:
        raise ProtocolError(ErrorCode.BILL_PATIENT_MISMATCH, "this bill belongs to another patient")
    if bill.status == schemas.BillStatus.CANCELLED.value:
        raise ProtocolError(ErrorCode.BILL_CANCELLED, "the hospital cancelled this bill")
    if bill.status != schemas.BillStatus.PENDING.value:
        raise ProtocolError(ErrorCode.BILL_ALREADY_SETTLED, "this bill is already settled",
                            settlement_id=bill.settlement_id)
    return bill


def year_to_date(conn: Connection, patient_id: str, year: int) -> LayerTotals:
    row = conn.execute(_YEAR_TO_DATE, {"patient_id": patient_id, "year": year}).one()
    return LayerTotals(int(row[0]), int(row[1]), int(row[2]))


def _split(conn: Connection, bill: Any, config: ServerConfig, now: int) -> Split:
    year = local_year(now, config.server.timezone)
    return split_bill(bill.total_fen, bill.eligible_fen,
                      config.policy.for_category(bill.category),
                      year_to_date(conn, bill.patient_id, year))


def _refusal(conn: Connection, user: Any, method: schemas.PaymentMethod, device: Device,
             self_pay: int) -> ProtocolError | None:
    """Why settling now would be refused, or None."""
    if not may_settle(device.role, method):
        return ProtocolError(ErrorCode.ROLE_FORBIDDEN, "cash is recorded at the counter only")
    if method == schemas.PaymentMethod.CASH:
        return None
    if user.status == schemas.UserStatus.BLACKLISTED.value:
        return ProtocolError(ErrorCode.USER_BLACKLISTED, "credit pay is closed for this patient")
    if user.status == schemas.UserStatus.SUSPENDED.value:
        return ProtocolError(ErrorCode.USER_SUSPENDED, "credit pay is suspended for this patient",
                             reason=user.status_reason or "")
    if method == schemas.PaymentMethod.FACE and not has_face_consent(conn, user):
        return ProtocolError(ErrorCode.CONSENT_MISSING, "no face-payment consent on record")
    available = max(0, user.credit_limit_fen - user.outstanding_fen)
    if self_pay > available:
        return ProtocolError(ErrorCode.CREDIT_LIMIT_EXCEEDED,
                             "self-pay exceeds the available credit",
                             self_pay_fen=self_pay, available_fen=available)
    return None


def _layers(split: Split | Any) -> schemas.Layers:
    return schemas.Layers(basic_pool_fen=split.basic_pool_fen,
                          critical_illness_fen=split.critical_illness_fen,
                          medical_aid_fen=split.medical_aid_fen, self_pay_fen=split.self_pay_fen)


def _payment_parts(method: schemas.PaymentMethod, self_pay: int) -> tuple[int, int]:
    """(charged to credit, paid at the counter)."""
    return (self_pay, 0) if method in CREDIT_METHODS else (0, self_pay)


def quote(conn: Connection, *, device: Device, req: schemas.QuoteRequest, config: ServerConfig,
          now: int) -> schemas.Quote:
    bill = _bill_for(conn, site_id=device.site_id, bill_id=req.bill_id,
                     patient_id=req.patient_id)
    user = user_row(conn, req.patient_id)
    split = _split(conn, bill, config, now)
    credit, counter = _payment_parts(req.method, split.self_pay_fen)
    refusal = _refusal(conn, user, req.method, device, split.self_pay_fen)
    return schemas.Quote(
        bill_id=bill.bill_id, patient_id=user.patient_id, method=req.method,
        total_fen=bill.total_fen, layers=_layers(split), charge_to_credit_fen=credit,
        pay_at_counter_fen=counter, credit=credit_state(conn, user), payable=refusal is None,
        refusal=schemas.ErrorDetail(**refusal.to_body()["error"]) if refusal else None)


def settle(conn: Connection, *, device: Device, req: schemas.SettleRequest, config: ServerConfig,
           now: int) -> schemas.Settlement:
    bill = _bill_for(conn, site_id=device.site_id, bill_id=req.bill_id,
                     patient_id=req.patient_id, for_update=True)
    user = user_row(conn, req.patient_id, for_update=True)
    if req.paid_by is not None:
        relatives.require_authorised(conn, req.patient_id, req.paid_by)
    split = _split(conn, bill, config, now)
    refusal = _refusal(conn, user, req.method, device, split.self_pay_fen)
    if refusal is not None:
        raise refusal
    if req.expected_self_pay_fen is not None and req.expected_self_pay_fen != split.self_pay_fen:
        raise ProtocolError(ErrorCode.QUOTE_CHANGED, "the split changed since the quote",
                            self_pay_fen=split.self_pay_fen)
    credit, counter = _payment_parts(req.method, split.self_pay_fen)
    settlement_id = f"stl_{secrets.token_hex(8)}"
    due_ms = now + config.credit.repayment_days * 86_400_000
    row = dict(
        settlement_id=settlement_id,
        receipt_no=f"{site_code(conn, bill.site_id)}-{next_value(conn, 'receipt'):08d}",
        bill_id=bill.bill_id, site_id=bill.site_id, patient_id=user.patient_id,
        device_id=device.device_id, method=req.method.value,
        status=schemas.SettlementStatus.SETTLED.value, total_fen=bill.total_fen,
        basic_pool_fen=split.basic_pool_fen, critical_illness_fen=split.critical_illness_fen,
        medical_aid_fen=split.medical_aid_fen, self_pay_fen=split.self_pay_fen,
        charge_to_credit_fen=credit, pay_at_counter_fen=counter,
        year=local_year(now, config.server.timezone), settled_ms=now, reversed_ms=None,
        reverse_reason=None, reversed_by=None, refund_fen=None)
    conn.execute(_INSERT_SETTLEMENT, row)
    conn.execute(_MARK_BILL, {"b_id": bill.bill_id, "b_settlement": settlement_id,
                              "b_status": schemas.BillStatus.SETTLED.value})
    if credit:
        conn.execute(_ADD_OUTSTANDING, {"u_id": user.patient_id, "delta": credit})
        conn.execute(_INSERT_CHARGE, {
            "settlement_id": settlement_id, "patient_id": user.patient_id, "amount_fen": credit,
            "repaid_fen": 0, "due_ms": due_ms, "cancelled": False})
    gallery.refresh_user(conn, user.patient_id, config.gallery.scope, user=user)
    head = audit.append(conn, at_ms=now, actor=device.actor, action="settlement.settled",
                 subject=settlement_id, details={
                     "bill_id": bill.bill_id, "patient_id": user.patient_id,
                     "method": req.method.value, "total_fen": bill.total_fen,
                     "self_pay_fen": split.self_pay_fen, "charge_to_credit_fen": credit,
                     **paid_by_detail(req.paid_by)})
    # the credit terms are known here (the charge just made, the balance read FOR UPDATE
    # plus it): two look-ups fewer inside the money transaction
    terms = ((local_day(due_ms, config.server.timezone), user.outstanding_fen + credit)
             if credit else (None, None))
    return _settlement_model(conn, SimpleNamespace(**row), user, audit_head=head,
                             timezone=config.server.timezone, terms=terms)


def settlement_view(conn: Connection, settlement_id: str, *, site_id: str, timezone: str,
                    audit_head: schemas.AuditHead | None = None) -> schemas.Settlement:
    row = conn.execute(select(settlements).where(settlements.c.settlement_id == settlement_id,
                                                 settlements.c.site_id == site_id)).first()
    if row is None:
        raise ProtocolError(ErrorCode.SETTLEMENT_NOT_FOUND, "no such settlement at this site")
    return _settlement_model(conn, row, audit_head=audit_head, timezone=timezone)


def _credit_terms(conn: Connection, row: Any, timezone: str) -> tuple[dt.date | None, int | None]:
    """(due date in the platform's zone, the patient's outstanding credit now): what the
    slip tells a patient who paid on credit; (None, None) when nothing went on credit."""
    charge = conn.execute(select(credit_charges.c.due_ms, credit_charges.c.cancelled).where(
        credit_charges.c.settlement_id == row.settlement_id)).first()
    if charge is None:
        return None, None
    due = None if charge.cancelled else local_day(charge.due_ms, timezone)
    outstanding = conn.execute(select(users.c.outstanding_fen).where(
        users.c.patient_id == row.patient_id)).scalar_one()
    return due, int(outstanding)


def _settlement_model(conn: Connection, row: Any, user: Any = None, *, timezone: str,
                      audit_head: schemas.AuditHead | None = None,
                      terms: tuple[dt.date | None, int | None] | None = None
                      ) -> schemas.Settlement:
    """``audit_head`` only in the reply to the change itself: the device keeps it as an
    anchor outside the platform's database (a plain read has no change to vouch for).
    ``terms``: the credit terms (``_credit_terms``), when the caller knows them."""
    user = user or user_row(conn, row.patient_id)
    due, outstanding = terms if terms is not None else _credit_terms(conn, row, timezone)
    reversal = None
    if row.reversed_ms is not None:
        reversal = schemas.Reversal(reason=row.reverse_reason, reversed_at=to_datetime(
            row.reversed_ms), device_id=row.reversed_by, refund_fen=row.refund_fen or 0)
    return schemas.Settlement(
        settlement_id=row.settlement_id, receipt_no=row.receipt_no, bill_id=row.bill_id,
        site_id=row.site_id, patient=masked_patient(user),
        method=row.method, status=row.status, total_fen=row.total_fen, layers=_layers(row),
        charge_to_credit_fen=row.charge_to_credit_fen, pay_at_counter_fen=row.pay_at_counter_fen,
        settled_at=to_datetime(row.settled_ms), device_id=row.device_id,
        items=items_of(conn, row.bill_id), credit_due_date=due,
        credit_outstanding_fen=outstanding, reversal=reversal, audit_head=audit_head)


def settlements_on(conn: Connection, *, site_id: str, day: Any,
                   config: ServerConfig) -> schemas.SettlementList:
    start, end = day_bounds(day, config.server.timezone)
    rows = conn.execute(select(settlements).where(
        settlements.c.site_id == site_id, settlements.c.settled_ms >= start,
        settlements.c.settled_ms < end).order_by(settlements.c.settled_ms))
    return schemas.SettlementList(site_id=site_id, date=day.isoformat(),
                                  settlements=[_settlement_model(
                                      conn, r, timezone=config.server.timezone) for r in rows])


def reverse(conn: Connection, *, device: Device, settlement_id: str, reason: str,
            config: ServerConfig, now: int) -> schemas.Settlement:
    """Refund by the cashier: the bill is pending again and the credit charge cancelled.

    ``refund_fen`` is what the cashier hands back: cash paid at the counter plus any part
    of the credit charge the patient already repaid.
    """
    row = conn.execute(select(settlements).where(
        settlements.c.settlement_id == settlement_id, settlements.c.site_id == device.site_id)
        .with_for_update()).first()
    if row is None:
        raise ProtocolError(ErrorCode.SETTLEMENT_NOT_FOUND, "no such settlement at this site")
    if row.status == schemas.SettlementStatus.REVERSED.value:
        raise ProtocolError(ErrorCode.SETTLEMENT_ALREADY_REVERSED,
                            "this settlement was already reversed")
    refund = row.pay_at_counter_fen
    charge = conn.execute(select(credit_charges).where(
        credit_charges.c.settlement_id == settlement_id).with_for_update()).first()
    if charge is not None:
        refund += charge.repaid_fen
        conn.execute(update(credit_charges).where(credit_charges.c.settlement_id == settlement_id)
                     .values(cancelled=True))
        conn.execute(update(users).where(users.c.patient_id == row.patient_id).values(
            outstanding_fen=users.c.outstanding_fen - (charge.amount_fen - charge.repaid_fen)))
    conn.execute(update(settlements).where(settlements.c.settlement_id == settlement_id).values(
        status=schemas.SettlementStatus.REVERSED.value, reversed_ms=now, reverse_reason=reason,
        reversed_by=device.device_id, refund_fen=refund))
    conn.execute(update(bills).where(bills.c.bill_id == row.bill_id).values(
        status=schemas.BillStatus.PENDING.value, settlement_id=None))
    _reinstate_if_current(conn, row.patient_id, device.actor, now)
    gallery.refresh_user(conn, row.patient_id, config.gallery.scope)
    head = audit.append(conn, at_ms=now, actor=device.actor, action="settlement.reversed",
                        subject=settlement_id, details={"bill_id": row.bill_id,
                                                        "reason": reason, "refund_fen": refund})
    return settlement_view(conn, settlement_id, site_id=device.site_id,
                           timezone=config.server.timezone, audit_head=head)


def paid_by_detail(relative_id: str | None) -> dict[str, str]:
    """The audit detail naming a relative who paid for the patient (亲情付)."""
    return {"paid_by": relative_id} if relative_id else {}


def repay(conn: Connection, *, actor: str, req: schemas.RepayRequest, config: ServerConfig,
          now: int) -> schemas.Repayment:
    """Pay off outstanding credit, oldest charge first."""
    user = user_row(conn, req.patient_id, for_update=True)
    if req.paid_by is not None:
        relatives.require_authorised(conn, req.patient_id, req.paid_by)
    if req.amount_fen > user.outstanding_fen:
        raise ProtocolError(ErrorCode.AMOUNT_EXCEEDS_BALANCE,
                            "repayment is larger than the outstanding balance",
                            outstanding_fen=user.outstanding_fen)
    repayment_id = credit_repayment(
        conn, actor=actor, patient_id=req.patient_id, amount_fen=req.amount_fen,
        method=req.method.value, reference=req.reference, config=config, now=now,
        details={"reason": req.reason, **paid_by_detail(req.paid_by)})
    return schemas.Repayment(repayment_id=repayment_id, patient_id=req.patient_id,
                             amount_fen=req.amount_fen, method=req.method,
                             received_at=to_datetime(now),
                             credit=credit_state(conn, user_row(conn, req.patient_id)))


def credit_repayment(conn: Connection, *, actor: str, patient_id: str, amount_fen: int,
                     method: str, reference: str | None, config: ServerConfig, now: int,
                     first: str | None = None, details: dict[str, Any] | None = None) -> str:
    """Record a repayment of at most what is owed: the charge of settlement ``first``
    first, then the oldest due; the repayment's id. Every way money comes in ends here."""
    left = amount_fen
    charges = conn.execute(select(credit_charges).where(
        credit_charges.c.patient_id == patient_id, credit_charges.c.cancelled.is_(False),
        credit_charges.c.repaid_fen < credit_charges.c.amount_fen)
        .order_by(credit_charges.c.due_ms, credit_charges.c.settlement_id).with_for_update())
    for charge in sorted(charges, key=lambda c: c.settlement_id != first):
        if not left:
            break
        part = min(left, charge.amount_fen - charge.repaid_fen)
        conn.execute(update(credit_charges)
                     .where(credit_charges.c.settlement_id == charge.settlement_id)
                     .values(repaid_fen=charge.repaid_fen + part))
        left -= part
    conn.execute(update(users).where(users.c.patient_id == patient_id)
                 .values(outstanding_fen=users.c.outstanding_fen - amount_fen))
    repayment_id = f"rep_{secrets.token_hex(8)}"
    conn.execute(insert(repayments).values(
        repayment_id=repayment_id, patient_id=patient_id, amount_fen=amount_fen,
        method=method, reference=reference, received_ms=now, actor=actor))
    _reinstate_if_current(conn, patient_id, actor, now)
    gallery.refresh_user(conn, patient_id, config.gallery.scope)
    audit.append(conn, at_ms=now, actor=actor, action="credit.repaid", subject=repayment_id,
                 details={"patient_id": patient_id, "amount_fen": amount_fen,
                          "method": method, **(details or {})})
    return repayment_id


def _overdue_fen(conn: Connection, patient_id: str, now: int) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(
        credit_charges.c.amount_fen - credit_charges.c.repaid_fen), 0)).where(
        credit_charges.c.patient_id == patient_id, credit_charges.c.cancelled.is_(False),
        credit_charges.c.repaid_fen < credit_charges.c.amount_fen,
        credit_charges.c.due_ms < now)).scalar())


def _reinstate_if_current(conn: Connection, patient_id: str, actor: str, now: int) -> None:
    """A user suspended only for being overdue is active again once nothing is overdue."""
    user = user_row(conn, patient_id)
    if user.status == schemas.UserStatus.SUSPENDED.value and user.status_reason == \
            OVERDUE_REASON and _overdue_fen(conn, patient_id, now) == 0:
        conn.execute(update(users).where(users.c.patient_id == patient_id)
                     .values(status=schemas.UserStatus.ACTIVE.value, status_reason=None))
        audit.append(conn, at_ms=now, actor=actor, action="user.status_changed",
                     subject=patient_id, details={"from": "suspended", "to": "active",
                                                  "reason": "overdue repaid"})


def process_overdue(conn: Connection, *, config: ServerConfig, now: int) -> dict[str, int]:
    """Past due → suspended; the ``blacklist_after_overdue``-th episode → blacklisted."""
    overdue_ids = set(conn.execute(select(credit_charges.c.patient_id).distinct().where(
        credit_charges.c.cancelled.is_(False),
        credit_charges.c.repaid_fen < credit_charges.c.amount_fen,
        credit_charges.c.due_ms < now)).scalars())
    counts = {"suspended": 0, "blacklisted": 0}
    for patient_id in sorted(overdue_ids):
        user = user_row(conn, patient_id, for_update=True)
        if user.status != schemas.UserStatus.ACTIVE.value:
            continue  # already suspended or blacklisted: one episode counts once
        episodes = user.overdue_count + 1
        status = (schemas.UserStatus.BLACKLISTED if episodes >= config.credit
                  .blacklist_after_overdue else schemas.UserStatus.SUSPENDED).value
        conn.execute(update(users).where(users.c.patient_id == patient_id).values(
            status=status, status_reason=OVERDUE_REASON, overdue_count=episodes))
        gallery.refresh_user(conn, patient_id, config.gallery.scope)
        audit.append(conn, at_ms=now, actor="system", action="user.status_changed",
                     subject=patient_id, details={"from": user.status, "to": status,
                                                  "reason": OVERDUE_REASON,
                                                  "episodes": episodes})
        counts[status] += 1
    return counts
