"""The hospital system's bill feed (docs/protocol.md §15) against a real platform process
(on each storage engine: the ``server`` fixture of conftest.py):
a ``his`` device signs create / amend / cancel; the bill number is the idempotency key; a
settled bill's change is refused and handed to the cashier."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.server.live import Device, Server, error_code

PATIENT = "P1003"


@pytest.fixture(scope="module")
def his(server: Server) -> Device:
    return server.device("his")


@pytest.fixture(scope="module")
def counter(server: Server) -> Device:
    return server.device("counter")


def line(unit_fen: int, insurance_class: str = "A", quantity: int = 1,
         kind: str = "exam") -> dict[str, Any]:
    return {"kind": kind, "description": "项目 item", "quantity": quantity,
            "unit_fen": unit_fen, "insurance_class": insurance_class}


def bill(items: list[dict[str, Any]], bill_no: str | None = None,
         patient_id: str = PATIENT) -> dict[str, Any]:
    return {"bill_no": bill_no or f"HIS-{uuid.uuid4().hex[:10]}", "patient_id": patient_id,
            "visit_id": "MZ-20261203-0042", "items": items}


def test_create_is_idempotent_on_the_bill_number(his: Device, counter: Device):
    body = bill([line(2_500, "A"), line(1_830, "B", quantity=2, kind="drug"),
                 line(100, "C", kind="other")])
    first = his.post("/v1/his/bills", body)
    assert first.status_code == 201, first.text
    made = first.json()
    assert (made["status"], made["revision"], made["total_fen"], made["eligible_fen"]) == (
        "pending", 1, 6_260, 6_160)  # the 丙类 line is self-pay
    assert [i["insurance_class"] for i in made["items"]] == ["A", "B", "C"]
    again = his.post("/v1/his/bills", body)
    assert again.status_code == 200 and again.json() == made
    other = his.post("/v1/his/bills", {**body, "items": [line(2_600)]})
    assert (other.status_code, error_code(other)) == (409, "his.bill_conflict")
    assert his.get(f"/v1/his/bills/{body['bill_no']}").json() == made
    pending = counter.get(f"/v1/patients/{PATIENT}/bills").json()["bills"]
    fed = [b for b in pending if b["bill_id"] == made["bill_id"]]
    assert [(i["amount_fen"], i["eligible"]) for i in fed[0]["items"]] == [
        (2_500, True), (3_660, True), (100, False)]


def test_amend_replaces_the_lines_of_a_pending_bill_once(his: Device):
    body = bill([line(5_000)])
    his.post("/v1/his/bills", body)
    amendment = {"items": [line(5_000), line(800, "C", kind="material")],
                 "reason": "order.added"}
    amended = his.post(f"/v1/his/bills/{body['bill_no']}/amend", amendment)
    assert amended.status_code == 200, amended.text
    assert (amended.json()["revision"], amended.json()["total_fen"],
            amended.json()["eligible_fen"]) == (2, 5_800, 5_000)
    again = his.post(f"/v1/his/bills/{body['bill_no']}/amend", amendment)
    assert again.json()["revision"] == 2


def test_a_settled_bill_is_not_changed_but_handed_to_the_cashier(his: Device,
                                                                   counter: Device):
    body = bill([line(12_000)])
    bill_id = his.post("/v1/his/bills", body).json()["bill_id"]
    settled = counter.settle(bill_id, PATIENT, "card")
    assert settled.status_code == 201, settled.text
    amendment = {"items": [line(9_000)], "reason": "price.corrected"}
    refused = his.post(f"/v1/his/bills/{body['bill_no']}/amend", amendment)
    assert (refused.status_code, error_code(refused)) == (409, "his.bill_settled")
    details = refused.json()["error"]["details"]
    assert details["settlement_id"] == settled.json()["settlement_id"]
    handoff_id = details["handoff_id"]
    resent = his.post(f"/v1/his/bills/{body['bill_no']}/amend", amendment)
    assert resent.json()["error"]["details"]["handoff_id"] == handoff_id
    feed = counter.get("/v1/handoffs").json()["handoffs"]
    mine = [h for h in feed if h["handoff_id"] == handoff_id]
    assert [(h["reason"], h["patient_id"], h["amount_fen"]) for h in mine] == [
        ("his.amended_after_settlement", PATIENT, 3_000)]
    cancel = his.post(f"/v1/his/bills/{body['bill_no']}/cancel", {"reason": "visit.voided"})
    assert (cancel.status_code, error_code(cancel)) == (409, "his.bill_settled")
    assert cancel.json()["error"]["details"]["handoff_id"] != handoff_id
    unchanged = his.get(f"/v1/his/bills/{body['bill_no']}").json()
    assert (unchanged["status"], unchanged["total_fen"], unchanged["revision"]) == (
        "settled", 12_000, 1)


def test_a_cancelled_bill_cannot_be_settled_or_amended(his: Device, counter: Device):
    body = bill([line(3_000)])
    bill_id = his.post("/v1/his/bills", body).json()["bill_id"]
    cancelled = his.post(f"/v1/his/bills/{body['bill_no']}/cancel", {"reason": "visit.voided"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert his.post(f"/v1/his/bills/{body['bill_no']}/cancel",
                    {"reason": "visit.voided"}).status_code == 200
    reply = counter.settle(bill_id, PATIENT, "card")
    assert (reply.status_code, error_code(reply)) == (409, "bill.cancelled")
    amend = his.post(f"/v1/his/bills/{body['bill_no']}/amend",
                     {"items": [line(1)], "reason": "x"})
    assert (amend.status_code, error_code(amend)) == (409, "bill.cancelled")
    pending = counter.get(f"/v1/patients/{PATIENT}/bills").json()["bills"]
    assert bill_id not in {b["bill_id"] for b in pending}


def test_the_feed_is_the_hospital_systems_alone_and_of_its_own_site(server: Server,
                                                                    his: Device,
                                                                    counter: Device):
    body = bill([line(1_000)])
    assert his.post("/v1/his/bills", body).status_code == 201
    kiosk = server.device("kiosk")
    for device in (kiosk, counter):
        reply = device.post("/v1/his/bills", bill([line(1_000)]))
        assert (reply.status_code, error_code(reply)) == (403, "auth.role_forbidden")
    for path in (f"/v1/patients/{PATIENT}", f"/v1/patients/{PATIENT}/bills", "/v1/handoffs",
                 "/v1/settlements"):
        reply = his.get(path)
        assert (reply.status_code, error_code(reply)) == (403, "auth.role_forbidden"), path
    site_b = json.loads(server.admin("site", "create", "--code", "HIS02",
                                     "--name", "second").stdout)["site_id"]
    token = json.loads(server.admin("device", "token", "--site", site_b,
                                    "--role", "his").stdout)["token"]
    his_b = Device.register(server, token)
    reply = his_b.get(f"/v1/his/bills/{body['bill_no']}")
    assert (reply.status_code, error_code(reply)) == (404, "bill.not_found")
    reply = his_b.post(f"/v1/his/bills/{body['bill_no']}/cancel", {"reason": "x"})
    assert (reply.status_code, error_code(reply)) == (404, "bill.not_found")
    fleet = json.loads(server.admin("fleet", "--json").stdout)["devices"]
    assert his.device_id not in {d["device_id"] for d in fleet}  # a server: no heartbeats
    assert kiosk.device_id in {d["device_id"] for d in fleet}


def test_bad_input_is_refused_with_a_stable_code_and_changes_nothing(his: Device):
    body = bill([line(1_000)])
    for broken in ({**body, "items": [{**line(1_000), "unit_fen": 10.5}]},
                   {**body, "items": [{**line(1_000), "insurance_class": "D"}]},
                   {**body, "items": []}, {**body, "surprise": 1}):
        reply = his.post("/v1/his/bills", broken)
        assert (reply.status_code, error_code(reply)) == (422, "request.invalid")
    unknown = his.post("/v1/his/bills", bill([line(1_000)], patient_id="P9999"))
    assert (unknown.status_code, error_code(unknown)) == (404, "patient.not_found")
    huge = his.post("/v1/his/bills", bill([line(100_000_000, quantity=2)]))
    assert (huge.status_code, error_code(huge)) == (422, "amount.invalid")
    reply = his.get(f"/v1/his/bills/{body['bill_no']}")
    assert (reply.status_code, error_code(reply)) == (404, "bill.not_found")


def simulate(server: Server, state: str, *args: str) -> dict[str, Any]:
    out = server.admin("his", "simulate", "--url", server.base, "--state", state, *args)
    return dict(json.loads(out.stdout))


def test_the_simulated_his_feeds_a_day_of_bills_that_a_kiosk_settles(server: Server,
                                                                       counter: Device,
                                                                       tmp_path):
    state = str(tmp_path / "his-sim")
    without = server.admin("his", "simulate", "--url", server.base, "--state", state,
                           check=False)
    assert without.returncode == 3 and "--token" in without.stderr
    first = simulate(server, state, "--token", server.token("his"), "--bills", "40",
                     "--rate", "40/s", "--seed", "7", "--amend-every", "5",
                     "--cancel-every", "8", "--patients", "P1001,P1003,P1005")
    assert (first["created"], first["replayed"], first["amended"], first["cancelled"],
            first["refused"]) == (40, 0, 7, 5, {})
    assert first["elapsed_s"] >= 39 / 40  # paced to the rate, not as fast as it can
    again = simulate(server, state, "--bills", "40", "--rate", "100", "--seed", "7",
                     "--patients", "P1001,P1003,P1005")  # the kept key, no token
    assert (again["device_id"], again["created"], again["replayed"]) == (
        first["device_id"], 0, 40)  # 7 amended ones too: create compares the first content
    pending = counter.get("/v1/patients/P1003/bills").json()["bills"]
    fed = [b for b in pending if b["visit_id"].startswith("V")
           and b["bill_id"] in first["first_bill_ids"]]
    assert fed, pending
    kiosk = server.device("kiosk")
    settled = kiosk.settle(fed[0]["bill_id"], "P1003", "card")
    assert settled.status_code == 201, settled.text
    assert settled.json()["total_fen"] == fed[0]["total_fen"]
