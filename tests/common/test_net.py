"""common.net.free_port: the port it names is free on the host asked for, and can be listened on."""

from __future__ import annotations

import socket

from common.net import LOOPBACK, free_port


def test_the_port_named_can_be_listened_on_at_once():
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as server:
        server.bind((LOOPBACK, port))
        server.listen()
        with socket.create_connection((LOOPBACK, port), timeout=5):
            pass


def test_a_port_in_use_is_not_named_again_while_held():
    with socket.socket() as held:
        held.bind((LOOPBACK, 0))
        held.listen()
        taken = held.getsockname()[1]
        assert all(free_port(LOOPBACK) != taken for _ in range(50))
