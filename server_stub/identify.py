"""Who is at the kiosk: card, e-voucher, and the phone-digits second factor.

The second factor (last four digits of the phone on record) confirms a face candidate, and
"narrow" lets a kiosk cut a large gallery down to the few people with those digits before
the face decides. Guessing is bounded: a few wrong tries per kiosk session and patient,
and a daily cap per patient across all sessions, after which the answer is "locked".
"""

from __future__ import annotations

import hmac

from sqlalchemy import Connection, func, insert, select

from common.errors import ErrorCode
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from server_stub import audit
from server_stub.config import ServerConfig
from server_stub.db import gallery_entries, second_factor_failures, users
from server_stub.records.devices import Device
from server_stub.records.patients import user_row

DAY_MS = 86_400_000


def verify_second_factor(conn: Connection, *, device: Device,
                         req: schemas.SecondFactorVerifyRequest, config: ServerConfig,
                         now: int) -> schemas.SecondFactorVerifyResponse:
    user = user_row(conn, req.patient_id)
    f = second_factor_failures.c
    in_session = conn.execute(select(func.count()).where(
        f.device_id == device.device_id, f.session_id == req.session_id,
        f.patient_id == req.patient_id)).scalar_one()
    today = conn.execute(select(func.count()).where(
        f.patient_id == req.patient_id, f.at_ms > now - DAY_MS)).scalar_one()
    allowed = config.security.second_factor_attempts
    if in_session >= allowed or today >= config.security.second_factor_daily_failures:
        raise ProtocolError(ErrorCode.SECOND_FACTOR_LOCKED,
                            "too many wrong answers; ask the cashier", attempts_left=0)
    if hmac.compare_digest(user.phone_last4, req.last4):
        return schemas.SecondFactorVerifyResponse(verified=True,
                                                  attempts_left=allowed - in_session)
    conn.execute(insert(second_factor_failures).values(
        device_id=device.device_id, session_id=req.session_id, patient_id=req.patient_id,
        at_ms=now))
    audit.append(conn, at_ms=now, actor=device.actor, action="second_factor.failed",
                 subject=req.patient_id, details={"session_id": req.session_id})
    return schemas.SecondFactorVerifyResponse(verified=False,
                                              attempts_left=allowed - in_session - 1)


def narrow(conn: Connection, *, device: Device, req: schemas.NarrowRequest) -> list[str]:
    """Patients of this site's gallery (optionally only ``candidates``) with these digits."""
    g = gallery_entries.c
    query = (select(users.c.patient_id).distinct()
             .join(gallery_entries, g.patient_id == users.c.patient_id)
             .where(g.site_id == device.site_id, g.present.is_(True),
                    users.c.phone_last4 == req.last4).order_by(users.c.patient_id))
    if req.candidates is not None:
        query = query.where(users.c.patient_id.in_(req.candidates))
    return list(conn.execute(query).scalars())
