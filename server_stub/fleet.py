"""Fleet health: is each registered device ok, degraded or offline, and why.

Pure functions of a device's latest heartbeat and the time, so the admin CLI
(``kiosk-server fleet``) and ``/metrics`` (``platform_devices``) can never disagree.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from kiosk.protocol import schemas
from server_stub.config import FleetSection

MISSED_BEATS = 3  # heartbeats missed in a row before a device counts as offline


class FleetStatus(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    OFFLINE = "offline"


class FleetEntry(BaseModel):
    """One device in the fleet view: ids, roles and health only, never a patient."""

    model_config = ConfigDict(frozen=True)
    device_id: str
    site_id: str
    role: schemas.Role
    name: str
    status: FleetStatus
    reasons: list[str]
    last_heartbeat_at: dt.datetime | None
    report: schemas.HeartbeatRequest | None


def classify(report: schemas.HeartbeatRequest | None, received_ms: int | None, now_ms: int,
             limits: FleetSection) -> tuple[FleetStatus, list[str]]:
    """Offline when no heartbeat came for ``MISSED_BEATS`` of the device's own intervals (or
    ever); else degraded for every limit the last report breaks; else ok. An offline
    device's last report is stale, so only the silence is given as its reason."""
    if report is None or received_ms is None:
        return FleetStatus.OFFLINE, ["heartbeat.never"]
    silent_s = (now_ms - received_ms) / 1000
    if silent_s > MISSED_BEATS * report.interval_s:
        return FleetStatus.OFFLINE, [f"heartbeat.missed: last {silent_s:.0f} s ago"]
    reasons = [f"{p.reason} ({p.device} {p.state})" for p in report.devices
               if p.state is not schemas.DeviceState.OK]
    if report.outbox_oldest_s is not None and report.outbox_oldest_s > limits.outbox_oldest_s:
        reasons.append(f"outbox.stale: oldest {report.outbox_oldest_s:.0f} s, "
                       f"{report.outbox_depth} waiting")
    if (report.clock_offset_ms is not None
            and abs(report.clock_offset_ms) > limits.clock_offset_s * 1000):
        reasons.append(f"clock.offset: {report.clock_offset_ms / 1000:+.1f} s")
    if report.disk_free_bytes < limits.min_disk_free_mb * 1024 * 1024:
        reasons.append(f"disk.low: {report.disk_free_bytes // (1024 * 1024)} MiB free")
    return (FleetStatus.DEGRADED, reasons) if reasons else (FleetStatus.OK, [])


def counts(entries: list[FleetEntry]) -> dict[FleetStatus, int]:
    """Devices per status, every status present (a zero is a value, not a gap)."""
    totals = dict.fromkeys(FleetStatus, 0)
    for entry in entries:
        totals[entry.status] += 1
    return totals


def render(entries: list[FleetEntry], now_ms: int) -> str:
    """The operator's table: one line per device, worst first."""
    order = {FleetStatus.OFFLINE: 0, FleetStatus.DEGRADED: 1, FleetStatus.OK: 2}
    lines = [f"{'STATUS':<9} {'DEVICE':<22} {'ROLE':<8} {'SITE':<16} {'LAST BEAT':<10} REASON"]
    for e in sorted(entries, key=lambda e: (order[e.status], e.site_id, e.device_id)):
        last = "never"
        if e.last_heartbeat_at is not None:
            ago = now_ms / 1000 - e.last_heartbeat_at.timestamp()
            last = f"{ago:.0f} s ago"
        lines.append(f"{e.status:<9} {e.device_id:<22} {e.role:<8} {e.site_id:<16} "
                     f"{last:<10} {'; '.join(e.reasons) or '-'}")
    totals = counts(entries)
    lines.append(", ".join(f"{totals[s]} {s}" for s in FleetStatus))
    return "\n".join(lines) + "\n"
