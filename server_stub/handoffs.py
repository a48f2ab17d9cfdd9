"""Cashier hand-offs: kiosk sessions that gave up on self-service, fed to the site's counters.

A kiosk opens one when its checkout flow emits ``NotifyCashier``; a counter lists its
site's hand-offs of a local day and takes one over. Opening is idempotent per
(kiosk, session): the kiosk may resend after a lost answer and still gets one hand-off.
A session with the same reason as an open hand-off of its kiosk from the last
``[handoffs] merge_window_s`` joins that one (``count``): one problem at one kiosk is one
row on the counter's queue, not eleven. A counter closes one when it is done: resolved
(served: paid, nothing to pay, sent elsewhere) or dismissed (nobody to serve), each with a
fixed code, audited; closed hand-offs leave the open feed and take no more merges.
Ids, reason codes and — when the kiosk already knew who it was, after a look-up — the
patient's id and the amount at stake are stored; the counter sees the name masked and the
kiosk by its registered name, so staff know whom to look for and where.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from common.errors import ErrorCode
from common.privacy import mask_name
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from server_stub import audit
from server_stub.clock import day_bounds, to_datetime
from server_stub.db import (
    devices,
    handoff_closures,
    handoff_patients,
    handoff_sessions,
    handoffs,
    settlements,
    users,
)
from server_stub.records.devices import Device

_h = handoffs.c
_m = handoff_sessions.c
# each hand-off with how many sessions joined it and when the latest did
_MERGED = (select(_m.handoff_id, func.count().label("merged"),
                  func.max(_m.created_ms).label("last_ms"))
           .group_by(_m.handoff_id).subquery())
_p = handoff_patients.c
_c = handoff_closures.c
_WITH_COUNTS = (select(handoffs, _MERGED.c.merged, _MERGED.c.last_ms,
                       devices.c.name.label("kiosk_name"), _p.patient_id, _p.amount_fen,
                       users.c.name.label("patient_name"), _c.state.label("closed_state"),
                       _c.outcome, _c.settlement_id, _c.closed_by, _c.closed_ms)
                .outerjoin(_MERGED, _MERGED.c.handoff_id == _h.handoff_id)
                .join(devices, devices.c.device_id == _h.kiosk_id)
                .outerjoin(handoff_patients, _p.handoff_id == _h.handoff_id)
                .outerjoin(users, users.c.patient_id == _p.patient_id)
                .outerjoin(handoff_closures, _c.handoff_id == _h.handoff_id))


def _state(row: Mapping[str, Any]) -> schemas.HandoffState:
    if row.get("closed_state"):
        return schemas.HandoffState(row["closed_state"])
    return schemas.HandoffState.TAKEN if row["taken_by"] else schemas.HandoffState.OPEN


def view(row: Mapping[str, Any]) -> schemas.Handoff:
    taken_ms, merged = row["taken_ms"], row.get("merged") or 0
    closed_ms = row.get("closed_ms")
    return schemas.Handoff(
        handoff_id=row["handoff_id"], site_id=row["site_id"], kiosk_id=row["kiosk_id"],
        session_id=row["session_id"], reason=row["reason"],
        created_at=to_datetime(row["created_ms"]), taken_by=row["taken_by"],
        taken_at=to_datetime(taken_ms) if taken_ms is not None else None,
        count=1 + merged, last_at=to_datetime(row["last_ms"]) if merged else None,
        kiosk_name=row.get("kiosk_name") or "", patient_id=row.get("patient_id"),
        patient_name=mask_name(row["patient_name"]) if row.get("patient_name") else None,
        amount_fen=row.get("amount_fen"), state=_state(row), closed_by=row.get("closed_by"),
        closed_at=to_datetime(closed_ms) if closed_ms is not None else None,
        outcome=row.get("outcome"), settlement_id=row.get("settlement_id"))


def _by_id(conn: Connection, handoff_id: str) -> schemas.Handoff:
    return view(conn.execute(_WITH_COUNTS.where(_h.handoff_id == handoff_id))
                .mappings().one())


def _of_session(conn: Connection, kiosk_id: str, session_id: str) -> schemas.Handoff | None:
    own = conn.execute(select(_h.handoff_id).where(
        _h.kiosk_id == kiosk_id, _h.session_id == session_id)).scalar()
    merged = own or conn.execute(select(_m.handoff_id).where(
        _m.kiosk_id == kiosk_id, _m.session_id == session_id)).scalar()
    return _by_id(conn, merged) if merged else None


def open_handoff(conn: Connection, *, device: Device, req: schemas.HandoffRequest,
                 now: int, merge_window_s: int = 0) -> tuple[schemas.Handoff, bool]:
    """The hand-off of this device's session, created (or merged) if new;
    ``(handoff, created)``.

    A repeat returns the first one unchanged (its reason included): the unique indexes on
    (kiosk, session) decide, so two racing requests also end with one hand-off.
    """
    known = _of_session(conn, device.device_id, req.session_id)
    if known is not None:
        return known, False
    patient_id = req.patient_id if req.patient_id and conn.execute(
        select(users.c.patient_id).where(users.c.patient_id == req.patient_id)).first() else None
    if merge_window_s:  # the same problem of the same patient (or of nobody known) again
        open_same = conn.execute(select(_h.handoff_id).outerjoin(
            handoff_patients, _p.handoff_id == _h.handoff_id).outerjoin(
            handoff_closures, _c.handoff_id == _h.handoff_id).where(
            _h.kiosk_id == device.device_id, _h.reason == req.reason, _h.taken_by.is_(None),
            _c.handoff_id.is_(None),
            _h.created_ms >= now - merge_window_s * 1000,
            _p.patient_id == patient_id if patient_id else _p.patient_id.is_(None))
            .order_by(_h.created_ms.desc()).limit(1)).scalar()
        if open_same is not None:
            try:
                with conn.begin_nested():
                    conn.execute(insert(handoff_sessions).values(
                        kiosk_id=device.device_id, session_id=req.session_id,
                        handoff_id=open_same, created_ms=now))
            except IntegrityError:
                pass  # a racing repeat of this session merged it first
            found = _of_session(conn, device.device_id, req.session_id)
            assert found is not None
            return found, True
    handoff_id = f"hof_{secrets.token_hex(8)}"
    try:
        with conn.begin_nested():
            conn.execute(insert(handoffs).values(
                handoff_id=handoff_id, site_id=device.site_id, kiosk_id=device.device_id,
                session_id=req.session_id, reason=req.reason, created_ms=now))
    except IntegrityError:
        raced = _of_session(conn, device.device_id, req.session_id)
        assert raced is not None
        return raced, False
    if patient_id or req.amount_fen is not None:
        conn.execute(insert(handoff_patients).values(handoff_id=handoff_id,
                                                      patient_id=patient_id,
                                                      amount_fen=req.amount_fen))
    audit.append(conn, at_ms=now, actor=device.actor, action="handoff.created",
                 subject=handoff_id, details={"site_id": device.site_id,
                                              "session_id": req.session_id,
                                              "reason": req.reason})
    return _by_id(conn, handoff_id), True


def handoffs_on(conn: Connection, *, site_id: str, day: dt.date, timezone: str,
                open_only: bool) -> schemas.HandoffList:
    """The site's hand-offs created on this local day, newest first."""
    start, end = day_bounds(day, timezone)
    query = _WITH_COUNTS.where(_h.site_id == site_id, _h.created_ms >= start,
                               _h.created_ms < end)
    if open_only:
        query = query.where(_h.taken_by.is_(None), _c.handoff_id.is_(None))
    rows = conn.execute(query.order_by(_h.created_ms.desc(), _h.handoff_id.desc()))
    return schemas.HandoffList(site_id=site_id, date=day.isoformat(),
                               handoffs=[view(r) for r in rows.mappings()])


def take(conn: Connection, *, device: Device, handoff_id: str, now: int) -> schemas.Handoff:
    """Mark it taken by this counter; taking it again from the same counter changes nothing.

    Another site's hand-off is ``handoff.not_found`` like an unknown id: a counter must not
    learn what happens at other sites.
    """
    row = conn.execute(_WITH_COUNTS.where(_h.handoff_id == handoff_id,
                                          _h.site_id == device.site_id)
                       .with_for_update(of=handoffs)).mappings().first()
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


def close(conn: Connection, *, device: Device, handoff_id: str,
          state: schemas.HandoffState, outcome: str, settlement_id: str | None,
          now: int) -> schemas.Handoff:
    """Resolve or dismiss it (a counter of its site). The same close again changes nothing;
    another one is ``handoff.already_closed``. A resolution as settled names a settlement
    of this site."""
    row = conn.execute(_WITH_COUNTS.where(_h.handoff_id == handoff_id,
                                          _h.site_id == device.site_id)
                       .with_for_update(of=handoffs)).mappings().first()
    if row is None:
        raise ProtocolError(ErrorCode.HANDOFF_NOT_FOUND, "no such hand-off at this site")
    if row["closed_state"]:
        if (row["closed_state"], row["outcome"], row["settlement_id"]) == (
                state.value, outcome, settlement_id):
            return view(row)
        raise ProtocolError(ErrorCode.HANDOFF_ALREADY_CLOSED,
                            f"this hand-off was already {row['closed_state']}",
                            state=row["closed_state"], closed_by=row["closed_by"])
    if settlement_id is not None and conn.execute(select(settlements.c.settlement_id).where(
            settlements.c.settlement_id == settlement_id,
            settlements.c.site_id == device.site_id)).first() is None:
        raise ProtocolError(ErrorCode.SETTLEMENT_NOT_FOUND, "no such settlement at this site")
    conn.execute(insert(handoff_closures).values(
        handoff_id=handoff_id, state=state.value, outcome=outcome,
        settlement_id=settlement_id, closed_by=device.device_id, closed_ms=now))
    audit.append(conn, at_ms=now, actor=device.actor, action=f"handoff.{state.value}",
                 subject=handoff_id, details={"site_id": device.site_id, "outcome": outcome,
                                              "settlement_id": settlement_id})
    return _by_id(conn, handoff_id)
