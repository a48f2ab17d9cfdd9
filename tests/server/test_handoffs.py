"""Cashier hand-offs over real HTTP against a real server process and its SQLite file."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from zoneinfo import ZoneInfo

import pytest
import requests

from kiosk.backend import BackendError
from kiosk.client import PlatformClient
from kiosk.protocol.keys import generate_private_key, load_public_key_b64, public_key_b64
from tests.server.live import Device, Server, error_code

HANDOFF_FIELDS = {"handoff_id", "site_id", "kiosk_id", "session_id", "reason", "created_at",
                  "taken_by", "taken_at", "count", "last_at", "kiosk_name", "patient_id",
                  "patient_name", "amount_fen", "state", "closed_by", "closed_at", "outcome",
                  "settlement_id"}


def session() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


def today() -> str:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


def hand_over(kiosk: Device, session_id: str, reason: str = "face.not_recognised"
              ) -> requests.Response:
    return kiosk.post("/v1/handoffs", {"session_id": session_id, "reason": reason})


def listed(counter: Device, **params: str) -> list[dict]:
    reply = counter.get("/v1/handoffs", params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()["handoffs"]


def client(server: Server, role: str) -> PlatformClient:
    key = generate_private_key()
    reply = requests.post(f"{server.base}/v1/devices/register", timeout=10, json={
        "token": server.token(role), "public_key": public_key_b64(key), "name": "client"})
    assert reply.status_code == 201, reply.text
    data = reply.json()
    return PlatformClient(server.base, data["device_id"], key,
                          load_public_key_b64(data["server_key"]["public_key"]))


@pytest.fixture(scope="module")
def other_counter(server: Server) -> Device:
    return server.device("counter")


def test_a_kiosk_hands_over_and_a_repeat_returns_the_same_handoff(
        server: Server, kiosk: Device):
    sid = session()
    first = hand_over(kiosk, sid)
    assert first.status_code == 201, first.text
    body = first.json()
    assert set(body) == HANDOFF_FIELDS
    assert body["handoff_id"].startswith("hof_")
    assert (body["site_id"], body["kiosk_id"], body["session_id"], body["reason"]) == (
        server.seed["site_id"], kiosk.device_id, sid, "face.not_recognised")
    assert body["taken_by"] is None and body["taken_at"] is None
    created = dt.datetime.fromisoformat(body["created_at"])
    assert abs((dt.datetime.now(dt.UTC) - created).total_seconds()) < 30

    again = hand_over(kiosk, sid)
    assert again.status_code == 200 and again.json() == body
    # the first reason stands: the session was handed over once
    other_reason = hand_over(kiosk, sid, "patient.requested_cashier")
    assert other_reason.status_code == 200 and other_reason.json() == body


def test_the_same_session_id_from_another_kiosk_is_another_handoff(
        server: Server, kiosk: Device):
    sid = session()
    second_kiosk = server.device("kiosk")
    a, b = hand_over(kiosk, sid).json(), hand_over(second_kiosk, sid).json()
    assert a["handoff_id"] != b["handoff_id"]
    assert (a["kiosk_id"], b["kiosk_id"]) == (kiosk.device_id, second_kiosk.device_id)


def test_counter_lists_open_handoffs_of_its_site_newest_first(
        kiosk: Device, counter: Device):
    made = [hand_over(kiosk, session(), reason).json()["handoff_id"]
            for reason in ("face.not_recognised", "liveness.failed", "credit.limit_exceeded")]
    reply = counter.get("/v1/handoffs")
    assert reply.status_code == 200
    data = reply.json()
    assert data["date"] == today() and data["site_id"] == kiosk.server.seed["site_id"]
    ids = [h["handoff_id"] for h in data["handoffs"]]
    assert [i for i in ids if i in made] == made[::-1]
    times = [h["created_at"] for h in data["handoffs"]]
    assert times == sorted(times, reverse=True)
    assert all(h["taken_by"] is None for h in data["handoffs"])
    assert listed(counter, open="true", date=today()) == data["handoffs"]


def test_a_kiosk_may_not_list_or_take(kiosk: Device):
    listing = kiosk.get("/v1/handoffs")
    assert listing.status_code == 403 and error_code(listing) == "auth.role_forbidden"
    handoff_id = hand_over(kiosk, session()).json()["handoff_id"]
    take = kiosk.post(f"/v1/handoffs/{handoff_id}/take", None)
    assert take.status_code == 403 and error_code(take) == "auth.role_forbidden"


def test_take_marks_it_taken_and_the_open_filter_follows(
        kiosk: Device, counter: Device, other_counter: Device):
    created = hand_over(kiosk, session()).json()
    hid = created["handoff_id"]
    taken = counter.post(f"/v1/handoffs/{hid}/take", None)
    assert taken.status_code == 200, taken.text
    body = taken.json()
    assert body["taken_by"] == counter.device_id and body["taken_at"] is not None
    assert body["state"] == "taken" and created["state"] == "open"
    assert {k: v for k, v in body.items() if not k.startswith("taken_") and k != "state"} == {
        k: v for k, v in created.items() if not k.startswith("taken_") and k != "state"}

    assert hid not in {h["handoff_id"] for h in listed(counter)}
    everything = {h["handoff_id"]: h for h in listed(counter, open="false")}
    assert everything[hid] == body

    same_again = counter.post(f"/v1/handoffs/{hid}/take", None)
    assert same_again.status_code == 200 and same_again.json() == body

    by_other = other_counter.post(f"/v1/handoffs/{hid}/take", None)
    assert by_other.status_code == 409 and error_code(by_other) == "handoff.already_taken"
    assert by_other.json()["error"]["details"]["taken_by"] == counter.device_id
    # the refusal changed nothing
    assert {h["handoff_id"]: h for h in listed(other_counter, open="false")}[hid] == body


def test_a_kiosk_repeat_after_take_returns_the_taken_handoff(kiosk: Device, counter: Device):
    sid = session()
    hid = hand_over(kiosk, sid).json()["handoff_id"]
    taken = counter.post(f"/v1/handoffs/{hid}/take", None).json()
    again = hand_over(kiosk, sid)
    assert again.status_code == 200 and again.json() == taken


def test_date_selects_the_local_day(kiosk: Device, counter: Device):
    hid = hand_over(kiosk, session()).json()["handoff_id"]
    yesterday = (dt.date.fromisoformat(today()) - dt.timedelta(days=1)).isoformat()
    reply = counter.get("/v1/handoffs", params={"date": yesterday, "open": "false"})
    assert reply.status_code == 200 and reply.json()["date"] == yesterday
    assert hid not in {h["handoff_id"] for h in reply.json()["handoffs"]}
    assert hid in {h["handoff_id"] for h in listed(counter, date=today())}
    bad = counter.get("/v1/handoffs", params={"date": "2024-13-01"})
    assert bad.status_code == 422 and error_code(bad) == "request.invalid"


def test_unknown_and_other_site_handoffs_are_not_found(server: Server, kiosk: Device):
    counter_elsewhere = Device.register(server, json.loads(server.admin(
        "device", "token", "--site", json.loads(server.admin(
            "site", "create", "--code", "ELSEWHERE", "--name", "别院").stdout)["site_id"],
        "--role", "counter").stdout)["token"])
    hid = hand_over(kiosk, session()).json()["handoff_id"]
    for device_, handoff_id in ((counter_elsewhere, hid), (counter_elsewhere, "hof_nope")):
        reply = device_.post(f"/v1/handoffs/{handoff_id}/take", None)
        assert reply.status_code == 404 and error_code(reply) == "handoff.not_found"
    assert hid not in {h["handoff_id"] for h in listed(counter_elsewhere, open="false")}


@pytest.mark.parametrize("body", [
    {"session_id": "s-12345678", "reason": "Face.Not_Recognised"},
    {"session_id": "s-12345678", "reason": "face-not-recognised"},
    {"session_id": "s-12345678", "reason": ""},
    {"session_id": "s-12345678", "reason": "x" * 65},
    {"session_id": "s-12345678", "reason": "张三.failed"},
    {"session_id": "short", "reason": "face.not_recognised"},
    {"session_id": "s 12345678", "reason": "face.not_recognised"},
    {"session_id": "s-12345678"},
    {"session_id": "s-12345678", "reason": "face.timeout", "name": "张三"},
    {"session_id": "s-12345678", "reason": "face.timeout", "amount_fen": -1},
])
def test_bad_bodies_are_refused_and_nothing_is_stored(server: Server, kiosk: Device,
                                                      body: dict):
    reply = kiosk.post("/v1/handoffs", body)
    assert reply.status_code == 422 and error_code(reply) == "request.invalid"
    assert server.sql("select count(*) from handoffs where session_id = :sid",
                      sid=body["session_id"]) == [(0,)]


def test_every_change_is_in_the_audit_chain_without_personal_data(
        server: Server, kiosk: Device, counter: Device):
    sid = session()
    hid = hand_over(kiosk, sid, "second_factor.locked").json()["handoff_id"]
    hand_over(kiosk, sid)  # a repeat changes nothing, so it records nothing
    counter.post(f"/v1/handoffs/{hid}/take", None)
    counter.post(f"/v1/handoffs/{hid}/take", None)
    rows = server.sql("select actor, action, details from audit_log where subject = :hid "
                      "order by seq", hid=hid)
    assert [(actor, action) for actor, action, _ in rows] == [
        (f"device:{kiosk.device_id}", "handoff.created"),
        (f"device:{counter.device_id}", "handoff.taken")]
    assert json.loads(rows[0][2]) == {"site_id": server.seed["site_id"], "session_id": sid,
                                      "reason": "second_factor.locked"}
    assert json.loads(rows[1][2]) == {"site_id": server.seed["site_id"], "session_id": sid}
    assert json.loads(server.admin("audit", "verify").stdout)["ok"]


def test_the_platform_client_methods(server: Server):
    kiosk, counter, rival = (client(server, "kiosk"), client(server, "counter"),
                             client(server, "counter"))
    sid = session()
    made = kiosk.handoff(sid, "backend.unreachable")
    assert (made.session_id, made.reason, made.kiosk_id) == (sid, "backend.unreachable",
                                                             kiosk.device_id)
    assert kiosk.handoff(sid, "backend.unreachable") == made
    assert made in counter.handoffs().handoffs
    taken = counter.take_handoff(made.handoff_id)
    assert taken.taken_by == counter.device_id and taken.taken_at is not None
    assert made.handoff_id not in {h.handoff_id for h in counter.handoffs().handoffs}
    assert taken in counter.handoffs(open_only=False, date=today()).handoffs
    with pytest.raises(BackendError) as conflict:
        rival.take_handoff(made.handoff_id)
    assert conflict.value.code == "handoff.already_taken"
    with pytest.raises(BackendError) as forbidden:
        kiosk.handoffs()
    assert forbidden.value.code == "auth.role_forbidden"


def test_one_kiosk_handing_over_again_and_again_is_one_row_with_a_count(
        server: Server, counter: Device):
    """The loop the field saw (not recognised → hand-off → idle → again: 11 rows in four
    minutes for one person) is one hand-off with a count; another reason, another kiosk,
    or a hand-off already taken start a new one."""
    kiosk = server.device("kiosk")
    first = hand_over(kiosk, session(), "liveness.timeout").json()
    merged = [hand_over(kiosk, session(), "liveness.timeout") for _ in range(3)]
    assert [m.status_code for m in merged] == [201, 201, 201]
    assert {m.json()["handoff_id"] for m in merged} == {first["handoff_id"]}
    latest = merged[-1].json()
    assert latest["count"] == 4 and latest["last_at"] is not None
    assert first["count"] == 1 and first["last_at"] is None
    again = hand_over(kiosk, json.loads(merged[0].request.body)["session_id"],
                      "liveness.timeout")
    assert again.status_code == 200 and again.json()["count"] == 4  # a resend: no new one
    other = hand_over(kiosk, session(), "patient.requested_cashier").json()
    assert other["handoff_id"] != first["handoff_id"] and other["count"] == 1
    (row,) = [h for h in listed(counter, open="true") if h["handoff_id"] == first["handoff_id"]]
    assert row["count"] == 4
    taken = counter.post(f"/v1/handoffs/{first['handoff_id']}/take", {})
    assert taken.status_code == 200 and taken.json()["count"] == 4
    after = hand_over(kiosk, session(), "liveness.timeout").json()
    assert after["handoff_id"] != first["handoff_id"] and after["count"] == 1


def test_a_handoff_says_who_and_how_much_when_the_kiosk_knew(server: Server, counter: Device):
    """After a look-up the kiosk sends the patient and the amount: the counter sees the name
    masked, the amount and the kiosk's registered name; two patients are never merged."""
    kiosk = server.device("kiosk")
    first = hand_over(kiosk, session(), "credit.limit_exceeded")
    plain = first.json()
    assert plain["patient_id"] is None and plain["patient_name"] is None
    known = kiosk.post("/v1/handoffs", {"session_id": session(), "reason": "credit.user_suspended",
                                        "patient_id": "P1001", "amount_fen": 12_345}).json()
    assert known["patient_id"] == "P1001" and known["amount_fen"] == 12_345
    assert known["patient_name"] == "张*丰" and "张三丰" not in json.dumps(known)
    assert known["kiosk_name"] == kiosk_name(server, kiosk.device_id) != ""
    other = kiosk.post("/v1/handoffs", {"session_id": session(), "reason": "credit.user_suspended",
                                        "patient_id": "P1002", "amount_fen": 500}).json()
    assert other["handoff_id"] != known["handoff_id"]  # another person: another row
    same = kiosk.post("/v1/handoffs", {"session_id": session(), "reason": "credit.user_suspended",
                                       "patient_id": "P1001", "amount_fen": 12_345}).json()
    assert same["handoff_id"] == known["handoff_id"] and same["count"] == 2
    bad = kiosk.post("/v1/handoffs", {"session_id": session(), "reason": "x.y",
                                      "amount_fen": 1.5})
    assert bad.status_code == 422 and error_code(bad) == "request.invalid"
    (row,) = [h for h in listed(counter) if h["handoff_id"] == known["handoff_id"]]
    assert row["patient_name"] == "张*丰" and row["count"] == 2


def kiosk_name(server: Server, device_id: str) -> str:
    return str(server.sql("SELECT name FROM devices WHERE device_id = :d", d=device_id)[0][0])


def test_a_counter_resolves_or_dismisses_a_handoff_for_every_counter(
        server: Server, counter: Device, other_counter: Device):
    kiosk = server.device("kiosk")
    served = hand_over(kiosk, session(), "credit.user_suspended").json()
    gone = hand_over(kiosk, session(), "bill.not_found").json()
    bad = counter.post(f"/v1/handoffs/{served['handoff_id']}/resolve", {"outcome": "maybe"})
    assert bad.status_code == 422 and error_code(bad) == "request.invalid"
    missing = counter.post(f"/v1/handoffs/{served['handoff_id']}/resolve",
                           {"outcome": "settled", "settlement_id": "stl_nope"})
    assert missing.status_code == 404 and error_code(missing) == "settlement.not_found"
    resolved = counter.post(f"/v1/handoffs/{served['handoff_id']}/resolve",
                            {"outcome": "no_charge"})
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (body["state"], body["outcome"], body["closed_by"]) == (
        "resolved", "no_charge", counter.device_id) and body["closed_at"]
    again = counter.post(f"/v1/handoffs/{served['handoff_id']}/resolve",
                         {"outcome": "no_charge"})
    assert again.status_code == 200 and again.json() == body  # the same close: unchanged
    other = other_counter.post(f"/v1/handoffs/{served['handoff_id']}/dismiss",
                               {"reason": "left"})
    assert other.status_code == 409 and error_code(other) == "handoff.already_closed"
    dismissed = other_counter.post(f"/v1/handoffs/{gone['handoff_id']}/dismiss",
                                   {"reason": "duplicate"}).json()
    assert (dismissed["state"], dismissed["outcome"]) == ("dismissed", "duplicate")
    open_ids = {h["handoff_id"] for h in listed(counter, open="true")}
    assert served["handoff_id"] not in open_ids and gone["handoff_id"] not in open_ids
    later = hand_over(kiosk, session(), "credit.user_suspended").json()
    assert later["handoff_id"] != served["handoff_id"]  # a closed one takes no more merges
    actions = {r[0] for r in server.sql(
        "SELECT action FROM audit_log WHERE subject IN (:a, :b)",
        a=served["handoff_id"], b=gone["handoff_id"])}
    assert {"handoff.resolved", "handoff.dismissed"} <= actions
