"""What the kiosk needs from the platform, as an interface the runtime depends on.

``kiosk.client.PlatformClient`` implements it over signed HTTP; tests may drive the runtime
against the real server through that client. Failures are ``BackendError`` with the wire
error code, and whether retrying the same request could succeed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from common.errors import ErrorCode
from kiosk.errors import KioskError
from kiosk.flow.model import KioskPatient, KioskQuote
from kiosk.flow.owed import KioskRepayOrder, Statement
from kiosk.outcome import ReplyOutcome, classify
from kiosk.platform_clock import PlatformClock
from kiosk.protocol import schemas
from kiosk.protocol.schemas import PaymentMethod
from kiosk.protocol.signing import SignedAnswer
from kiosk.recognition.template import Template


class BackendError(KioskError):
    """``code`` is the platform's wire code (or ``backend.unreachable``/``backend.timeout``,
    ``client.untrusted_response``...); what it means for the request is ``outcome``."""

    def __init__(self, code: ErrorCode, message: str, *, status: int | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message, code=code, status=status)
        self.status = status
        self.details = details or {}
        # a 5xx never decided anything final, whatever its code says
        self.outcome = (ReplyOutcome.UNKNOWN if status is not None and status >= 500
                        else classify(code))

    @property
    def retryable(self) -> bool:
        """The same request (freshly signed, same key) may still succeed."""
        return self.outcome is ReplyOutcome.UNKNOWN


@dataclass(frozen=True)
class SignedSettlement:
    """A settlement and the platform's signed answer that made it: the kiosk's receipt."""

    settlement: schemas.Settlement
    answer: SignedAnswer


@dataclass(frozen=True)
class GalleryPage:
    cursor: int
    more: bool
    upserts: list[tuple[str, Template]]
    deletions: list[str]


class Backend(Protocol):
    clock: PlatformClock  # learned from signed answers
    retention_hours: int  # how long the platform keeps Idempotency-Keys

    def on_restored(self, callback: Callable[[], None]) -> None: ...

    def lookup(self, method: PaymentMethod, key: str) -> tuple[KioskPatient, KioskQuote | None]: ...

    def narrow(self, last4: str, candidates: list[str] | None) -> list[str]: ...

    def owed(self, method: PaymentMethod, key: str) -> Statement: ...

    def family_statement(self, dependant: Any) -> Statement:
        """亲情付: what a patient of ``Statement.family`` owes (``FamilyMember.identity``)."""
        ...

    def open_repay_order(self, identified: Any, amount_fen: int, settlement_id: str | None,
                         idempotency_key: str) -> KioskRepayOrder: ...

    def repay_order(self, order_id: str) -> KioskRepayOrder: ...

    def close_repay_order(self, order_id: str) -> KioskRepayOrder: ...

    def verify_digits(self, session_id: str, patient_id: str, last4: str) -> tuple[bool, int]:
        ...

    def settle(self, request: schemas.SettleRequest, idempotency_key: str
               ) -> SignedSettlement: ...

    def reconcile(self, request: schemas.ReconcileRequest) -> schemas.ReconcileResponse: ...

    def sync_gallery(self, cursor: int) -> GalleryPage: ...

    def handoff(self, session_id: str, reason: str, patient_id: str | None = None,
                amount_fen: int | None = None) -> Any: ...

    def heartbeat(self, report: schemas.HeartbeatRequest) -> schemas.HeartbeatResponse: ...
