"""What a patient owes (我的欠款) and repayment at the kiosk through a payment provider.

A kiosk opens a *repayment order* for what the patient owes (or one charge of it); the
provider (``server_stub.payments``) answers with the code_url the kiosk shows as a QR. The
money is credited when the provider says the order is paid — by its signed notification to
``POST /v1/payments/notify`` or by the answer to a query while the kiosk polls the order —
and both ways end in ``apply``, which credits an order at most once: only an ``open`` order
becomes ``paid``, under the order row's lock, and the provider's transaction id is unique.

What changes nothing: a notification that does not verify (401, audited as rejected); the
same notification again (the order is already paid); a payment reported for an order that
is no longer open (closed, expired, failed): the balance stays, and if the provider really
holds the payer's money (asked, not taken from the notification) it is refunded. A payment
larger than what is still owed when it arrives (the patient also paid at the counter) is
credited up to the balance and the rest refunded.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import Response
from sqlalchemy import Connection, insert, select, update

from common.errors import ErrorCode
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from server_stub import audit, ledger
from server_stub.clock import local_day, now_ms, to_datetime
from server_stub.config import ServerConfig
from server_stub.db import credit_charges, repayment_orders, settlements
from server_stub.idempotency import run_once, stored_reply
from server_stub.nonces import PendingNonce
from server_stub.payments.provider import (
    NotificationRejected,
    Payment,
    PaymentProvider,
    ProviderError,
    TradeState,
)
from server_stub.permissions import Grant
from server_stub.records.patients import credit_state, masked_patient, user_row
from server_stub.state import Platform

log = logging.getLogger("server_stub.payments")
NOTIFY_PATH = "/v1/payments/notify"
State = schemas.RepayOrderState
ENDED = frozenset({State.PAID, State.FAILED, State.CLOSED, State.EXPIRED})


def order_id_for(device_id: str, key: str) -> str:
    """The order's id (the provider's out_trade_no) from the request's Idempotency-Key, so a
    retry after a lost answer opens the same order at the provider, never a second one."""
    return "rpo_" + hashlib.sha256(f"{device_id}\n{key}".encode()).hexdigest()[:24]


# --------------------------------------------------------------------------- reading

def statement(conn: Connection, patient_id: str, *, timezone: str, now: int,
              repay_at_kiosk: bool) -> schemas.CreditStatement:
    """The charges not yet repaid, oldest due first: amounts, due dates, nothing more."""
    user = user_row(conn, patient_id)
    rows = conn.execute(select(credit_charges, settlements.c.receipt_no,
                               settlements.c.settled_ms).join(
        settlements, settlements.c.settlement_id == credit_charges.c.settlement_id).where(
        credit_charges.c.patient_id == patient_id, credit_charges.c.cancelled.is_(False),
        credit_charges.c.repaid_fen < credit_charges.c.amount_fen).order_by(
        credit_charges.c.due_ms, credit_charges.c.settlement_id))
    charges = [schemas.OwedCharge(
        settlement_id=r.settlement_id, receipt_no=r.receipt_no,
        settled_at=to_datetime(r.settled_ms), amount_fen=r.amount_fen, repaid_fen=r.repaid_fen,
        owed_fen=r.amount_fen - r.repaid_fen, due_date=local_day(r.due_ms, timezone),
        overdue=r.due_ms < now) for r in rows]
    return schemas.CreditStatement(patient=masked_patient(user),
                                   credit=credit_state(conn, user), charges=charges,
                                   repay_at_kiosk=repay_at_kiosk)


def _order_row(conn: Connection, order_id: str, *, site_id: str | None = None,
               for_update: bool = False) -> Any:
    query = select(repayment_orders).where(repayment_orders.c.order_id == order_id)
    if site_id is not None:  # another site's order is as unknown as a missing one
        query = query.where(repayment_orders.c.site_id == site_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise ProtocolError(ErrorCode.REPAY_ORDER_NOT_FOUND, "no such repayment order here")
    return row


def order_view(conn: Connection, row: Any) -> schemas.RepayOrder:
    credit = None
    if row.state == State.PAID.value:
        credit = credit_state(conn, user_row(conn, row.patient_id))
    paid_at = to_datetime(row.ended_ms) if row.state == State.PAID.value else None
    return schemas.RepayOrder(
        order_id=row.order_id, patient_id=row.patient_id, amount_fen=row.amount_fen,
        settlement_id=row.settlement_id, state=row.state, provider=row.provider,
        code_url=row.code_url, created_at=to_datetime(row.created_ms),
        expires_at=to_datetime(row.expires_ms), paid_at=paid_at,
        repayment_id=row.repayment_id, credit=credit)


def amount_to_repay(conn: Connection, req: schemas.RepayOrderRequest) -> int:
    """What the order is for: as asked, else everything owed (or all of the chosen charge);
    never more than is owed."""
    user = user_row(conn, req.patient_id)
    limit = int(user.outstanding_fen)
    if req.settlement_id is not None:
        charge = conn.execute(select(credit_charges).where(
            credit_charges.c.settlement_id == req.settlement_id,
            credit_charges.c.patient_id == req.patient_id,
            credit_charges.c.cancelled.is_(False))).first()
        if charge is None:
            raise ProtocolError(ErrorCode.SETTLEMENT_NOT_FOUND,
                                "no credit charge of this patient for this settlement")
        limit = min(limit, charge.amount_fen - charge.repaid_fen)
    amount = req.amount_fen if req.amount_fen is not None else limit
    if amount <= 0 or amount > limit:
        raise ProtocolError(ErrorCode.AMOUNT_EXCEEDS_BALANCE,
                            "repayment is larger than what is owed", outstanding_fen=limit)
    return amount


# ----------------------------------------------------------------------- changing

@dataclass(frozen=True)
class Applied:
    """What ``apply`` did, and what must follow outside the database (a refund)."""

    order: Any  # the row after the change
    refund_fen: int = 0  # the provider holds this much of the payer's money uncredited
    audit_head: schemas.AuditHead | None = None  # a payment credited: its record, for the anchors


def apply(conn: Connection, *, order_id: str, payment: Payment, provider: str,
          config: ServerConfig, now: int) -> Applied:
    """Bring the order in line with what the provider reports, crediting it at most once."""
    row = _order_row(conn, order_id, for_update=True)
    state = State(row.state)
    if payment.state in (TradeState.SUCCESS, TradeState.REFUND):
        if state is State.PAID:  # a duplicate: credited when it was first reported
            return Applied(row, _refund_due(row))
        if payment.amount_fen != row.amount_fen:
            raise ProtocolError(ErrorCode.NOTIFICATION_INVALID,
                                "the paid amount is not the order's", reason="amount")
        if state is not State.OPEN:  # paid after it ended: never credited
            return _late(conn, row, payment, provider, now)
        return _paid(conn, row, payment, provider, config, now)
    if state is not State.OPEN:
        return Applied(row)
    ended = {TradeState.PAYERROR: State.FAILED, TradeState.CLOSED: State.EXPIRED}.get(
        payment.state)
    if ended is None and now > row.expires_ms:
        ended = State.EXPIRED
    if ended is None:
        return Applied(row)
    return Applied(_end(conn, row, ended, f"provider:{provider}", now))


def _paid(conn: Connection, row: Any, payment: Payment, provider: str, config: ServerConfig,
          now: int) -> Applied:
    actor = f"provider:{provider}"
    owed = int(user_row(conn, row.patient_id, for_update=True).outstanding_fen)
    credited = min(row.amount_fen, owed)
    repayment_id = None
    if credited:
        repayment_id = ledger.credit_repayment(
            conn, actor=actor, patient_id=row.patient_id, amount_fen=credited,
            method=provider, reference=payment.transaction_id, config=config, now=now,
            first=row.settlement_id, details={"order_id": row.order_id,
                                              **ledger.paid_by_detail(row.paid_by)})
    excess = row.amount_fen - credited
    conn.execute(update(repayment_orders).where(
        repayment_orders.c.order_id == row.order_id,
        repayment_orders.c.state == State.OPEN.value).values(
        state=State.PAID.value, ended_ms=payment.success_ms or now,
        transaction_id=payment.transaction_id, repayment_id=repayment_id,
        refund_fen=excess or None))
    head = audit.append(conn, at_ms=now, actor=actor, action="repay_order.paid",
                        subject=row.order_id,
                        details={"patient_id": row.patient_id, "amount_fen": row.amount_fen,
                                 "credited_fen": credited, "repayment_id": repayment_id})
    return Applied(_order_row(conn, row.order_id), excess, head)


def _late(conn: Connection, row: Any, payment: Payment, provider: str, now: int) -> Applied:
    if row.refund_fen is None:
        conn.execute(update(repayment_orders).where(
            repayment_orders.c.order_id == row.order_id).values(refund_fen=payment.amount_fen))
        audit.append(conn, at_ms=now, actor=f"provider:{provider}",
                     action="repay_order.late_payment", subject=row.order_id,
                     details={"state": row.state, "amount_fen": payment.amount_fen})
    fresh = _order_row(conn, row.order_id)
    return Applied(fresh, _refund_due(fresh))


def _refund_due(row: Any) -> int:
    """Money of the payer's the provider holds uncredited and has not yet given back."""
    return int(row.refund_fen) if row.refund_fen and not row.refund_id else 0


def _end(conn: Connection, row: Any, state: State, actor: str, now: int) -> Any:
    conn.execute(update(repayment_orders).where(
        repayment_orders.c.order_id == row.order_id,
        repayment_orders.c.state == State.OPEN.value).values(state=state.value, ended_ms=now))
    audit.append(conn, at_ms=now, actor=actor, action=f"repay_order.{state.value}",
                 subject=row.order_id, details={"patient_id": row.patient_id})
    return _order_row(conn, row.order_id)


# ------------------------------------------------------------------------ the routes

class Orders:
    """The platform's repayment orders against one provider (None: kiosks take none)."""

    def __init__(self, platform: Platform, provider: PaymentProvider | None) -> None:
        self.platform = platform
        self.db = platform.db
        self.config = platform.config
        self.provider = provider

    def need_provider(self) -> PaymentProvider:
        if self.provider is None:
            raise ProtocolError(ErrorCode.PAYMENT_NOT_OFFERED,
                                "this platform takes no repayments through a provider")
        return self.provider

    async def open_order(self, access: Grant, req: schemas.RepayOrderRequest,
                         key: str | None, fingerprint: str, nonce: PendingNonce) -> Response:
        """Open an order at the provider, then record it, once per Idempotency-Key: the
        order's id comes from the key, so a retry after a lost answer opens no second one."""
        dev = access.device
        replay = stored_reply(self.db, dev.device_id, key, fingerprint)
        if replay is not None:
            return replay
        provider = self.need_provider()
        with self.db.read() as conn:
            access.patient(conn, req.patient_id)
            amount = amount_to_repay(conn, req)
        order_id = order_id_for(dev.device_id, str(key))
        created = now_ms()
        expires = created + self.config.payments.order_ttl_s * 1000
        try:
            code_url = await anyio.to_thread.run_sync(lambda: provider.create_order(
                out_trade_no=order_id, amount_fen=amount, description="医疗信用还款 credit "
                "repayment", notify_url=self.config.payments.notify_url, expires_ms=expires))
        except ProviderError as exc:
            log.warning("order not opened", extra={"code": exc.code})
            raise ProtocolError(ErrorCode.PAYMENT_UNAVAILABLE,
                                "the payment provider did not open the order; retry") from exc

        def record(conn: Connection, now: int) -> schemas.RepayOrder:
            paid_by = access.patient(conn, req.patient_id) or None  # a relative (亲情付)
            amount_to_repay(conn, req.model_copy(update={"amount_fen": amount}))  # still owed
            conn.execute(insert(repayment_orders).values(
                order_id=order_id, site_id=dev.site_id, device_id=dev.device_id,
                patient_id=req.patient_id, settlement_id=req.settlement_id,
                amount_fen=amount, provider=provider.name, code_url=code_url,
                state=State.OPEN.value, created_ms=created, expires_ms=expires,
                paid_by=paid_by))
            audit.append(conn, at_ms=now, actor=dev.actor, action="repay_order.opened",
                         subject=order_id, details={"patient_id": req.patient_id,
                                                    "amount_fen": amount,
                                                    **ledger.paid_by_detail(paid_by)})
            return order_view(conn, _order_row(conn, order_id))

        return await run_once(self.db, self.platform.inflight, device_id=dev.device_id,
                              key=key, fingerprint=fingerprint, status_code=201, nonce=nonce,
                              operation=record)

    def sync(self, order_id: str, payment: Payment) -> Any:
        """``apply`` in a transaction, then the refund it calls for."""
        provider = self.need_provider()
        applied = self.db.transact(lambda conn: apply(
            conn, order_id=order_id, payment=payment, provider=provider.name,
            config=self.config, now=now_ms()))
        if applied.audit_head is not None:  # money moved: anchored as the money routes are
            self.platform.anchors.append(applied.audit_head)
        if applied.refund_fen:
            self.refund(applied.order, applied.refund_fen)
        return applied.order

    def refund(self, row: Any, amount_fen: int) -> None:
        """Give back money the provider took that was not credited (once: the refund number
        is the order's; a failure is retried on the next notification or poll)."""
        provider = self.need_provider()
        try:
            done = provider.refund(out_trade_no=row.order_id, out_refund_no=f"{row.order_id}-r",
                                   amount_fen=amount_fen, total_fen=row.amount_fen,
                                   reason="not credited: order ended or nothing owed")
        except ProviderError as exc:
            log.error("refund failed", extra={"order_id": row.order_id, "code": exc.code})
            raise ProtocolError(ErrorCode.PAYMENT_UNAVAILABLE,
                                "the provider did not take the refund; retry") from exc

        def record(conn: Connection) -> None:
            conn.execute(update(repayment_orders).where(
                repayment_orders.c.order_id == row.order_id).values(refund_id=done.refund_id))
            audit.append(conn, at_ms=now_ms(), actor=f"provider:{provider.name}",
                         action="repay_order.refunded", subject=row.order_id,
                         details={"amount_fen": done.amount_fen, "refund_id": done.refund_id})

        self.db.transact(record)

    def poll(self, order_id: str, site_id: str) -> Any:
        """The order now: an open one is checked with the provider first (a notification
        may be late or lost), and ends once past its time."""
        with self.db.read() as conn:
            row = _order_row(conn, order_id, site_id=site_id)
        if row.state != State.OPEN.value or self.provider is None:
            return row
        try:
            payment = self.provider.query(order_id)
        except ProviderError as exc:
            log.warning("order query failed", extra={"order_id": order_id, "code": exc.code})
            return row
        if payment.state is TradeState.NOTPAY and now_ms() > row.expires_ms:
            return self.close(order_id, site_id, State.EXPIRED)
        return self.sync(order_id, payment)

    def close(self, order_id: str, site_id: str, state: State = State.CLOSED) -> Any:
        """Make the QR unpayable; an order the payer paid meanwhile is credited instead."""
        provider = self.need_provider()
        with self.db.read() as conn:
            row = _order_row(conn, order_id, site_id=site_id)
        if row.state != State.OPEN.value:
            return row
        try:
            provider.close(order_id)
        except ProviderError as exc:
            if exc.code != "ORDER_PAID":
                raise ProtocolError(ErrorCode.PAYMENT_UNAVAILABLE,
                                    "the provider did not close the order; retry") from exc
            return self.sync(order_id, self._query(order_id))
        return self.db.transact(lambda conn: _end(conn, _order_row(conn, order_id,
                                                                 for_update=True),
                                                state, "system", now_ms()))

    def notified(self, headers: dict[str, str], body: bytes) -> None:
        provider = self.need_provider()
        try:
            payment = provider.verify_notification(headers, body, now_ms())
        except NotificationRejected as exc:
            log.warning("notification rejected", extra={"reason": exc.reason})
            raise ProtocolError(ErrorCode.NOTIFICATION_INVALID,
                                "the notification did not verify", reason=exc.reason) from exc
        with self.db.read() as conn:
            row = _order_row(conn, payment.out_trade_no)
        if row.state not in (State.OPEN.value, State.PAID.value):
            # paid after the order ended? Only the provider's own answer says so, and only
            # then is the money given back
            payment = self._query(row.order_id)
        self.sync(row.order_id, payment)

    def _query(self, order_id: str) -> Payment:
        try:
            return self.need_provider().query(order_id)
        except ProviderError as exc:
            raise ProtocolError(ErrorCode.PAYMENT_UNAVAILABLE,
                                "the provider did not answer; send it again") from exc

