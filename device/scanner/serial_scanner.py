"""Serial (RS-232 / USB-CDC) scanners: one code per line, read on a background thread.

Scanners end a code with CR, LF or CR LF depending on their setup, so any of them ends a line.
Unplugging surfaces as a read error; the thread reconnects with backoff (udev's stable
``/dev/serial/by-id/...`` names make the replugged device reappear under the same path).
"""

from __future__ import annotations

import logging
import re
import threading

import serial

from common.errors import ErrorCode
from device.errors import DeviceError, ScannerUnavailable
from device.health import DeviceEvent, DeviceHealth, EventSink, LinkState, emit
from device.reconnect import connect_with_backoff
from device.scanner.base import QueuedScanner, Scan

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 0.2  # how often the reader thread notices a stop request
_EOL = re.compile(rb"\r\n|\r|\n")


class LineSplitter:
    """Bytes in, complete lines out; an over-long line is dropped whole, not split."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length
        self._pending = b""
        self._overflow = False
        self.dropped = 0

    def feed(self, data: bytes) -> list[bytes]:
        pieces = _EOL.split(self._pending + data)
        self._pending = pieces.pop()
        lines = []
        for piece in pieces:
            if self._overflow or len(piece) > self.max_length:
                self.dropped += 1
            elif piece:
                lines.append(piece)
            self._overflow = False
        if len(self._pending) > self.max_length:
            self._pending, self._overflow = b"", True
        return lines


def decode_line(line: bytes) -> str | None:
    """Scanners send UTF-8, or GB18030 on Chinese-configured units; anything else is noise."""
    for encoding in ("utf-8", "gb18030"):
        try:
            return line.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


class SerialScanner(QueuedScanner):
    def __init__(self, port: str, *, baudrate: int = 9600, min_length: int = 4,
                 max_length: int = 1024, reconnect_initial_s: float = 0.5,
                 reconnect_max_s: float = 10.0, failed_after_s: float = 3.0,
                 on_event: EventSink | None = None) -> None:
        super().__init__()
        self.port, self.baudrate = port, baudrate
        self.min_length, self.max_length = min_length, max_length
        self.reconnect_initial_s, self.reconnect_max_s = reconnect_initial_s, reconnect_max_s
        self.on_event = on_event
        self.link = LinkState("scanner", failed_after_s=failed_after_s)
        self.rejected = 0  # lines dropped: too short, too long, undecodable
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> SerialScanner:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self.link.restart()
            self._thread = threading.Thread(target=self._run, name="scanner-serial",
                                            daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(READ_TIMEOUT_S * 10)
            self._thread = None

    def health(self) -> DeviceHealth:
        return self.link.health()

    def _open(self) -> serial.SerialBase:
        try:
            return serial.serial_for_url(self.port, baudrate=self.baudrate,
                                         timeout=READ_TIMEOUT_S)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ScannerUnavailable(f"cannot open serial scanner {self.port}: {exc}",
                                     port=self.port) from exc

    def _run(self) -> None:
        def retrying(attempt: int, delay_s: float, error: DeviceError) -> None:
            self.link.disconnected(error.code, error.message)
            self._event("retrying", attempt=attempt, delay_s=round(delay_s, 3),
                        error=error.code)

        while not self._stop.is_set():
            port = connect_with_backoff(self._open, stop=self._stop,
                                        initial_s=self.reconnect_initial_s,
                                        max_s=self.reconnect_max_s, on_retry=retrying)
            if port is None:
                break
            self._event("reconnected" if self.link.connected() else "connected")
            try:
                self._pump(port)
            except (serial.SerialException, OSError) as exc:
                self.link.disconnected(ErrorCode.SCANNER_DISCONNECTED,
                                       f"serial scanner {self.port} lost: {exc}")
                self._event("disconnected", error=ErrorCode.SCANNER_DISCONNECTED)
            finally:
                port.close()
        self.link.finished(ErrorCode.SCANNER_STOPPED, "serial scanner closed")

    def _pump(self, port: serial.SerialBase) -> None:
        splitter = LineSplitter(self.max_length)
        while not self._stop.is_set():
            data = port.read(max(1, port.in_waiting))
            if not data:
                continue
            self.link.activity()
            before = splitter.dropped
            for line in splitter.feed(data):
                self._line(line)
            self.rejected += splitter.dropped - before

    def _line(self, line: bytes) -> None:
        text = decode_line(line)
        if text is None or not self.min_length <= len(text.strip()) <= self.max_length:
            self.rejected += 1
            log.warning("scanner line rejected", extra={"device": "scanner",
                                                        "length": len(line)})
            return
        log.info("scan", extra={"device": "scanner", "source": "serial", "length": len(text)})
        self.deliver(Scan(text.strip(), "serial"))

    def _event(self, kind: str, **detail: object) -> None:
        emit(self.on_event, DeviceEvent("scanner", kind, self.link.health(),
                                        {"port": self.port, **detail}))
