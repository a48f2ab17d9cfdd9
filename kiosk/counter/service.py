"""What the console needs from the platform (``kiosk.counter.platform_service`` implements
it over the signed counter client). Bodies are the wire models of ``kiosk.protocol.schemas``
(money in integer fen, patients masked); failures are ``kiosk.backend.BackendError`` with the
wire code. Hand-offs are the platform's ``/v1/handoffs`` resource, filled by kiosks' fallbacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from kiosk.protocol import schemas
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
from kiosk.settlement.outbox import OutboxRow

if TYPE_CHECKING:
    from kiosk.counter.family import FamilyService


class LookupBy(StrEnum):
    CARD = "card"
    VOUCHER = "voucher"
    PATIENT = "patient"


@dataclass(frozen=True)
class CounterHandoff:
    """A kiosk session the flow handed to the cashier, with the flow's reason code; sessions
    of one kiosk with the same reason are merged by the platform (``count``). The counter's
    translation of the wire's ``schemas.Handoff``."""

    handoff_id: str
    kiosk_id: str
    session_id: str
    reason: str
    at: datetime
    taken_by: str = ""
    kiosk_name: str = ""  # where staff find the patient; "" for devices registered unnamed
    count: int = 1
    last_at: datetime | None = None
    patient_id: str = ""
    patient_name: str = ""  # masked
    amount_fen: int | None = None
    state: schemas.HandoffState = schemas.HandoffState.OPEN

    @classmethod
    def of(cls, wire: schemas.Handoff) -> CounterHandoff:
        """The wire hand-off without the site; taken_by "" while open."""
        return cls(handoff_id=wire.handoff_id, kiosk_id=wire.kiosk_id,
                   session_id=wire.session_id, reason=wire.reason, at=wire.created_at,
                   taken_by=wire.taken_by or "", kiosk_name=wire.kiosk_name, count=wire.count,
                   last_at=wire.last_at, patient_id=wire.patient_id or "",
                   patient_name=wire.patient_name or "", amount_fen=wire.amount_fen,
                   state=wire.state)

    @property
    def latest(self) -> datetime:
        return self.last_at or self.at


class CashierService(Protocol):
    family: FamilyService  # 亲情付: authorisations, dependants, repayments for them

    def handoffs(self) -> list[CounterHandoff]: ...

    def take_over(self, handoff_id: str) -> CounterHandoff: ...

    def resolve(self, handoff_id: str, outcome: schemas.ResolveOutcome) -> CounterHandoff: ...

    def dismiss(self, handoff_id: str, reason: schemas.DismissReason) -> CounterHandoff: ...

    def lookup(self, by: LookupBy, key: str) -> PendingBills: ...

    def quote(self, bill_id: str, patient_id: str, method: PaymentMethod) -> Quote: ...

    def settle(self, request: SettleRequest, idempotency_key: str) -> Settlement: ...

    def reverse(self, settlement_id: str, reason: str) -> Settlement: ...

    def reprint(self, settlement_id: str) -> None: ...

    def settlements(self, day: date) -> SettlementList: ...

    def unresolved(self) -> list[OutboxRow]:
        """This counter's charges not settled for sure: pending (outcome unknown, still
        being sent), expired (too old to send again) and recently refused after an unknown
        outcome — with the settlement that took the bill when that was the refusal."""
        ...

    def retry_unresolved(self) -> int: ...

    def reconciliation(self, day: date) -> Reconciliation: ...

    def withdraw_consent(self, patient_id: str, reason: str) -> WithdrawConsentResponse: ...

    def enrol(self, patient_id: str, request: EnrolTemplateRequest) -> EnrolTemplateResponse:
        ...
