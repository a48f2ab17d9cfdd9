"""Every answer is signed, even when the platform cannot write: a real platform process whose
file size limit (RLIMIT_FSIZE, just above its database) makes every write past it fail
(Python ignores SIGXFSZ, so SQLite sees EFBIG: "disk I/O error" / "database or disk is
full"). This used to end in uvicorn's own unsigned plain 500 for every signed GET."""

from __future__ import annotations

import json
import resource
import sqlite3
from collections.abc import Iterator

import pytest

from tests.server.live import Device, Server, error_code, make_bill, start_server

ITEMS = [("exam", 1, 12_000, True)]
READS_PER_BILL = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("full-disk"))
    yield running
    running.stop()


def test_a_full_disk_is_answered_with_a_signed_storage_error(server: Server, kiosk: Device):
    bills = [make_bill(server, "P1002", ITEMS) for _ in range(40)]
    identified = f"/v1/patients/P1002/bills?identification={kiosk.identify('P1002')}"
    server.stop()
    with sqlite3.connect(server.db_file) as conn:  # the WAL folded in: the files start small
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    limit = server.db_file.stat().st_size + 48 * 1024

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    server.start(preexec_fn=limit_file_size)
    settled, refused, reads = [], [], []
    for bill in bills:
        # Device.call verifies every answer against the pinned key: an unsigned one fails here
        reply = kiosk.settle(bill, "P1002")
        (settled if reply.status_code == 201 else refused).append(reply)
        # reads spend their nonces in a store of their own: enough of them to fill its WAL
        reads.extend(kiosk.get(identified) for _ in range(READS_PER_BILL))
    assert settled and refused  # the disk filled up on the way
    for reply in refused:
        assert reply.status_code == 503 and error_code(reply) == "server.storage", reply.text
        assert reply.headers["Retry-After"] == "5"
        assert reply.json()["error"]["details"] == {"retry_after_s": 5}
    full_reads = [r for r in reads if r.status_code != 200]
    assert full_reads, "the nonce store never filled: raise the number of requests"
    assert {(r.status_code, error_code(r)) for r in full_reads} == {(503, "server.storage")}

    server.stop()  # with room again, the platform carries on; nothing acknowledged was lost
    server.start()
    counter = server.device("counter")
    listed = {s["settlement_id"] for s in counter.get("/v1/settlements").json()["settlements"]}
    assert {r.json()["settlement_id"] for r in settled} <= listed
    retried = kiosk.settle(json.loads(refused[0].request.body)["bill_id"], "P1002",
                           key=refused[0].request.headers["Idempotency-Key"])
    assert retried.status_code == 201  # the refused request changed nothing: it runs now
