"""What this device knows of the platform's clock, learned only from signed answers.

Every platform answer is signed with a ``created`` time (seconds), and the heartbeat's
answer says ``received_at`` to the millisecond plus the platform's signature window. A kiosk
whose own clock has drifted signs with the platform's time instead (offset corrected), so a
confirmed settlement is never refused for the clock; it still reports the drift (health
``clock.skewed`` past half the window) because its receipts and logs carry its own time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from common.errors import ErrorCode
from device.health import DeviceHealth, HealthState
from kiosk.protocol.signing import DEFAULT_SKEW_S

CORRECT_ABOVE_S = 2.0  # below this the offset is measurement noise (created is whole seconds)


class PlatformClock:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.offset_s: float | None = None  # device minus platform; None until measured
        self.window_s = DEFAULT_SKEW_S  # the platform's; the protocol default until told
        self.precise = False  # measured from a heartbeat's millisecond timestamp

    def local(self) -> float:
        return self._clock()

    def now(self) -> float:
        """Best estimate of platform time: what requests are signed and answers checked with."""
        offset = self.offset_s
        if offset is None or abs(offset) < CORRECT_ABOVE_S:
            return self._clock()
        return self._clock() - offset

    def observe(self, platform_time: float, sent: float, back: float, *,
                precise: bool = False) -> None:
        """One signed answer stamped ``platform_time`` to a request sent at ``sent`` and
        answered at ``back`` (device clock): the platform stamped it about halfway."""
        if not precise:
            platform_time += 0.5  # ``created`` is truncated to the second
        offset = (sent + back) / 2 - platform_time
        with self._lock:
            if not precise and self.precise and self.offset_s is not None \
                    and abs(offset - self.offset_s) < CORRECT_ABOVE_S:
                return  # a coarse reading that agrees must not replace a precise one
            self.offset_s, self.precise = offset, precise

    def learn_window(self, window_s: int) -> None:
        self.window_s = window_s

    @property
    def offset_ms(self) -> int | None:
        return None if self.offset_s is None else round(self.offset_s * 1000)

    def health(self) -> DeviceHealth:
        """``clock.skewed`` once the device clock is more than half the window off."""
        offset = self.offset_s
        if offset is not None and abs(offset) > self.window_s / 2:
            return DeviceHealth("clock", HealthState.DEGRADED, ErrorCode.CLOCK_SKEWED,
                                f"device clock is {offset:+.0f} s from platform time "
                                f"(window ±{self.window_s} s)")
        return DeviceHealth("clock", HealthState.OK)
