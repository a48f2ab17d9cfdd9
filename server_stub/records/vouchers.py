"""E-vouchers: a token a patient shows as a QR to be identified (kiosk/protocol/voucher.py
is the payload's format)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from common.errors import ErrorCode
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.voucher import format_payload, new_token, parse_payload
from server_stub import audit
from server_stub.db import vouchers
from server_stub.records import AdminError
from server_stub.records.patients import user_row


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
