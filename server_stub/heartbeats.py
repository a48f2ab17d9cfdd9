"""Device heartbeats: the latest one per device, and the fleet view built from them.

Only the latest report is kept (one row per device, replaced by the next): the fleet view
needs the present, not a history. Heartbeats are not audited: they change no state anyone
is accountable for, and one a minute per device would swamp the chain.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from kiosk.protocol import schemas
from server_stub import engines
from server_stub.clock import to_datetime
from server_stub.config import FleetSection, SecuritySection
from server_stub.db import devices, heartbeats
from server_stub.fleet import FleetEntry, classify
from server_stub.records.devices import Device


def record(conn: Connection, *, device: Device, req: schemas.HeartbeatRequest, now: int,
           security: SecuritySection) -> schemas.HeartbeatResponse:
    """Replace the device's latest heartbeat (one upsert: two hosts may receive the same
    device's heartbeats at once). The answer tells the device the platform's signature
    window and key retention, which it needs to judge its clock and how long an unanswered
    money request may be retried."""
    engines.upsert(conn, heartbeats, {"device_id": device.device_id, "received_ms": now,
                                      "report": req.model_dump_json()}, ["device_id"])
    return schemas.HeartbeatResponse(
        device_id=device.device_id, received_at=to_datetime(now),
        skew_window_s=security.skew_seconds,
        idempotency_retention_hours=security.idempotency_retention_hours)


def fleet(conn: Connection, *, now: int, limits: FleetSection,
          site_id: str | None = None) -> list[FleetEntry]:
    """Every active terminal (of ``site_id``, or all), classified; revoked devices are no
    longer part of the fleet, and a hospital system's feed (role ``his``) is a server, not
    a terminal: it sends no heartbeats."""
    query = (select(devices.c.device_id, devices.c.site_id, devices.c.role, devices.c.name,
                    heartbeats.c.received_ms, heartbeats.c.report)
             .select_from(devices.outerjoin(heartbeats,
                                            heartbeats.c.device_id == devices.c.device_id))
             .where(devices.c.status == "active", devices.c.role != schemas.Role.HIS.value)
             .order_by(devices.c.site_id, devices.c.device_id))
    if site_id is not None:
        query = query.where(devices.c.site_id == site_id)
    entries = []
    for row in conn.execute(query):
        report = (schemas.HeartbeatRequest.model_validate_json(row.report)
                  if row.report is not None else None)
        status, reasons = classify(report, row.received_ms, now, limits)
        entries.append(FleetEntry(
            device_id=row.device_id, site_id=row.site_id, role=schemas.Role(row.role),
            name=row.name, status=status, reasons=reasons, report=report,
            last_heartbeat_at=(to_datetime(row.received_ms)
                               if row.received_ms is not None else None)))
    return entries
