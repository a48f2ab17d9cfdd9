"""FrameSource: a grabber run on its own thread, with a small drop-oldest buffer.

The consumer (the recogniser) is slower than the camera on a 2-core terminal. Queuing every
frame would make the kiosk react to where the patient *was*; so the buffer holds at most
``queue_size`` frames and discards the oldest. Disconnections are retried with backoff and
reported as events and health, never raised at the consumer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from types import TracebackType

import numpy as np

from common.opencv import cv2
from device.camera.frame import Frame
from device.camera.grabbers import Grabber
from device.errors import CameraEnded, CameraError, DeviceError
from device.health import DeviceEvent, DeviceHealth, EventSink, LinkState, emit
from device.reconnect import connect_with_backoff

log = logging.getLogger(__name__)


class FrameSource:
    def __init__(self, grabber: Grabber, *, device: str = "camera", queue_size: int = 2,
                 mirror: bool = False, reconnect_initial_s: float = 0.5,
                 reconnect_max_s: float = 10.0, failed_after_s: float = 3.0,
                 stale_after_s: float = 2.0, on_event: EventSink | None = None) -> None:
        self.grabber = grabber
        self.device = device
        self.mirror = mirror
        self.reconnect_initial_s, self.reconnect_max_s = reconnect_initial_s, reconnect_max_s
        self.on_event = on_event
        self.link = LinkState(device, failed_after_s=failed_after_s, stale_after_s=stale_after_s)
        self._buffer: deque[Frame] = deque(maxlen=queue_size)
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = 0
        self.frames = 0  # delivered into the buffer
        self.dropped = 0  # pushed out of the buffer unread
        self.reconnects = 0

    # Consumer side

    def start(self) -> FrameSource:
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self.link.restart()
        self._thread = threading.Thread(target=self._run, name=f"{self.device}-source",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._ready:
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("frame source thread did not stop", extra={"device": self.device})
        self._thread = None

    def __enter__(self) -> FrameSource:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def get(self, timeout: float | None = None) -> Frame | None:
        """The oldest buffered frame (at most ``queue_size`` behind), or None on timeout/stop."""
        with self._ready:
            self._ready.wait_for(lambda: self._buffer or not self.running, timeout)
            return self._buffer.popleft() if self._buffer else None

    def latest(self, timeout: float | None = None) -> Frame | None:
        """The newest frame, discarding older ones: for consumers that only want 'now'."""
        with self._ready:
            self._ready.wait_for(lambda: self._buffer or not self.running, timeout)
            if not self._buffer:
                return None
            frame = self._buffer[-1]
            self.dropped += len(self._buffer) - 1
            self._buffer.clear()
            return frame

    def health(self) -> DeviceHealth:
        return self.link.health()

    # Source thread

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug in a grabber must not kill the kiosk silently
            log.exception("frame source crashed", extra={"device": self.device})
            self.link.finished(f"{self.device}.crashed", f"{type(exc).__name__}: {exc}")
            self._event("error", error=type(exc).__name__)
        finally:
            self.grabber.close()
            if self.link.health().usable:
                self.link.finished(f"{self.device}.stopped", "frame source stopped")
            with self._ready:
                self._ready.notify_all()

    def _loop(self) -> None:
        connected = False
        next_due = 0.0
        period = 0.0
        while not self._stop.is_set():
            if not connected:
                if not self._connect():
                    return
                connected = True
                fps = self.grabber.pace_fps()
                period = 1.0 / fps if fps > 0 else 0.0
                next_due = time.monotonic()
            try:
                image = self.grabber.read()
            except CameraEnded as exc:
                self.link.finished(exc.code, exc.message)
                self._event("ended")
                return
            except CameraError as exc:
                self.grabber.close()
                connected = False
                self.link.disconnected(exc.code, exc.message)
                self._event("disconnected", error=exc.code)
                continue
            self._push(image)
            if period:
                next_due += period
                delay = next_due - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                else:  # behind schedule: carry on from now rather than burst to catch up
                    next_due = time.monotonic()

    def _connect(self) -> bool:
        def attempt() -> bool:
            self.grabber.open()
            return True

        def retrying(attempt_no: int, delay_s: float, error: DeviceError) -> None:
            self.link.disconnected(error.code, error.message)
            self._event("retrying", attempt=attempt_no, delay_s=round(delay_s, 3),
                        error=error.code)

        opened = connect_with_backoff(attempt, stop=self._stop,
                                      initial_s=self.reconnect_initial_s,
                                      max_s=self.reconnect_max_s, on_retry=retrying)
        if not opened or self._stop.is_set():
            return False
        again = self.link.connected()
        if again:
            self.reconnects += 1
        self._event("reconnected" if again else "connected", source=self.grabber.name)
        return True

    def _push(self, image: np.ndarray) -> None:
        if self.mirror:
            image = cv2.flip(image, 1)
        frame = Frame(image=image, timestamp_ns=time.monotonic_ns(), seq=self._seq,
                      source=self.device)
        self._seq += 1
        self.link.activity()
        with self._ready:
            if len(self._buffer) == self._buffer.maxlen:
                self.dropped += 1
            self._buffer.append(frame)
            self.frames += 1
            self._ready.notify_all()

    def _event(self, kind: str, **detail: object) -> None:
        emit(self.on_event, DeviceEvent(self.device, kind, self.link.health(), detail))
