"""Fixtures: one live platform per test module, with the demo's kiosk and counter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server.live import Device, Server, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("platform"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def kiosk(server: Server) -> Device:
    return Device.register(server, server.seed["enrolment_tokens"]["kiosk"])


@pytest.fixture(scope="module")
def counter(server: Server) -> Device:
    return Device.register(server, server.seed["enrolment_tokens"]["counter"])
