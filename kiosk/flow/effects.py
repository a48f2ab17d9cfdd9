"""Effects: what the flow asks the runtime to do. The runtime performs the I/O and reports
back through the flow's ``on_*`` methods, so the flow itself stays pure and testable."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.flow.model import Method, SettlementIntent


@dataclass(frozen=True)
class LookupPatient:
    """Fetch the patient's masked view, pending bills and the quote; ``key`` is the patient
    id (face), the card number (card) or the e-voucher payload (voucher)."""

    session_id: str
    method: Method
    key: str


@dataclass(frozen=True)
class CheckDigits:
    """Ask the backend which of ``candidates`` (or, if empty, which gallery members) have
    these phone digits, then let the face decide among them."""

    session_id: str
    candidates: tuple[str, ...]
    digits: str


@dataclass(frozen=True)
class Settle:
    intent: SettlementIntent


@dataclass(frozen=True)
class PrintReceipt:
    session_id: str
    receipt: dict[str, object]


@dataclass(frozen=True)
class NotifyCashier:
    session_id: str
    reason: str
    patient_id: str | None = None  # when known: the counter sees the masked name
    amount_fen: int | None = None  # the self-pay at stake, when known


@dataclass(frozen=True)
class Audit:
    """One local audit record (never images, templates or unmasked personal data)."""

    event: str
    fields: dict[str, object] = field(default_factory=dict)


Effect = LookupPatient | CheckDigits | Settle | PrintReceipt | NotifyCashier | Audit
