"""Signed reads spend their nonce in the nonce store, not through the money writer: a read is
answered while the main database's write lock is held, and its nonce is still refused on
replay by every worker process and after a restart; a revocation still stops it."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.server.live import Device, Server, error_code, make_bill, start_server
from tests.server.test_workers import fresh_send, worker_pids

ITEMS = [("exam", 1, 7_000, True)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("read-nonces"), "workers = 2\n")
    yield running
    running.stop()


def signed_get(device: Device, path: str) -> requests.PreparedRequest:
    request = requests.Request("GET", f"{device.server.base}{path}")
    request.auth = device.session.auth
    return request.prepare()


def identified_bills(kiosk: Device) -> str:
    return f"/v1/patients/P1002/bills?identification={kiosk.identify('P1002')}"


def test_reads_are_answered_while_a_frozen_writer_holds_the_database(server: Server):
    kiosk = server.device("kiosk")
    bill = make_bill(server, "P1002", ITEMS)
    kiosk.get("/v1/gallery?pack=buffalo_s")  # both ways warm: the device's key is cached
    identified = identified_bills(kiosk)
    holder = sqlite3.connect(server.db_file, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a worker frozen while holding the write lock
    try:
        with ThreadPoolExecutor(1) as pool:
            settling = pool.submit(kiosk.settle, bill, "P1002", key=str(uuid.uuid4()))
            time.sleep(0.3)  # the settlement is now waiting for the writer
            for path in (identified, "/v1/gallery?pack=buffalo_s"):
                for _ in range(4):  # on either worker
                    started = time.monotonic()
                    reply = fresh_send(kiosk, signed_get(kiosk, path))
                    assert reply.status_code == 200, reply.text
                    assert time.monotonic() - started < 2.0, path
            assert not settling.done()
            holder.execute("ROLLBACK")
            assert settling.result(timeout=30).status_code == 201
    finally:
        holder.close()


def test_a_replayed_read_is_refused_by_every_worker_and_after_a_restart(server: Server):
    assert len(worker_pids(server)) == 2
    kiosk = server.device("kiosk")
    prepared = signed_get(kiosk, identified_bills(kiosk))
    assert fresh_send(kiosk, prepared).status_code == 200
    for _ in range(6):  # new connections: both workers get their turn
        again = fresh_send(kiosk, prepared)
        assert again.status_code == 401 and error_code(again) == "auth.nonce_replayed"
    server.stop()
    server.start()
    again = fresh_send(kiosk, prepared)
    assert again.status_code == 401 and error_code(again) == "auth.nonce_replayed"


def test_a_revoked_device_cannot_read(server: Server):
    kiosk = server.device("kiosk")
    identified = identified_bills(kiosk)
    for _ in range(4):
        assert fresh_send(kiosk, signed_get(kiosk, identified)).status_code == 200
    server.admin("device", "revoke", kiosk.device_id, "--reason", "stolen")
    for _ in range(4):
        reply = fresh_send(kiosk, signed_get(kiosk, identified))
        assert reply.status_code == 403 and error_code(reply) == "auth.device_revoked"
