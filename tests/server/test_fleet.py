"""The fleet classification: ok, degraded (and why) or offline, from the latest heartbeat."""

from __future__ import annotations

from typing import Any

import pytest

from common.config_loader import ConfigError as KioskConfigError
from kiosk.config import parse_config
from kiosk.protocol import schemas
from server_stub.config import FleetSection, PlatformConfigError, load_config
from server_stub.fleet import FleetStatus, classify

NOW = 1_800_000_000_000
LIMITS = FleetSection(outbox_oldest_s=900, clock_offset_s=30, min_disk_free_mb=1024)


def report(**changes: Any) -> schemas.HeartbeatRequest:
    fields: dict[str, Any] = {
        "interval_s": 60.0, "software_version": "0.1.0", "model_pack": "opencv-zoo-sface",
        "devices": [{"device": "camera", "state": "ok", "reason": "ok"},
                    {"device": "printer", "state": "ok", "reason": "ok"}],
        "outbox_depth": 0, "outbox_oldest_s": None, "last_sync_at": None,
        "clock_offset_ms": 120, "disk_free_bytes": 20 * 1024**3}
    return schemas.HeartbeatRequest.model_validate({**fields, **changes})


def test_a_recent_healthy_report_is_ok():
    assert classify(report(), NOW - 5_000, NOW, LIMITS) == (FleetStatus.OK, [])


def test_never_heard_of_is_offline():
    assert classify(None, None, NOW, LIMITS) == (FleetStatus.OFFLINE, ["heartbeat.never"])


def test_three_missed_intervals_of_the_devices_own_is_offline():
    assert classify(report(), NOW - 180_000, NOW, LIMITS)[0] is FleetStatus.OK
    status, reasons = classify(report(), NOW - 181_000, NOW, LIMITS)
    assert status is FleetStatus.OFFLINE and reasons == ["heartbeat.missed: last 181 s ago"]
    # a device beating every second is offline after three seconds of silence
    assert classify(report(interval_s=1.0), NOW - 3_500, NOW, LIMITS)[0] is FleetStatus.OFFLINE
    # the stale report's faults are not given as reasons: only the silence is known
    stale = report(disk_free_bytes=0)
    assert classify(stale, NOW - 200_000, NOW, LIMITS)[1] == ["heartbeat.missed: last 200 s ago"]


def test_each_broken_limit_is_a_reason():
    bad = report(devices=[{"device": "camera", "state": "degraded", "reason":
                           "camera.reconnecting"},
                          {"device": "printer", "state": "failed", "reason": "printer.offline"},
                          {"device": "card", "state": "ok", "reason": "ok"}],
                 outbox_depth=3, outbox_oldest_s=1200.0, clock_offset_ms=-45_000,
                 disk_free_bytes=100 * 1024**2)
    status, reasons = classify(bad, NOW - 1_000, NOW, LIMITS)
    assert status is FleetStatus.DEGRADED
    assert reasons == ["camera.reconnecting (camera degraded)",
                       "printer.offline (printer failed)",
                       "outbox.stale: oldest 1200 s, 3 waiting",
                       "clock.offset: -45.0 s",
                       "disk.low: 100 MiB free"]


def test_limits_are_exclusive_and_unknowns_are_not_faults():
    edge = report(outbox_depth=1, outbox_oldest_s=900.0, clock_offset_ms=30_000,
                  disk_free_bytes=1024 * 1024**2)
    assert classify(edge, NOW, NOW, LIMITS) == (FleetStatus.OK, [])
    assert classify(report(clock_offset_ms=None), NOW, NOW, LIMITS) == (FleetStatus.OK, [])
    assert classify(report(devices=[]), NOW, NOW, LIMITS) == (FleetStatus.OK, [])


def test_config_keys_are_checked_where_they_are_read(tmp_path):
    assert parse_config("[server]\nheartbeat_s = 1\n").server.heartbeat_s == 1.0
    with pytest.raises(KioskConfigError, match="heartbeat_s"):
        parse_config("[server]\nheartbeat_s = 0.5\n")
    path = tmp_path / "server.toml"
    path.write_text('[server]\nmetrics_token = "0123456789abcdef"\n[fleet]\nclock_offset_s = 5\n')
    loaded = load_config(path)
    assert loaded.server.metrics_token == "0123456789abcdef" and loaded.fleet.clock_offset_s == 5
    for bad in ('[server]\nmetrics_token = "short"\n', '[fleet]\noutbox_oldest_s = 1\n'):
        path.write_text(bad)
        with pytest.raises(PlatformConfigError):
            load_config(path)
