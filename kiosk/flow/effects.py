"""Effects: what the flow asks the runtime to do. The runtime performs the I/O and reports
back through the flow's ``on_*`` methods, so the flow itself stays pure and testable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.errors import ErrorCode
from kiosk.flow.model import SettlementIntent
from kiosk.protocol.schemas import PaymentMethod


@dataclass(frozen=True)
class LookupPatient:
    """Fetch the patient's masked view, pending bills and the quote; ``key`` is the patient
    id (face), the card number (card) or the e-voucher payload (voucher)."""

    session_id: str
    method: PaymentMethod
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
    reason: ErrorCode
    patient_id: str | None = None  # when known: the counter sees the masked name
    amount_fen: int | None = None  # the self-pay at stake, when known


@dataclass(frozen=True)
class Audit:
    """One local audit record (never images, templates or unmasked personal data)."""

    event: str
    fields: dict[str, object] = field(default_factory=dict)


# 我的欠款 and repayment at the kiosk (kiosk/flow/owed.py)
@dataclass(frozen=True)
class LookupCredit:
    """Identify the patient (``key`` as in ``LookupPatient``) and fetch what they owe."""

    session_id: str
    method: PaymentMethod
    key: str


@dataclass(frozen=True)
class OpenRepayOrder:
    session_id: str
    identity: Any = field(repr=False)  # the identification result, handed back
    patient_id: str
    amount_fen: int
    settlement_id: str | None
    idempotency_key: str


@dataclass(frozen=True)
class PollRepayOrder:
    session_id: str
    order_id: str


@dataclass(frozen=True)
class CloseRepayOrder:
    session_id: str
    order_id: str


@dataclass(frozen=True)
class LookupFamilyCredit:
    """亲情付: what a patient who authorised the relative owes, read with the token issued
    via the relative (``kiosk.flow.family.FamilyMember.identity``)."""

    session_id: str
    identity: Any = field(repr=False)


Effect = (LookupPatient | CheckDigits | Settle | PrintReceipt | NotifyCashier | Audit
          | LookupCredit | OpenRepayOrder | PollRepayOrder | CloseRepayOrder
          | LookupFamilyCredit)
