"""Sites, devices, credit users, vouchers and bills: who and what the platform knows.

Functions take an open transaction and the time, so the same code serves the HTTP API, the
admin CLI and tests. Full national ids and phone numbers are accepted only to derive their
masked forms (and the phone's last four digits for the second factor); they are never
stored (data minimisation, 本人数据本人授权).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from common.errors import ErrorCode
from common.privacy import mask_card, mask_name, mask_phone
from common.privacy import mask_number as mask_national_id
from kiosk.protocol import schemas
from kiosk.protocol.crypto_profile import CryptoProfile, PublicKey
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.keys import load_public_key_b64, public_key_b64
from kiosk.protocol.voucher import format_payload, new_token, parse_payload
from server_stub import audit
from server_stub.clock import to_datetime
from server_stub.config import ServerConfig
from server_stub.db import (
    bill_items,
    bills,
    credit_charges,
    devices,
    enrolment_tokens,
    sites,
    templates,
    users,
    vouchers,
)

TOKEN_PREFIX = "enrol-"


class AdminError(Exception):
    """Bad input to an admin operation (CLI): shown to the operator, nothing changed."""


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


# --- sites and devices -------------------------------------------------------------------

def create_site(conn: Connection, *, code: str, name: str, now: int) -> str:
    if not re.fullmatch(r"[A-Za-z0-9-]{2,32}", code):
        raise AdminError("site code: 2-32 letters, digits or '-'")
    site_id = f"site_{code.lower()}"
    try:
        with conn.begin_nested():
            conn.execute(insert(sites).values(site_id=site_id, code=code, name=name,
                                              created_ms=now))
    except IntegrityError:
        raise AdminError(f"site code {code!r} already exists") from None
    audit.append(conn, at_ms=now, actor="admin", action="site.created", subject=site_id,
                 details={"code": code})
    return site_id


_site_codes: dict[str, str] = {}


def site_code(conn: Connection, site_id: str) -> str:
    """Site codes never change, so each is read once per process."""
    code = _site_codes.get(site_id)
    if code is None:
        code = _site_codes.setdefault(site_id, require_site(conn, site_id).code)
    return code


def require_site(conn: Connection, site_id: str) -> Any:
    row = conn.execute(select(sites).where(sites.c.site_id == site_id)).first()
    if row is None:
        raise AdminError(f"no site {site_id!r}")
    return row


def issue_enrolment_token(conn: Connection, *, site_id: str, role: str, ttl_hours: int,
                          now: int) -> str:
    """A one-time token; only its hash is stored, so a database leak enrols nobody."""
    require_site(conn, site_id)
    schemas.Role(role)
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    conn.execute(insert(enrolment_tokens).values(
        token_hash=hashlib.sha256(token.encode()).hexdigest(), site_id=site_id, role=role,
        issued_ms=now, expires_ms=now + ttl_hours * 3_600_000))
    audit.append(conn, at_ms=now, actor="admin", action="device.token_issued", subject=site_id,
                 details={"role": role, "ttl_hours": ttl_hours})
    return token


def register_device(conn: Connection, req: schemas.RegisterDeviceRequest, now: int,
                    profile: CryptoProfile) -> tuple[str, Any]:
    """Consume the token and bind the device key, which must be of the platform's crypto
    profile; returns (device_id, site row)."""
    public_key = load_public_key_b64(req.public_key, profile)
    token_hash = hashlib.sha256(req.token.encode()).hexdigest()
    token = conn.execute(select(enrolment_tokens).where(
        enrolment_tokens.c.token_hash == token_hash).with_for_update()).first()
    if token is None or token.used_ms is not None or token.expires_ms < now:
        raise ProtocolError(ErrorCode.TOKEN_INVALID,
                            "enrolment token unknown, already used or expired")
    device_id = _new_id("dev")
    conn.execute(insert(devices).values(
        device_id=device_id, site_id=token.site_id, role=token.role, name=req.name,
        public_key=public_key_b64(public_key), status="active", registered_ms=now))
    conn.execute(update(enrolment_tokens).where(enrolment_tokens.c.token_hash == token_hash)
                 .values(used_ms=now, device_id=device_id))
    audit.append(conn, at_ms=now, actor=f"device:{device_id}", action="device.registered",
                 subject=device_id, details={"site_id": token.site_id, "role": token.role})
    return device_id, require_site(conn, token.site_id)


@dataclass(frozen=True)
class Device:
    device_id: str
    site_id: str
    role: schemas.Role
    public_key: PublicKey

    @property
    def actor(self) -> str:
        return f"device:{self.device_id}"


_key_cache: dict[str, PublicKey] = {}
_DEVICE = select(devices.c.site_id, devices.c.role, devices.c.public_key, devices.c.status
                 ).where(devices.c.device_id == bindparam("device_id"))


def active_device(conn: Connection, device_id: str) -> Device:
    """The device a signature's keyid names; UNKNOWN_KEY / DEVICE_REVOKED otherwise."""
    row = conn.execute(_DEVICE, {"device_id": device_id}).first()
    if row is None:
        raise ProtocolError(ErrorCode.UNKNOWN_KEY, "no device has this keyid")
    if row.status != "active":
        raise ProtocolError(ErrorCode.DEVICE_REVOKED, "this device has been revoked")
    key = _key_cache.get(row.public_key)
    if key is None:  # of whichever profile it was registered under: the platform checks
        key = _key_cache.setdefault(row.public_key, load_public_key_b64(row.public_key, None))
    return Device(device_id, row.site_id, schemas.Role(row.role), key)


def revoke_device(conn: Connection, *, device_id: str, reason: str, now: int) -> None:
    done = conn.execute(update(devices).where(devices.c.device_id == device_id,
                                              devices.c.status == "active")
                        .values(status="revoked", revoked_ms=now, revoke_reason=reason))
    if done.rowcount != 1:
        raise AdminError(f"no active device {device_id!r}")
    audit.append(conn, at_ms=now, actor="admin", action="device.revoked", subject=device_id,
                 details={"reason": reason})


# --- credit users ------------------------------------------------------------------------

@dataclass(frozen=True)
class NewUser:
    patient_id: str
    name: str
    national_id: str
    phone: str
    category: str
    card_no: str | None = None
    credit_limit_fen: int | None = None
    consent_version: str | None = None


def enrol_user(conn: Connection, user: NewUser, config: ServerConfig, now: int) -> None:
    if not re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", user.patient_id):
        raise AdminError("patient id: 1-64 letters, digits or . _ : -")
    if not re.fullmatch(r"[0-9]{17}[0-9Xx]", user.national_id):
        raise AdminError("national id: 18 characters, digits with a final digit or X")
    if not re.fullmatch(r"1[0-9]{10}", user.phone):
        raise AdminError("phone: an 11-digit mobile number")
    if not user.name.strip() or len(user.name) > 64:
        raise AdminError("name: 1-64 characters")
    if user.card_no is not None and not re.fullmatch(r"[A-Za-z0-9]{4,32}", user.card_no):
        raise AdminError("card number: 4-32 letters or digits")
    category = schemas.InsuranceCategory(user.category).value
    limit = config.credit.default_limit_fen if user.credit_limit_fen is None \
        else user.credit_limit_fen
    if not 0 <= limit <= schemas.MAX_FEN:
        raise AdminError(f"credit limit must be 0-{schemas.MAX_FEN} fen")
    try:
        with conn.begin_nested():
            conn.execute(insert(users).values(
                patient_id=user.patient_id, name=user.name.strip(),
                national_id_masked=mask_national_id(user.national_id),
                phone_masked=mask_phone(user.phone), phone_last4=user.phone[-4:],
                card_no=user.card_no, category=category, credit_limit_fen=limit,
                outstanding_fen=0, status=schemas.UserStatus.ACTIVE.value, overdue_count=0,
                consent_version=user.consent_version,
                consent_ms=now if user.consent_version else None, created_ms=now))
    except IntegrityError:
        raise AdminError("patient id or card number already enrolled") from None
    audit.append(conn, at_ms=now, actor="admin", action="user.enrolled", subject=user.patient_id,
                 details={"category": category, "credit_limit_fen": limit,
                          "card": mask_card(user.card_no) if user.card_no else None})


_USER = select(users).where(users.c.patient_id == bindparam("patient_id"))
_USER_FOR_UPDATE = _USER.with_for_update()


def user_row(conn: Connection, patient_id: str, *, for_update: bool = False) -> Any:
    row = conn.execute(_USER_FOR_UPDATE if for_update else _USER,
                       {"patient_id": patient_id}).first()
    if row is None:
        raise ProtocolError(ErrorCode.PATIENT_NOT_FOUND, "no credit user with this patient id")
    return row


def set_user_status(conn: Connection, *, patient_id: str, status: str, reason: str,
                    actor: str, now: int) -> None:
    row = user_row(conn, patient_id, for_update=True)
    status = schemas.UserStatus(status).value
    conn.execute(update(users).where(users.c.patient_id == patient_id)
                 .values(status=status, status_reason=reason))
    audit.append(conn, at_ms=now, actor=actor, action="user.status_changed", subject=patient_id,
                 details={"from": row.status, "to": status, "reason": reason})


def masked_patient(row: Any) -> schemas.MaskedPatient:
    return schemas.MaskedPatient(patient_id=row.patient_id, name=mask_name(row.name),
                                 national_id=row.national_id_masked, phone=row.phone_masked,
                                 category=row.category)


_NEXT_DUE = select(func.min(credit_charges.c.due_ms)).where(
    credit_charges.c.patient_id == bindparam("patient_id"), credit_charges.c.cancelled.is_(False),
    credit_charges.c.repaid_fen < credit_charges.c.amount_fen)
_ANY_TEMPLATE = select(templates.c.pack).where(
    templates.c.patient_id == bindparam("patient_id")).limit(1)


def credit_state(conn: Connection, row: Any) -> schemas.CreditState:
    next_due = conn.execute(_NEXT_DUE, {"patient_id": row.patient_id}).scalar()
    return schemas.CreditState(
        status=row.status, limit_fen=row.credit_limit_fen, outstanding_fen=row.outstanding_fen,
        available_fen=max(0, row.credit_limit_fen - row.outstanding_fen),
        next_due_at=to_datetime(next_due) if next_due is not None else None)


def has_face_consent(conn: Connection, row: Any) -> bool:
    if row.consent_ms is None or row.consent_withdrawn_ms is not None:
        return False
    return conn.execute(_ANY_TEMPLATE, {"patient_id": row.patient_id}).first() is not None


def patient_view(conn: Connection, row: Any) -> schemas.PatientView:
    return schemas.PatientView(patient=masked_patient(row), credit=credit_state(conn, row),
                               face_consent=has_face_consent(conn, row))


# --- vouchers ----------------------------------------------------------------------------

def issue_voucher(conn: Connection, *, patient_id: str, ttl_hours: int, now: int) -> str:
    user_row(conn, patient_id)
    token = new_token()
    conn.execute(insert(vouchers).values(token=token, patient_id=patient_id, issued_ms=now,
                                         expires_ms=now + ttl_hours * 3_600_000))
    audit.append(conn, at_ms=now, actor="admin", action="voucher.issued", subject=patient_id,
                 details={"ttl_hours": ttl_hours})
    return format_payload(token)


def revoke_voucher(conn: Connection, *, payload: str, now: int) -> None:
    token = parse_payload(payload)
    done = conn.execute(update(vouchers).where(vouchers.c.token == token,
                                               vouchers.c.revoked_ms.is_(None))
                        .values(revoked_ms=now))
    if done.rowcount != 1:
        raise AdminError("no such unrevoked voucher")
    audit.append(conn, at_ms=now, actor="admin", action="voucher.revoked", subject=token[:6])


def resolve_voucher(conn: Connection, payload: str, now: int) -> Any:
    token = parse_payload(payload)
    row = conn.execute(select(vouchers).where(vouchers.c.token == token)).first()
    if row is None:
        raise ProtocolError(ErrorCode.VOUCHER_NOT_FOUND, "no such e-voucher")
    if row.revoked_ms is not None:
        raise ProtocolError(ErrorCode.VOUCHER_REVOKED, "this e-voucher was revoked")
    if row.expires_ms <= now:
        raise ProtocolError(ErrorCode.VOUCHER_EXPIRED, "this e-voucher has expired")
    return user_row(conn, row.patient_id)


def user_by_card(conn: Connection, card_no: str) -> Any:
    row = conn.execute(select(users).where(users.c.card_no == card_no)).first()
    if row is None:
        raise ProtocolError(ErrorCode.CARD_NOT_FOUND, "no credit user holds this card")
    return row


# --- bills (what the hospital information system would push) -----------------------------

@dataclass(frozen=True)
class NewItem:
    kind: str
    description: str
    quantity: int
    unit_fen: int
    eligible: bool


def check_items(items: list[NewItem], config: ServerConfig) -> None:
    """AMOUNT_INVALID unless every line and the total are plausible."""
    if not items:
        raise ProtocolError(ErrorCode.AMOUNT_INVALID, "a bill needs at least one item")
    for item in items:
        schemas.ItemKind(item.kind)
        if not (0 < item.quantity <= 10_000 and 0 < item.unit_fen <= config.credit.max_bill_fen):
            raise ProtocolError(ErrorCode.AMOUNT_INVALID,
                                "item quantity and unit price must be positive and plausible")
    total = sum(i.quantity * i.unit_fen for i in items)
    if total > config.credit.max_bill_fen:
        raise ProtocolError(ErrorCode.AMOUNT_INVALID,
                            f"bill total {total} fen exceeds {config.credit.max_bill_fen}")


def insert_items(conn: Connection, bill_id: str, items: list[NewItem]) -> None:
    conn.execute(insert(bill_items), [
        dict(bill_id=bill_id, line_no=n, kind=i.kind, description=i.description,
             quantity=i.quantity, unit_fen=i.unit_fen, amount_fen=i.quantity * i.unit_fen,
             eligible=i.eligible) for n, i in enumerate(items, start=1)])


def create_bill(conn: Connection, *, site_id: str, patient_id: str, visit_id: str,
                items: list[NewItem], config: ServerConfig, now: int,
                bill_id: str | None = None, actor: str = "his") -> str:
    require_site(conn, site_id)
    user = user_row(conn, patient_id)
    check_items(items, config)
    total = sum(i.quantity * i.unit_fen for i in items)
    eligible = sum(i.quantity * i.unit_fen for i in items if i.eligible)
    bill_id = bill_id or _new_id("bill")
    conn.execute(insert(bills).values(
        bill_id=bill_id, site_id=site_id, patient_id=patient_id, visit_id=visit_id,
        category=user.category, status=schemas.BillStatus.PENDING.value, total_fen=total,
        eligible_fen=eligible, created_ms=now))
    insert_items(conn, bill_id, items)
    audit.append(conn, at_ms=now, actor=actor, action="bill.created", subject=bill_id,
                 details={"site_id": site_id, "patient_id": patient_id, "total_fen": total})
    return bill_id


def bill_view(conn: Connection, row: Any) -> schemas.Bill:
    return schemas.Bill(bill_id=row.bill_id, site_id=row.site_id, patient_id=row.patient_id,
                        visit_id=row.visit_id, category=row.category, status=row.status,
                        total_fen=row.total_fen, eligible_fen=row.eligible_fen,
                        created_at=to_datetime(row.created_ms), items=items_of(conn, row.bill_id))


_ITEMS = select(bill_items).where(bill_items.c.bill_id == bindparam("bill_id")
                                  ).order_by(bill_items.c.line_no)


def items_of(conn: Connection, bill_id: str) -> list[schemas.BillItem]:
    rows = conn.execute(_ITEMS, {"bill_id": bill_id})
    return [schemas.BillItem(line_no=r.line_no, kind=r.kind, description=r.description,
                             quantity=r.quantity, unit_fen=r.unit_fen, amount_fen=r.amount_fen,
                             eligible=r.eligible) for r in rows]


def pending_bills(conn: Connection, *, site_id: str, patient_id: str) -> schemas.PendingBills:
    user = user_row(conn, patient_id)
    rows = conn.execute(select(bills).where(
        bills.c.patient_id == patient_id, bills.c.site_id == site_id,
        bills.c.status == schemas.BillStatus.PENDING.value).order_by(bills.c.created_ms))
    return schemas.PendingBills(patient=masked_patient(user), credit=credit_state(conn, user),
                                bills=[bill_view(conn, r) for r in rows])
