"""Request and response bodies of every /v1 endpoint, as pydantic models.

Money is integer fen everywhere (``strict`` ints: 12.5, "1250" and true are refused, never
coerced). Request models forbid unknown fields so a misspelt field is an error rather than
silently ignored. Patient data in responses is always the masked form.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from kiosk.protocol.templates import MAX_DIM, WireTemplate, parse_template

MAX_FEN = 1_000_000_000  # 10 million yuan: anything larger is a typo or an attack
Fen = Annotated[int, Field(strict=True, ge=0, le=MAX_FEN)]
PositiveFen = Annotated[int, Field(strict=True, gt=0, le=MAX_FEN)]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Last4 = Annotated[str, Field(pattern=r"^[0-9]{4}$")]
SessionId = Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$",
                                 description="the kiosk's checkout session")]
ReasonCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.]+$",
                                  description="dotted code, e.g. face.not_recognised")]


class Role(StrEnum):
    KIOSK = "kiosk"
    COUNTER = "counter"
    HIS = "his"  # the hospital information system: feeds its site's bills (§15)


class PaymentMethod(StrEnum):
    """How a patient was identified and pays: face, card or e-voucher at a kiosk (the checkout
    flow's method too), cash only at a counter."""

    FACE = "face"
    CARD = "card"
    VOUCHER = "voucher"
    CASH = "cash"


class RepaymentMethod(StrEnum):
    """How a debt was repaid at a counter: its ``card`` is a bank card, not the insurance card
    of ``PaymentMethod.CARD``, so the two are not one enum."""

    CASH = "cash"
    CARD = "card"
    TRANSFER = "transfer"


class Relation(StrEnum):
    """Who the relative is to the patient (亲情付), as the counter records it."""

    SPOUSE = "spouse"
    PARENT = "parent"
    CHILD = "child"
    SIBLING = "sibling"
    GRANDCHILD = "grandchild"
    GUARDIAN = "guardian"
    OTHER = "other"


class InsuranceCategory(StrEnum):
    EMPLOYEE = "employee"
    RESIDENT = "resident"
    POVERTY_RELIEF = "poverty_relief"


class UserStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    BLACKLISTED = "blacklisted"


class BillStatus(StrEnum):
    PENDING = "pending"
    SETTLED = "settled"
    CANCELLED = "cancelled"  # by the hospital system, before anyone settled it


class SettlementStatus(StrEnum):
    SETTLED = "settled"
    REVERSED = "reversed"


class ItemKind(StrEnum):
    DRUG = "drug"
    EXAM = "exam"
    TREATMENT = "treatment"
    MATERIAL = "material"
    BED = "bed"
    OTHER = "other"


class GalleryScope(StrEnum):
    OPEN_BILLS = "open_bills"
    ALL_ACTIVE = "all_active"


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- errors, health, keys, devices ------------------------------------------------------

class ErrorDetail(Response):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(Response):
    error: ErrorDetail


class Health(Response):
    status: Literal["ok"]
    version: str
    time: AwareDatetime
    skew_window_s: Annotated[int, Field(strict=True, ge=1, description=(
        "security.skew_seconds: how far a signature's created may be from platform time"))]
    timezone: str = Field(description="server.timezone (IANA): the zone of every date and "
                                      "of 'today'")


class ServerKey(Response):
    key_id: str = Field(description="keyid the server signs with: the key's fingerprint")
    alg: Literal["ed25519", "sm2-sm3"] = Field(description="the signature algorithm of "
                                                "every response (RFC 9421 alg)")
    crypto_profile: Literal["ed25519", "gm"] = Field(
        default="ed25519", description="security.crypto_profile: the algorithms a device must "
        "use with this platform (protocol §2.1)")
    public_key: str = Field(description="base64 of the raw public key: 32 bytes (Ed25519) or "
                                        "the 65-byte point 04||x||y (SM2)")
    fingerprint: str = Field(description="hex SHA-256 (SM3 under gm) of the raw public key")
    tls_fingerprint: str | None = Field(
        default=None, description="sha256:<hex> of the DER TLS certificate the platform "
        "serves (null: plain HTTP on loopback); a device pins it only when it equals the "
        "certificate it sees (protocol §1.1)")


class RegisterDeviceRequest(Request):
    token: str = Field(min_length=8, max_length=128)
    public_key: str = Field(min_length=1, max_length=128,
                            description="base64 of the device's raw public key of the "
                                        "platform's crypto profile (Ed25519 or SM2)")
    name: str = Field(min_length=1, max_length=64)


class RegisterDeviceResponse(Response):
    device_id: str = Field(description="the keyid this device signs with from now on")
    site_id: str
    site_name: str
    role: Role
    server_key: ServerKey


# --- templates and gallery ---------------------------------------------------------------

class TemplatePayload(BaseModel):
    """A face template. The shape is checked here; ``wire()`` checks the vector itself (size,
    NaN/Inf, zeros) and raises ``template.invalid`` with the reason."""

    model_config = ConfigDict(extra="forbid")
    pack: str = Field(min_length=1, max_length=64)
    dim: int = Field(strict=True, ge=1, le=MAX_DIM)
    vector: str = Field(min_length=1, max_length=MAX_DIM * 8)

    def wire(self) -> WireTemplate:
        return parse_template(self.model_dump())


class GalleryEntry(Response):
    patient_id: str
    version: int
    template: TemplatePayload


class GallerySync(Response):
    pack: str
    scope: GalleryScope
    cursor: int = Field(description="pass back as ?cursor= on the next sync")
    more: bool = Field(description="true: call again at once with the new cursor")
    upserts: list[GalleryEntry]
    deletions: list[str] = Field(description="patient ids to drop from the local gallery")


# --- patients ----------------------------------------------------------------------------

class MaskedPatient(Response):
    patient_id: str
    name: str = Field(description="masked, e.g. 张*三")
    national_id: str = Field(description="masked, e.g. 3301**********1234")
    phone: str = Field(description="masked, e.g. 138****5678")
    category: InsuranceCategory


class CreditState(Response):
    status: UserStatus
    limit_fen: Fen
    outstanding_fen: Fen
    available_fen: Fen
    next_due_at: AwareDatetime | None = None


class PatientView(Response):
    patient: MaskedPatient
    credit: CreditState
    face_consent: bool


class Identification(Response):
    """Proof that this device identified this patient: send it with the kiosk's look-ups of
    the patient's bills, quotes and credit (query parameter ``identification``)."""

    token: str
    expires_at: AwareDatetime


class IdentifiedPatient(PatientView):
    identification: Identification


class FaceIdentifyRequest(Request):
    """The kiosk's own face match: the platform checks the patient is in this kiosk's
    gallery for ``pack`` (it cannot see the face)."""

    patient_id: Identifier
    pack: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")


class CardLookupRequest(Request):
    card_no: str = Field(min_length=4, max_length=32, pattern=r"^[A-Za-z0-9]+$")


class VoucherLookupRequest(Request):
    payload: str = Field(min_length=1, max_length=64)


class SecondFactorVerifyRequest(Request):
    session_id: SessionId
    patient_id: Identifier
    last4: Last4


class SecondFactorVerifyResponse(Response):
    verified: bool
    attempts_left: int


class NarrowRequest(Request):
    last4: Last4
    candidates: list[Identifier] | None = Field(
        default=None, max_length=1000,
        description="limit the answer to these patient ids; omitted: the site's gallery")


class NarrowResponse(Response):
    patient_ids: list[str]


# --- bills, quotes, settlements ----------------------------------------------------------

class BillItem(Response):
    line_no: int
    kind: ItemKind
    description: str
    quantity: int
    unit_fen: Fen
    amount_fen: Fen
    eligible: bool = Field(description="in the insurance catalogue")


class Bill(Response):
    bill_id: str
    site_id: str
    patient_id: str
    visit_id: str
    category: InsuranceCategory
    status: BillStatus
    total_fen: Fen
    eligible_fen: Fen
    created_at: AwareDatetime
    items: list[BillItem]


class PendingBills(Response):
    patient: MaskedPatient
    credit: CreditState
    bills: list[Bill]


# --- the hospital information system's bill feed (§15) ------------------------------------

class InsuranceClass(StrEnum):
    """医保目录: 甲类 and 乙类 are in the insurance catalogue, 丙类 is self-pay."""

    A = "A"  # 甲类
    B = "B"  # 乙类
    C = "C"  # 丙类 (自费)


class HisBillLine(Request):
    kind: ItemKind
    description: str = Field(min_length=1, max_length=128)
    quantity: Annotated[int, Field(strict=True, ge=1, le=10_000)]
    unit_fen: PositiveFen
    insurance_class: InsuranceClass


class HisBillCreate(Request):
    bill_no: Identifier = Field(description="the hospital's own bill number: the "
                                            "idempotency key of the feed, per site")
    patient_id: Identifier
    visit_id: Identifier
    items: list[HisBillLine] = Field(min_length=1, max_length=200)


class HisBillAmend(Request):
    items: list[HisBillLine] = Field(min_length=1, max_length=200)
    reason: ReasonCode


class HisBillCancel(Request):
    reason: ReasonCode


class HisBillLineView(Response):
    line_no: int
    kind: ItemKind
    description: str
    quantity: int
    unit_fen: Fen
    amount_fen: Fen
    insurance_class: InsuranceClass


class HisBill(Response):
    """A fed bill as the hospital system sees it: no patient data beyond the id it sent."""

    bill_no: str
    bill_id: str = Field(description="the platform's id, what kiosks settle")
    site_id: str
    patient_id: str
    visit_id: str
    status: BillStatus
    revision: int = Field(description="1 when created, +1 per amendment that changed it")
    total_fen: Fen
    eligible_fen: Fen
    items: list[HisBillLineView]
    created_at: AwareDatetime
    updated_at: AwareDatetime
    settlement_id: str | None = None


class Layers(Response):
    """One-stop split; the four layers always add up to the bill total."""

    basic_pool_fen: Fen
    critical_illness_fen: Fen
    medical_aid_fen: Fen
    self_pay_fen: Fen


class QuoteRequest(Request):
    bill_id: Identifier
    patient_id: Identifier
    method: PaymentMethod


class Quote(Response):
    bill_id: str
    patient_id: str
    method: PaymentMethod
    total_fen: Fen
    layers: Layers
    charge_to_credit_fen: Fen
    pay_at_counter_fen: Fen
    credit: CreditState
    payable: bool
    refusal: ErrorDetail | None = Field(
        default=None, description="why settle would be refused right now, if it would")


class SettleRequest(Request):
    bill_id: Identifier
    patient_id: Identifier
    method: PaymentMethod
    expected_self_pay_fen: Fen | None = Field(
        default=None, description="the self-pay the patient saw in the quote; "
        "if the split changed since, settle is refused with settlement.quote_changed")
    paid_by: Identifier | None = Field(
        default=None, description="a relative the patient authorised (亲情付) who is "
        "settling for them; refused with family.not_authorised otherwise")


class Reversal(Response):
    reason: str
    reversed_at: AwareDatetime
    device_id: str
    refund_fen: Fen = Field(description="what the cashier hands back: cash paid at the "
                            "counter plus any part of the credit charge already repaid")


class AuditHead(BaseModel):
    """A point of the platform's hash-chained audit log: record ``seq`` has hash ``hash``.
    Kept by devices outside the platform's database, it shows a rolled-back database."""

    model_config = ConfigDict(extra="forbid")
    seq: Annotated[int, Field(strict=True, ge=1)]
    hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Settlement(Response):
    settlement_id: str
    receipt_no: str
    bill_id: str
    site_id: str
    patient: MaskedPatient
    method: PaymentMethod
    status: SettlementStatus
    total_fen: Fen
    layers: Layers
    charge_to_credit_fen: Fen
    pay_at_counter_fen: Fen
    settled_at: AwareDatetime
    device_id: str
    items: list[BillItem]
    credit_due_date: dt.date | None = Field(default=None, description=(
        "the platform-zone date this settlement's credit charge falls due "
        "(credit.repayment_days after the day it was made); null when nothing was put on "
        "credit or the charge was cancelled by a reversal"))
    credit_outstanding_fen: Fen | None = Field(default=None, description=(
        "the patient's whole outstanding credit when this answer was made (in the settle "
        "reply: right after this charge); null when nothing was put on credit"))
    reversal: Reversal | None = None
    audit_head: AuditHead | None = Field(default=None, description=(
        "the audit chain's head once this change was recorded: in the replies to settle "
        "and reverse, null when the settlement is only read"))


class ReverseRequest(Request):
    reason: str = Field(min_length=2, max_length=200)


class RepayRequest(Request):
    patient_id: Identifier
    amount_fen: PositiveFen
    method: RepaymentMethod
    reference: str | None = Field(default=None, max_length=64)
    # required for a patient of another site than the counter's (docs/protocol.md §8.1)
    reason: str | None = Field(default=None, min_length=1, max_length=200)
    paid_by: Identifier | None = Field(
        default=None, description="a relative the patient authorised (亲情付) who repays")


class Repayment(Response):
    repayment_id: str
    patient_id: str
    amount_fen: Fen
    method: RepaymentMethod
    received_at: AwareDatetime
    credit: CreditState


class OwedCharge(Response):
    """One credit charge not yet repaid in full: what 我的欠款 lists, nothing more."""

    settlement_id: str
    receipt_no: str
    settled_at: AwareDatetime
    amount_fen: Fen = Field(description="what went on credit")
    repaid_fen: Fen
    owed_fen: Fen = Field(description="amount_fen - repaid_fen")
    due_date: dt.date = Field(description="server.timezone calendar day it falls due")
    overdue: bool


class CreditStatement(Response):
    """What a patient owes on credit, oldest due first; ``repay_at_kiosk`` when a payment
    provider is configured (``[payments] provider``)."""

    patient: MaskedPatient
    credit: CreditState
    charges: list[OwedCharge]
    repay_at_kiosk: bool


class RepayOrderState(StrEnum):
    OPEN = "open"  # the QR is payable
    PAID = "paid"  # the provider confirmed it; the repayment is recorded
    FAILED = "failed"  # the payer's payment failed at the provider
    CLOSED = "closed"  # the kiosk closed it (patient cancelled or left)
    EXPIRED = "expired"  # not paid within [payments] order_ttl_s


class RepayOrderRequest(Request):
    patient_id: Identifier
    amount_fen: PositiveFen | None = Field(
        default=None, description="omitted: everything owed (or all of settlement_id's charge)")
    settlement_id: Identifier | None = Field(
        default=None, description="repay this charge (first); omitted: oldest due first")


class RepayOrder(Response):
    order_id: str
    patient_id: str
    amount_fen: PositiveFen
    settlement_id: str | None = None
    state: RepayOrderState
    provider: str
    code_url: str = Field(description="what the payment QR encodes")
    created_at: AwareDatetime
    expires_at: AwareDatetime
    paid_at: AwareDatetime | None = None
    repayment_id: str | None = None
    credit: CreditState | None = Field(default=None, description="after the repayment (paid)")


class SettlementList(Response):
    site_id: str
    date: str
    settlements: list[Settlement]


# --- reconciliation ----------------------------------------------------------------------

class ReconTotals(Response):
    count: int
    total_fen: int
    basic_pool_fen: int
    critical_illness_fen: int
    medical_aid_fen: int
    self_pay_fen: int
    charge_to_credit_fen: int
    pay_at_counter_fen: int


class ReconLine(Response):
    kind: Literal["settlement", "reversal"]
    settlement_id: str
    receipt_no: str
    bill_id: str
    patient_id: str
    method: PaymentMethod
    at: AwareDatetime
    total_fen: int
    basic_pool_fen: int
    critical_illness_fen: int
    medical_aid_fen: int
    self_pay_fen: int
    charge_to_credit_fen: int
    pay_at_counter_fen: int


class Reconciliation(Response):
    site_id: str
    date: str
    timezone: str
    generated_at: AwareDatetime
    settled: ReconTotals
    reversed: ReconTotals
    net: ReconTotals = Field(description="settled minus reversed")
    by_method: dict[PaymentMethod, ReconTotals] = Field(description="net, per payment method")
    lines: list[ReconLine]
    balanced: bool = Field(description="every total adds up to the fen (always true)")


# --- consent and templates ---------------------------------------------------------------

class Consent(Request):
    text_version: str = Field(min_length=1, max_length=32)
    consented_at: AwareDatetime


class AuthoriseRelativeRequest(Request):
    """The patient, at the counter, lets a relative pay for them; the consent is theirs."""

    relative_id: Identifier
    relation: Relation
    consent: Consent


class RelativeAuthorisation(Response):
    patient_id: str
    relative: MaskedPatient
    relation: Relation
    consent_version: str
    authorised_at: AwareDatetime
    withdrawn_at: AwareDatetime | None = None


class RelativeList(Response):
    relatives: list[RelativeAuthorisation]


class Dependant(Response):
    """A patient who authorised the identified relative: what the kiosk may show, and the
    token (bound to this device, the patient and the relative) to read and pay with."""

    patient: MaskedPatient
    relation: Relation
    credit: CreditState
    identification: Identification


class DependantList(Response):
    dependants: list[Dependant]


class EnrolTemplateRequest(Request):
    template: TemplatePayload
    consent: Consent


class EnrolTemplateResponse(Response):
    patient_id: str
    pack: str
    enrolled_at: AwareDatetime


class WithdrawConsentRequest(Request):
    reason: str | None = Field(default=None, max_length=200)


class WithdrawConsentResponse(Response):
    patient_id: str
    withdrawn_at: AwareDatetime
    templates_deleted: int


# --- cashier hand-offs -------------------------------------------------------------------

class HandoffRequest(Request):
    session_id: SessionId
    reason: ReasonCode
    patient_id: Identifier | None = Field(default=None, description=(
        "the patient, once the kiosk knows who it is (after a look-up): the counter sees the "
        "masked name, and opens the patient with one touch"))
    amount_fen: Fen | None = Field(default=None, description="the self-pay at stake, if known")


class HandoffState(StrEnum):
    OPEN = "open"
    TAKEN = "taken"  # a counter is serving the patient
    RESOLVED = "resolved"  # served: paid, nothing to pay, or sent elsewhere
    DISMISSED = "dismissed"  # nobody to serve (left, a duplicate, handled elsewhere, a test)


class ResolveOutcome(StrEnum):
    SETTLED = "settled"
    NO_CHARGE = "no_charge"
    REFERRED = "referred"


class DismissReason(StrEnum):
    LEFT = "left"
    DUPLICATE = "duplicate"
    HANDLED_ELSEWHERE = "handled_elsewhere"
    TEST = "test"


class HandoffResolveRequest(Request):
    outcome: ResolveOutcome
    settlement_id: Identifier | None = Field(default=None, description=(
        "outcome settled: the settlement at this site that served the patient"))


class HandoffDismissRequest(Request):
    reason: DismissReason


class Handoff(Response):
    """A kiosk session given up on self-service: ids, a reason code, the kiosk's name, and
    the patient only in masked form (when the kiosk knew who it was)."""

    handoff_id: str
    site_id: str
    kiosk_id: str = Field(description="device id of the device that handed the session over")
    session_id: str
    reason: str
    created_at: AwareDatetime
    taken_by: str | None = Field(description="device id of the counter that took it; "
                                             "null while open")
    taken_at: AwareDatetime | None
    count: Annotated[int, Field(strict=True, ge=1, description=(
        "sessions of this kiosk merged into it: the same reason within the platform's "
        "[handoffs] merge_window_s"))] = 1
    last_at: AwareDatetime | None = Field(default=None, description=(
        "when the latest merged session was handed over; null when count is 1"))
    kiosk_name: str = Field(default="", description="the device's registered name: where "
                                                    "staff find the patient")
    patient_id: str | None = None
    patient_name: str | None = Field(default=None, description="masked, e.g. 张*三")
    amount_fen: Fen | None = None
    state: HandoffState = HandoffState.OPEN
    closed_by: str | None = Field(default=None, description="the counter that closed it")
    closed_at: AwareDatetime | None = None
    outcome: str | None = Field(default=None, description=(
        "resolved: settled | no_charge | referred; dismissed: left | duplicate | "
        "handled_elsewhere | test"))
    settlement_id: str | None = None


class HandoffList(Response):
    site_id: str
    date: str
    handoffs: list[Handoff] = Field(description="newest first")


# --- fleet health ------------------------------------------------------------------------

class DeviceState(StrEnum):
    """A peripheral's health, as ``device.health.HealthState`` reports it."""

    OK = "ok"
    DEGRADED = "degraded"
    FAILED = "failed"


class PeripheralHealth(Request):
    device: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$",
                                 description="camera, scanner, card, printer, ...")]
    state: DeviceState
    reason: ReasonCode


class HeartbeatRequest(Request):
    """What a device says about itself every ``heartbeat_s``: enough for the fleet view to
    tell a healthy terminal from one that needs a visit, and nothing about any patient."""

    interval_s: Annotated[float, Field(gt=0, le=3600, description=(
        "the device's heartbeat interval: three missed in a row is offline"))]
    software_version: Annotated[str, Field(min_length=1, max_length=32)]
    model_pack: Annotated[str, Field(max_length=64, description="empty: no recognition")]
    devices: Annotated[list[PeripheralHealth], Field(max_length=16)]
    outbox_depth: Annotated[int, Field(strict=True, ge=0)]
    outbox_oldest_s: Annotated[float | None, Field(ge=0, description=(
        "age of the oldest undelivered outbox row; null when the outbox is empty"))]
    last_sync_at: AwareDatetime | None = Field(description="last complete gallery sync")
    clock_offset_ms: int | None = Field(description=(
        "device clock minus platform clock, from the previous heartbeat's answer; "
        "null until measured"))
    disk_free_bytes: Annotated[int, Field(strict=True, ge=0)]


class HeartbeatResponse(Response):
    device_id: str
    received_at: AwareDatetime = Field(description="platform time: the device's clock "
                                                   "offset is measured against it")
    skew_window_s: Annotated[int, Field(strict=True, ge=1, description=(
        "the platform's signature window (security.skew_seconds): a device warns past half"))]
    idempotency_retention_hours: Annotated[int, Field(strict=True, ge=1, description=(
        "how long the platform keeps Idempotency-Keys: a device never re-sends an older "
        "money request blindly"))]


class HeldSettlement(Request):
    """One settlement a device holds the platform's signed answer for."""

    settlement_id: Identifier
    idempotency_key: Annotated[str, Field(pattern=r"^[\x21-\x7e]{1,255}$")]
    bill_id: Identifier
    self_pay_fen: Fen


class ReconcileRequest(Request):
    """A device's batch totals, as card terminals settle a batch: what it holds for every
    settlement it made since ``since`` (platform time, from the signed answers), and the
    money requests whose outcome it does not know yet."""

    since: AwareDatetime
    count: Annotated[int, Field(strict=True, ge=0)]
    self_pay_fen: Annotated[int, Field(strict=True, ge=0)]
    digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description=(
        "sha256 hex of the held settlement ids, sorted, joined with \\n"))]
    settlements: Annotated[list[HeldSettlement], Field(max_length=20000)]
    pending_keys: Annotated[list[Annotated[str, Field(pattern=r"^[\x21-\x7e]{1,255}$")]],
                            Field(max_length=5000)]
    audit_head: AuditHead | None = Field(description="the newest head the device was given")


class AuditCheck(StrEnum):
    OK = "ok"
    ROLLBACK = "rollback"  # the platform's chain does not hold the device's anchor
    NONE = "none"  # the device sent no anchor


class ReconcileResponse(Response):
    device_id: str
    since: AwareDatetime
    until: AwareDatetime = Field(description="platform time the comparison was made at")
    matched: Annotated[int, Field(strict=True, ge=0)]
    missing_on_platform: list[str] = Field(description=(
        "idempotency keys of settlements the device holds a signed answer for that the "
        "platform has no record of (a restored database): the device sends them again"))
    missing_on_device: list[str] = Field(description=(
        "settlement ids the platform made for this device that the device does not hold"))
    audit: AuditCheck
    handoff_id: str | None = Field(description="the cashier hand-off raised for a mismatch")
