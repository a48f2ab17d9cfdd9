"""What every scanner delivers, and the interface the kiosk reads scans through."""

from __future__ import annotations

import contextlib
import queue
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from device.health import DeviceHealth

SCAN_BUFFER = 8  # unread scans kept; a patient re-scans rather than waiting on a backlog


@dataclass(frozen=True)
class Scan:
    text: str  # never logged whole: it may be a credential or someone's data
    source: str  # "wedge", "serial", "camera"
    symbology: str = ""  # "QR Code", ... when the decoder knows it
    timestamp_ns: int = field(default_factory=time.monotonic_ns)


class Scanner(ABC):
    device = "scanner"

    def start(self) -> Scanner:
        return self

    @abstractmethod
    def read(self, timeout: float | None = None) -> Scan | None:
        """The next scan, or None when ``timeout`` passes first."""

    @abstractmethod
    def health(self) -> DeviceHealth: ...

    @abstractmethod
    def close(self) -> None:
        """Release the device (idempotent)."""


class QueuedScanner(Scanner, ABC):
    """Scans arrive on another thread (UI key events, a serial reader) and wait here."""

    def __init__(self) -> None:
        self._scans: queue.Queue[Scan] = queue.Queue(SCAN_BUFFER)

    def read(self, timeout: float | None = None) -> Scan | None:
        try:
            return self._scans.get(timeout=timeout)
        except queue.Empty:
            return None

    def deliver(self, scan: Scan) -> None:
        """Queue a scan, discarding the oldest unread one when full."""
        while True:
            try:
                self._scans.put_nowait(scan)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._scans.get_nowait()
