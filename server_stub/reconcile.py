"""``POST /v1/reconcile``: a device's batch totals against the platform's own settlements.

A kiosk holds the platform's signed answer for every settlement it made; the platform holds
the settlements. Both should agree, and after a database restored from an earlier copy
they do not: the platform has "forgotten" settlements the device holds a receipt for, and
the device's newest audit head is no longer in the chain. This compares the two, like a
card terminal's batch close, and tells the device which money requests to send again
(``missing_on_platform``: same Idempotency-Key, same body) and which settlements it lacks.

Any mismatch or rollback opens a cashier hand-off at the device's site, writes an audit
record, logs an error and counts ``platform_reconcile_mismatches_total{kind}``. The hand-off
(and its audit record) is per distinct finding: a device that reconciles again before the
discrepancy is resolved gets the same hand-off back instead of a new one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from common.errors import ErrorCode
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from server_stub import audit, handoffs
from server_stub.clock import from_datetime, now_ms, to_datetime
from server_stub.config import ServerConfig
from server_stub.db import idempotency, reported_anchors, settlements
from server_stub.metrics import Metrics
from server_stub.records.devices import Device
from server_stub.storage import Database

log = logging.getLogger("server_stub.reconcile")
REASON = ErrorCode.RECONCILE_MISMATCH.value  # the hand-off and audit action of a mismatch
CHUNK = 500  # ids per IN (...) query: SQLite allows a few thousand bound parameters
T = TypeVar("T")
_s = settlements.c


def digest_of(settlement_ids: Sequence[str]) -> str:
    """The request's ``digest``: sha256 hex of the sorted settlement ids joined by "\\n"."""
    return hashlib.sha256("\n".join(sorted(settlement_ids)).encode("utf-8")).hexdigest()


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def _invalid(name: str, message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_REQUEST, message, fields=[
        {"loc": ["body", name], "msg": message, "type": "value_error"}])


def check_request(req: schemas.ReconcileRequest, *, now: int, config: ServerConfig) -> None:
    """The totals must describe the list, and ``since`` must lie within the idempotency
    retention: older keys are gone, so the platform could no longer say what they did."""
    ids = [s.settlement_id for s in req.settlements]
    if len(set(ids)) != len(ids):
        raise _invalid("settlements", "a settlement is listed twice")
    if req.count != len(ids):
        raise _invalid("count", "count does not match the settlements listed")
    if req.self_pay_fen != sum(s.self_pay_fen for s in req.settlements):
        raise _invalid("self_pay_fen", "self_pay_fen is not the sum of the settlements listed")
    if req.digest != digest_of(ids):
        raise _invalid("digest", "digest is not sha256 of the sorted settlement ids "
                                 "joined by newlines")
    retention = config.security.idempotency_retention_hours
    since = from_datetime(req.since)
    if since < now - retention * 3_600_000:
        raise _invalid("since", f"since is older than the idempotency retention "
                                f"({retention} h): reconcile at most {retention} h back")
    if since > now + config.security.skew_seconds * 1000:
        raise _invalid("since", "since is in the future (platform time)")


@dataclass
class Findings:
    matched: int = 0
    missing_on_platform: list[str] = field(default_factory=list)  # idempotency keys
    missing_on_device: list[str] = field(default_factory=list)  # settlement ids
    differs: list[str] = field(default_factory=list)  # held ids the platform has otherwise
    audit: schemas.AuditCheck = schemas.AuditCheck.NONE
    anchor_known: bool = True  # the reported anchor is stored already (or there is none)

    def kinds(self) -> list[str]:
        found = [name for name in ("missing_on_platform", "missing_on_device", "differs")
                 if getattr(self, name)]
        return [*found, "rollback"] if self.audit is schemas.AuditCheck.ROLLBACK else found

    def session_id(self) -> str:
        """The hand-off's session: the same findings give the same hand-off."""
        basis = json.dumps([self.missing_on_platform, self.missing_on_device, self.differs,
                            self.audit.value], separators=(",", ":"))
        return "reconcile:" + hashlib.sha256(basis.encode()).hexdigest()[:24]


def compare(conn: Connection, *, device: Device, req: schemas.ReconcileRequest,
            now: int) -> Findings:
    found = Findings()
    held = {s.settlement_id: s for s in req.settlements}
    platform_rows = {}
    for chunk in _chunks(sorted(held)):
        for row in conn.execute(select(_s.settlement_id, _s.device_id, _s.bill_id,
                                       _s.self_pay_fen).where(_s.settlement_id.in_(chunk))):
            platform_rows[row.settlement_id] = row
    for settlement_id, mine in sorted(held.items()):
        row = platform_rows.get(settlement_id)
        if row is None:
            found.missing_on_platform.append(mine.idempotency_key)
        elif (row.device_id, row.bill_id, row.self_pay_fen) != (
                device.device_id, mine.bill_id, mine.self_pay_fen):
            found.differs.append(settlement_id)
        else:
            found.matched += 1
    found.missing_on_platform.sort()
    in_flight: set[str] = set()  # what the device's pending keys turned into
    for chunk in _chunks(sorted(set(req.pending_keys))):
        for body in conn.execute(select(idempotency.c.body).where(
                idempotency.c.device_id == device.device_id, idempotency.c.key.in_(chunk)
        )).scalars():
            settlement_id = json.loads(body).get("settlement_id")
            if isinstance(settlement_id, str):
                in_flight.add(settlement_id)
    made = conn.execute(select(_s.settlement_id).where(
        _s.device_id == device.device_id, _s.settled_ms >= from_datetime(req.since),
        _s.settled_ms <= now)).scalars()
    found.missing_on_device = sorted(s for s in made if s not in held and s not in in_flight)
    anchor = req.audit_head
    if anchor is not None:
        head_seq, _ = audit.head(conn)
        in_chain = anchor.seq <= head_seq and audit.hash_at(conn, anchor.seq) == anchor.hash
        found.audit = schemas.AuditCheck.OK if in_chain else schemas.AuditCheck.ROLLBACK
        found.anchor_known = conn.execute(select(reported_anchors.c.seq).where(
            reported_anchors.c.device_id == device.device_id,
            reported_anchors.c.seq == anchor.seq,
            reported_anchors.c.hash == anchor.hash)).first() is not None
    return found


def _record(conn: Connection, *, device: Device, req: schemas.ReconcileRequest,
            found: Findings, now: int) -> str | None:
    """Store the reported anchor; on a mismatch, the hand-off (and, when it is new, an
    audit record). Returns the hand-off's id."""
    anchor = req.audit_head
    if anchor is not None and not found.anchor_known:
        try:
            with conn.begin_nested():
                conn.execute(insert(reported_anchors).values(
                    device_id=device.device_id, seq=anchor.seq, hash=anchor.hash,
                    reported_ms=now))
        except IntegrityError:
            pass  # the same report from a concurrent reconcile: stored once is enough
    kinds = found.kinds()
    if not kinds:
        return None
    handoff, created = handoffs.open_handoff(conn, device=device, req=schemas.HandoffRequest(
        session_id=found.session_id(), reason=REASON), now=now)
    if created:
        audit.append(conn, at_ms=now, actor=device.actor, action=REASON,
                     subject=device.device_id, details={
                         "site_id": device.site_id, "kinds": kinds,
                         "handoff_id": handoff.handoff_id, "since": req.since.isoformat(),
                         "missing_on_platform": len(found.missing_on_platform),
                         "missing_on_device": len(found.missing_on_device),
                         "differs": len(found.differs), "audit": found.audit.value,
                         "anchor_seq": anchor.seq if anchor is not None else None})
    return handoff.handoff_id


def reconcile(db: Database, metrics: Metrics, *, device: Device,
              req: schemas.ReconcileRequest, config: ServerConfig) -> schemas.ReconcileResponse:
    """Compare on a read snapshot (no writer held for the work); write only when there is
    something to keep: a new anchor, or a mismatch."""
    now = now_ms()
    check_request(req, now=now, config=config)
    with db.read() as conn:
        found = compare(conn, device=device, req=req, now=now)
    handoff_id = None
    if found.kinds() or not found.anchor_known:
        handoff_id = db.transact(lambda conn: _record(conn, device=device, req=req,
                                                      found=found, now=now))
    if found.kinds():
        for kind in found.kinds():
            metrics.reconcile_mismatches.labels(kind).inc()
        log.error("reconcile mismatch", extra={
            "device_id": device.device_id, "site_id": device.site_id, "kinds": found.kinds(),
            "missing_on_platform": len(found.missing_on_platform),
            "missing_on_device": len(found.missing_on_device), "differs": len(found.differs),
            "audit": found.audit.value, "handoff_id": handoff_id})
    return schemas.ReconcileResponse(
        device_id=device.device_id, since=req.since, until=to_datetime(now),
        matched=found.matched, missing_on_platform=found.missing_on_platform,
        missing_on_device=found.missing_on_device, audit=found.audit, handoff_id=handoff_id)
