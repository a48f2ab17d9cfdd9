"""The device's heartbeat: every ``[server] heartbeat_s`` a signed report to
``POST /v1/heartbeat`` of how this terminal is doing (software, model pack, peripherals,
outbox backlog, last gallery sync, clock offset, free disk), for the platform's fleet view.

It runs on a thread of its own and catches every failure (logged once per outage): a
platform that cannot be reached, or a report that cannot be built, must never touch a
checkout. The clock offset is what the client measured on the last answer
(``PlatformClock``), sent with the next report.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from device.health import DeviceHealth
from kiosk import __version__
from kiosk.backend import BackendError
from kiosk.config import KioskConfig
from kiosk.platform_clock import PlatformClock
from kiosk.protocol import schemas
from kiosk.settlement.outbox import Outbox

log = logging.getLogger(__name__)
Peripherals = Callable[[], Mapping[str, DeviceHealth]]


class HeartbeatClient(Protocol):
    clock: PlatformClock

    def heartbeat(self, report: schemas.HeartbeatRequest) -> schemas.HeartbeatResponse: ...


def build_report(config: KioskConfig, *, peripherals: Mapping[str, DeviceHealth],
                 outbox: Outbox | None, synced_at: float, clock_offset_ms: int | None,
                 now: float) -> schemas.HeartbeatRequest:
    """This device's report; ``synced_at`` 0 means the gallery was never synced."""
    depth, oldest = outbox.backlog() if outbox is not None else (0, None)
    return schemas.HeartbeatRequest(
        interval_s=config.server.heartbeat_s, software_version=__version__,
        model_pack=config.models.pack,
        devices=[schemas.PeripheralHealth(device=name, state=schemas.DeviceState(h.state.value),
                                          reason=h.reason)
                 for name, h in sorted(peripherals.items())],
        outbox_depth=depth,
        outbox_oldest_s=max(0.0, now - oldest) if oldest is not None else None,
        last_sync_at=dt.datetime.fromtimestamp(synced_at, dt.UTC) if synced_at else None,
        clock_offset_ms=clock_offset_ms,
        disk_free_bytes=_free_bytes(config.paths.data_path()))


def _free_bytes(path: Path) -> int:
    """Free space of the disk ``path`` is (or will be) on."""
    existing = next((p for p in (path, *path.parents) if p.exists()), Path.cwd())
    return shutil.disk_usage(existing).free


class HeartbeatSender:
    """``beat`` is the testable unit; ``start`` beats at once, then every ``interval_s``."""

    def __init__(self, client: HeartbeatClient,
                 report: Callable[[int | None], schemas.HeartbeatRequest],
                 interval_s: float) -> None:
        self.client = client
        self.report = report  # (last measured clock offset) -> report
        self.interval_s = interval_s
        self._failing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> bool:
        """Send one heartbeat; False if it failed, for whatever reason."""
        try:
            self.client.heartbeat(self.report(self.client.clock.offset_ms))
        except Exception as exc:
            if not self._failing:  # one line per outage, not one per beat
                code = exc.code if isinstance(exc, BackendError) else type(exc).__name__
                log.warning("heartbeat.failed", extra={"code": code})
            self._failing = True
            return False
        if self._failing:
            log.info("heartbeat.restored")
        self._failing = False
        return True

    def start(self) -> None:
        def loop() -> None:
            while True:
                self.beat()
                if self._stop.wait(self.interval_s):
                    return

        self._thread = threading.Thread(target=loop, name="kiosk-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)


def counter_heartbeat(config: KioskConfig, client: HeartbeatClient,
                      peripherals: Peripherals) -> HeartbeatSender:
    """A counter's heartbeat: no outbox and no gallery of its own, only its peripherals
    and its clock."""
    return HeartbeatSender(client, lambda offset: build_report(
        config, peripherals={**peripherals(), "clock": client.clock.health()}, outbox=None,
        synced_at=0.0,
        clock_offset_ms=offset, now=time.time()), config.server.heartbeat_s)
