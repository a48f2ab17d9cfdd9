"""What the flow knows about a patient and a bill: display-safe, masked, integer fen."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from common.errors import ErrorCode
from kiosk.protocol.schemas import PaymentMethod


class State(StrEnum):
    IDLE = "idle"
    SEARCHING = "searching"
    LIVENESS = "liveness"
    SECOND_FACTOR = "second_factor"
    LOOKING_UP = "looking_up"  # waiting for the backend: identity, bills and the quote
    BILL_REVIEW = "bill_review"
    SETTLING = "settling"
    DONE = "done"
    FALLBACK = "fallback"
    # 我的欠款 and repayment at the kiosk (kiosk/flow/owed.py)
    OWED_IDENTIFY = "owed_identify"  # choose face, card or e-voucher to see what is owed
    OWED = "owed"  # the charges and due dates
    REPAY_QR = "repay_qr"  # the payment QR, while the provider has not said paid
    REPAY_CLOSING = "repay_closing"  # the QR is being closed (cancel or timeout)
    REPAID = "repaid"
    FAMILY = "family"  # 亲情付: the patients who authorised the relative (kiosk/flow/family.py)


# How each insurance layer is named to patients (receipts, screens): Chinese, then English.
LAYER_LABELS = {
    "basic_pool": "基本医疗保险 Basic insurance",
    "critical_illness": "大病保险 Critical illness",
    "medical_aid": "医疗救助 Medical aid",
    "self_pay": "个人自付 Self-pay",
}

# States in which the flow holds a patient's personal data.
PERSONAL_STATES = frozenset({State.SECOND_FACTOR, State.LOOKING_UP, State.BILL_REVIEW,
                             State.SETTLING, State.DONE, State.OWED, State.REPAY_QR,
                             State.REPAY_CLOSING, State.REPAID, State.FAMILY})
# money moving or a look-up running: their deadlines are the kiosk's, not the patient's
WAITING_STATES = frozenset({State.LOOKING_UP, State.SETTLING, State.REPAY_CLOSING})
# money may move without a touch (a payment QR is paid on the patient's phone): no
# inactivity reset here, the state's own deadline ends it
MONEY_STATES = frozenset({State.SETTLING, State.REPAY_QR, State.REPAY_CLOSING})


@dataclass(frozen=True)
class KioskPatient:
    """The patient as the kiosk may show them: masked by the backend, never full values.
    The kiosk's translation of the wire's ``schemas.PatientView`` (``kiosk.client``)."""

    patient_id: str
    name_masked: str
    id_masked: str
    category: str  # employee | resident | poverty_relief


@dataclass(frozen=True)
class BillLine:
    description: str
    category: str  # drug | exam | treatment | ...
    amount_fen: int


@dataclass(frozen=True)
class KioskQuote:
    """The split of the patient's pending bills across insurance layers, before confirming:
    the kiosk's translation of the wire's ``schemas.Quote`` for every pending bill."""

    quote_id: str
    bill_ids: tuple[str, ...]
    lines: tuple[BillLine, ...]
    total_fen: int
    layers: tuple[tuple[str, int], ...]  # (layer name, fen), self_pay last
    self_pay_fen: int
    credit_available_fen: int
    bill_self_pay: tuple[tuple[str, int], ...] = ()  # (bill id, its self-pay fen)

    @property
    def within_credit(self) -> bool:
        return self.self_pay_fen <= self.credit_available_fen


@dataclass(frozen=True)
class SettlementIntent:
    """What the patient confirmed; written to the outbox before anything is sent."""

    idempotency_key: str
    session_id: str
    patient_id: str
    quote_id: str
    bill_ids: tuple[str, ...]
    self_pay_fen: int
    total_fen: int
    method: PaymentMethod  # how the patient was identified is how they pay (never cash)
    bill_self_pay: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class SettlementResult:
    settlement_id: str | None  # None while only queued offline
    status: str  # settled | queued | partial (some bills paid, the platform refused the rest)
    self_pay_fen: int  # what was actually paid (partial: the paid bills only)
    receipt: dict[str, object] = field(default_factory=dict)
    unpaid_bill_ids: tuple[str, ...] = ()  # partial: left for the cashier
    refusal: ErrorCode | None = None  # partial: the platform's code for the first refused bill
