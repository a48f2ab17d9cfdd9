"""亲情付 (family pay): a patient's recorded consent that a named relative may pay for them.

The patient authorises at a counter (their consent, with the text version they were shown);
the relative must be a credit user the platform knows, so that a kiosk or counter can
identify them like anyone else. An authorised relative may repay the patient's debt and
settle the patient's bill on the patient's credit; every such act names them (``paid_by``)
in its audit record. Withdrawing the authorisation ends it at once: the next request made
with a token issued via that relative is refused (``family.not_authorised``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from common.errors import ErrorCode
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from server_stub import audit
from server_stub.clock import from_datetime, to_datetime
from server_stub.db import relatives, users
from server_stub.records.patients import masked_patient, user_row


def _row(conn: Connection, patient_id: str, relative_id: str) -> Any:
    return conn.execute(select(relatives).where(
        relatives.c.patient_id == patient_id, relatives.c.relative_id == relative_id)).first()


def require_authorised(conn: Connection, patient_id: str, relative_id: str) -> None:
    """Refuse unless ``relative_id`` holds a standing authorisation from ``patient_id``."""
    row = _row(conn, patient_id, relative_id)
    if row is None or row.withdrawn_ms is not None:
        raise ProtocolError(ErrorCode.FAMILY_NOT_AUTHORISED,
                            "this relative is not authorised to pay for this patient")


def _view(conn: Connection, row: Any) -> schemas.RelativeAuthorisation:
    return schemas.RelativeAuthorisation(
        patient_id=row.patient_id, relative=masked_patient(user_row(conn, row.relative_id)),
        relation=row.relation, consent_version=row.consent_version,
        authorised_at=to_datetime(row.authorised_ms),
        withdrawn_at=to_datetime(row.withdrawn_ms) if row.withdrawn_ms is not None else None)


def authorise(conn: Connection, *, patient_id: str, req: schemas.AuthoriseRelativeRequest,
              actor: str, now: int) -> schemas.RelativeAuthorisation:
    """Record (or renew, after a withdrawal) the authorisation; the same again is a no-op."""
    if req.relative_id == patient_id:
        raise ProtocolError(ErrorCode.FAMILY_SELF, "a patient cannot be their own relative",
                            field="relative_id")
    user_row(conn, patient_id)
    user_row(conn, req.relative_id)
    values = {"relation": req.relation.value, "consent_version": req.consent.text_version,
              "consented_ms": from_datetime(req.consent.consented_at), "authorised_ms": now,
              "authorised_by": actor, "withdrawn_ms": None, "withdrawn_by": None}
    existing = _row(conn, patient_id, req.relative_id)
    if existing is not None and existing.withdrawn_ms is None:
        return _view(conn, existing)
    if existing is None:
        conn.execute(insert(relatives).values(patient_id=patient_id,
                                              relative_id=req.relative_id, **values))
    else:
        conn.execute(update(relatives).where(relatives.c.patient_id == patient_id,
                                             relatives.c.relative_id == req.relative_id)
                     .values(**values))
    audit.append(conn, at_ms=now, actor=actor, action="family.authorised", subject=patient_id,
                 details={"relative_id": req.relative_id, "relation": req.relation.value,
                          "consent_version": req.consent.text_version})
    return _view(conn, _row(conn, patient_id, req.relative_id))


def withdraw(conn: Connection, *, patient_id: str, relative_id: str, actor: str,
             now: int) -> schemas.RelativeAuthorisation:
    row = _row(conn, patient_id, relative_id)
    if row is None:
        raise ProtocolError(ErrorCode.FAMILY_NOT_AUTHORISED,
                            "this relative was never authorised for this patient")
    if row.withdrawn_ms is None:
        conn.execute(update(relatives).where(relatives.c.patient_id == patient_id,
                                             relatives.c.relative_id == relative_id)
                     .values(withdrawn_ms=now, withdrawn_by=actor))
        audit.append(conn, at_ms=now, actor=actor, action="family.withdrawn",
                     subject=patient_id, details={"relative_id": relative_id})
    return _view(conn, _row(conn, patient_id, relative_id))


def of_patient(conn: Connection, patient_id: str) -> schemas.RelativeList:
    user_row(conn, patient_id)
    rows = conn.execute(select(relatives).where(relatives.c.patient_id == patient_id)
                        .order_by(relatives.c.authorised_ms)).all()
    return schemas.RelativeList(relatives=[_view(conn, r) for r in rows])


def dependants_of(conn: Connection, relative_id: str) -> list[tuple[Any, str]]:
    """The active users who authorised ``relative_id``: (user row, relation)."""
    rows = conn.execute(
        select(users, relatives.c.relation)
        .join(relatives, relatives.c.patient_id == users.c.patient_id)
        .where(relatives.c.relative_id == relative_id, relatives.c.withdrawn_ms.is_(None))
        .order_by(relatives.c.authorised_ms)).all()
    return [(r, r.relation) for r in rows]
