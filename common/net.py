"""Loopback ports for the processes the demo, the tests and the benchmarks start (platform,
payment simulator, PostgreSQL): one the kernel has just handed out, so runs side by side do
not collide."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port free on ``host`` now (the kernel's pick for port 0); the caller binds it
    next, so another process taking it in between is possible but unlikely."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
