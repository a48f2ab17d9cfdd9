"""An event-loop stall probe: a short timer that measures how late it fires.

If anything blocks the GUI thread (recognition, a network call, a slow repaint), the timer's
next tick arrives late by about that long. Tests and the demo read ``max_stall_ms``; the
target is no stall over 50 ms during a checkout.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer

TARGET_MS = 50.0


class StallProbe(QObject):
    def __init__(self, interval_ms: int = 10, threshold_ms: float = TARGET_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.threshold_ms = threshold_ms
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last_ns = 0
        self.reset()

    def reset(self) -> None:
        self.max_stall_ms = 0.0
        self.stalls = 0  # ticks later than the threshold
        self.ticks = 0
        self._last_ns = time.perf_counter_ns()

    def start(self) -> StallProbe:
        self.reset()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.stop()

    def pause(self) -> None:
        """Stop measuring (our own deliberate blocking work follows)."""
        self._timer.stop()

    def resume(self) -> None:
        self._last_ns = time.perf_counter_ns()
        self._timer.start()

    def _tick(self) -> None:
        now = time.perf_counter_ns()
        late_ms = (now - self._last_ns) / 1e6 - self.interval_ms
        self._last_ns = now
        self.ticks += 1
        self.max_stall_ms = max(self.max_stall_ms, late_ms)
        if late_ms > self.threshold_ms:
            self.stalls += 1
