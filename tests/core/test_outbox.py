"""The outbox: durable, ordered, backoff, exactly-once with an idempotent server."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from kiosk.config import OfflineConfig
from kiosk.offline_policy import offline_refusal
from kiosk.outbox import DELIVERED, REJECTED, Outbox, OutboxSender, SendOutcome, backoff_delay


class IdempotentServer:
    """Charges once per Idempotency-Key and replays the stored response after that, like the
    real backend; can lose the reply after committing (the nastiest network failure)."""

    def __init__(self) -> None:
        self.charges: dict[str, int] = {}
        self.up = True
        self.drop_reply = False

    def send(self, item) -> SendOutcome:
        if not self.up:
            return SendOutcome(False, error="network.unreachable", retryable=True)
        if item.idempotency_key not in self.charges:
            self.charges[item.idempotency_key] = item.amount_fen
        if self.drop_reply:
            return SendOutcome(False, error="network.reply_lost", retryable=True)
        return SendOutcome(True, {"settlement_id": "S-" + item.idempotency_key})


def test_enqueue_is_durable_and_idempotent(tmp_path: Path):
    box = Outbox(tmp_path / "outbox.db")
    assert box.enqueue("k1", "s1", {"amount_fen": 300}, 300, now=10.0)
    assert not box.enqueue("k1", "s1", {"amount_fen": 999}, 999, now=11.0)
    box.close()
    raw = sqlite3.connect(tmp_path / "outbox.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("SELECT amount_fen FROM outbox").fetchall() == [(300,)]
    with pytest.raises(ValueError):
        Outbox(tmp_path / "outbox.db").enqueue("k2", "s", {}, 1.5)  # never float money


def test_retryable_failures_back_off_and_final_ones_stop(tmp_path: Path):
    box = Outbox(tmp_path / "o.db")
    now = [100.0]
    server = IdempotentServer()
    server.up = False
    sender = OutboxSender(box, server.send, clock=lambda: now[0])
    box.enqueue("k1", "s1", {}, 500, now=100.0)
    assert sender.run_once() == 0
    item = box.get("k1")
    assert item.attempts == 1 and 100.5 <= item.next_attempt_at <= 101.0
    assert sender.run_once() == 0 and box.get("k1").attempts == 1  # not due yet
    server.up = True
    now[0] = 102.0
    assert sender.run_once() == 1
    assert box.get("k1").state == DELIVERED
    box.enqueue("k2", "s2", {}, 500, now=102.0)
    refuse = OutboxSender(box, lambda i: SendOutcome(False, error="credit.user_blacklisted",
                                                     retryable=False), clock=lambda: now[0])
    refuse.run_once()
    assert box.get("k2").state == REJECTED and box.get("k2").last_error == "credit.user_blacklisted"
    assert box.due(1e12) == []


def test_backoff_grows_and_is_capped():
    assert backoff_delay(0, rand=lambda: 1.0) == 1.0
    assert backoff_delay(3, rand=lambda: 1.0) == 8.0
    assert backoff_delay(3, rand=lambda: 0.0) == 4.0
    assert backoff_delay(50, rand=lambda: 1.0) == 300.0


def test_offline_limits():
    cfg = OfflineConfig(policy="accept", max_amount_fen=1000, max_total_fen=2500, max_count=3,
                        max_age_s=3600)
    assert offline_refusal(OfflineConfig(), 1, 0, 0, None, 0) == "offline.refused"
    assert offline_refusal(cfg, 1000, 0, 0, None, 0) is None
    assert offline_refusal(cfg, 1001, 0, 0, None, 0) == "offline.amount_over_limit"
    assert offline_refusal(cfg, 600, 2, 2000, 0, 10) == "offline.total_over_limit"
    assert offline_refusal(cfg, 10, 3, 30, 0, 10) == "offline.too_many_queued"
    assert offline_refusal(cfg, 10, 1, 10, 0, 3601) == "offline.queue_too_old"


class OutboxMachine(RuleBasedStateMachine):
    """Any interleaving of enqueue / send / lost replies / outages / crash-restart delivers
    each settlement exactly once."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name) / "outbox.db"
        self.box = Outbox(self.path)
        self.server = IdempotentServer()
        self.now = 1000.0
        self.keys: dict[str, int] = {}

    def teardown(self) -> None:
        self.box.close()
        self.dir.cleanup()

    @rule(amount=st.integers(0, 10**7))
    def enqueue(self, amount: int) -> None:
        key = f"k{len(self.keys)}"
        self.box.enqueue(key, "s", {"amount_fen": amount}, amount, now=self.now)
        self.keys[key] = amount

    @rule(up=st.booleans(), drop=st.booleans())
    def network(self, up: bool, drop: bool) -> None:
        self.server.up, self.server.drop_reply = up, drop

    @rule(seconds=st.floats(0, 400))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def send(self) -> None:
        OutboxSender(self.box, self.server.send, clock=lambda: self.now).run_once()

    @rule()
    def crash_and_restart(self) -> None:
        self.box.close()
        self.box = Outbox(self.path)

    @invariant()
    def never_charged_twice_or_for_unknown(self) -> None:
        assert set(self.server.charges) <= set(self.keys)
        for key, amount in self.server.charges.items():
            assert amount == self.keys[key]

    @precondition(lambda self: self.keys)
    @rule()
    def recover_and_drain(self) -> None:
        """The network heals: everything ends delivered, each key charged exactly once."""
        self.server.up, self.server.drop_reply = True, False
        for _ in range(3):
            self.now += 301
            OutboxSender(self.box, self.server.send, clock=lambda: self.now).run_once()
        assert self.box.pending() == []
        assert self.server.charges == self.keys
        assert all(self.box.get(k).state == DELIVERED for k in self.keys)


OutboxMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30,
                                           deadline=None)
TestOutboxInterleavings = OutboxMachine.TestCase
