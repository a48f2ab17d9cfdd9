"""The reference card reader over a serial port (pyserial): one request, one framed reply.

The port is opened lazily and closed on any I/O error, so an unplugged reader fails the
current read clearly and the next read after replugging just works.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import serial

from common.errors import ErrorCode
from device.card.base import CardData, CardReader
from device.card.protocol import PING, READ, FrameDecoder, card_from_reply, encode_frame
from device.errors import (
    CardDataError,
    CardReaderError,
    CardReaderUnavailable,
    CardTimeout,
    NoCard,
)
from device.health import DeviceHealth, HealthState

log = logging.getLogger(__name__)

POLL_S = 0.05  # serial read timeout: how finely the reply deadline is honoured

try:  # pyserial's POSIX backend lets termios errors through (flushing an unplugged tty)
    import termios

    IO_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError,
                                                  termios.error)
except ImportError:  # Windows
    IO_ERRORS = (serial.SerialException, OSError)


class SerialCardReader(CardReader):
    def __init__(self, port: str, *, baudrate: int = 9600, timeout_s: float = 5.0) -> None:
        self.port, self.baudrate, self.timeout_s = port, baudrate, timeout_s
        self._serial: serial.SerialBase | None = None
        self._lock = threading.Lock()  # one exchange at a time on the wire
        self._health = DeviceHealth("card", HealthState.DEGRADED, ErrorCode.CARD_UNCHECKED,
                                    f"serial reader {port} not used yet")

    def read_card(self, timeout: float | None = None) -> CardData:
        try:
            card = card_from_reply(self._exchange(READ, timeout))
        except NoCard:
            self._health = DeviceHealth("card", HealthState.OK)
            raise
        except CardDataError as exc:
            self._health = DeviceHealth("card", HealthState.DEGRADED, exc.code, exc.message)
            raise
        log.info("card read", extra={"device": "card", "card": card.masked()})
        self._health = DeviceHealth("card", HealthState.OK)
        return card

    def check(self) -> DeviceHealth:
        try:
            reply = self._exchange(PING, None)
            if reply.get("status") != "ready":
                raise CardDataError("unexpected answer to ping", code=ErrorCode.CARD_DATA_INVALID)
            self._health = DeviceHealth("card", HealthState.OK)
        except CardReaderUnavailable as exc:
            self._health = DeviceHealth("card", HealthState.FAILED, exc.code, exc.message)
        except CardReaderError as exc:
            self._health = DeviceHealth("card", HealthState.DEGRADED, exc.code, exc.message)
        return self._health

    def health(self) -> DeviceHealth:
        return self._health

    def close(self) -> None:
        with self._lock:
            self._drop_port()

    def _exchange(self, request: Mapping[str, Any], timeout: float | None) -> dict[str, Any]:
        wait = self.timeout_s if timeout is None else timeout
        with self._lock:
            port = self._open()
            try:
                port.reset_input_buffer()  # a late reply to an earlier request is not ours
                port.write(encode_frame(request))
                return self._await_reply(port, time.monotonic() + wait, wait)
            except IO_ERRORS as exc:
                self._drop_port()
                self._health = DeviceHealth("card", HealthState.FAILED,
                                            ErrorCode.CARD_READER_UNAVAILABLE,
                                            f"card reader {self.port} lost: {exc}")
                raise CardReaderUnavailable(f"card reader {self.port} lost: {exc}",
                                            port=self.port) from exc

    def _await_reply(self, port: serial.SerialBase, deadline: float, wait: float
                     ) -> dict[str, Any]:
        decoder = FrameDecoder()
        while True:
            message = decoder.next_message()
            if message is not None:
                return message
            if time.monotonic() >= deadline:
                break
            decoder.feed(port.read(max(1, port.in_waiting)))
        if decoder.pending:
            raise CardDataError(f"card data truncated ({decoder.pending} bytes of an "
                                "unfinished frame)", code=ErrorCode.CARD_FRAME_TRUNCATED)
        if decoder.skipped:
            raise CardDataError(f"card reader sent {decoder.skipped} bytes that are not a "
                                "frame", code=ErrorCode.CARD_FRAME_GARBLED)
        self._health = DeviceHealth("card", HealthState.DEGRADED, ErrorCode.CARD_TIMEOUT,
                                    f"no answer within {wait:.1f} s")
        raise CardTimeout(f"card reader {self.port} did not answer within {wait:.1f} s",
                          port=self.port)

    def _open(self) -> serial.SerialBase:
        if self._serial is None:
            try:
                self._serial = serial.serial_for_url(self.port, baudrate=self.baudrate,
                                                     timeout=POLL_S)
            except (serial.SerialException, OSError, ValueError) as exc:
                self._health = DeviceHealth("card", HealthState.FAILED,
                                            ErrorCode.CARD_READER_UNAVAILABLE,
                                            f"cannot open {self.port}: {exc}")
                raise CardReaderUnavailable(f"cannot open card reader {self.port}: {exc}",
                                            port=self.port) from exc
        return self._serial

    def _drop_port(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except IO_ERRORS:
                log.warning("card reader port close failed", extra={"device": "card"})
            self._serial = None
