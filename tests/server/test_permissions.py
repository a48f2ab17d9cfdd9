"""The permission matrix (docs/protocol.md §8.1), every cell against a real platform process.

Site A is the demo hospital, whose patients have bills there; site B is a second hospital
where they have nothing. A device of site A asks about site A's targets (the "own" cells), a
device of site B about the same targets (the "other" cells).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from kiosk.demo.payments import start_payment_simulator
from kiosk.protocol.schemas import Role
from server_stub.permissions import RULES, Access, Reach
from tests.server.live import Device, Server, error_code, make_bill, start_server
from tests.server.test_api_flows import consent, template
from tests.server.test_heartbeat_metrics import beat

PATIENT = "P1003"  # has a card; repayments and settlements run against this one
PACK = "opencv-zoo-sface"


@dataclass
class Sites:
    server: Server
    devices: dict[tuple[str, str], Device]  # (role, "A" | "B")

    @property
    def counter_a(self) -> Device:
        return self.devices["counter", "A"]

    def fresh_bill(self) -> str:
        return make_bill(self.server, PATIENT, [("exam", 1, 5_000, True)])

    def settlement(self) -> str:
        """A card settlement at site A (it leaves credit to repay)."""
        reply = self.counter_a.settle(self.fresh_bill(), PATIENT, "card")
        assert reply.status_code == 201, reply.text
        return str(reply.json()["settlement_id"])

    def repay_order(self) -> str:
        """A payment QR opened by site A's kiosk for a new charge."""
        reply = open_repay_order(self, self.devices["kiosk", "A"])
        assert reply.status_code == 201, reply.text
        return str(reply.json()["order_id"])

    def his_bill(self) -> str:
        """A bill fed by site A's hospital system: its bill number."""
        body = his_bill_body()
        reply = self.devices["his", "A"].post("/v1/his/bills", body)
        assert reply.status_code == 201, reply.text
        return str(body["bill_no"])

    def handoff(self) -> str:
        reply = self.devices["kiosk", "A"].post("/v1/handoffs", {
            "session_id": f"sess-{uuid.uuid4().hex[:12]}", "reason": "patient.requested_cashier"})
        assert reply.status_code == 201, reply.text
        return str(reply.json()["handoff_id"])


def identification(device: Device) -> str | None:
    """The device's token for PATIENT from an insurance-card identification (None when the
    device may not identify them)."""
    reply = device.post("/v1/identify/card", {"card_no": "YB33078400001003"})
    return str(reply.json()["identification"]["token"]) if reply.status_code == 200 else None


def with_token(path: str, device: Device) -> str:
    token = identification(device)
    return f"{path}?identification={token}" if token else path


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    provider = tmp_path_factory.mktemp("provider")
    sim = start_payment_simulator(provider)  # repay orders need a payment provider to open
    server = start_server(tmp_path_factory.mktemp("permissions"), sim.config(0, order_ttl_s=60))
    site_b = json.loads(server.admin("site", "create", "--code", "YK02",
                                     "--name", "second").stdout)["site_id"]
    devices = {}
    for role in ("kiosk", "counter", "his"):
        devices[role, "A"] = server.device(role)
        token = json.loads(server.admin("device", "token", "--site", site_b,
                                        "--role", role).stdout)["token"]
        devices[role, "B"] = Device.register(server, token)
    enrolled = devices["counter", "A"].post(f"/v1/patients/{PATIENT}/templates",
                                            {"template": template(0.3), "consent": consent()})
    assert enrolled.status_code == 201, enrolled.text
    yield Sites(server, devices)
    server.stop()
    sim.stop()


def today() -> str:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


def reconcile_body() -> dict[str, Any]:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    return {"since": since.isoformat(), "count": 0, "self_pay_fen": 0,
            "digest": hashlib.sha256(b"").hexdigest(), "settlements": [], "pending_keys": [],
            "audit_head": None}


def repay(sites: Sites, device: Device, reason: str | None) -> requests.Response:
    sites.settlement()  # something to repay
    body: dict[str, Any] = {"patient_id": PATIENT, "amount_fen": 1, "method": "cash"}
    if reason is not None:
        body["reason"] = reason
    return device.post("/v1/repayments", body, key=str(uuid.uuid4()))


def open_repay_order(sites: Sites, device: Device) -> requests.Response:
    sites.settlement()  # something to repay
    return device.post(with_token("/v1/repay-orders", device),
                       {"patient_id": PATIENT, "amount_fen": 1}, key=str(uuid.uuid4()))


RELATIVE = "P1001"  # a credit user of site A too: PATIENT authorises them (亲情付)


def authorise(device: Device) -> requests.Response:
    return device.post(f"/v1/patients/{PATIENT}/relatives", {
        "relative_id": RELATIVE, "relation": "child",
        "consent": {"text_version": "family-v1", "consented_at": "2026-12-01T09:00:00+08:00"}})


def withdraw_relative(device: Device) -> requests.Response:
    authorise(device)  # something to withdraw (a kiosk's is refused: then so is this)
    return device.post(f"/v1/patients/{PATIENT}/relatives/{RELATIVE}/withdraw", None)


def dependants(device: Device) -> requests.Response:
    reply = device.post("/v1/identify/card", {"card_no": "YB33078400001001"})  # the relative
    token = reply.json()["identification"]["token"] if reply.status_code == 200 else None
    return device.get(f"/v1/patients/{RELATIVE}/dependants",
                      params={"identification": token} if token else None)


def his_bill_body(patient_id: str = PATIENT) -> dict[str, Any]:
    return {"bill_no": f"HIS-{uuid.uuid4().hex[:12]}", "patient_id": patient_id, "visit_id": "V-p",
            "items": [{"kind": "exam", "description": "e", "quantity": 1, "unit_fen": 100,
                       "insurance_class": "A"}]}


Call = Callable[[Sites, Device], requests.Response]
CALLS: dict[tuple[str, str], Call] = {
    ("GET", "/v1/gallery"): lambda s, d: d.get(f"/v1/gallery?pack={PACK}"),
    ("POST", "/v1/identify/face"): lambda s, d: d.post(
        "/v1/identify/face", {"patient_id": PATIENT, "pack": PACK}),
    ("POST", "/v1/identify/card"): lambda s, d: d.post(
        "/v1/identify/card", {"card_no": "YB33078400001003"}),
    ("POST", "/v1/identify/voucher"): lambda s, d: d.post(
        "/v1/identify/voucher", {"payload": s.server.seed["voucher"]["payload"]}),
    ("POST", "/v1/second-factor/verify"): lambda s, d: d.post(
        "/v1/second-factor/verify", {"session_id": f"sess-{uuid.uuid4().hex[:12]}",
                                     "patient_id": PATIENT, "last4": "1003"}),
    ("POST", "/v1/second-factor/narrow"): lambda s, d: d.post(
        "/v1/second-factor/narrow", {"last4": "1003"}),
    ("GET", "/v1/patients/{patient_id}"): lambda s, d: d.get(f"/v1/patients/{PATIENT}"),
    ("GET", "/v1/patients/{patient_id}/bills"): lambda s, d: d.get(
        with_token(f"/v1/patients/{PATIENT}/bills", d)),
    ("POST", "/v1/patients/{patient_id}/templates"): lambda s, d: d.post(
        "/v1/patients/P1004/templates", {"template": template(0.5), "consent": consent()}),
    ("POST", "/v1/patients/{patient_id}/consent/withdraw"): lambda s, d: d.post(
        "/v1/patients/P1006/consent/withdraw", {"reason": "test"}),
    ("POST", "/v1/quotes"): lambda s, d: d.post(
        with_token("/v1/quotes", d), {"bill_id": "B1003-1", "patient_id": PATIENT,
                                      "method": "card"}),
    ("POST", "/v1/settlements"): lambda s, d: d.settle(s.fresh_bill(), PATIENT, "card"),
    ("GET", "/v1/settlements"): lambda s, d: d.get("/v1/settlements"),
    ("GET", "/v1/settlements/{settlement_id}"): lambda s, d: d.get(
        f"/v1/settlements/{s.settlement()}"),
    ("POST", "/v1/settlements/{settlement_id}/reverse"): lambda s, d: d.post(
        f"/v1/settlements/{s.settlement()}/reverse", {"reason": "test"},
        key=str(uuid.uuid4())),
    ("POST", "/v1/repayments"): lambda s, d: repay(s, d, None),
    ("GET", "/v1/patients/{patient_id}/credit"): lambda s, d: d.get(
        with_token(f"/v1/patients/{PATIENT}/credit", d)),
    ("POST", "/v1/repay-orders"): lambda s, d: open_repay_order(s, d),
    ("POST", "/v1/patients/{patient_id}/relatives"): lambda s, d: authorise(d),
    ("GET", "/v1/patients/{patient_id}/relatives"): lambda s, d: d.get(
        f"/v1/patients/{PATIENT}/relatives"),
    ("POST", "/v1/patients/{patient_id}/relatives/{relative_id}/withdraw"): lambda s, d:
        withdraw_relative(d),
    ("GET", "/v1/patients/{patient_id}/dependants"): lambda s, d: dependants(d),
    ("GET", "/v1/repay-orders/{order_id}"): lambda s, d: d.get(
        f"/v1/repay-orders/{s.repay_order()}"),
    ("POST", "/v1/repay-orders/{order_id}/close"): lambda s, d: d.post(
        f"/v1/repay-orders/{s.repay_order()}/close", None),
    ("POST", "/v1/reconcile"): lambda s, d: d.post("/v1/reconcile", reconcile_body()),
    ("GET", "/v1/reconciliation/{date}"): lambda s, d: d.get(f"/v1/reconciliation/{today()}"),
    ("POST", "/v1/handoffs"): lambda s, d: d.post("/v1/handoffs", {
        "session_id": f"sess-{uuid.uuid4().hex[:12]}", "reason": "face.not_recognised"}),
    ("GET", "/v1/handoffs"): lambda s, d: d.get("/v1/handoffs"),
    ("POST", "/v1/handoffs/{handoff_id}/take"): lambda s, d: d.post(
        f"/v1/handoffs/{s.handoff()}/take", None),
    ("POST", "/v1/handoffs/{handoff_id}/resolve"): lambda s, d: d.post(
        f"/v1/handoffs/{s.handoff()}/resolve", {"outcome": "no_charge"}),
    ("POST", "/v1/handoffs/{handoff_id}/dismiss"): lambda s, d: d.post(
        f"/v1/handoffs/{s.handoff()}/dismiss", {"reason": "test"}),
    ("POST", "/v1/heartbeat"): lambda s, d: d.post("/v1/heartbeat", beat()),
    ("POST", "/v1/his/bills"): lambda s, d: d.post(  # not PATIENT: none of theirs at site B
        "/v1/his/bills", his_bill_body("P1005")),
    ("GET", "/v1/his/bills/{bill_no}"): lambda s, d: d.get(f"/v1/his/bills/{s.his_bill()}"),
    ("POST", "/v1/his/bills/{bill_no}/amend"): lambda s, d: d.post(
        f"/v1/his/bills/{s.his_bill()}/amend", {"items": [{
            "kind": "exam", "description": "e", "quantity": 2, "unit_fen": 100,
            "insurance_class": "B"}], "reason": "test"}),
    ("POST", "/v1/his/bills/{bill_no}/cancel"): lambda s, d: d.post(
        f"/v1/his/bills/{s.his_bill()}/cancel", {"reason": "test"}),
}
CELLS = [(route, role, own) for route in RULES for role in ("kiosk", "counter", "his")
         for own in (True, False)]


DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")
SYMBOL = {Access.ALLOW: "✓", Access.ROLE: "403", Access.HIDDEN: "404",
          Access.REASON: "✓ with `reason`"}


def symbol(access: Access, own: bool) -> str:
    if access is Access.IDENTIFIED:
        return "✓ identified" if own else "403 unidentified"
    return SYMBOL[access]


HIS_TABLE = "**The hospital information system (`his`).**"


def test_the_documented_matrix_is_the_enforced_one():
    section = DOC.split("### 8.1 Permission matrix", 1)[1]
    section, his_part = section.split(HIS_TABLE, 1)
    documented = {}
    for line in section.splitlines():
        if line.startswith("| `") and " /v1/" in line:
            cells = [c.strip() for c in line.strip("|").split("|")]
            method, path = cells[0].strip("`").split(" ", 1)
            documented[method, path] = cells[1:]
    expected = {}
    for route, rule in RULES.items():
        cells = [symbol(rule.cell(role, own), own) if own or rule.reach is not Reach.SITE
                 else "—" for role in (Role.KIOSK, Role.COUNTER) for own in (True, False)]
        expected[route] = [rule.reach.value, *cells,
                           f"`{rule.hidden.value}`" if rule.hidden else "—"]
    assert documented == expected
    his_rows = {}
    for line in his_part.split("\n## ", 1)[0].splitlines():
        if line.startswith("| `") and " /v1/" in line:
            cells = [c.strip() for c in line.strip("|").split("|")]
            method, path = cells[0].strip("`").split(" ", 1)
            his_rows[method, path] = cells[1:]
    assert his_rows == {route: [symbol(rule.cell(Role.HIS, own), own)
                                if own or rule.reach is not Reach.SITE else "—"
                                for own in (True, False)]
                        for route, rule in RULES.items()
                        if (rule.his_own, rule.his_other) != (Access.ROLE, Access.ROLE)}


def test_every_signed_route_has_a_row_and_a_call(sites: Sites):
    schema = requests.get(f"{sites.server.base}/openapi.json", timeout=10).json()
    routes = {(method.upper(), path) for path, ops in schema["paths"].items()
              for method in ops if "security" in ops[method]}
    assert routes == set(RULES) == set(CALLS)


@pytest.mark.parametrize(("route", "role", "own"), CELLS,
                         ids=[f"{m} {p} {r} {'own' if o else 'other'}"
                              for (m, p), r, o in CELLS])
def test_cell(sites: Sites, route: tuple[str, str], role: str, own: bool):
    rule = RULES[route]
    access = rule.cell(sites.devices[role, "A"].role, own)  # type: ignore[arg-type]
    device = sites.devices[role, "A" if own else "B"]
    reply = CALLS[route](sites, device)
    if access is Access.ALLOW or (access is Access.IDENTIFIED and own):
        assert 200 <= reply.status_code < 300, reply.text
    elif access is Access.IDENTIFIED:
        assert (reply.status_code, error_code(reply)) == (403, "auth.identification_required")
    elif access is Access.ROLE:
        assert (reply.status_code, error_code(reply)) == (403, "auth.role_forbidden")
    elif access is Access.HIDDEN:
        assert (reply.status_code, error_code(reply)) == (404, str(rule.hidden))
    else:
        assert (reply.status_code, error_code(reply)) == (422, "repayment.reason_required")
        assert repay(sites, device, "patient repays at this desk").status_code == 201


def test_a_hidden_patient_reads_exactly_like_an_unknown_one(sites: Sites):
    kiosk_b = sites.devices["kiosk", "B"]
    hidden = kiosk_b.get(f"/v1/patients/{PATIENT}/bills").json()
    unknown = kiosk_b.get("/v1/patients/P9999/bills").json()
    assert hidden == unknown
    assert kiosk_b.post("/v1/identify/face", {"patient_id": PATIENT, "pack": PACK}).json() == \
        kiosk_b.post("/v1/identify/face", {"patient_id": "P9999", "pack": PACK}).json()
    assert kiosk_b.post("/v1/identify/card", {"card_no": "YB33078400001003"}).json() == \
        kiosk_b.post("/v1/identify/card", {"card_no": "YB00000000000000"}).json()


@pytest.mark.parametrize("method", ["cash", "card", "transfer"])
def test_no_kiosk_records_a_repayment_by_any_method(sites: Sites, method: str):
    sites.settlement()
    for site in ("A", "B"):
        reply = sites.devices["kiosk", site].post(
            "/v1/repayments", {"patient_id": PATIENT, "amount_fen": 1, "method": method},
            key=str(uuid.uuid4()))
        assert (reply.status_code, error_code(reply)) == (403, "auth.role_forbidden")
