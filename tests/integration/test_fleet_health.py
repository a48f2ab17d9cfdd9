"""A running kiosk's heartbeats put it in the fleet view as ok; when it stops, it goes
offline after three of its intervals. Real runtime, real client, real platform process."""

from __future__ import annotations

import dataclasses
import json
import time

from device.health import DeviceHealth, HealthState
from kiosk.gallery_store import GalleryStore, load_or_create_key
from kiosk.provisioning import connect
from kiosk.runtime import KioskRuntime
from kiosk.settlement.outbox import Outbox


def fleet_entry(platform, device_id: str) -> dict:
    listed = json.loads(platform.admin("fleet", "--json"))["devices"]
    return next(d for d in listed if d["device_id"] == device_id)


def wait_entry(platform, device_id: str, predicate, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        entry = fleet_entry(platform, device_id)
        if predicate(entry) or time.monotonic() > deadline:
            return entry
        time.sleep(0.2)


def test_a_running_kiosk_is_ok_and_a_stopped_one_goes_offline(platform, engine):
    config = platform.device("kiosk", "kiosk-fleet")
    config = dataclasses.replace(config, server=dataclasses.replace(config.server,
                                                                    heartbeat_s=1.0))
    data = config.paths.data_path()
    store = GalleryStore(data / "gallery.enc", load_or_create_key(data / "gallery.key"),
                         engine.pack, engine.manifest.embedding_dim)
    gallery, state = store.load()
    camera = DeviceHealth("camera", HealthState.OK)
    runtime = KioskRuntime(config, engine, gallery, connect(config), Outbox(data / "outbox.db"),
                           gallery_store=store, sync_state=state,
                           peripherals=lambda: {"camera": camera})
    device_id = config.site.kiosk_id
    assert fleet_entry(platform, device_id)["reasons"] == ["heartbeat.never"]
    runtime.start(camera=None, sync=True)
    try:
        entry = wait_entry(platform, device_id, lambda e: e["status"] == "ok"
                           and e["report"]["last_sync_at"] is not None
                           and e["report"]["clock_offset_ms"] is not None)
        assert entry["status"] == "ok", entry
        report = entry["report"]
        assert report["interval_s"] == 1.0 and report["model_pack"] == config.models.pack
        assert report["devices"] == [  # the peripherals, the platform clock, the sender
            {"device": "camera", "state": "ok", "reason": "ok"},
            {"device": "clock", "state": "ok", "reason": "ok"},
            {"device": "outbox", "state": "ok", "reason": "ok"}]
        assert report["outbox_depth"] == 0 and report["disk_free_bytes"] > 0
        assert abs(report["clock_offset_ms"]) < 1000  # same machine, same clock
        # a camera gone bad shows on the next beat, with its reason
        camera = DeviceHealth("camera", HealthState.FAILED, "camera.disconnected")
        entry = wait_entry(platform, device_id, lambda e: e["status"] == "degraded")
        assert entry["reasons"] == ["camera.disconnected (camera failed)"]
    finally:
        runtime.stop()
    assert fleet_entry(platform, device_id)["status"] != "offline"
    entry = wait_entry(platform, device_id, lambda e: e["status"] == "offline", timeout=10)
    assert entry["status"] == "offline"
    assert entry["reasons"][0].startswith("heartbeat.missed: last ")


def test_a_platform_that_is_down_does_not_disturb_the_kiosk(platform, engine, tmp_path):
    """Heartbeats to nowhere fail quietly; the runtime starts, runs and stops as usual."""
    config = platform.device("kiosk", "kiosk-fleet-down")
    config = dataclasses.replace(config, server=dataclasses.replace(
        config.server, heartbeat_s=1.0, url="http://127.0.0.1:9", connect_timeout_s=0.2))
    data = config.paths.data_path()
    runtime = KioskRuntime(config, engine, GalleryStore(
        data / "gallery.enc", load_or_create_key(data / "gallery.key"), engine.pack,
        engine.manifest.embedding_dim).load()[0], connect(config), Outbox(data / "outbox.db"))
    runtime.start(camera=None, sync=False)
    try:
        time.sleep(2.5)
        assert runtime.heartbeat.beat() is False
        runtime.card_read("YB33078400001001")  # the flow still answers (then fails over)
        deadline = time.monotonic() + 10
        while runtime.last_view.state.value == "idle" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runtime.last_view.state.value != "idle"
    finally:
        runtime.stop()
