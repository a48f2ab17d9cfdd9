"""POST /v1/reconcile on real data: a kiosk's batch totals against the platform's settlements,
including a platform database restored from an earlier copy."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.server.live import Device, Server, error_code, make_bill, start_server

ITEMS = [("exam", 1, 15_000, True), ("drug", 1, 800, False)]
TOKEN = "reconcile-metrics-token-0123"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, db_url: str | None) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("reconcile"), f'metrics_token = "{TOKEN}"\n',
                           db_url=db_url)
    yield running
    running.stop()


class Held:
    """What a kiosk keeps of each signed settlement answer."""

    def __init__(self) -> None:
        self.settlements: list[dict[str, Any]] = []
        self.head: dict[str, Any] | None = None

    def settle(self, device: Device, bill: str, patient: str) -> dict[str, Any]:
        key = str(uuid.uuid4())
        reply = device.settle(bill, patient, key=key)
        assert reply.status_code == 201, reply.text
        body = reply.json()
        self.settlements.append({"settlement_id": body["settlement_id"], "idempotency_key": key,
                                 "bill_id": body["bill_id"],
                                 "self_pay_fen": body["layers"]["self_pay_fen"]})
        self.head = body["audit_head"]
        return {**body, "key": key}

    def request(self, since: dt.datetime, pending: list[str] = (),  # type: ignore[assignment]
                **override: Any) -> dict[str, Any]:
        ids = sorted(s["settlement_id"] for s in self.settlements)
        return {"since": since.isoformat(), "count": len(ids),
                "self_pay_fen": sum(s["self_pay_fen"] for s in self.settlements),
                "digest": hashlib.sha256("\n".join(ids).encode()).hexdigest(),
                "settlements": self.settlements, "pending_keys": list(pending),
                "audit_head": self.head, **override}


def an_hour_ago() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)


def reconcile_handoffs(server: Server) -> list[dict[str, Any]]:
    counter = server.device("counter")
    listed = counter.get("/v1/handoffs?open=false").json()["handoffs"]
    return [h for h in listed if h["reason"] == "reconcile.mismatch"]


def mismatches(server: Server) -> dict[str, float]:
    text = requests.get(f"{server.base}/metrics", timeout=10,
                        headers={"Authorization": f"Bearer {TOKEN}"}).text
    found = {}
    for line in text.splitlines():
        if line.startswith("platform_reconcile_mismatches_total{"):
            kind = line.split('kind="', 1)[1].split('"', 1)[0]
            found[kind] = float(line.rsplit(" ", 1)[1])
    return found


def test_a_device_that_holds_every_settlement_matches(server: Server):
    kiosk, held = server.device("kiosk"), Held()
    for _ in range(2):
        held.settle(kiosk, make_bill(server, "P1002", ITEMS), "P1002")
    reply = kiosk.post("/v1/reconcile", held.request(an_hour_ago()))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["matched"] == 2 and body["audit"] == "ok" and body["handoff_id"] is None
    assert body["missing_on_platform"] == [] and body["missing_on_device"] == []
    assert body["device_id"] == kiosk.device_id
    assert dt.datetime.fromisoformat(body["until"]) <= dt.datetime.now(dt.UTC)
    empty = kiosk.post("/v1/reconcile", Held().request(an_hour_ago()))
    assert empty.json()["audit"] == "none" and empty.json()["missing_on_device"] != []


def test_totals_that_disagree_with_the_list_or_an_old_since_are_refused(server: Server):
    kiosk, held = server.device("kiosk"), Held()
    held.settle(kiosk, make_bill(server, "P1002", ITEMS), "P1002")
    since = an_hour_ago()
    for bad in ({"count": 2}, {"self_pay_fen": held.settlements[0]["self_pay_fen"] + 1},
                {"digest": "0" * 64}):
        reply = kiosk.post("/v1/reconcile", held.request(since, **bad))
        assert reply.status_code == 422 and error_code(reply) == "request.invalid", bad
        fields = reply.json()["error"]["details"]["fields"]
        assert fields[0]["loc"] == ["body", next(iter(bad))]
    old = kiosk.post("/v1/reconcile", held.request(dt.datetime.now(dt.UTC)
                                                   - dt.timedelta(hours=49)))
    assert old.status_code == 422 and "retention (48 h)" in old.json()["error"]["message"]
    assert [h for h in reconcile_handoffs(server) if h["kiosk_id"] == kiosk.device_id] == []


def test_a_settlement_the_device_lacks_opens_one_handoff(server: Server):
    kiosk, held = server.device("kiosk"), Held()
    kept = held.settle(kiosk, make_bill(server, "P1003", ITEMS), "P1003")
    pending = held.settle(kiosk, make_bill(server, "P1003", ITEMS), "P1003")
    lost = held.settle(kiosk, make_bill(server, "P1003", ITEMS), "P1003")
    held.settlements = held.settlements[:1]  # the answers of the other two never arrived
    since = an_hour_ago()
    request = held.request(since, pending=[pending["key"]])
    body = kiosk.post("/v1/reconcile", request).json()
    assert body["matched"] == 1 and body["audit"] == "ok"
    assert body["missing_on_device"] == [lost["settlement_id"]]  # the pending one is known
    assert body["handoff_id"] is not None
    again = kiosk.post("/v1/reconcile", request).json()  # no pile of hand-offs
    assert again["handoff_id"] == body["handoff_id"]
    opened = [h for h in reconcile_handoffs(server) if h["kiosk_id"] == kiosk.device_id]
    assert [h["handoff_id"] for h in opened] == [body["handoff_id"]]
    assert kept["settlement_id"] not in body["missing_on_device"]
    assert mismatches(server)["missing_on_device"] >= 2


def test_a_restored_database_is_reported_missing_on_platform_and_rolled_back(
        server: Server):
    kiosk, held = server.device("kiosk"), Held()
    held.settle(kiosk, make_bill(server, "P1004", ITEMS), "P1004")
    second_bill = make_bill(server, "P1004", ITEMS)
    backup = server.directory / "before.db"
    server.backup(backup)
    lost = held.settle(kiosk, second_bill, "P1004")

    server.restore(backup)  # the platform forgets the second settlement
    request = held.request(an_hour_ago())
    reply = kiosk.post("/v1/reconcile", request)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["missing_on_platform"] == [lost["key"]]
    assert body["audit"] == "rollback" and body["matched"] == 1
    assert body["handoff_id"] in {h["handoff_id"] for h in reconcile_handoffs(server)}
    counted = mismatches(server)
    assert counted["missing_on_platform"] >= 1 and counted["rollback"] >= 1

    # the reported anchor is kept: audit verify names it (and the anchor file's) as rollback
    verify = server.admin("audit", "verify", check=False)
    assert verify.returncode == 2
    assert f"reported by {kiosk.device_id}" in verify.stdout
    assert "rollback: anchor seq" in verify.stderr

    # the device sends the missing request again (same key, same body): settled once more
    again = kiosk.settle(lost["bill_id"], "P1004", key=lost["key"])
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") is None
    held.settlements[-1]["settlement_id"] = again.json()["settlement_id"]
    held.head = again.json()["audit_head"]
    settled = kiosk.post("/v1/reconcile", held.request(an_hour_ago())).json()
    assert settled["missing_on_platform"] == [] and settled["audit"] == "ok"
    assert settled["matched"] == 2 and settled["handoff_id"] is None
