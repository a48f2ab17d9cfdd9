"""Heartbeats, the fleet view and /metrics on a real platform process (and on two workers)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from server_stub.metrics import MULTIPROC_ENV
from tests.server.live import Device, Server, error_code, make_bill, start_server

TOKEN = "metrics-token-for-tests-0123"


def beat(**changes: Any) -> dict[str, Any]:
    return {"interval_s": 60.0, "software_version": "0.1.0", "model_pack": "opencv-zoo-sface",
            "devices": [{"device": "camera", "state": "ok", "reason": "ok"}],
            "outbox_depth": 0, "outbox_oldest_s": None,
            "last_sync_at": "2026-01-02T03:04:05Z", "clock_offset_ms": 250,
            "disk_free_bytes": 50 * 1024**3, **changes}


def fleet(server: Server) -> dict[str, dict[str, Any]]:
    out = json.loads(server.admin("fleet", "--json").stdout)
    return {d["device_id"]: d for d in out["devices"]}


def scrape(server: Server, token: str | None = TOKEN) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # a new connection each time: with several workers, any of them may answer
    return requests.get(f"{server.base}/metrics", headers={**headers, "Connection": "close"},
                        timeout=10)


def samples(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    reply = scrape(server)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(reply.text) for s in family.samples}


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, db_url: str | None) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("fleet"), f'metrics_token = "{TOKEN}"\n',
                           db_url=db_url)
    yield running
    running.stop()


def test_a_heartbeat_is_stored_and_the_latest_one_wins(server: Server, kiosk: Device):
    first = kiosk.post("/v1/heartbeat", beat(outbox_depth=2, outbox_oldest_s=12.5))
    assert first.status_code == 200, first.text
    assert first.json()["device_id"] == kiosk.device_id
    assert first.json()["skew_window_s"] == 300
    assert first.json()["idempotency_retention_hours"] == 48
    entry = fleet(server)[kiosk.device_id]
    assert entry["status"] == "ok" and entry["reasons"] == []
    assert entry["report"]["outbox_depth"] == 2 and entry["report"]["clock_offset_ms"] == 250
    assert entry["last_heartbeat_at"] is not None
    kiosk.post("/v1/heartbeat", beat(devices=[
        {"device": "printer", "state": "failed", "reason": "printer.out_of_paper"}]))
    entry = fleet(server)[kiosk.device_id]
    assert entry["status"] == "degraded"
    assert entry["reasons"] == ["printer.out_of_paper (printer failed)"]
    assert entry["report"]["outbox_depth"] == 0  # replaced, not merged


def test_unsigned_tampered_and_malformed_heartbeats_are_refused(server: Server,
                                                               counter: Device):
    unsigned = requests.post(f"{server.base}/v1/heartbeat", json=beat(), timeout=10)
    assert unsigned.status_code == 401 and error_code(unsigned) == "auth.signature_missing"
    request = requests.Request("POST", f"{server.base}/v1/heartbeat", json=beat()).prepare()
    counter.session.auth(request)  # signed, then the body is changed on the way
    request.body = json.dumps(beat(disk_free_bytes=1)).encode()
    request.headers["Content-Length"] = str(len(request.body))
    tampered = requests.Session().send(request, timeout=10)
    assert tampered.status_code == 400 and error_code(tampered) == "auth.digest_mismatch"
    for bad in (beat(outbox_depth=-1), beat(devices=[{"device": "camera", "state": "on fire",
                                                       "reason": "ok"}]),
                {**beat(), "patient_id": "P1001"}, {"interval_s": 60}):
        reply = counter.post("/v1/heartbeat", bad)
        assert reply.status_code == 422 and error_code(reply) == "request.invalid", bad
    assert fleet(server)[counter.device_id]["reasons"] == ["heartbeat.never"]


def test_fleet_lists_a_silent_device_as_offline_and_a_site_filter(server: Server):
    silent = server.device("counter")
    assert silent.post("/v1/heartbeat", beat(interval_s=1.0)).status_code == 200
    assert fleet(server)[silent.device_id]["status"] == "ok"
    time.sleep(3.5)
    entry = fleet(server)[silent.device_id]
    assert entry["status"] == "offline" and entry["reasons"][0].startswith("heartbeat.missed")
    table = server.admin("fleet", "--site", server.seed["site_id"]).stdout
    line = next(x for x in table.splitlines() if silent.device_id in x)
    assert line.startswith("offline") and "heartbeat.missed" in line
    unknown = server.admin("fleet", "--site", "site_nowhere", check=False)
    assert unknown.returncode == 2 and "site_nowhere" in unknown.stderr


def test_metrics_need_the_operator_token(server: Server):
    for token in (None, "wrong-token-of-some-length", TOKEN + "x"):
        reply = scrape(server, token)
        assert reply.status_code == 401 and error_code(reply) == "auth.operator_token"
    basic = requests.get(f"{server.base}/metrics", auth=("admin", TOKEN), timeout=10)
    assert basic.status_code == 401


def test_metrics_after_a_settlement(server: Server, kiosk: Device):
    site = server.seed["site_id"]
    before = samples(server)
    bill = make_bill(server, "P1002", [("exam", 1, 10_000, True)])
    assert kiosk.settle(bill, "P1002", "card").status_code == 201
    assert kiosk.bills("P1002").status_code == 200
    assert requests.get(f"{server.base}/v1/patients/P1002/bills", timeout=10).status_code == 401
    kiosk.post("/v1/heartbeat", beat(outbox_depth=1, outbox_oldest_s=42.0))
    after = samples(server)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("platform_settlements_total", site=site, method="card") == 1
    assert grew("platform_request_seconds_count", route="/v1/settlements", method="POST") == 1
    # by route template: one series for every patient, the refused request included
    assert grew("platform_request_seconds_count", route="/v1/patients/{patient_id}/bills",
                method="GET") == 2
    assert not any("P1002" in dict(labels).get("route", "") for _, labels in after)
    assert grew("platform_rejected_requests_total", code="auth.signature_missing") == 1
    assert value(after, "platform_request_seconds_sum", route="/v1/settlements",
                 method="POST") > 0
    assert value(after, "platform_outbox_oldest_seconds", device=kiosk.device_id) == 42.0
    devices = {s: value(after, "platform_devices", status=s)
               for s in ("ok", "degraded", "offline")}
    listed = fleet(server)
    assert sum(devices.values()) == len(listed)
    assert devices["ok"] == sum(e["status"] == "ok" for e in listed.values()) >= 1


def test_metrics_route_is_absent_without_a_token(tmp_path):
    running = start_server(tmp_path, seed=False)
    try:
        for token in (None, TOKEN):
            reply = scrape(running, token)
            assert reply.status_code == 404 and error_code(reply) == "request.not_found"
    finally:
        running.stop()


def test_two_workers_scrape_the_same_totals(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """Request metrics are summed over the worker processes, whichever answers the scrape;
    the operator's PROMETHEUS_MULTIPROC_DIR is emptied first (old values would count again)."""
    shared = tmp_path / "metrics"
    shared.mkdir()
    (shared / "counter_999999.db").write_bytes(b"left over from the last run")
    monkeypatch.setenv(MULTIPROC_ENV, str(shared))
    running = start_server(tmp_path, f'metrics_token = "{TOKEN}"\nworkers = 2\n')
    try:
        sent = 0
        while sent < 200 and len({f.stem.rsplit("_", 1)[1]
                                   for f in shared.glob("counter_*.db")}) < 2:
            reply = requests.get(f"{running.base}/v1/gallery?pack=p",
                                 headers={"Connection": "close"}, timeout=10)
            assert reply.status_code == 401
            sent += 1
        assert not (shared / "counter_999999.db").exists()
        assert len({f.stem for f in shared.glob("counter_*.db")}) == 2, "one worker served all"
        for _ in range(6):
            found = samples(running)
            assert value(found, "platform_rejected_requests_total",
                         code="auth.signature_missing") == sent
            assert value(found, "platform_request_seconds_count", route="/v1/gallery",
                         method="GET") == sent
    finally:
        running.stop()
