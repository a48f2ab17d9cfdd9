"""The platform with two worker processes over one SQLite file: replays, revocations,
idempotency and the one-settlement-per-bill rule must hold across processes, since a
request may land on either worker."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.server.live import Device, Server, error_code, make_bill, start_server

ITEMS = [("exam", 1, 12_000, True), ("drug", 2, 450, False)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, db_url: str | None) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("workers"), "workers = 2\n",
                           db_url=db_url)
    yield running
    running.stop()


def worker_pids(server: Server) -> list[int]:
    assert server.process is not None
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if "spawn" in Path(f"/proc/{c}/cmdline").read_text()]


def fresh_send(device: Device, prepared: requests.PreparedRequest) -> requests.Response:
    """On a new connection each time, so consecutive requests may reach different workers."""
    with requests.Session() as session:
        reply = session.send(prepared.copy(), timeout=30)
    device.verifier.verify(reply)
    return reply


def settle_request(device: Device, bill_id: str, patient_id: str) -> requests.PreparedRequest:
    request = requests.Request("POST", f"{device.server.base}/v1/settlements",
                               json={"bill_id": bill_id, "patient_id": patient_id,
                                     "method": "card"},
                               headers={"Idempotency-Key": str(uuid.uuid4())})
    request.auth = device.session.auth
    return request.prepare()


def test_two_workers_serve(server: Server):
    assert len(worker_pids(server)) == 2


def test_a_replayed_settlement_is_refused_and_charges_once(server: Server):
    kiosk = server.device("kiosk")
    bill = make_bill(server, "P1002", ITEMS)
    prepared = settle_request(kiosk, bill, "P1002")
    first = fresh_send(kiosk, prepared)
    assert first.status_code == 201
    for _ in range(4):
        again = fresh_send(kiosk, prepared)
        assert again.status_code == 401 and error_code(again) == "auth.nonce_replayed"
    listed = server.device("counter").get("/v1/settlements").json()["settlements"]
    assert [s["settlement_id"] for s in listed if s["bill_id"] == bill] == [
        first.json()["settlement_id"]]


def test_a_replayed_failed_settlement_is_refused_too(server: Server):
    """The failed request's transaction (nonce included) rolled back; the nonce is spent
    on its own before the refusal goes out, so the replay cannot succeed later."""
    kiosk = server.device("kiosk")
    prepared = settle_request(kiosk, "B-NO-SUCH-BILL", "P1002")
    assert fresh_send(kiosk, prepared).status_code == 404
    again = fresh_send(kiosk, prepared)
    assert again.status_code == 401 and error_code(again) == "auth.nonce_replayed"


def test_concurrent_replays_of_one_request_settle_it_once(server: Server):
    kiosk = server.device("kiosk")
    bill = make_bill(server, "P1002", ITEMS)
    prepared = settle_request(kiosk, bill, "P1002")
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: fresh_send(kiosk, prepared), range(8)))
    codes = sorted(r.status_code for r in replies)
    assert codes == [201] + [401] * 7, codes


def test_one_bill_from_many_kiosks_at_once_settles_once(server: Server):
    kiosks = [server.device("kiosk") for _ in range(6)]
    bill = make_bill(server, "P1002", ITEMS)
    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda k: fresh_send(k, settle_request(k, bill, "P1002")),
                                kiosks))
    assert sorted(r.status_code for r in replies) == [201] + [409] * 5
    assert {error_code(r) for r in replies if r.status_code == 409} == {
        "bill.already_settled"}


def test_same_idempotency_key_on_both_workers_gives_one_settlement(server: Server):
    kiosk = server.device("kiosk")
    bill = make_bill(server, "P1002", ITEMS)
    key = str(uuid.uuid4())

    def send(_: int) -> requests.Response:
        request = requests.Request("POST", f"{server.base}/v1/settlements", json={
            "bill_id": bill, "patient_id": "P1002", "method": "card"},
            headers={"Idempotency-Key": key})
        request.auth = kiosk.session.auth  # a fresh signature (nonce) per retry
        return fresh_send(kiosk, request.prepare())

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(send, range(8)))
    settled = {r.json()["settlement_id"] for r in replies if r.status_code == 201}
    assert len(settled) == 1
    assert all(r.status_code == 201 or error_code(r) == "idempotency.in_flight"
               for r in replies), [r.text for r in replies]


def test_a_revocation_reaches_every_worker_at_once(server: Server):
    kiosk = server.device("kiosk")
    bill = make_bill(server, "P1002", ITEMS)
    for _ in range(4):  # both workers have now seen (and cached) this device's key
        assert fresh_send(kiosk, kiosk.session.prepare_request(requests.Request(
            "GET", f"{server.base}/v1/gallery?pack=buffalo_s"))).status_code == 200
    server.admin("device", "revoke", kiosk.device_id, "--reason", "stolen")
    for _ in range(4):
        reply = fresh_send(kiosk, settle_request(kiosk, bill, "P1002"))
        assert reply.status_code == 403 and error_code(reply) == "auth.device_revoked"
    pending = server.device("kiosk").bills("P1002").json()["bills"]
    assert bill in {b["bill_id"] for b in pending}


def test_each_process_logs_to_a_file_of_its_own(server: Server):
    """The supervisor and each worker write (and rotate) only their own file, all JSON."""
    assert server.process is not None
    folder = server.config.parent / "var" / "logs"
    deadline = time.monotonic() + 30  # the second worker may still be starting
    while True:
        files = sorted(folder.glob("server*.jsonl"))
        pids = [{json.loads(line)["pid"] for line in f.read_text().splitlines()}
                for f in files]
        if (len(files) == 3 and all(pids)) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [f.name for f in files] == ["server.2.jsonl", "server.3.jsonl", "server.jsonl"]
    assert all(len(p) == 1 for p in pids)
    assert set().union(*pids) == {server.process.pid, *worker_pids(server)}
