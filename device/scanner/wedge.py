"""Keyboard-wedge (HID) scanners: they "type" the code followed by Enter.

The key events arrive in the UI, which must route every printable key and Enter to
``WedgeScanner.feed_key`` (Qt: from an event filter, with the event's timestamp). What tells a
scanner from a person at a keyboard is speed: a scanner types a whole code with a few
milliseconds between keys, so bursts slower than ``max_key_interval_ms`` are dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from common.errors import ErrorCode
from device.health import DeviceHealth, HealthState
from device.scanner.base import QueuedScanner, Scan

log = logging.getLogger(__name__)

ENTER = frozenset({"\r", "\n", "\r\n"})


class KeyboardWedgeDecoder:
    """Keystrokes in, complete scans out. Pure: time comes with each key."""

    def __init__(self, *, max_key_interval_ms: int = 60, min_length: int = 4,
                 max_length: int = 1024) -> None:
        self.max_gap_ns = max_key_interval_ms * 1_000_000
        self.min_length, self.max_length = min_length, max_length
        self._chars: list[str] = []
        self._last_ns: int | None = None
        self._overflow = False
        self.discarded = 0  # bursts dropped as typing, too short or too long

    def feed(self, text: str, timestamp_ns: int) -> str | None:
        """One key's text ("" for keys that type nothing); returns the payload on Enter."""
        slow = self._last_ns is not None and timestamp_ns - self._last_ns > self.max_gap_ns
        if text in ENTER:
            payload = "".join(self._chars)
            complete = (not slow and not self._overflow
                        and self.min_length <= len(payload) <= self.max_length)
            if payload and not complete:
                self.discarded += 1
            self.reset()
            return payload if complete else None
        if not text:
            return None
        if slow:
            self.discarded += bool(self._chars)
            self.reset()
        self._last_ns = timestamp_ns
        if len(self._chars) >= self.max_length:
            self._overflow = True
            return None
        self._chars.append(text)
        return None

    def reset(self) -> None:
        self._chars, self._last_ns, self._overflow = [], None, False


def keystrokes(payload: str, start_ns: int, interval_ms: float = 8.0
               ) -> Iterator[tuple[str, int]]:
    """The key events a wedge scanner produces for ``payload`` (for simulators and tests)."""
    step = int(interval_ms * 1_000_000)
    for i, char in enumerate([*payload, "\r"]):
        yield char, start_ns + i * step


class WedgeScanner(QueuedScanner):
    def __init__(self, *, max_key_interval_ms: int = 60, min_length: int = 4,
                 max_length: int = 1024) -> None:
        super().__init__()
        self.decoder = KeyboardWedgeDecoder(max_key_interval_ms=max_key_interval_ms,
                                            min_length=min_length, max_length=max_length)

    def feed_key(self, text: str, timestamp_ns: int | None = None) -> Scan | None:
        """Route one key event here; returns (and queues) the scan it completes, if any."""
        at = time.monotonic_ns() if timestamp_ns is None else timestamp_ns
        payload = self.decoder.feed(text, at)
        if payload is None:
            return None
        scan = Scan(payload, "wedge", timestamp_ns=at)
        log.info("scan", extra={"device": "scanner", "source": "wedge", "length": len(payload)})
        self.deliver(scan)
        return scan

    def close(self) -> None:
        self.decoder.reset()

    def health(self) -> DeviceHealth:
        return DeviceHealth("scanner", HealthState.OK, ErrorCode.SCANNER_WEDGE_UNVERIFIED,
                            "keyboard-wedge scanners cannot be detected; scan a code to test")
