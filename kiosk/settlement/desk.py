"""The settlement desk: the one place a settlement is built, written, sent and decided.

``submit`` is the kiosk checkout (one outbox row per bill, first attempts at once, then the
offline policy or a partial outcome); ``settle_now`` is one counter charge; ``deliver`` is
every attempt either makes, the background sender's included, and the only code that
writes an attempt's result. What the patient is told comes from a *done* (the platform's
own answers, on the receipt) or a final refusal; an unknown outcome is "queued" under the
offline policy or "unconfirmed, see the cashier" — never "failed".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from common.errors import ErrorCode
from kiosk import receipts
from kiosk.backend import BackendError, SignedSettlement
from kiosk.config import OfflineConfig
from kiosk.flow.effects import NotifyCashier
from kiosk.flow.model import KioskPatient, KioskQuote, SettlementIntent, SettlementResult
from kiosk.outcome import ReplyOutcome
from kiosk.protocol import schemas
from kiosk.settlement.offline import offline_refusal
from kiosk.settlement.outbox import Outbox, OutboxRow, RowState
from kiosk.settlement.sender import Sender

log = logging.getLogger(__name__)

EXPIRY_MARGIN_S = 2 * 3600  # stop re-sending two hours before the platform forgets the key
RECONCILE_WINDOW_S = 23 * 3600  # inside the platform's shortest key retention (24 h)
RECEIPT_KEEP_S = 30 * 86400  # delivered rows (the signed answers) kept a month


class SettleBackend(Protocol):
    def settle(self, request: schemas.SettleRequest, idempotency_key: str
               ) -> SignedSettlement: ...

    def reconcile(self, request: schemas.ReconcileRequest) -> schemas.ReconcileResponse: ...


@dataclass(frozen=True)
class Delivery:
    outcome: ReplyOutcome
    settlement: schemas.Settlement | None = None
    code: ErrorCode | None = None  # why not done
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Submitted:
    """What the flow is told: a result (settled, partial, queued) or why not."""

    result: SettlementResult | None = None
    failure: ErrorCode | None = None  # a final refusal's code, or settlement.unconfirmed


def request_for(intent: SettlementIntent, bill_id: str) -> schemas.SettleRequest:
    """One bill's settlement; the self-pay the patient saw is sent so the platform refuses
    if the split changed since the quote."""
    return schemas.SettleRequest(bill_id=bill_id, patient_id=intent.patient_id,
                                 method=intent.method,
                                 expected_self_pay_fen=dict(intent.bill_self_pay).get(bill_id))


def batch_digest(settlement_ids: list[str]) -> str:
    """sha256 hex of the sorted ids joined by newlines (protocol: reconcile)."""
    return hashlib.sha256("\n".join(sorted(settlement_ids)).encode()).hexdigest()


class SettlementDesk:
    def __init__(self, backend: SettleBackend, outbox: Outbox, *, offline: OfflineConfig,
                 station: receipts.Station, hold_s: float,
                 retention_hours: Callable[[], int], platform_now: Callable[[], float],
                 notify_cashier: Callable[[NotifyCashier], None],
                 clock: Callable[[], float] = time.time) -> None:
        self.backend = backend
        self.outbox = outbox
        self.offline = offline
        self.station = station
        self.hold_s = hold_s  # the background sender keeps off a row while the kiosk waits
        self.retention_hours = retention_hours
        self.platform_now = platform_now
        self.notify_cashier = notify_cashier  # rows the patient has left with
        self.clock = clock
        self.sender = Sender(self.run_due, outbox.next_due_at, clock=clock)

    # ------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self.outbox.purge(self.clock() - RECEIPT_KEEP_S)
        self.sender.start()

    def stop(self) -> None:
        self.sender.stop()

    def platform_restored(self) -> None:
        """The platform answers again: every pending row is due now."""
        if self.outbox.retry_now():
            self.sender.wake()

    # ---------------------------------------------------------------- kiosk
    def submit(self, intent: SettlementIntent, quote: KioskQuote, patient: KioskPatient
               ) -> Submitted:
        """Durably enqueue one row per bill, then deliver them now, in order."""
        per_bill = dict(intent.bill_self_pay)
        rows = [self.outbox.enqueue(f"{intent.idempotency_key}-{bill_id}", intent.session_id,
                                    request_for(intent, bill_id), per_bill.get(bill_id, 0),
                                    hold_s=self.hold_s)
                for bill_id in intent.bill_ids]
        done: list[schemas.Settlement] = []
        for row in rows:
            delivery = self.deliver(row, background=False)
            if delivery.outcome is ReplyOutcome.DONE and delivery.settlement is not None:
                done.append(delivery.settlement)
            elif delivery.outcome is ReplyOutcome.REFUSED:
                return self._partial(intent, done, delivery.code) if done else \
                    Submitted(failure=delivery.code)
            else:
                return self._unknown(intent, quote, patient, rows)
        receipt = receipts.from_settlements(self.station, done)
        return Submitted(SettlementResult(done[0].settlement_id, "settled",
                                          int(receipt["self_pay_fen"]), receipt))

    def _partial(self, intent: SettlementIntent, done: list[schemas.Settlement],
                 refusal: ErrorCode) -> Submitted:
        """Some bills settled before the platform refused one: the receipt covers exactly
        the settled bills, from the platform's own answers; the cashier is told the rest."""
        paid = {s.bill_id for s in done}
        unpaid = tuple(b for b in intent.bill_ids if b not in paid)
        # still owed: the unpaid bills' quoted self-pay, less the refused one if the reason
        # is that it was paid already (at the counter, meanwhile)
        taken = unpaid[:1] if refusal == ErrorCode.BILL_ALREADY_SETTLED else ()
        owed = sum(fen for bill, fen in intent.bill_self_pay
                   if bill in unpaid and bill not in taken)
        receipt = receipts.from_settlements(self.station, done, extra=(
            f"未支付账单 Unpaid bills: {len(unpaid)}",
            "请到人工收费窗口办理 Please see the cashier"), unpaid_fen=owed)
        return Submitted(SettlementResult(done[0].settlement_id, "partial",
                                          int(receipt["self_pay_fen"]), receipt,
                                          unpaid_bill_ids=unpaid, refusal=refusal))

    def _unknown(self, intent: SettlementIntent, quote: KioskQuote, patient: KioskPatient,
                 rows: list[OutboxRow]) -> Submitted:
        """Not known whether the platform charged: the rows stay and keep being sent. Under
        the offline limits the patient leaves with a "pending" slip; otherwise the cashier
        is asked — the platform's one-settlement-per-bill rule keeps a second charge out."""
        count, total, oldest = self.outbox.offline_exposure()
        refusal = offline_refusal(self.offline, intent.self_pay_fen, count, total, oldest,
                                  self.clock())
        if refusal is not None:
            log.warning("settlement.unconfirmed", extra={"session": intent.session_id,
                                                         "offline_refusal": refusal})
            return Submitted(failure=ErrorCode.SETTLEMENT_UNCONFIRMED)
        for row in rows:
            self.outbox.mark_offline(row.idempotency_key)
        receipt = receipts.from_quote(self.station, patient.name_masked, quote,
                                      method=intent.method.value,
                                      self_pay_fen=intent.self_pay_fen,
                                      settlement_id=intent.idempotency_key, pending=True)
        return Submitted(SettlementResult(None, "queued", intent.self_pay_fen, receipt))

    # -------------------------------------------------------------- counter
    def settle_now(self, request: schemas.SettleRequest, key: str, session_id: str,
                   amount_fen: int) -> schemas.Settlement:
        """One counter charge through the same outbox; raises ``BackendError`` unless done
        (an unknown outcome stays queued under ``key``: charging again reuses it)."""
        row = self.outbox.enqueue(key, session_id, request, amount_fen, hold_s=self.hold_s)
        if row.state is not RowState.PENDING:
            if row.response is not None:
                return row.response
            raise BackendError(row.last_error or ErrorCode.SETTLEMENT_UNCONFIRMED,
                               "this charge was refused before", details=row.details)
        delivery = self.deliver(row, background=False)
        if delivery.settlement is not None:
            return delivery.settlement
        raise BackendError(delivery.code or ErrorCode.SETTLEMENT_UNCONFIRMED,
                           "the platform did not confirm this charge",
                           details=delivery.details)

    # ------------------------------------------------------------- delivery
    def run_due(self) -> int:
        """The sender's round: every due row once; returns how many were delivered."""
        delivered = 0
        for row in self.outbox.due(self.clock()):
            delivered += self.deliver(row).outcome is ReplyOutcome.DONE
        return delivered

    def deliver(self, row: OutboxRow, *, background: bool = True) -> Delivery:
        """One attempt and its bookkeeping. ``background``: the patient is gone, so a
        refusal or an expiry is handed to the cashier."""
        now = self.clock()
        fields = {"key": row.idempotency_key, "session": row.session_id,
                  "bill": row.request.bill_id, "fen": row.amount_fen,
                  "attempt": row.attempts + 1, "offline": row.offline}
        if now - row.created_at > self.retention_hours() * 3600 - EXPIRY_MARGIN_S:
            # the platform may have forgotten this key: a blind re-send could charge again
            # after a reversal. The cashier decides, with the row's history.
            self.outbox.mark_expired(row.idempotency_key, ErrorCode.SETTLEMENT_EXPIRED, now)
            log.error("settlement.expired", extra=fields)
            self.notify_cashier(self._handoff(row, ErrorCode.SETTLEMENT_EXPIRED))
            return Delivery(ReplyOutcome.UNKNOWN, code=ErrorCode.SETTLEMENT_EXPIRED)
        log.info("settlement.attempt", extra=fields)
        try:
            signed = self.backend.settle(row.request, row.idempotency_key)
        except BackendError as exc:
            log.warning("settlement.result", extra={**fields, "outcome": exc.outcome.value,
                                                    "code": exc.code})
            if exc.outcome is ReplyOutcome.REFUSED:
                self.outbox.mark_refused(row.idempotency_key, exc.code, exc.details, now)
                if background:
                    self.notify_cashier(self._handoff(row, ErrorCode.SETTLEMENT_REFUSED))
                return Delivery(ReplyOutcome.REFUSED, code=exc.code, details=exc.details)
            self.outbox.mark_unknown(row.idempotency_key, exc.code, now)
            return Delivery(ReplyOutcome.UNKNOWN, code=exc.code)
        settlement = signed.settlement
        self.outbox.mark_delivered(row.idempotency_key, settlement, signed.answer, now)
        log.info("settlement.result", extra={**fields, "outcome": ReplyOutcome.DONE.value,
                                             "settlement_id": settlement.settlement_id})
        return Delivery(ReplyOutcome.DONE, settlement)

    @staticmethod
    def _handoff(row: OutboxRow, reason: ErrorCode) -> NotifyCashier:
        return NotifyCashier(row.session_id, reason, row.request.patient_id, row.amount_fen)

    # --------------------------------------------------------- batch totals
    def reconcile(self) -> schemas.ReconcileResponse:
        """Send the platform what this device holds; re-queue what it has lost."""
        since = self.platform_now() - RECONCILE_WINDOW_S
        held = [r for r in self.outbox.delivered_since(self.clock() - RECONCILE_WINDOW_S - 3600)
                if r.response is not None and r.response.settled_at.timestamp() >= since]
        ids = [r.response.settlement_id for r in held if r.response is not None]
        request = schemas.ReconcileRequest(
            since=dt.datetime.fromtimestamp(since, dt.UTC), count=len(held),
            self_pay_fen=sum(r.response.layers.self_pay_fen for r in held
                             if r.response is not None),
            digest=batch_digest(ids),
            settlements=[schemas.HeldSettlement(
                settlement_id=r.response.settlement_id, idempotency_key=r.idempotency_key,
                bill_id=r.response.bill_id, self_pay_fen=r.response.layers.self_pay_fen)
                for r in held if r.response is not None],
            pending_keys=[r.idempotency_key for r in self.outbox.pending()],
            audit_head=self.outbox.audit_head())
        answer = self.backend.reconcile(request)
        requeued = sum(self.outbox.requeue(key, ErrorCode.RECONCILE_MISSING_ON_PLATFORM)
                       for key in answer.missing_on_platform)
        fields = {"held": len(held), "matched": answer.matched, "requeued": requeued,
                  "missing_on_platform": len(answer.missing_on_platform),
                  "missing_on_device": len(answer.missing_on_device),
                  "audit": answer.audit.value}
        if answer.missing_on_platform or answer.missing_on_device \
                or answer.audit is schemas.AuditCheck.ROLLBACK:
            log.error("settlement.reconcile", extra=fields)
        else:
            log.info("settlement.reconcile", extra=fields)
        if requeued:
            self.sender.wake()
        return answer
