"""Several platform hosts sharing nothing but one PostgreSQL database: separate folders,
ports, processes and logs, as separate machines would be. Settlements from many kiosks land
on both at once; nonces, idempotency keys, receipt numbers, the audit chain, heartbeats and
hand-offs agree across them."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from common.net import free_port
from kiosk.client import PlatformClient
from kiosk.protocol.keys import generate_private_key, load_public_key_b64, public_key_b64
from tests.server.live import (
    Device,
    Server,
    another_host,
    error_code,
    seed_load,
    start_server,
)


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[list[Server]]:
    first = start_server(tmp_path_factory.mktemp("host-a"), "workers = 2\n", db_url=pg_url)
    second = another_host(first, tmp_path_factory.mktemp("host-b"))
    yield [first, second]
    for host in (first, second):
        host.stop()


@pytest.fixture(scope="module")
def load(hosts: list[Server]) -> tuple[list[tuple[str, str]], list[str]]:
    """Pending bills (bill, patient) and enrolment tokens for the module's tests."""
    return seed_load(hosts[0], patients=4, bills_each=20, tokens=9)


def on(device: Device, host: Server) -> Device:
    """The same device (same key, same session) talking to another host."""
    return dataclasses.replace(device, server=host)


def owed(host: Server) -> int:
    return int(host.sql("SELECT sum(outstanding_fen) FROM users WHERE patient_id LIKE 'LD%'"
                        )[0][0])


def test_settlements_from_many_kiosks_on_two_hosts_agree_to_the_fen(
        hosts: list[Server], load: tuple[list[tuple[str, str]], list[str]]):
    a, _ = hosts
    work, tokens = load[0][:64], load[1][:8]
    devices = [Device.register(hosts[i % 2], t) for i, t in enumerate(tokens)]
    before = owed(a)
    results: list[tuple[str, int, dict]] = []
    lock = threading.Lock()

    def settle(i: int) -> None:
        bill, patient = work[i]
        reply = on(devices[i % len(devices)], hosts[i % 2]).settle(bill, patient, "card")
        with lock:
            results.append((bill, reply.status_code, reply.json()))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(settle, range(len(work))))
    assert all(status == 201 for _, status, _ in results), results[:3]
    assert len({body["receipt_no"] for _, _, body in results}) == len(work)  # one counter
    heads = [body["audit_head"]["seq"] for _, _, body in results]
    assert len(set(heads)) == len(heads)  # each settlement its own record of the one chain
    stored = dict(a.sql("SELECT bill_id, charge_to_credit_fen FROM settlements"))
    assert {bill: stored.get(bill) for bill, _, _ in results} == {
        bill: body["charge_to_credit_fen"] for bill, _, body in results}
    assert owed(a) - before == sum(body["charge_to_credit_fen"] for _, _, body in results)
    for host in hosts:
        verify = json.loads(host.admin("audit", "verify").stdout)
        assert verify["ok"], verify


def test_the_same_key_on_both_hosts_at_once_settles_once(
        hosts: list[Server], load: tuple[list[tuple[str, str]], list[str]]):
    a, b = hosts
    work, device = load[0][64:76], Device.register(a, load[1][8])
    for bill, patient in work:
        key = str(uuid.uuid4())
        with ThreadPoolExecutor(2) as pool:
            replies = list(pool.map(lambda host, bill=bill, patient=patient, key=key: on(
                device, host).settle(bill, patient, "card", key=key), (a, b)))
        statuses = tuple(sorted(r.status_code for r in replies))  # which: a matter of timing
        assert statuses in ((201, 201), (201, 409)), [r.text for r in replies]
        assert all(error_code(r) == "idempotency.in_flight" for r in replies
                   if r.status_code == 409)
        retry = on(device, b).settle(bill, patient, "card", key=key)  # the kiosk's retry
        assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
        assert len({r.json()["settlement_id"] for r in (*replies, retry)
                    if r.status_code == 201}) == 1
        misused = on(device, a).settle("OTHER-BILL", patient, "card", key=key)
        assert misused.status_code == 422 and error_code(misused) == "idempotency.key_reused"
        assert a.sql("SELECT count(*) FROM settlements WHERE bill_id = :b", b=bill) == [(1,)]


def test_a_nonce_spent_on_one_host_is_refused_by_the_other(hosts: list[Server]):
    a, b = hosts
    device = a.device()
    prepared = requests.Request("GET", f"{a.base}/v1/gallery?pack=opencv-zoo-sface",
                                auth=device.session.auth).prepare()
    assert device.session.send(prepared.copy(), timeout=10).status_code == 200
    replay = prepared.copy()
    replay.url = replay.url.replace(f":{a.port}/", f":{b.port}/")
    replay.headers["Host"] = f"127.0.0.1:{a.port}"  # the bytes as signed, to the other host
    refused = device.session.send(replay, timeout=10)
    assert refused.status_code == 401 and error_code(refused) == "auth.nonce_replayed"


def test_heartbeats_and_handoffs_are_one_view_across_hosts(hosts: list[Server]):
    a, b = hosts
    kiosk, counter = a.device("kiosk"), a.device("counter")
    beat = {"interval_s": 60.0, "software_version": "0.1.0", "model_pack": "opencv-zoo-sface",
            "devices": [{"device": "camera", "state": "ok", "reason": "ok"}],
            "outbox_depth": 0, "outbox_oldest_s": None,
            "last_sync_at": "2026-01-02T03:04:05Z", "clock_offset_ms": 250,
            "disk_free_bytes": 50 * 1024**3}
    with ThreadPoolExecutor(4) as pool:  # the same device's row, written by both at once
        replies = list(pool.map(lambda host: on(kiosk, host).post("/v1/heartbeat", beat),
                                (a, b, a, b, a, b)))
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    fleet = json.loads(b.admin("fleet", "--json").stdout)
    assert [d["device_id"] for d in fleet["devices"]].count(kiosk.device_id) == 1
    session = f"s-{uuid.uuid4().hex[:8]}"
    first = on(kiosk, a).post("/v1/handoffs", {"session_id": session, "reason": "face.timeout"})
    again = on(kiosk, b).post("/v1/handoffs", {"session_id": session, "reason": "face.timeout"})
    assert first.status_code == 201 and again.status_code == 200, (first.text, again.text)
    handoff_id = first.json()["handoff_id"]
    assert again.json()["handoff_id"] == handoff_id
    assert on(counter, b).post(f"/v1/handoffs/{handoff_id}/take", None).status_code == 200
    listed = on(counter, a).get("/v1/handoffs", params={"open": "false"}).json()["handoffs"]
    assert [h["taken_by"] for h in listed if h["handoff_id"] == handoff_id] == [
        counter.device_id]


def test_the_kiosk_client_fails_over_to_the_next_host(hosts: list[Server]):
    a, b = hosts
    key = generate_private_key()
    registered = requests.post(f"{a.base}/v1/devices/register", timeout=10, json={
        "token": a.token(), "public_key": public_key_b64(key), "name": "failover"}).json()
    server_key = load_public_key_b64(registered["server_key"]["public_key"])
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = PlatformClient([dead, b.base, a.base], registered["device_id"], key, server_key,
                            connect_timeout_s=1.0, retries=1)
    gallery = {"pack": "opencv-zoo-sface"}
    assert client.request("GET", "/v1/gallery", params=gallery).status_code == 200
    assert client.base_url == b.base  # past the dead one, and it stays on the one answering
    b.stop()  # that host goes away too
    assert client.request("GET", "/v1/gallery", params=gallery).status_code == 200
    assert client.base_url == a.base
