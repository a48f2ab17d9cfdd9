"""A settlement tells the slip its credit terms: the due date ``credit.repayment_days`` after
the platform's today (its zone), and what the patient owes on credit after the charge — in the
settle reply, the reads and the day's list; nothing for a payment made at the counter."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from server_stub.config import load_config
from tests.server.live import Device, Server, make_bill


def test_a_credit_settlement_carries_its_due_date_and_the_balance(server: Server,
                                                                  kiosk: Device,
                                                                  counter: Device):
    config = load_config(server.config)
    before = counter.get("/v1/patients/P1004").json()["credit"]["outstanding_fen"]
    bill = make_bill(server, "P1004", [("exam", 1, 12_000, True)])
    reply = kiosk.settle(bill, "P1004", "card")
    assert reply.status_code == 201, reply.text
    settled = reply.json()
    today = dt.datetime.now(ZoneInfo(config.server.timezone)).date()
    due = today + dt.timedelta(days=config.credit.repayment_days)
    assert settled["credit_due_date"] == due.isoformat()
    assert settled["credit_outstanding_fen"] == before + settled["charge_to_credit_fen"] > 0
    read = kiosk.get(f"/v1/settlements/{settled['settlement_id']}").json()
    assert read["credit_due_date"] == due.isoformat()
    assert read["credit_outstanding_fen"] == settled["credit_outstanding_fen"]
    listed = counter.get("/v1/settlements").json()["settlements"]
    (mine,) = [s for s in listed if s["settlement_id"] == settled["settlement_id"]]
    assert mine["credit_due_date"] == due.isoformat()


def test_cash_at_the_counter_has_no_credit_terms(server: Server, counter: Device):
    bill = make_bill(server, "P1004", [("exam", 1, 5_000, True)])
    reply = counter.settle(bill, "P1004", "cash")
    assert reply.status_code == 201, reply.text
    settled = reply.json()
    assert settled["charge_to_credit_fen"] == 0
    assert settled["credit_due_date"] is None and settled["credit_outstanding_fen"] is None


def test_a_reversed_charge_is_no_longer_due(server: Server, kiosk: Device, counter: Device):
    bill = make_bill(server, "P1004", [("exam", 1, 7_000, True)])
    settled = kiosk.settle(bill, "P1004", "card").json()
    reversed_ = counter.post(f"/v1/settlements/{settled['settlement_id']}/reverse",
                             {"reason": "test refund"}, key=f"rev-{settled['settlement_id']}")
    assert reversed_.status_code == 200, reversed_.text
    assert reversed_.json()["credit_due_date"] is None
