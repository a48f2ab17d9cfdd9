"""Property tests of the ledger on a real SQLite file: any sequence of quote / settle /
reverse / repay keeps balances non-negative and consistent, every split adds up to its bill,
reconciliation equals the settlements, and the audit chain stays intact."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.keys import generate_private_key
from server_stub import audit, ledger, recon
from server_stub.clock import local_day, now_ms
from server_stub.config import ServerConfig
from server_stub.db import bills, credit_charges, settlements, users
from server_stub.records.bills import NewItem, create_bill
from server_stub.records.devices import Device
from server_stub.records.patients import NewUser, enrol_user, user_row
from server_stub.records.sites import create_site
from server_stub.storage import Database

CONFIG = ServerConfig()
PATIENTS = ["Q1", "Q2", "Q3"]
METHODS = [m.value for m in schemas.PaymentMethod]

op = st.one_of(
    st.tuples(st.just("quote"), st.integers(0, 5), st.sampled_from(METHODS)),
    st.tuples(st.just("settle"), st.integers(0, 5), st.sampled_from(METHODS)),
    st.tuples(st.just("reverse"), st.integers(0, 7), st.just("")),
    st.tuples(st.just("repay"), st.integers(0, 2), st.integers(1, 400_000)),
)


def _world(db: Database) -> tuple[Device, list[tuple[str, str]]]:
    now = now_ms()
    made = []
    with db.write() as conn:
        site = create_site(conn, code="PT", name="property test", now=now)
        for n, (pid, category, limit) in enumerate(zip(
                PATIENTS, ["employee", "resident", "poverty_relief"], [300_000, 30_000, 5_000],
                strict=True)):
            enrol_user(conn, NewUser(pid, "某人", f"33078419900101{n:04d}",
                                               f"1380000{n:04d}", category,
                                               credit_limit_fen=limit), CONFIG, now)
        amounts = [(1_200, 2), (98_000, 1), (4_400, 3), (1_700_000, 1), (50, 1), (23_456, 2)]
        for n, (unit, qty) in enumerate(amounts):
            pid = PATIENTS[n % 3]
            items = [NewItem("treatment", "t", qty, unit, True), NewItem("other", "o", 1, 99,
                                                                         False)]
            made.append((create_bill(conn, site_id=site, patient_id=pid,
                                               visit_id=f"V{n}", items=items, config=CONFIG,
                                               now=now), pid))
    return Device("dev_counter", site, schemas.Role.COUNTER,
                  generate_private_key().public_key()), made


def _apply(db: Database, device: Device, made: list[tuple[str, str]], step: tuple[Any, ...],
           settled_ids: list[str]) -> None:
    kind, index, arg = step
    try:
        with db.write() as conn:
            if kind in ("quote", "settle"):
                bill_id, patient_id = made[index]
                if kind == "quote":
                    quote = ledger.quote(conn, device=device, config=CONFIG, now=now_ms(),
                                         req=schemas.QuoteRequest(bill_id=bill_id,
                                                                  patient_id=patient_id,
                                                                  method=arg))
                    assert sum(quote.layers.model_dump().values()) == quote.total_fen
                else:
                    result = ledger.settle(conn, device=device, config=CONFIG, now=now_ms(),
                                           req=schemas.SettleRequest(bill_id=bill_id,
                                                                     patient_id=patient_id,
                                                                     method=arg))
                    settled_ids.append(result.settlement_id)
            elif kind == "reverse" and settled_ids:
                ledger.reverse(conn, device=device, config=CONFIG, now=now_ms(),
                               settlement_id=settled_ids[index % len(settled_ids)],
                               reason="property test")
            elif kind == "repay":
                ledger.repay(conn, actor="test", config=CONFIG, now=now_ms(),
                             req=schemas.RepayRequest(patient_id=PATIENTS[index],
                                                      amount_fen=arg, method="cash"))
    except ProtocolError:
        pass  # a refusal (limit, already settled, repay too much...) must change nothing


def _check_invariants(db: Database, site_id: str) -> None:
    with db.read() as conn:
        for user in conn.execute(select(users)):
            charges = conn.execute(select(credit_charges).where(
                credit_charges.c.patient_id == user.patient_id)).all()
            assert all(0 <= c.repaid_fen <= c.amount_fen for c in charges)
            owed = sum(c.amount_fen - c.repaid_fen for c in charges if not c.cancelled)
            assert user.outstanding_fen == owed >= 0
        rows = conn.execute(select(settlements)).all()
        for s in rows:
            assert s.basic_pool_fen + s.critical_illness_fen + s.medical_aid_fen + \
                s.self_pay_fen == s.total_fen
            assert min(s.basic_pool_fen, s.critical_illness_fen, s.medical_aid_fen,
                       s.self_pay_fen) >= 0
            assert s.charge_to_credit_fen + s.pay_at_counter_fen == s.self_pay_fen
        for bill in conn.execute(select(bills)):
            live = [s for s in rows if s.bill_id == bill.bill_id and s.status == "settled"]
            assert len(live) == (1 if bill.status == "settled" else 0)
            assert bill.settlement_id == (live[0].settlement_id if live else None)
        report = recon.reconcile(conn, site_id=site_id,
                                 day=local_day(now_ms(), CONFIG.server.timezone), config=CONFIG)
        assert report.balanced
        assert report.settled.count == len(rows)
        assert report.settled.total_fen == sum(s.total_fen for s in rows)
        live_total = sum(s.total_fen for s in rows if s.status == "settled")
        assert report.net.total_fen == live_total
        assert report.net.self_pay_fen == sum(s.self_pay_fen for s in rows
                                              if s.status == "settled")
        assert audit.verify_chain(conn).ok


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=1, max_size=14))
def test_any_sequence_keeps_the_ledger_consistent(steps):
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'ledger.db'}")
        db.create_schema()
        try:
            device, made = _world(db)
            settled_ids: list[str] = []
            for step in steps:
                _apply(db, device, made, step, settled_ids)
                _check_invariants(db, device.site_id)
        finally:
            db.dispose()


def _new_credit_bill(conn: Any, device: Device, patient: str) -> schemas.Settlement:
    bill_id = create_bill(conn, site_id=device.site_id, patient_id=patient,
                                    visit_id="V-late", config=CONFIG, now=now_ms(),
                                    items=[NewItem("drug", "d", 1, 10_000, True)])
    return ledger.settle(conn, device=device, config=CONFIG, now=now_ms(),
                         req=schemas.SettleRequest(bill_id=bill_id, patient_id=patient,
                                                   method="card"))


def test_overdue_suspends_then_blacklists_and_repayment_reinstates(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    db.create_schema()
    device, _ = _world(db)
    patient, episodes = "Q1", CONFIG.credit.blacklist_after_overdue
    late = now_ms() + (CONFIG.credit.repayment_days + 1) * 86_400_000
    for episode in range(1, episodes + 1):
        with db.write() as conn:
            _new_credit_bill(conn, device, patient)
        with db.write() as conn:
            counts = ledger.process_overdue(conn, config=CONFIG, now=late)
            user = user_row(conn, patient)
        expected = "blacklisted" if episode == episodes else "suspended"
        assert (user.status, user.overdue_count, counts[expected]) == (expected, episode, 1)
        with db.write() as conn:  # the same episode is counted once
            assert ledger.process_overdue(conn, config=CONFIG, now=late) == {
                "suspended": 0, "blacklisted": 0}
            ledger.repay(conn, actor="test", config=CONFIG, now=late,
                         req=schemas.RepayRequest(patient_id=patient, method="cash",
                                                  amount_fen=user.outstanding_fen))
            after = user_row(conn, patient)
        # repaying ends a suspension for being overdue, never a blacklisting (黑名单)
        assert (after.status, after.outstanding_fen) == (
            "active" if expected == "suspended" else "blacklisted", 0)
    try:
        with db.write() as conn:
            _new_credit_bill(conn, device, patient)
    except ProtocolError as exc:
        assert exc.code == "credit.user_blacklisted"
    else:
        raise AssertionError("a blacklisted user was given credit")
    with db.read() as conn:
        assert audit.verify_chain(conn).ok
    db.dispose()
