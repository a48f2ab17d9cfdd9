"""Checkout flows over real HTTP: identify, quote, settle, reverse, repay, gallery, recon."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import struct
import threading
import uuid
from zoneinfo import ZoneInfo

import pytest
import requests

from kiosk.protocol.voucher import format_payload, new_token
from server_stub.config import PolicySection
from server_stub.policy import split_bill
from tests.server.live import Device, Server, error_code, make_bill

PACK = "opencv-zoo-sface"
FULL_VALUES = ["张三丰", "李小四", "13800001001", "13800001002", "330784199001011234",
               "330784198502022345"]


def today() -> str:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


def template(seed: float, dim: int = 128) -> dict:
    values = [seed + i / dim for i in range(dim)]
    return {"pack": PACK, "dim": dim,
            "vector": base64.b64encode(struct.pack(f"<{dim}f", *values)).decode()}


def consent() -> dict:
    return {"text_version": "face-pay-v1", "consented_at": dt.datetime.now(dt.UTC).isoformat()}


def enrol_user(server: Server, patient_id: str, phone: str, limit_fen: int = 500_000,
               category: str = "employee") -> None:
    server.admin("user", "enrol", "--patient-id", patient_id, "--name", "测试员",
                 "--national-id", f"33078419900101{phone[-4:]}", "--phone", phone,
                 "--category", category, "--limit-fen", str(limit_fen),
                 "--consent-version", "credit-v1")


def test_public_endpoints_and_openapi(server: Server):
    health = requests.get(f"{server.base}/v1/health", timeout=10).json()
    assert health["status"] == "ok"
    assert health["skew_window_s"] == 300
    assert health["timezone"] == "Asia/Shanghai"  # the zone of "today" (protocol §1)
    schema = requests.get(f"{server.base}/openapi.json", timeout=10).json()
    paths = set(schema["paths"])
    assert {"/v1/devices/register", "/v1/gallery", "/v1/identify/card", "/v1/identify/voucher",
            "/v1/second-factor/verify", "/v1/second-factor/narrow", "/v1/quotes",
            "/v1/settlements", "/v1/settlements/{settlement_id}/reverse", "/v1/repayments",
            "/v1/reconciliation/{date}", "/v1/patients/{patient_id}/templates",
            "/v1/patients/{patient_id}/consent/withdraw", "/v1/handoffs",
            "/v1/handoffs/{handoff_id}/take"} <= paths
    assert "httpMessageSignature" in schema["components"]["securitySchemes"]
    assert schema["paths"]["/v1/quotes"]["post"]["security"]
    assert "security" not in schema["paths"]["/v1/health"]["get"]


def test_pending_bills_show_only_masked_patient_data(kiosk: Device):
    reply = kiosk.bills("P1001")
    assert reply.status_code == 200
    data = reply.json()
    assert data["patient"] == {"patient_id": "P1001", "name": "张*丰",
                               "national_id": "3307**********1234", "phone": "138****1001",
                               "category": "employee"}
    assert [b["bill_id"] for b in data["bills"]] == ["B1001-1"]
    bill = data["bills"][0]
    assert bill["total_fen"] == sum(i["amount_fen"] for i in bill["items"])
    assert not any(value in reply.text for value in FULL_VALUES)


@pytest.mark.parametrize("patient, bill, category", [
    ("P1003", "B1003-1", "resident"), ("P1005", "B1005-1", "poverty_relief"),
    ("P1002", "B1002-1", "employee")])
def test_quote_applies_the_category_policy(kiosk: Device, patient, bill, category):
    reply = kiosk.post("/v1/quotes", {"bill_id": bill, "patient_id": patient, "method": "face"},
                       params={"identification": kiosk.identify(patient)})
    assert reply.status_code == 200, reply.text
    quote = reply.json()
    listed = kiosk.bills(patient).json()["bills"][0]
    expected = split_bill(listed["total_fen"], listed["eligible_fen"],
                          PolicySection().for_category(category))
    layers = quote["layers"]
    assert layers["self_pay_fen"] == expected.self_pay_fen
    assert sum(layers.values()) == quote["total_fen"] == listed["total_fen"]
    # no template enrolled yet: face pay would be refused, and the quote says why
    assert quote["payable"] is False and quote["refusal"]["code"] == "consent.missing"
    if category == "poverty_relief":
        insured = layers["basic_pool_fen"] + layers["medical_aid_fen"]
        assert abs(insured / listed["eligible_fen"] - 0.90) < 0.005


def test_settle_is_idempotent_and_moves_credit(kiosk: Device, counter: Device):
    before = counter.get("/v1/patients/P1001").json()["credit"]
    key = str(uuid.uuid4())
    first = kiosk.settle("B1001-1", "P1001", "card", key=key)
    assert first.status_code == 201, first.text
    settlement = first.json()
    assert settlement["status"] == "settled" and settlement["receipt_no"].startswith("YK01-")
    assert settlement["charge_to_credit_fen"] == settlement["layers"]["self_pay_fen"]
    head = settlement["audit_head"]  # this settlement's own audit record is the head
    assert head["seq"] >= 1 and len(head["hash"]) == 64
    replay = kiosk.settle("B1001-1", "P1001", "card", key=key)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == settlement
    changed = kiosk.settle("B1001-1", "P1001", "voucher", key=key)
    assert changed.status_code == 422 and error_code(changed) == "idempotency.key_reused"
    again = kiosk.settle("B1001-1", "P1001", "card")
    assert again.status_code == 409 and error_code(again) == "bill.already_settled"
    assert again.json()["error"]["details"]["settlement_id"] == settlement["settlement_id"]
    after = counter.get("/v1/patients/P1001").json()["credit"]
    assert after["outstanding_fen"] == before["outstanding_fen"] + settlement[
        "charge_to_credit_fen"]
    assert after["next_due_at"] is not None
    read = kiosk.get(f"/v1/settlements/{settlement['settlement_id']}").json()
    assert read == {**settlement, "audit_head": None}  # a read vouches for no change


def test_money_posts_need_an_idempotency_key(kiosk: Device, counter: Device):
    reply = kiosk.post("/v1/settlements", {"bill_id": "B1002-1", "patient_id": "P1002",
                                           "method": "card"})
    assert reply.status_code == 400 and error_code(reply) == "idempotency.key_missing"
    reply = counter.post("/v1/repayments", {"patient_id": "P1002", "amount_fen": 1,
                                          "method": "cash"})
    assert reply.status_code == 400 and error_code(reply) == "idempotency.key_missing"


def test_concurrent_retries_with_one_key_charge_once(server: Server, kiosk: Device,
                                                     counter: Device):
    bill = make_bill(server, "P1002", [("exam", 1, 10_000, True)])
    before = counter.get("/v1/patients/P1002").json()["credit"]["outstanding_fen"]
    key, replies = str(uuid.uuid4()), []

    def attempt() -> None:
        replies.append(kiosk.settle(bill, "P1002", "card", key=key))

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in replies)
    assert set(statuses) <= {201, 409} and 201 in statuses
    assert all(error_code(r) == "idempotency.in_flight" for r in replies if r.status_code == 409)
    bodies = {r.text for r in replies if r.status_code == 201}
    assert len(bodies) == 1
    charged = json.loads(bodies.pop())["charge_to_credit_fen"]
    after = counter.get("/v1/patients/P1002").json()["credit"]["outstanding_fen"]
    assert after == before + charged


def test_reverse_restores_credit_and_is_idempotent(server: Server, kiosk: Device,
                                                   counter: Device):
    bill = make_bill(server, "P1004", [("drug", 2, 5_000, True), ("other", 1, 300, False)])
    before = counter.get("/v1/patients/P1004").json()["credit"]["outstanding_fen"]
    settled = kiosk.settle(bill, "P1004", "card").json()
    path = f"/v1/settlements/{settled['settlement_id']}/reverse"
    forbidden = kiosk.post(path, {"reason": "wrong bill"}, key="k1")
    assert forbidden.status_code == 403
    key = str(uuid.uuid4())
    reversed_ = counter.post(path, {"reason": "wrong bill"}, key=key)
    assert reversed_.status_code == 200, reversed_.text
    body = reversed_.json()
    assert body["status"] == "reversed" and body["reversal"]["reason"] == "wrong bill"
    assert body["reversal"]["refund_fen"] == 0  # nothing was repaid yet, nothing paid in cash
    replay = counter.post(path, {"reason": "wrong bill"}, key=key)
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json() == body
    twice = counter.post(path, {"reason": "wrong bill"}, key=str(uuid.uuid4()))
    assert twice.status_code == 409 and error_code(twice) == "settlement.already_reversed"
    assert counter.get("/v1/patients/P1004").json()["credit"]["outstanding_fen"] == before
    assert bill in [b["bill_id"] for b in counter.get("/v1/patients/P1004/bills").json()["bills"]]


def test_cash_is_recorded_at_the_counter_only(server: Server, kiosk: Device, counter: Device):
    bill = make_bill(server, "P1006", [("exam", 1, 8_000, True)])
    reply = kiosk.settle(bill, "P1006", "cash")
    assert reply.status_code == 403 and error_code(reply) == "auth.role_forbidden"
    before = counter.get("/v1/patients/P1006").json()["credit"]["outstanding_fen"]
    paid = counter.settle(bill, "P1006", "cash").json()
    assert paid["pay_at_counter_fen"] == paid["layers"]["self_pay_fen"] > 0
    assert paid["charge_to_credit_fen"] == 0
    assert counter.get("/v1/patients/P1006").json()["credit"]["outstanding_fen"] == before


def test_repayment_rules(server: Server, counter: Device):
    bill = make_bill(server, "P1001", [("exam", 1, 9_000, True)])
    assert counter.settle(bill, "P1001", "card").status_code == 201  # something to repay
    outstanding = counter.get("/v1/patients/P1001").json()["credit"]["outstanding_fen"]
    assert outstanding > 0
    for amount in (0, -5, 12.5, "100", True):
        reply = counter.post("/v1/repayments", {"patient_id": "P1001", "amount_fen": amount,
                                                "method": "cash"}, key=str(uuid.uuid4()))
        assert reply.status_code == 422 and error_code(reply) == "request.invalid", amount
    reply = counter.post("/v1/repayments", {"patient_id": "P1001",
                                            "amount_fen": outstanding + 1, "method": "cash"},
                         key=str(uuid.uuid4()))
    assert reply.status_code == 422 and error_code(reply) == "amount.exceeds_balance"
    reply = counter.post("/v1/repayments", {"patient_id": "P1001", "amount_fen": 1000,
                                            "method": "transfer", "reference": "T-1"},
                         key=str(uuid.uuid4()))
    assert reply.status_code == 201
    assert reply.json()["credit"]["outstanding_fen"] == outstanding - 1000


def test_credit_limit_and_status_refusals(server: Server, kiosk: Device, counter: Device):
    enrol_user(server, "P2001", "13900002001", limit_fen=100)
    bill = make_bill(server, "P2001", [("exam", 1, 50_000, True)])
    quote = kiosk.post("/v1/quotes", {"bill_id": bill, "patient_id": "P2001", "method": "card"},
                       params={"identification": kiosk.identify("P2001")}).json()
    assert quote["payable"] is False and quote["refusal"]["code"] == "credit.limit_exceeded"
    reply = kiosk.settle(bill, "P2001", "card")
    assert reply.status_code == 402 and error_code(reply) == "credit.limit_exceeded"
    server.admin("user", "suspend", "P2001", "--reason", "manual review")
    reply = kiosk.settle(bill, "P2001", "card")
    assert reply.status_code == 403 and error_code(reply) == "credit.user_suspended"
    server.admin("user", "blacklist", "P2001", "--reason", "abuse")
    reply = kiosk.settle(bill, "P2001", "voucher")
    assert reply.status_code == 403 and error_code(reply) == "credit.user_blacklisted"
    assert counter.settle(bill, "P2001", "cash").status_code == 201  # paying now still works


def test_unknown_things_are_404_and_wrong_patient_409(kiosk: Device, counter: Device):
    identified = {"identification": kiosk.identify("P1001")}
    reply = kiosk.post("/v1/quotes", {"bill_id": "B404", "patient_id": "P1001",
                                      "method": "card"}, params=identified)
    assert reply.status_code == 404 and error_code(reply) == "bill.not_found"
    reply = counter.get("/v1/patients/NOBODY/bills")
    assert reply.status_code == 404 and error_code(reply) == "patient.not_found"
    reply = kiosk.post("/v1/quotes", {"bill_id": "B1003-1", "patient_id": "P1001",
                                      "method": "card"}, params=identified)
    assert reply.status_code == 409 and error_code(reply) == "bill.patient_mismatch"
    reply = kiosk.get("/v1/settlements/stl_nope")
    assert reply.status_code == 404 and error_code(reply) == "settlement.not_found"


def test_card_and_voucher_identification(server: Server, kiosk: Device):
    reply = kiosk.post("/v1/identify/card", {"card_no": "YB33078400001003"})
    assert reply.status_code == 200 and reply.json()["patient"]["patient_id"] == "P1003"
    assert reply.json()["patient"]["name"] == "王*"
    reply = kiosk.post("/v1/identify/card", {"card_no": "YB000000"})
    assert reply.status_code == 404 and error_code(reply) == "card.not_found"
    payload = server.seed["voucher"]["payload"]
    reply = kiosk.post("/v1/identify/voucher", {"payload": payload})
    assert reply.status_code == 200 and reply.json()["patient"]["patient_id"] == "P1002"
    reply = kiosk.post("/v1/identify/voucher", {"payload": format_payload(new_token())})
    assert reply.status_code == 404 and error_code(reply) == "voucher.not_found"
    reply = kiosk.post("/v1/identify/voucher", {"payload": "CHSEV1-NOTAVOUCHER-0000"})
    assert reply.status_code == 400 and error_code(reply) == "voucher.malformed"
    expired = json.loads(server.admin("voucher", "issue", "--patient", "P1002",
                                      "--ttl-hours", "0").stdout)["payload"]
    reply = kiosk.post("/v1/identify/voucher", {"payload": expired})
    assert reply.status_code == 410 and error_code(reply) == "voucher.expired"
    server.admin("voucher", "revoke", payload)
    reply = kiosk.post("/v1/identify/voucher", {"payload": payload})
    assert reply.status_code == 410 and error_code(reply) == "voucher.revoked"


def test_second_factor_locks_after_three_wrong_answers(kiosk: Device):
    session = uuid.uuid4().hex
    ask = {"session_id": session, "patient_id": "P1005"}
    lefts = [kiosk.post("/v1/second-factor/verify", {**ask, "last4": "0000"}).json()
             for _ in range(3)]
    assert [(x["verified"], x["attempts_left"]) for x in lefts] == [
        (False, 2), (False, 1), (False, 0)]
    locked = kiosk.post("/v1/second-factor/verify", {**ask, "last4": "1005"})
    assert locked.status_code == 423 and error_code(locked) == "second_factor.locked"
    fresh = kiosk.post("/v1/second-factor/verify",
                       {"session_id": uuid.uuid4().hex, "patient_id": "P1005", "last4": "1005"})
    assert fresh.json() == {"verified": True, "attempts_left": 3}


def test_templates_gallery_sync_narrow_and_withdrawal(server: Server, kiosk: Device,
                                                      counter: Device):
    enrol = {"template": template(0.25), "consent": consent()}
    assert kiosk.post("/v1/patients/P1003/templates", enrol).status_code == 403
    bad = counter.post("/v1/patients/P1003/templates",
                       {"template": {**template(0), "vector": base64.b64encode(
                           b"\0" * 512).decode()}, "consent": consent()})
    assert bad.status_code == 422 and error_code(bad) == "template.invalid"
    assert counter.post("/v1/patients/P1003/templates", enrol).status_code == 201
    assert counter.post("/v1/patients/P1004/templates",
                        {"template": template(0.5), "consent": consent()}).status_code == 201
    first = kiosk.get(f"/v1/gallery?pack={PACK}").json()
    got = {e["patient_id"]: e["template"] for e in first["upserts"]}
    assert got["P1003"] == enrol["template"] and first["deletions"] == []
    assert first["scope"] == "open_bills"
    assert kiosk.post("/v1/second-factor/narrow", {"last4": "1003"}).json() == {
        "patient_ids": ["P1003"]}
    assert kiosk.post("/v1/second-factor/narrow",
                      {"last4": "1003", "candidates": ["P1004"]}).json()["patient_ids"] == []
    # withdrawal: the template is deleted and the kiosk is told on its next sync
    withdrawn = counter.post("/v1/patients/P1003/consent/withdraw", {"reason": "asked"})
    assert withdrawn.json()["templates_deleted"] == 1
    delta = kiosk.get(f"/v1/gallery?pack={PACK}&cursor={first['cursor']}").json()
    assert delta["deletions"] == ["P1003"] and delta["upserts"] == []
    # open_bills scope: while P1004 owes for a charge here they stay (to repay by face);
    # once nothing is pending and nothing owed, they leave the gallery
    pending = [b["bill_id"] for b in counter.get("/v1/patients/P1004/bills").json()["bills"]]
    for bill in pending:
        assert kiosk.settle(bill, "P1004", "face").status_code == 201
    owing = kiosk.get(f"/v1/gallery?pack={PACK}&cursor={delta['cursor']}").json()
    assert owing["deletions"] == []
    assert kiosk.post("/v1/identify/face", {"patient_id": "P1004", "pack": PACK}
                      ).status_code == 200  # 我的欠款 by face: the debtor is still known here
    owed = counter.get("/v1/patients/P1004").json()["credit"]["outstanding_fen"]
    assert owed > 0
    assert counter.post("/v1/repayments", {"patient_id": "P1004", "amount_fen": owed,
                                           "method": "cash"}, key=str(uuid.uuid4())
                        ).status_code == 201
    later = kiosk.get(f"/v1/gallery?pack={PACK}&cursor={owing['cursor']}").json()
    assert later["deletions"] == ["P1004"]
    assert kiosk.get(f"/v1/gallery?pack={PACK}").json()["upserts"] == []


def test_reconciliation_balances_and_matches_the_settlements(server: Server, kiosk: Device,
                                                             counter: Device):
    # its own settlement and reversal, so the test holds whatever ran before it (xdist)
    bill = make_bill(server, "P1004", [("exam", 1, 3_000, True)])
    settled = kiosk.settle(bill, "P1004", "card").json()
    reversal = counter.post(f"/v1/settlements/{settled['settlement_id']}/reverse",
                            {"reason": "recon test"}, key=str(uuid.uuid4()))
    assert reversal.status_code == 200, reversal.text
    report = counter.get(f"/v1/reconciliation/{today()}").json()
    listed = counter.get(f"/v1/settlements?date={today()}").json()["settlements"]
    assert report["balanced"] is True and report["settled"]["count"] == len(listed) > 0
    assert report["settled"]["total_fen"] == sum(s["total_fen"] for s in listed)
    for layer in ("basic_pool_fen", "critical_illness_fen", "medical_aid_fen", "self_pay_fen"):
        assert report["settled"][layer] == sum(s["layers"][layer] for s in listed)
    reversed_total = sum(s["total_fen"] for s in listed if s["status"] == "reversed")
    assert report["reversed"]["total_fen"] == reversed_total > 0
    assert report["net"]["total_fen"] == report["settled"]["total_fen"] - reversed_total
    assert sum(m["total_fen"] for m in report["by_method"].values()) == report["net"]["total_fen"]
    reply = counter.get(f"/v1/reconciliation/{today()}?format=csv")
    assert reply.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    net = next(r for r in rows if r["kind"] == "total:net")
    assert int(net["total_fen"]) == report["net"]["total_fen"]
    assert len([r for r in rows if r["kind"] in ("settlement", "reversal")]) == len(
        report["lines"])


def test_logs_hold_no_personal_data(server: Server):
    assert server.log is not None
    text = server.log.read_text(encoding="utf-8")
    assert '"path": "/v1/settlements"' in text
    assert not any(value in text for value in FULL_VALUES)


def test_a_platform_without_a_payment_provider_offers_no_qr_repayment(kiosk: Device):
    identified = {"identification": kiosk.identify("P1001")}
    statement = kiosk.get("/v1/patients/P1001/credit", params=identified)
    assert statement.status_code == 200 and statement.json()["repay_at_kiosk"] is False
    reply = kiosk.post("/v1/repay-orders", {"patient_id": "P1001"}, key=str(uuid.uuid4()),
                       params=identified)
    assert (reply.status_code, error_code(reply)) == (409, "payment.not_offered")
