"""SIGKILL the platform in the middle of a settlement load, restart it, and check that
nothing acknowledged was lost, nothing was half-applied, and retries never double-charge."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import requests

from tests.server.live import Device, seed_load, start_server


def _consistent(db_path: Path) -> None:
    with sqlite3.connect(db_path) as db:
        for patient, outstanding in db.execute("select patient_id, outstanding_fen from users"):
            owed = db.execute("select coalesce(sum(amount_fen - repaid_fen), 0) from "
                              "credit_charges where patient_id = ? and not cancelled",
                              (patient,)).fetchone()[0]
            assert outstanding == owed >= 0, patient
        live = list(db.execute(
            "select bill_id, settlement_id from settlements where status = 'settled'"))
        assert max(Counter(b for b, _ in live).values(), default=1) == 1
        current = dict(live)
        for bill, status, settlement in db.execute(
                "select bill_id, status, settlement_id from bills"):
            assert (status == "settled") == (bill in current), bill
            assert settlement == current.get(bill), bill
        for row in db.execute("select total_fen, basic_pool_fen + critical_illness_fen + "
                              "medical_aid_fen + self_pay_fen from settlements"):
            assert row[0] == row[1]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_mid_load_loses_and_doubles_nothing(tmp_path: Path, workers: int):
    server = start_server(tmp_path, f"workers = {workers}\n")
    work, tokens = seed_load(server, patients=6, bills_each=60, tokens=6)
    devices = [Device.register(server, token) for token in tokens]
    early = requests.Request("GET", f"{server.base}/v1/gallery?pack=opencv-zoo-sface")
    early.auth = devices[0].session.auth
    early_request = early.prepare()
    assert devices[0].session.send(early_request.copy(), timeout=10).status_code == 200
    attempts: list[dict] = []
    lock = threading.Lock()
    stop = threading.Event()

    def settle_loop(device: Device, share: list[tuple[str, str]]) -> None:
        for bill, patient in share:
            if stop.is_set():
                return
            key = str(uuid.uuid4())
            record = {"device": device, "bill": bill, "patient": patient, "key": key,
                      "status": None, "body": None}
            with lock:
                attempts.append(record)
            try:
                reply = device.settle(bill, patient, "card", key=key)
                record["status"], record["body"] = reply.status_code, reply.json()
            except requests.RequestException:
                return  # the server died under us: outcome unknown

    def repay_loop(device: Device) -> None:
        while not stop.is_set():
            try:
                device.post("/v1/repayments", {"patient_id": "LD000", "amount_fen": 1,
                                               "method": "cash"}, key=str(uuid.uuid4()))
            except requests.RequestException:
                return

    threads = [threading.Thread(target=settle_loop, args=(d, work[i::5]))
               for i, d in enumerate(devices[:5])]
    threads.append(threading.Thread(target=repay_loop, args=(devices[5],)))
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and sum(a["status"] == 201 for a in attempts) < 60:
        time.sleep(0.05)
    server.kill()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    acknowledged = [a for a in attempts if a["status"] == 201]
    assert len(acknowledged) >= 60

    server.start()  # same database, same port, after a crash
    replayed = devices[0].session.send(early_request.copy(), timeout=10)
    assert replayed.status_code == 401  # nonces outlive the process
    assert replayed.json()["error"]["code"] == "auth.nonce_replayed"
    db_path = tmp_path / "server.db"
    _consistent(db_path)
    verify = json.loads(server.admin("audit", "verify").stdout)
    assert verify["ok"], verify
    with sqlite3.connect(db_path) as db:
        stored = {s for (s,) in db.execute("select settlement_id from settlements")}
    assert {a["body"]["settlement_id"] for a in acknowledged} <= stored  # nothing acked lost

    # every client now retries what it sent, with the same key: replays or first runs only
    for attempt in attempts:
        reply = attempt["device"].settle(attempt["bill"], attempt["patient"], "card",
                                         key=attempt["key"])
        assert reply.status_code == 201, reply.text
        if attempt["status"] == 201:
            assert reply.headers.get("Idempotent-Replayed") == "true"
            assert reply.json() == attempt["body"]
    _consistent(db_path)
    with sqlite3.connect(db_path) as db:
        per_bill = Counter(b for (b,) in db.execute(
            "select bill_id from settlements where status = 'settled'"))
    assert all(per_bill[a["bill"]] == 1 for a in attempts)
    assert json.loads(server.admin("audit", "verify").stdout)["ok"]
    server.stop()
