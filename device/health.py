"""Device health and events: what every adapter reports instead of raising at its consumer.

A device is ``ok``, ``degraded`` (working around a fault: reconnecting, stalled) or ``failed``
(unusable now), always with a stable ``reason`` code. The kiosk core reads these to decide which
payment methods to offer (no face checkout while the camera is failed). Connection changes are
also pushed as ``DeviceEvent`` objects to a callback, so a UI can react without polling.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from common.errors import ErrorCode

log = logging.getLogger(__name__)


class HealthState(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAILED = "failed"


@dataclass(frozen=True)
class DeviceHealth:
    """One device's state, as health reports and ``kiosk doctor`` show it."""

    device: str  # "camera", "scanner", "card", "printer"
    state: HealthState
    reason: ErrorCode | Literal["ok"] = "ok"  # a registry code, e.g. camera.reconnecting
    message: str = ""

    @property
    def usable(self) -> bool:
        """Degraded devices still work (e.g. a camera reconnecting after a glitch)."""
        return self.state is not HealthState.FAILED

    def to_dict(self) -> dict[str, str]:
        return {"device": self.device, "state": str(self.state), "reason": self.reason,
                "message": self.message}


def not_configured(device: str) -> DeviceHealth:
    """The config names no driver for ``device``: unusable, and IT must be told which."""
    return DeviceHealth(device, HealthState.FAILED, ErrorCode(f"{device}.not_configured"),
                        f"no [devices.{device}] driver in the config")


@dataclass(frozen=True)
class DeviceEvent:
    device: str
    kind: str  # connected, reconnected, disconnected, reconnecting, ended, error, stopped
    health: DeviceHealth
    detail: Mapping[str, Any] = field(default_factory=dict)
    at_ns: int = field(default_factory=time.monotonic_ns)


EventSink = Callable[[DeviceEvent], None]


def emit(sink: EventSink | None, event: DeviceEvent) -> None:
    """Log the event (``device.event``) and hand it to ``sink``; a failing sink is logged,
    never propagated, because events are raised on device threads that must keep running."""
    log.info("device.event", extra={"device": event.device, "event": event.kind,
                                    "state": str(event.health.state),
                                    "reason": event.health.reason,
                                    "detail": dict(event.detail)})
    if sink is None:
        return
    try:
        sink(event)
    except Exception:
        log.exception("device.event_sink_failed", extra={"device": event.device,
                                                         "event": event.kind})


class LinkState:
    """Thread-safe bookkeeping of a device link that turns its history into ``Health``.

    A short outage is ``degraded`` (reconnecting); one longer than ``failed_after_s`` is
    ``failed``, so a USB glitch does not switch payment methods but an unplugged camera does.
    """

    def __init__(self, device: str, *, failed_after_s: float, stale_after_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.device = device
        self.failed_after_s = failed_after_s
        self.stale_after_s = stale_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = "starting"
        self._since = clock()
        self._last_activity = self._since
        self._reason = ErrorCode(f"{device}.unavailable")
        self._message = "not connected yet"
        self._ever_connected = False

    def restart(self) -> None:
        with self._lock:
            self._state = "starting"
            self._since = self._clock()

    def connected(self) -> bool:
        """Mark the link up; returns True when this is a reconnection."""
        with self._lock:
            again = self._ever_connected
            self._ever_connected = True
            self._state = "connected"
            self._since = self._last_activity = self._clock()
            return again

    def activity(self) -> None:
        with self._lock:
            self._last_activity = self._clock()

    def disconnected(self, reason: ErrorCode, message: str) -> None:
        with self._lock:
            if self._state in ("connected", "finished"):
                self._since = self._clock()
            self._state = "disconnected"
            self._reason, self._message = reason, message

    def finished(self, reason: ErrorCode, message: str) -> None:
        """A permanent end (finite source done, device stopped): failed until restarted."""
        with self._lock:
            self._state = "finished"
            self._reason, self._message = reason, message

    def health(self) -> DeviceHealth:
        with self._lock:
            now = self._clock()
            if self._state == "connected":
                idle = now - self._last_activity
                if self.stale_after_s and idle > self.stale_after_s:
                    return DeviceHealth(self.device, HealthState.DEGRADED,
                                        ErrorCode(f"{self.device}.stalled"),
                                        f"no data for {idle:.1f} s")
                return DeviceHealth(self.device, HealthState.OK)
            if self._state == "finished":
                return DeviceHealth(self.device, HealthState.FAILED, self._reason, self._message)
            down = now - self._since
            if down < self.failed_after_s:
                reason = ErrorCode(f"{self.device}.reconnecting" if self._ever_connected
                                   else f"{self.device}.starting")
                return DeviceHealth(self.device, HealthState.DEGRADED, reason,
                                    f"{self._message} ({down:.1f} s)")
            return DeviceHealth(self.device, HealthState.FAILED, self._reason,
                                f"{self._message} (for {down:.1f} s)")
