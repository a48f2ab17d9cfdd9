"""Cashier hand-offs: kiosk sessions that gave up on self-service, fed to the site's counters.

A kiosk opens one when its checkout flow emits ``NotifyCashier``; a counter lists its
site's hand-offs of a local day and takes one over. Opening is idempotent per
(kiosk, session): the kiosk may resend after a lost answer and still gets one hand-off.
Only ids and reason codes are stored: who the patient is stays on the kiosk and in the
cashier's own lookup.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.protocol import schemas
from kiosk.protocol.errors import ErrorCode, ProtocolError
from server_stub import audit
from server_stub.clock import day_bounds, to_datetime
from server_stub.db import handoffs
from server_stub.directory import Device

_h = handoffs.c


def view(row: Mapping[str, Any]) -> schemas.Handoff:
    taken_ms = row["taken_ms"]
    return schemas.Handoff(
        handoff_id=row["handoff_id"], site_id=row["site_id"], kiosk_id=row["kiosk_id"],
        session_id=row["session_id"], reason=row["reason"],
        created_at=to_datetime(row["created_ms"]), taken_by=row["taken_by"],
        taken_at=to_datetime(taken_ms) if taken_ms is not None else None)


def _of_session(conn: Connection, kiosk_id: str, session_id: str) -> schemas.Handoff:
    return view(conn.execute(select(handoffs).where(
        _h.kiosk_id == kiosk_id, _h.session_id == session_id)).mappings().one())


def open_handoff(conn: Connection, *, device: Device, req: schemas.HandoffRequest,
                 now: int) -> tuple[schemas.Handoff, bool]:
    """The hand-off of this device's session, created if new; ``(handoff, created)``.

    A repeat returns the first one unchanged (its reason included): the unique index on
    (kiosk, session) decides, so two racing requests also end with one hand-off.
    """
    handoff_id = f"hof_{secrets.token_hex(8)}"
    try:
        with conn.begin_nested():
            conn.execute(insert(handoffs).values(
                handoff_id=handoff_id, site_id=device.site_id, kiosk_id=device.device_id,
                session_id=req.session_id, reason=req.reason, created_ms=now))
    except IntegrityError:
        return _of_session(conn, device.device_id, req.session_id), False
    audit.append(conn, at_ms=now, actor=device.actor, action="handoff.created",
                 subject=handoff_id, details={"site_id": device.site_id,
                                              "session_id": req.session_id,
                                              "reason": req.reason})
    return _of_session(conn, device.device_id, req.session_id), True


def handoffs_on(conn: Connection, *, site_id: str, day: dt.date, timezone: str,
                open_only: bool) -> schemas.HandoffList:
    """The site's hand-offs created on this local day, newest first."""
    start, end = day_bounds(day, timezone)
    query = select(handoffs).where(_h.site_id == site_id, _h.created_ms >= start,
                                   _h.created_ms < end)
    if open_only:
        query = query.where(_h.taken_by.is_(None))
    rows = conn.execute(query.order_by(_h.created_ms.desc(), _h.handoff_id.desc()))
    return schemas.HandoffList(site_id=site_id, date=day.isoformat(),
                               handoffs=[view(r) for r in rows.mappings()])


def take(conn: Connection, *, device: Device, handoff_id: str, now: int) -> schemas.Handoff:
    """Mark it taken by this counter; taking it again from the same counter changes nothing.

    Another site's hand-off is ``handoff.not_found`` like an unknown id: a counter must not
    learn what happens at other sites.
    """
    row = conn.execute(select(handoffs).where(_h.handoff_id == handoff_id,
                                              _h.site_id == device.site_id)
                       .with_for_update()).mappings().first()
    if row is None:
        raise ProtocolError(ErrorCode.HANDOFF_NOT_FOUND, "no such hand-off at this site")
    if row["taken_by"] == device.device_id:
        return view(row)
    if row["taken_by"] is not None:
        raise ProtocolError(ErrorCode.HANDOFF_ALREADY_TAKEN,
                            "another counter has already taken this hand-off",
                            taken_by=row["taken_by"],
                            taken_at=to_datetime(row["taken_ms"]).isoformat())
    conn.execute(update(handoffs).where(_h.handoff_id == handoff_id)
                 .values(taken_by=device.device_id, taken_ms=now))
    audit.append(conn, at_ms=now, actor=device.actor, action="handoff.taken",
                 subject=handoff_id, details={"site_id": device.site_id,
                                              "session_id": row["session_id"]})
    return view({**row, "taken_by": device.device_id, "taken_ms": now})
