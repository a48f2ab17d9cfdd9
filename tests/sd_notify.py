"""A stand-in for systemd's ``NOTIFY_SOCKET``: the apps say READY=1 once their window is up
(ui/watchdog.py), so a test waits on that instead of sleeping. Registered for the whole
suite by tests/conftest.py (the ``notify`` fixture)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


class NotifySocket:
    """An AF_UNIX datagram socket like systemd's NOTIFY_SOCKET: every message it received."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.received: list[tuple[float, str]] = []

    def wait_for(self, message: str, timeout_s: float, proc: subprocess.Popen[bytes],
                 log: Path) -> float:
        """When ``message`` arrived (monotonic); fails if the app exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for at, text in self.received:
                if text == message:
                    self.received.remove((at, text))
                    return at
            assert proc.poll() is None, f"app exited {proc.returncode}:\n{log.read_text()}"
            self.sock.settimeout(0.5)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.received.append((time.monotonic(), data.decode()))
        raise AssertionError(f"no {message} within {timeout_s} s; got {self.received}:\n"
                             + log.read_text())

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()
