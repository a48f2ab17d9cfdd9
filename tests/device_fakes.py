"""Fakes and fixtures for device tests (tests/device, and ``kiosk devices`` in
tests/kiosk/commands): real bytes through real APIs, no hardware. Registered for the whole
suite by tests/conftest.py.

- ``PtyPort``: a pseudo-terminal pair; the code under test opens the slave path exactly like a
  USB-serial device, the test plays the device on the master side. Closing the master is an
  unplug (the /dev/pts node disappears and reads fail).
- ``PrinterServer``: an ESC/POS network printer on 127.0.0.1 that records every byte, answers
  ``DLE EOT`` status queries, and can run out of paper or vanish mid-job.
- ``CardDevice``: the reference card reader's firmware, on a pty, with scripted replies.
- ``video_file``: an MJPG .avi written with cv2.VideoWriter whose frame i has grey level 10*i.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import struct
import threading
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from common.opencv import cv2
from device.card.protocol import FrameDecoder

DLE_EOT = b"\x10\x04"
STATUS_BASE = 0x12  # bits 1 and 4 are always set in DLE EOT replies
PAPER_END = 0x60
OFFLINE = 0x08

VIDEO_FRAMES = 20
VIDEO_SIZE = (160, 120)


class PtyPort:
    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo or CR/LF translation before pyserial configures it
        self.path = os.ttyname(self.slave)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def read_available(self, timeout: float = 0.5) -> bytes:
        chunks = []
        while select.select([self.master], [], [], timeout)[0]:
            try:
                chunks.append(os.read(self.master, 4096))
            except OSError:
                break
            timeout = 0.05
        return b"".join(chunks)

    def unplug(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


@pytest.fixture
def device_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every device log call really builds its record (a bad ``extra=`` key would raise)."""
    caplog.set_level(logging.DEBUG, logger="device")
    return caplog


@pytest.fixture
def pty_port() -> Iterator[Callable[[], PtyPort]]:
    made: list[PtyPort] = []

    def make() -> PtyPort:
        made.append(PtyPort())
        return made[-1]

    yield make
    for port in made:
        port.unplug()


class PrinterServer:
    """``paper``: "ok" / "low" / "out"; ``vanish_after``: drop the connection (RST) once this
    many bytes of a connection arrived; ``online``: False answers status as off-line."""

    def __init__(self) -> None:
        self.paper = "ok"
        self.online = True
        self.vanish_after: int | None = None
        self.received: list[bytes] = []  # one entry per connection
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def jobs(self) -> list[bytes]:
        """What each connection sent, without the status queries."""
        return [data.replace(DLE_EOT + b"\x01", b"").replace(DLE_EOT + b"\x04", b"")
                for data in self.received]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        data = bytearray()
        self.received.append(b"")
        scanned = 0
        while not self._stop.is_set():
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            data += chunk
            self.received[-1] = bytes(data)
            if self.vanish_after is not None and len(data) >= self.vanish_after:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                break
            while (found := data.find(DLE_EOT, scanned)) >= 0 and found + 2 < len(data):
                conn.sendall(bytes([self._reply(data[found + 2])]))
                scanned = found + 3
            # keep ``scanned`` short of a query split across two chunks
            scanned = max(scanned, len(data) - 2)

    def _reply(self, n: int) -> int:
        if n == 1:
            return STATUS_BASE | (0 if self.online else OFFLINE)
        return STATUS_BASE | {"ok": 0, "low": 0x0C, "out": PAPER_END}[self.paper]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()


@pytest.fixture
def printer_server() -> Iterator[PrinterServer]:
    server = PrinterServer()
    yield server
    server.close()


class CardDevice:
    """The reader's side: decodes requests, answers with ``reply(request) -> bytes``."""

    def __init__(self, port: PtyPort, reply: Callable[[dict], bytes]) -> None:
        self.port, self.reply = port, reply
        self.requests: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        decoder = FrameDecoder()
        while not self._stop.is_set():
            try:
                ready = select.select([self.port.master], [], [], 0.05)[0]
                if not ready:
                    continue
                decoder.feed(os.read(self.port.master, 4096))
            except (OSError, ValueError):
                return
            while (message := decoder.next_message()) is not None:
                self.requests.append(message)
                with contextlib.suppress(OSError):
                    self.port.write(self.reply(message))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)


@pytest.fixture
def card_device(pty_port: Callable[[], PtyPort]
                ) -> Iterator[Callable[[Callable[[dict], bytes]], CardDevice]]:
    made: list[CardDevice] = []

    def make(reply: Callable[[dict], bytes]) -> CardDevice:
        made.append(CardDevice(pty_port(), reply))
        return made[-1]

    yield make
    for device in made:
        device.close()


@pytest.fixture(scope="session")
def video_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30, VIDEO_SIZE)
    assert writer.isOpened()
    for i in range(VIDEO_FRAMES):
        writer.write(np.full((VIDEO_SIZE[1], VIDEO_SIZE[0], 3), 10 * i, np.uint8))
    writer.release()
    return path
