"""Repayment reminders on a real database (an SQLite file, then PostgreSQL), with the
simulated SMS gateway's real outbox:
one per charge and stage, in Chinese, never to a withdrawn user, never with a full number."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.protocol import schemas
from kiosk.protocol.keys import generate_private_key
from server_stub import gallery, ledger, reminders, seed
from server_stub.clock import now_ms
from server_stub.config import RemindersSection, ServerConfig
from server_stub.notify import GatewayError, SimulatedGateway, Sms
from server_stub.records.bills import NewItem, create_bill
from server_stub.records.devices import Device
from server_stub.records.patients import user_row
from server_stub.storage import Database

DAY = 86_400_000
pytestmark = pytest.mark.parametrize("url", ["sqlite", "postgresql"], indirect=True)
PHONES = {pid: phone for pid, _, _, phone, _, _ in seed.DEMO_USERS}


@pytest.fixture
def url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.db'}"
        return
    pg_cluster = request.getfixturevalue("pg_cluster")
    name = pg_cluster.database()
    yield pg_cluster.url(name)
    pg_cluster.drop(name)


@pytest.fixture
def world(tmp_path: Path, url: str) -> Iterator[tuple[Database, ServerConfig, Device, Path]]:
    outbox = tmp_path / "sms.jsonl"
    config = ServerConfig(reminders=RemindersSection(outbox_path=str(outbox)))
    db = Database(url)
    db.create_schema()
    with db.write() as conn:
        made = seed.seed_demo(conn, config, now_ms())
    device = Device("dev_counter", made["site_id"], schemas.Role.COUNTER,
                    generate_private_key().public_key())
    yield db, config, device, outbox
    db.dispose()


def charge(db: Database, config: ServerConfig, device: Device, patient_id: str,
           unit_fen: int = 12_345) -> tuple[str, int]:
    """A card settlement on credit now: (settlement_id, due_ms)."""
    with db.write() as conn:
        bill_id = create_bill(conn, site_id=device.site_id, patient_id=patient_id,
                                        visit_id="V-r", config=config, now=now_ms(),
                                        items=[NewItem("drug", "d", 1, unit_fen, False)])
        made = ledger.settle(conn, device=device, config=config, now=now_ms(),
                             req=schemas.SettleRequest(bill_id=bill_id, patient_id=patient_id,
                                                       method="card"))
    return made.settlement_id, now_ms() + config.credit.repayment_days * DAY


def sent(outbox: Path) -> list[dict[str, str]]:
    if not outbox.exists():
        return []
    return [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]


def test_one_reminder_per_stage_before_on_and_after_the_due_day(world):
    db, config, device, outbox = world
    gateway = SimulatedGateway(outbox)
    settlement_id, due = charge(db, config, device, "P1003")
    rounds = [(now_ms(), 0), (due - 5 * DAY, 0), (due - 3 * DAY, 1), (due - 2 * DAY, 0),
              (due, 1), (due + 1000, 0), (due + DAY, 1), (due + 9 * DAY, 0)]
    for at, produced in rounds:
        result = reminders.run(db, gateway, config=config, now=at)
        assert (result["produced"], result["sent"]) == (produced, produced), at
    messages = sent(outbox)
    assert [m["key"] for m in messages] == [f"{settlement_id}:{s}"
                                            for s in ("before", "due", "overdue")]
    for message in messages:
        assert message["patient_id"] == "P1003"
        assert message["phone_masked"] == "138****1003"
        assert PHONES["P1003"] not in json.dumps(message, ensure_ascii=False)
        assert "123.45元" in message["text"] and "先看病后付费" in message["text"]
    assert "将于" in messages[0]["text"] and "今天" in messages[1]["text"]
    assert "已于" in messages[2]["text"]


def test_a_late_first_run_sends_only_the_current_stage(world):
    db, config, device, outbox = world
    settlement_id, due = charge(db, config, device, "P1001")
    reminders.run(db, SimulatedGateway(outbox), config=config, now=due + 2 * DAY)
    assert [m["key"] for m in sent(outbox)] == [f"{settlement_id}:overdue"]


def test_withdrawn_and_repaid_users_get_nothing(world):
    db, config, device, outbox = world
    _, due = charge(db, config, device, "P1004")
    charge(db, config, device, "P1005", unit_fen=1_000)
    with db.write() as conn:
        gallery.withdraw_consent(conn, actor="test", patient_id="P1004", reason="moved away",
                                 scope=config.gallery.scope, now=now_ms())
        owed = user_row(conn, "P1005").outstanding_fen
        ledger.repay(conn, actor="test", config=config, now=now_ms(), req=schemas.RepayRequest(
            patient_id="P1005", amount_fen=owed, method="cash"))
    for at in (due - 3 * DAY, due, due + DAY):
        assert reminders.run(db, SimulatedGateway(outbox), config=config, now=at)[
            "produced"] == 0
    assert sent(outbox) == []


def test_a_withdrawal_between_producing_and_sending_stops_the_message(world):
    db, config, device, outbox = world
    _, due = charge(db, config, device, "P1002")
    with db.write() as conn:
        assert reminders.produce(conn, config=config, now=due) == 1
        gallery.withdraw_consent(conn, actor="test", patient_id="P1002", reason=None,
                                 scope=config.gallery.scope, now=now_ms())
    counts = reminders.deliver(db, SimulatedGateway(outbox), config=config, now=due)
    assert (counts["sent"], counts["skipped"]) == (0, 1)
    assert sent(outbox) == []


class Flaky:
    """A gateway that refuses the first ``failures`` messages."""

    name = "flaky"

    def __init__(self, outbox: Path, failures: int) -> None:
        self.real, self.failures = SimulatedGateway(outbox), failures

    def send(self, message: Sms) -> str:
        if self.failures:
            self.failures -= 1
            raise GatewayError("gateway busy")
        return self.real.send(message)


def test_a_gateway_failure_is_retried_on_a_later_run_up_to_max_attempts(world):
    db, config, device, outbox = world
    _, due = charge(db, config, device, "P1003")
    gateway = Flaky(outbox, failures=1)
    assert reminders.run(db, gateway, config=config, now=due)["failed"] == 1
    assert reminders.run(db, gateway, config=config, now=due + 60_000)["sent"] == 1
    assert len(sent(outbox)) == 1
    _, due2 = charge(db, config, device, "P1001")
    hopeless = Flaky(outbox, failures=100)
    for n in range(config.reminders.max_attempts + 2):
        reminders.run(db, hopeless, config=config, now=due2 + n * 60_000)
    assert hopeless.failures == 100 - config.reminders.max_attempts
    assert len(sent(outbox)) == 1


def test_two_processes_at_once_make_and_send_each_reminder_once(world, url: str):
    db, config, device, outbox = world
    for patient in ("P1001", "P1003", "P1005"):
        _, due = charge(db, config, device, patient)
    other = Database(url)  # a second platform's engine on the same database
    try:
        start = threading.Barrier(2)

        def one_round(database: Database) -> None:
            start.wait()
            reminders.run(database, SimulatedGateway(outbox), config=config, now=due)

        threads = [threading.Thread(target=one_round, args=(d,)) for d in (db, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        other.dispose()
    keys = [m["key"] for m in sent(outbox)]
    assert len(keys) == len(set(keys)) == 3
