"""What the console needs from the platform (``ui.cashier.platform`` implements it over the
signed counter client). Bodies are the wire models of ``kiosk.protocol.schemas`` (money in
integer fen, patients masked); failures are ``kiosk.backend.BackendError`` with the wire
code. Hand-offs are the platform's ``/v1/handoffs`` resource, filled by kiosks' fallbacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from kiosk.protocol.schemas import (
    EnrolTemplateRequest,
    EnrolTemplateResponse,
    PaymentMethod,
    PendingBills,
    Quote,
    Reconciliation,
    Settlement,
    SettlementList,
    SettleRequest,
    WithdrawConsentResponse,
)


class LookupBy(StrEnum):
    CARD = "card"
    VOUCHER = "voucher"
    PATIENT = "patient"


@dataclass(frozen=True)
class Handoff:
    """A kiosk session the flow handed to the cashier, with the flow's reason code."""

    handoff_id: str
    kiosk_id: str
    session_id: str
    reason: str
    at: datetime
    taken_by: str = ""


class CashierService(Protocol):
    def handoffs(self) -> list[Handoff]: ...

    def take_over(self, handoff_id: str) -> Handoff: ...

    def lookup(self, by: LookupBy, key: str) -> PendingBills: ...

    def quote(self, bill_id: str, patient_id: str, method: PaymentMethod) -> Quote: ...

    def settle(self, request: SettleRequest, idempotency_key: str) -> Settlement: ...

    def reverse(self, settlement_id: str, reason: str) -> Settlement: ...

    def reprint(self, settlement_id: str) -> None: ...

    def settlements(self, day: date) -> SettlementList: ...

    def reconciliation(self, day: date) -> Reconciliation: ...

    def withdraw_consent(self, patient_id: str, reason: str | None) -> WithdrawConsentResponse:
        ...

    def enrol(self, patient_id: str, request: EnrolTemplateRequest) -> EnrolTemplateResponse:
        ...
