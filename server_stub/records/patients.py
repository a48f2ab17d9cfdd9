"""Credit users (patients): enrolment, status, the masked view and credit state devices see,
and the look-up by card.

Full national ids and phone numbers are accepted only to derive their masked forms (and the
phone's last four digits for the second factor); they are never stored (data minimisation,
本人数据本人授权).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from common.errors import ErrorCode
from common.privacy import mask_card, mask_name, mask_phone
from common.privacy import mask_number as mask_national_id
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from server_stub import audit
from server_stub.clock import to_datetime
from server_stub.config import ServerConfig
from server_stub.db import credit_charges, templates, users
from server_stub.records import AdminError


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


def user_by_card(conn: Connection, card_no: str) -> Any:
    row = conn.execute(select(users).where(users.c.card_no == card_no)).first()
    if row is None:
        raise ProtocolError(ErrorCode.CARD_NOT_FOUND, "no credit user holds this card")
    return row
