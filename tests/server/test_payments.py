"""我的欠款 and repayment through the simulated payment provider, against a real platform
process and a real simulator process on loopback: the QR order, the payer, the signed
asynchronous notification, and every notification that must change nothing (duplicate,
forged, late)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from common.net import free_port
from kiosk.client import PlatformClient
from kiosk.config import FlowConfig
from kiosk.demo.payments import PaymentSimulator, start_payment_simulator
from kiosk.flow.effects import LookupCredit, OpenRepayOrder, PollRepayOrder
from kiosk.flow.machine import CheckoutFlow
from kiosk.flow.model import State
from kiosk.flow.owed import POLL_S
from kiosk.protocol.keys import generate_private_key, load_public_key_b64, public_key_b64
from server_stub.config import PaymentsSection, PlatformConfigError, load_config
from server_stub.payments.provider import make_provider
from server_stub.payments.v3 import ProviderSigner, encrypt_resource, make_provider_identity
from tests.server.live import Device, Server, admin, error_code, make_bill, write_config

PATIENT = "P1003"  # has a card: the kiosk identifies them by it


@dataclass
class World:
    server: Server
    sim: PaymentSimulator
    kiosk: Device
    counter: Device

    def token(self) -> dict[str, str]:
        return {"identification": self.kiosk.identify(PATIENT)}

    def owe(self, fen: int) -> str:
        """A new credit charge of ``fen`` (a card settlement of an all-self-pay bill)."""
        bill = make_bill(self.server, PATIENT, [("other", 1, fen, False)])
        reply = self.kiosk.settle(bill, PATIENT, "card")
        assert reply.status_code == 201, reply.text
        return str(reply.json()["settlement_id"])

    def statement(self) -> dict[str, Any]:
        reply = self.kiosk.get(f"/v1/patients/{PATIENT}/credit", params=self.token())
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    def outstanding(self) -> int:
        return int(self.statement()["credit"]["outstanding_fen"])

    def clear(self) -> None:
        """Nothing owed, whatever earlier tests left (the counter takes cash)."""
        owed = self.outstanding()
        if owed:
            reply = self.counter.post("/v1/repayments", {
                "patient_id": PATIENT, "amount_fen": owed, "method": "cash"},
                key=str(uuid.uuid4()))
            assert reply.status_code == 201, reply.text

    def open_order(self, key: str | None = None, token: dict[str, str] | None = None,
                   **body: Any) -> requests.Response:
        return self.kiosk.post("/v1/repay-orders", {"patient_id": PATIENT, **body},
                               key=key or str(uuid.uuid4()), params=token or self.token())

    def order(self, order_id: str) -> dict[str, Any]:
        reply = self.kiosk.get(f"/v1/repay-orders/{order_id}")
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    def wait(self, order_id: str, state: str, timeout_s: float = 15) -> dict[str, Any]:
        """Poll as the kiosk does until the order is in ``state``."""
        deadline = time.monotonic() + timeout_s
        while True:
            order = self.order(order_id)
            if order["state"] == state or time.monotonic() > deadline:
                assert order["state"] == state, order
                return order
            time.sleep(0.2)

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.server.db_file) as db:
            return db.execute(sql, args).fetchall()

    def repayments(self) -> list[tuple[Any, ...]]:
        return self.rows("SELECT amount_fen, method, reference FROM repayments "
                         "WHERE patient_id = ? AND method = 'simulated'", PATIENT)

    def notify(self, body: bytes, headers: dict[str, str]) -> requests.Response:
        return requests.post(f"{self.server.base}/v1/payments/notify", data=body,
                             headers={"Content-Type": "application/json", **headers}, timeout=10)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("payments")
    (directory / "provider").mkdir()
    sim = start_payment_simulator(directory / "provider")
    port = free_port()
    config = write_config(directory, sim.config(port, order_ttl_s=60))
    server = Server(config=config, directory=directory, port=port)
    admin(config, "init")
    server.seed = json.loads(admin(config, "seed", "demo").stdout)
    server.start()
    kiosk = Device.register(server, server.seed["enrolment_tokens"]["kiosk"])
    counter = Device.register(server, server.seed["enrolment_tokens"]["counter"])
    yield World(server, sim, kiosk, counter)
    server.stop()
    sim.stop()


@pytest.fixture
def owing(world: World) -> Iterator[World]:
    world.sim.faults()  # notifications go out normally
    world.clear()
    yield world
    world.sim.faults()


def signer_of(world: World) -> ProviderSigner:
    return make_provider_identity(world.sim.directory)


def notification(world: World, transaction: dict[str, Any]) -> bytes:
    """A notification body as the provider makes it, for ``transaction``."""
    key = (world.sim.directory / "apiv3.key").read_bytes().strip()
    return json.dumps({"id": f"EV-{uuid.uuid4().hex[:20]}", "event_type": "TRANSACTION.SUCCESS",
                       "resource_type": "encrypt-resource", "summary": "支付成功",
                       "resource": encrypt_resource(key, transaction)}).encode()


def transaction(order: dict[str, Any], total: int | None = None) -> dict[str, Any]:
    return {"mchid": "1900000001", "out_trade_no": order["order_id"], "trade_type": "NATIVE",
            "trade_state": "SUCCESS", "transaction_id": f"42{uuid.uuid4().int % 10**26:026d}",
            "success_time": "2026-12-03T10:00:00+00:00",
            "amount": {"total": total or order["amount_fen"], "currency": "CNY"}}


# ---------------------------------------------------------------------------- 我的欠款

def test_the_statement_lists_each_charge_with_its_due_date(owing: World):
    first, second = owing.owe(12_345), owing.owe(600)
    statement = owing.statement()
    charges = {c["settlement_id"]: c for c in statement["charges"]}
    assert set(charges) == {first, second}
    settled = owing.kiosk.get(f"/v1/settlements/{first}").json()
    assert charges[first]["due_date"] == settled["credit_due_date"]  # the slip's date
    assert (charges[first]["owed_fen"], charges[second]["owed_fen"]) == (12_345, 600)
    assert statement["credit"]["outstanding_fen"] == 12_945
    assert statement["patient"]["name"] == "王*"  # masked, as every patient view
    assert statement["repay_at_kiosk"] is True
    assert not any(c["overdue"] for c in statement["charges"])


def test_the_statement_needs_the_kiosks_identification(owing: World):
    reply = owing.kiosk.get(f"/v1/patients/{PATIENT}/credit")
    assert (reply.status_code, error_code(reply)) == (403, "auth.identification_required")


# ------------------------------------------------------------------------- repayment

def test_the_patient_repays_everything_and_the_balance_moves_once(owing: World):
    owing.owe(8_000)
    reply = owing.open_order()
    assert reply.status_code == 201, reply.text
    order = reply.json()
    assert (order["state"], order["amount_fen"]) == ("open", 8_000)
    assert order["code_url"].startswith(owing.sim.url)
    before = owing.repayments()
    assert owing.sim.pay(order["code_url"]).json()["trade_state"] == "SUCCESS"
    paid = owing.wait(order["order_id"], "paid")
    assert paid["credit"]["outstanding_fen"] == 0 and paid["repayment_id"]
    after = owing.repayments()
    assert len(after) == len(before) + 1
    amount, method, reference = after[-1]
    assert (amount, method) == (8_000, "simulated") and reference.startswith("42")
    assert owing.statement()["charges"] == []



def test_a_payment_credited_by_the_provider_is_anchored_outside_the_database(owing: World):
    """The provider's notification moves money as a settlement does: its audit record's
    head goes to the anchor file, so a restore that loses it is told by `audit verify`."""
    owing.owe(2_000)
    order = owing.open_order().json()
    assert owing.sim.pay(order["code_url"]).json()["trade_state"] == "SUCCESS"
    owing.wait(order["order_id"], "paid")
    seq, digest = owing.server.sql(
        "SELECT seq, hash FROM audit_log WHERE action = 'repay_order.paid' AND subject = :o",
        o=order["order_id"])[0]
    path = Path(f"{owing.server.db_file}.anchors.jsonl")  # beside the database

    def anchored() -> bool:  # written once the credit is durable, just after "paid" shows
        return any((line["seq"], line["hash"]) == (seq, digest)
                   for line in map(json.loads, path.read_text().splitlines()))

    deadline = time.monotonic() + 10
    while not anchored() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert anchored()

def test_a_chosen_charge_is_repaid_first(owing: World):
    older, chosen = owing.owe(1_000), owing.owe(2_500)
    order = owing.open_order(settlement_id=chosen).json()
    assert order["amount_fen"] == 2_500
    owing.sim.pay(order["code_url"])
    owing.wait(order["order_id"], "paid")
    left = owing.statement()["charges"]
    assert [(c["settlement_id"], c["owed_fen"]) for c in left] == [(older, 1_000)]


def test_an_order_for_more_than_is_owed_is_refused(owing: World):
    owing.owe(500)
    reply = owing.open_order(amount_fen=501)
    assert (reply.status_code, error_code(reply)) == (422, "amount.exceeds_balance")
    assert owing.open_order(settlement_id="stl_unknown").status_code == 404


def test_the_same_key_opens_the_same_order_once(owing: World):
    owing.owe(700)
    key, token = str(uuid.uuid4()), owing.token()  # a retry: same key, same identification
    first, again = owing.open_order(key, token), owing.open_order(key, token)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.json() == again.json()
    assert len(owing.rows("SELECT 1 FROM repayment_orders WHERE order_id = ?",
                          first.json()["order_id"])) == 1


def test_duplicate_notifications_credit_once(owing: World):
    owing.owe(4_200)
    owing.sim.faults(copies=3)  # the provider sends each notification three times
    order = owing.open_order().json()
    delivered = owing.sim.health()["delivered"]
    before = owing.repayments()
    owing.sim.pay(order["code_url"])
    deadline = time.monotonic() + 15
    while owing.sim.health()["delivered"] < delivered + 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert owing.sim.health()["delivered"] == delivered + 3  # each one answered 2xx
    # and once more, the provider's own transaction re-sent by hand
    paid = requests.get(f"{owing.sim.url}/v3/pay/transactions/out-trade-no/"
                        f"{order['order_id']}", timeout=10, headers={
                            "Authorization": "Bearer " + (owing.sim.directory /
                                                          "merchant.token").read_text()})
    body = notification(owing, paid.json())
    assert owing.notify(body, signer_of(owing).headers(body, int(time.time()))).status_code == 204
    assert len(owing.repayments()) == len(before) + 1
    assert owing.outstanding() == 0


def test_a_lost_notification_is_found_by_the_kiosks_poll(owing: World):
    owing.owe(3_000)
    owing.sim.faults(hold=True)  # the notification does not arrive
    order = owing.open_order().json()
    owing.sim.pay(order["code_url"])
    assert owing.wait(order["order_id"], "paid")["credit"]["outstanding_fen"] == 0
    before = owing.repayments()
    assert owing.sim.faults()["released"] == 1  # now it arrives, late: a duplicate
    time.sleep(0.5)
    assert owing.repayments() == before


def forged(world: World, order: dict[str, Any]) -> dict[str, tuple[bytes, dict[str, str]]]:
    """Notifications claiming ``order`` was paid that must all be refused."""
    real = signer_of(world)
    now = int(time.time())
    body = notification(world, transaction(order))
    impostor = ProviderSigner(make_provider_identity(world.server.directory / "impostor").key,
                              real.serial)  # its own key, claiming the real certificate
    tampered = json.loads(body)
    sealed = bytearray(base64.b64decode(tampered["resource"]["ciphertext"]))
    sealed[0] ^= 1
    tampered["resource"]["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    tampered_body = json.dumps(tampered).encode()
    wrong_amount = notification(world, transaction(order, total=order["amount_fen"] + 1))
    other = notification(world, {**transaction(order), "mchid": "1999999999"})
    altered = body.replace(b'"summary"', b'"summary2"')
    return {
        "signed by another key": (body, impostor.headers(body, now)),
        "body altered after signing": (altered, real.headers(body, now)),
        "no signature": (body, {}),
        "unknown certificate serial": (body, {**real.headers(body, now),
                                             "Wechatpay-Serial": "ABCDEF"}),
        "stale timestamp (a replay)": (body, real.headers(body, now - 3600)),
        "resource not sealed with our APIv3 key": (tampered_body,
                                                   real.headers(tampered_body, now)),
        "amount is not the order's": (wrong_amount, real.headers(wrong_amount, now)),
        "another merchant's payment": (other, real.headers(other, now)),
    }


def test_forged_notifications_change_nothing(owing: World):
    owing.owe(9_900)
    order = owing.open_order().json()
    before = owing.repayments()
    for case, (body, headers) in forged(owing, order).items():
        reply = owing.notify(body, headers)
        assert (reply.status_code, error_code(reply)) == (
            401, "payment.notification_invalid"), case
    assert owing.order(order["order_id"])["state"] == "open"
    assert owing.outstanding() == 9_900 and owing.repayments() == before
    rejected = owing.rows("SELECT count(*) FROM audit_log WHERE action = 'request.rejected' "
                          "AND subject = '/v1/payments/notify'")[0][0]
    assert rejected >= 8


def test_a_late_notification_for_a_closed_order_changes_nothing(owing: World):
    owing.owe(1_500)
    order = owing.open_order().json()
    closed = owing.kiosk.post(f"/v1/repay-orders/{order['order_id']}/close", None)
    assert closed.json()["state"] == "closed"
    assert owing.sim.pay(order["code_url"]).status_code == 400  # the QR is dead
    before = owing.repayments()
    body = notification(owing, transaction(order))  # genuinely signed, but the order ended
    assert owing.notify(body, signer_of(owing).headers(body, int(time.time()))).status_code \
        == 204
    assert owing.order(order["order_id"])["state"] == "closed"
    assert owing.outstanding() == 1_500 and owing.repayments() == before
    assert owing.rows("SELECT refund_fen FROM repayment_orders WHERE order_id = ?",
                      order["order_id"]) == [(None,)]


def test_closing_an_order_the_payer_just_paid_credits_it(owing: World):
    owing.owe(2_000)
    owing.sim.faults(hold=True)
    order = owing.open_order().json()
    owing.sim.pay(order["code_url"])
    closed = owing.kiosk.post(f"/v1/repay-orders/{order['order_id']}/close", None).json()
    assert closed["state"] == "paid" and closed["credit"]["outstanding_fen"] == 0


def test_a_failed_payment_ends_the_order(owing: World):
    owing.owe(800)
    order = owing.open_order().json()
    assert owing.sim.pay(order["code_url"], "fail").json()["trade_state"] == "PAYERROR"
    owing.wait(order["order_id"], "failed")
    assert owing.outstanding() == 800


def test_money_beyond_the_balance_is_refunded(owing: World):
    owing.owe(5_000)
    order = owing.open_order().json()
    owing.counter.post("/v1/repayments", {"patient_id": PATIENT, "amount_fen": 1_200,
                                          "method": "cash"}, key=str(uuid.uuid4()))
    owing.sim.pay(order["code_url"])
    owing.wait(order["order_id"], "paid")
    assert owing.outstanding() == 0
    assert owing.repayments()[-1][0] == 3_800  # only what was still owed
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        refund = owing.rows("SELECT refund_fen, refund_id FROM repayment_orders "
                            "WHERE order_id = ?", order["order_id"])[0]
        if refund[1]:
            break
        time.sleep(0.1)
    assert refund[0] == 1_200 and refund[1]
    state = requests.get(f"{owing.sim.url}/pay/{order['code_url'].rsplit('/', 1)[1]}",
                         timeout=10).json()["state"]
    assert state == "REFUND"


def test_another_sites_kiosk_cannot_read_the_order(owing: World):
    owing.owe(300)
    order = owing.open_order().json()
    site_b = json.loads(owing.server.admin("site", "create", "--code", "YK09",
                                           "--name", "other").stdout)["site_id"]
    token = json.loads(owing.server.admin("device", "token", "--site", site_b, "--role",
                                          "kiosk").stdout)["token"]
    other = Device.register(owing.server, token)
    reply = other.get(f"/v1/repay-orders/{order['order_id']}")
    assert (reply.status_code, error_code(reply)) == (404, "repay_order.not_found")


def test_the_kiosk_flow_and_client_repay_end_to_end(owing: World):
    """The flow as the runtime drives it, each effect answered by the kiosk's own client
    against the live platform and provider."""
    owing.owe(6_600)
    key = generate_private_key()
    reply = requests.post(f"{owing.server.base}/v1/devices/register", timeout=10, json={
        "token": owing.server.token("kiosk"), "public_key": public_key_b64(key),
        "name": "kiosk"})
    data = reply.json()
    client = PlatformClient(owing.server.base, data["device_id"], key,
                            load_public_key_b64(data["server_key"]["public_key"]))
    flow = CheckoutFlow(FlowConfig())
    flow.start_owed(0.0)
    (lookup,) = [e for e in flow.card_read(1.0, "YB33078400001003")
                 if isinstance(e, LookupCredit)]
    statement = client.owed(lookup.method, lookup.key)
    flow.on_statement(2.0, lookup.session_id, statement)
    view = flow.view(2.0)
    assert view.statement is not None and view.statement.outstanding_fen == 6_600
    assert view.statement.charges[0].due_date > dt.date.today()
    (opening,) = [e for e in flow.repay(3.0) if isinstance(e, OpenRepayOrder)]
    order = client.open_repay_order(opening.identity, opening.amount_fen,
                                    opening.settlement_id, opening.idempotency_key)
    assert 50 < order.expires_in_s <= 60  # the platform's order_ttl_s, in platform time
    flow.on_repay_opened(3.5, opening.session_id, order)
    owing.sim.pay(flow.view(3.5).repay_order.code_url)
    now = 3.5
    while flow.state == State.REPAY_QR and now < 30:
        now += POLL_S
        for effect in flow.tick(now):
            assert isinstance(effect, PollRepayOrder)
            flow.on_repay_state(now, effect.session_id, client.repay_order(effect.order_id))
    assert flow.state == State.REPAID
    assert flow.view(now).repay_order.outstanding_fen == 0 and owing.outstanding() == 0


def test_an_order_past_its_time_is_closed_at_the_provider_and_expires(owing: World):
    owing.owe(1_100)
    order = owing.open_order().json()
    with sqlite3.connect(owing.server.db_file) as db:  # its time runs out (the clock moves)
        db.execute("UPDATE repayment_orders SET expires_ms = ? WHERE order_id = ?",
                   (int(time.time() * 1000) - 1, order["order_id"]))
    assert owing.order(order["order_id"])["state"] == "expired"
    assert owing.sim.pay(order["code_url"]).status_code == 400  # closed there too
    assert owing.outstanding() == 1_100


def test_the_provider_seam_is_checked_at_start(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[payments]\nprovider = "wechat"\n', encoding="utf-8")
    with pytest.raises(PlatformConfigError, match=r"payments\.provider"):
        load_config(bad)
    missing = tmp_path / "missing.toml"
    missing.write_text('[payments]\nprovider = "simulated"\n', encoding="utf-8")
    with pytest.raises(PlatformConfigError, match=r"merchant\.token"):
        make_provider(load_config(missing).payments)
    assert make_provider(PaymentsSection()) is None  # the default: no repayment at kiosks


def test_two_workers_racing_notifications_and_polls_credit_once(
        tmp_path_factory: pytest.TempPathFactory):
    """Five copies of the notification and four kiosks' polls (each on a fresh connection,
    so they land on either worker process) all report the same payment at once."""
    directory = tmp_path_factory.mktemp("payments-workers")
    (directory / "provider").mkdir()
    sim = start_payment_simulator(directory / "provider")
    port = free_port()
    config = write_config(directory, "workers = 2\n" + sim.config(port, order_ttl_s=60))
    server = Server(config=config, directory=directory, port=port)
    admin(config, "init")
    server.seed = json.loads(admin(config, "seed", "demo").stdout)
    server.start()
    try:
        kiosk = Device.register(server, server.seed["enrolment_tokens"]["kiosk"])
        world = World(server, sim, kiosk, kiosk)
        world.owe(7_700)
        order = world.open_order().json()
        sim.faults(copies=5)
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                kiosk.session.close()  # a new connection: either worker
                kiosk.get(f"/v1/repay-orders/{order['order_id']}")

        pollers = [threading.Thread(target=poll) for _ in range(4)]
        for thread in pollers:
            thread.start()
        sim.pay(order["code_url"])
        world.wait(order["order_id"], "paid")
        deadline = time.monotonic() + 15
        while sim.health()["delivered"] < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        for thread in pollers:
            thread.join()
        assert sim.health()["delivered"] == 5
        assert world.rows("SELECT count(*), sum(amount_fen) FROM repayments WHERE "
                          "reference IS NOT NULL AND method = 'simulated'") == [(1, 7_700)]
        assert world.outstanding() == 0
    finally:
        server.stop()
        sim.stop()


def test_a_relative_repays_through_the_qr_and_the_repayment_names_them(owing: World):
    """亲情付 (§8.3): the son, identified as himself, pays his father's debt by QR."""
    owing.owe(2_500)
    made = owing.counter.post(f"/v1/patients/{PATIENT}/relatives", {
        "relative_id": "P1001", "relation": "child",
        "consent": {"text_version": "family-v1", "consented_at": "2026-12-01T09:00:00Z"}})
    assert made.status_code == 201, made.text
    listed = owing.kiosk.get("/v1/patients/P1001/dependants",
                             params={"identification": owing.kiosk.identify("P1001")})
    [father] = [d for d in listed.json()["dependants"] if d["patient"]["patient_id"] == PATIENT]
    via = {"identification": father["identification"]["token"]}
    order = owing.open_order(token=via).json()
    assert owing.sim.pay(order["code_url"]).json()["trade_state"] == "SUCCESS"
    assert owing.wait(order["order_id"], "paid")["credit"]["outstanding_fen"] == 0
    repaid = [json.loads(d) for (d,) in owing.rows(
        "SELECT details FROM audit_log WHERE action = 'credit.repaid' ORDER BY seq")]
    assert repaid[-1]["paid_by"] == "P1001" and repaid[-1]["order_id"] == order["order_id"]
    assert owing.rows("SELECT paid_by FROM repayment_orders WHERE order_id = ?",
                      order["order_id"]) == [("P1001",)]
    withdrawn = owing.counter.post(f"/v1/patients/{PATIENT}/relatives/P1001/withdraw", None)
    assert withdrawn.status_code == 200
    owing.owe(1_000)
    refused = owing.open_order(token=via)
    assert (refused.status_code, error_code(refused)) == (403, "family.not_authorised")


def test_an_unreachable_provider_opens_no_order(world: World):
    world.clear()
    world.owe(100)
    world.sim.stop()
    reply = world.open_order()
    assert (reply.status_code, error_code(reply)) == (503, "payment.unavailable")
    assert world.outstanding() == 100

