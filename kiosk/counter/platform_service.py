"""The counter's ``CashierService`` over the signed platform client of a counter device.

Everything the cashier does is a platform call, except printing: a payment taken at the
counter prints its slip on the counter's printer (kept in its spool, so it can be
reprinted), and reprints go to that printer's spool. Reprint failures are turned into
``BackendError`` with the device's code, because that is the one failure shape the console
knows how to put in words; a slip that fails to print never undoes the payment.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import date
from typing import Protocol

from device.errors import DeviceError, PrinterOffline
from device.printer.receipt import Receipt
from kiosk import receipts
from kiosk.backend import BackendError
from kiosk.client import PlatformClient
from kiosk.config import OfflineConfig
from kiosk.counter.family import FamilyService
from kiosk.counter.service import CounterHandoff, LookupBy
from kiosk.protocol import schemas
from kiosk.receipts import Station
from kiosk.recognition.template import Template
from kiosk.settlement.desk import SettlementDesk
from kiosk.settlement.outbox import Outbox, OutboxRow, RowState

log = logging.getLogger(__name__)
UNRESOLVED_REFUSALS_S = 86_400  # a refusal that came after an unknown outcome: shown a day


class SlipPrinter(Protocol):
    """What the console needs of a receipt printer (``device.printer.ReceiptPrinter``)."""

    def print_receipt(self, receipt: Receipt) -> object: ...

    def reprint(self, settlement_id: str) -> object: ...


class PlatformCashierService:
    """``outbox``: the counter's own settlement outbox — a charge whose answer was lost
    stays there and is resolved by the desk's sender, under the same key."""

    def __init__(self, client: PlatformClient, outbox: Outbox,
                 printer: SlipPrinter | None = None, station: Station | None = None) -> None:
        self.client = client
        self.printer = printer
        self.station = station or Station("", client.device_id)
        self.desk = SettlementDesk(
            client, outbox, offline=OfflineConfig(), station=self.station, hold_s=60.0,
            retention_hours=lambda: client.retention_hours, platform_now=client.clock.now,
            notify_cashier=lambda effect: log.error("cashier.charge_unresolved", extra={
                "session": effect.session_id, "reason": effect.reason}))
        client.on_restored(self.desk.platform_restored)
        self.family = FamilyService(client)

    # ------------------------------------------------------------- hand-offs
    def handoffs(self) -> list[CounterHandoff]:
        """Today's hand-offs of the site, taken ones too: the queue shows who took what."""
        listing = self.client.handoffs(open_only=False)
        return [CounterHandoff.of(h) for h in listing.handoffs]

    def take_over(self, handoff_id: str) -> CounterHandoff:
        return CounterHandoff.of(self.client.take_handoff(handoff_id))

    def resolve(self, handoff_id: str, outcome: schemas.ResolveOutcome) -> CounterHandoff:
        return CounterHandoff.of(self.client.resolve_handoff(handoff_id, outcome))

    def dismiss(self, handoff_id: str, reason: schemas.DismissReason) -> CounterHandoff:
        return CounterHandoff.of(self.client.dismiss_handoff(handoff_id, reason))

    # ---------------------------------------------------------------- look-up
    def lookup(self, by: LookupBy, key: str) -> schemas.PendingBills:
        patient_id = key if by == LookupBy.PATIENT else \
            self.family.find(by, key).patient.patient_id
        return self.client.pending_bills(patient_id)

    # ------------------------------------------------------------------ money
    def quote(self, bill_id: str, patient_id: str,
              method: schemas.PaymentMethod) -> schemas.Quote:
        return self.client.quote(bill_id, patient_id, method)

    def settle(self, request: schemas.SettleRequest, idempotency_key: str
               ) -> schemas.Settlement:
        """The console's key is kept: a retry of the same quoted settlement charges once."""
        settlement = self.desk.settle_now(request, idempotency_key,
                                          f"counter-{idempotency_key}",
                                          request.expected_self_pay_fen or 0)
        self._print_slip(settlement)
        return settlement

    def _print_slip(self, settlement: schemas.Settlement) -> None:
        if self.printer is None:
            return
        try:
            self.printer.print_receipt(Receipt.from_dict(
                receipts.from_settlements(self.station, [settlement])))
        except DeviceError as exc:  # kept in the spool when it got that far: reprint
            log.warning("cashier.slip_failed", extra={
                "code": exc.code, "settlement_id": settlement.settlement_id})

    def reverse(self, settlement_id: str, reason: str) -> schemas.Settlement:
        """A fresh key per click: a repeated reversal is refused by the platform
        (``settlement.already_reversed``), never refunded twice."""
        return self.client.reverse(settlement_id, reason, idempotency_key=uuid.uuid4().hex)

    def reprint(self, settlement_id: str) -> None:
        try:
            if self.printer is None:
                raise PrinterOffline("no receipt printer is attached to this console")
            self.printer.reprint(settlement_id)
        except DeviceError as exc:
            log.warning("cashier.reprint_failed", extra={"code": exc.code,
                                                         "settlement_id": settlement_id})
            raise BackendError(exc.code, exc.message) from exc

    def unresolved(self) -> list[OutboxRow]:
        box = self.desk.outbox
        recent = time.time() - UNRESOLVED_REFUSALS_S
        refused = [r for r in box.rows(RowState.REJECTED)
                   if r.finished_at and r.finished_at >= recent and r.attempts > 1]
        return [*box.rows(RowState.PENDING), *box.rows(RowState.EXPIRED), *refused]

    def retry_unresolved(self) -> int:
        """Send every pending charge again now (same keys: never a second charge)."""
        touched = self.desk.outbox.retry_now()
        self.desk.sender.wake()
        return touched

    def settlements(self, day: date) -> schemas.SettlementList:
        return self.client.settlements_today(day.isoformat())

    def reconciliation(self, day: date) -> schemas.Reconciliation:
        return self.client.reconciliation(day.isoformat())

    # ---------------------------------------------------------------- consent
    def withdraw_consent(self, patient_id: str, reason: str
                         ) -> schemas.WithdrawConsentResponse:
        return self.client.withdraw_consent(patient_id, reason)

    def enrol(self, patient_id: str, request: schemas.EnrolTemplateRequest
              ) -> schemas.EnrolTemplateResponse:
        template = Template.from_dict(request.template.model_dump())
        return self.client.enrol(patient_id, template, request.consent.text_version,
                                 request.consent.consented_at)
