"""The background sender: delivers due outbox rows, and cannot die quietly.

Any exception in a round (a storage error in the outbox, a bug) is logged, shown in health
as ``outbox.sender_failed``, and the round is tried again after a backoff; the owning
runtime calls ``ensure_running`` on its watchdog tick in case the thread itself is gone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from common.errors import ErrorCode
from device.health import DeviceHealth, HealthState
from kiosk.settlement.outbox import backoff_delay

log = logging.getLogger(__name__)


class Sender:
    def __init__(self, run_due: Callable[[], int], next_due_at: Callable[[], float | None],
                 clock: Callable[[], float] = time.time, idle_s: float = 5.0) -> None:
        self.run_due = run_due  # one round: try every due row once
        self.next_due_at = next_due_at
        self.clock = clock
        self.idle_s = idle_s
        self.failures = 0  # rounds failed in a row
        self.restarts = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def round(self) -> float:
        """One guarded round; returns how long to wait before the next."""
        try:
            self.run_due()
            next_at = self.next_due_at()
        except Exception as exc:
            self.failures += 1
            log.exception("outbox.sender_failed", extra={"error": type(exc).__name__,
                                                         "failures": self.failures})
            return backoff_delay(self.failures - 1, cap_s=60.0)
        if self.failures:
            log.info("outbox.sender_recovered", extra={"failures": self.failures})
        self.failures = 0
        if next_at is None:
            return self.idle_s
        return max(0.05, min(self.idle_s, next_at - self.clock()))

    def health(self) -> DeviceHealth:
        if self.failures:
            return DeviceHealth("outbox", HealthState.FAILED, ErrorCode.OUTBOX_SENDER_FAILED,
                                f"{self.failures} delivery rounds failed in a row")
        if self._thread is not None and not self._thread.is_alive() \
                and not self._stop.is_set():
            return DeviceHealth("outbox", HealthState.FAILED, ErrorCode.OUTBOX_SENDER_STOPPED)
        return DeviceHealth("outbox", HealthState.OK)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="outbox-sender", daemon=True)
        self._thread.start()

    def ensure_running(self) -> bool:
        """Start the thread again if it has gone; True if it had to."""
        if self._stop.is_set() or (self._thread is not None and self._thread.is_alive()):
            return False
        self.restarts += 1
        log.error("outbox.sender_restarted", extra={"restarts": self.restarts})
        self.start()
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = self.round()
            self._wake.wait(wait)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
