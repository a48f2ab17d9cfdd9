"""Fixtures: one live platform per test module, with the demo's kiosk and counter, on each
storage engine (``db_url``: SQLite, then a PostgreSQL database of the session's cluster)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg import Cluster
from tests.server.live import Device, Server, start_server

ENGINES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One PostgreSQL cluster per test session (per xdist worker); started on first use."""
    cluster = Cluster.create()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="module")
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """A new PostgreSQL database of the session's cluster, dropped after the module."""
    name = pg_cluster.database()
    yield pg_cluster.url(name)
    pg_cluster.drop(name)


@pytest.fixture(scope="module", params=ENGINES)
def db_url(request: pytest.FixtureRequest) -> str | None:
    """The module's storage: None (the default SQLite file in the server's folder) or a
    PostgreSQL database."""
    return None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, db_url: str | None) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("platform"), db_url=db_url)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def kiosk(server: Server) -> Device:
    return Device.register(server, server.seed["enrolment_tokens"]["kiosk"])


@pytest.fixture(scope="module")
def counter(server: Server) -> Device:
    return Device.register(server, server.seed["enrolment_tokens"]["counter"])
