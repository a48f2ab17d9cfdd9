"""The outbox and the settlement desk: durable, ordered, backoff, outcome classes, a sender
that survives storage errors, expiry, and exactly-once with an idempotent platform."""

from __future__ import annotations

import datetime as dt
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from common.errors import ErrorCode
from kiosk.backend import BackendError, SignedSettlement
from kiosk.config import OfflineConfig
from kiosk.outcome import ReplyOutcome, classify
from kiosk.protocol import schemas
from kiosk.protocol.signing import SignedAnswer
from kiosk.receipts import Station
from kiosk.settlement.desk import SettlementDesk
from kiosk.settlement.offline import offline_refusal
from kiosk.settlement.outbox import Outbox, RowState, backoff_delay

ZERO = schemas.Layers(basic_pool_fen=0, critical_illness_fen=0, medical_aid_fen=0,
                      self_pay_fen=0)


def request(bill_id: str = "B1") -> schemas.SettleRequest:
    return schemas.SettleRequest(bill_id=bill_id, patient_id="P1",
                                 method=schemas.PaymentMethod.CARD)


def settlement(key: str, bill_id: str, fen: int, seq: int) -> schemas.Settlement:
    return schemas.Settlement(
        settlement_id=f"stl_{key}", receipt_no=f"R{seq:06d}", bill_id=bill_id, site_id="S1",
        patient=schemas.MaskedPatient(patient_id="P1", name="张*",
                                      national_id="3307**********1234", phone="138****1001",
                                      category=schemas.InsuranceCategory.EMPLOYEE),
        method=schemas.PaymentMethod.CARD, status=schemas.SettlementStatus.SETTLED,
        total_fen=fen, layers=ZERO.model_copy(update={"self_pay_fen": fen}),
        charge_to_credit_fen=fen, pay_at_counter_fen=0,
        settled_at=dt.datetime.now(dt.UTC), device_id="dev_1", items=[],
        audit_head=schemas.AuditHead(seq=seq, hash=f"{seq:064x}"))


class IdempotentPlatform:
    """Charges once per Idempotency-Key and answers the stored result after that, like the
    real platform; it can lose the reply after committing, or have a replayed copy of our
    request win (401 auth.nonce_replayed to the original)."""

    def __init__(self) -> None:
        self.charges: dict[str, int] = {}
        self.up = True
        self.drop_reply = False
        self.copy_wins = False
        self.refuse: dict[str, str] = {}  # bill -> business refusal code

    def settle(self, req: schemas.SettleRequest, key: str) -> SignedSettlement:
        if not self.up:
            raise BackendError("backend.unreachable", "down")
        if req.bill_id in self.refuse:
            raise BackendError(self.refuse[req.bill_id], "refused", status=409,
                               details={"settlement_id": "stl_other"})
        fen = req.expected_self_pay_fen or 0
        self.charges.setdefault(key, fen)
        if self.copy_wins:
            raise BackendError("auth.nonce_replayed", "copy won", status=401)
        if self.drop_reply:
            raise BackendError("backend.timeout", "reply lost")
        made = settlement(key, req.bill_id, self.charges[key], len(self.charges))
        return SignedSettlement(made, SignedAnswer(201, {}, made.model_dump_json().encode(), {}))

    def reconcile(self, req: schemas.ReconcileRequest) -> schemas.ReconcileResponse:
        raise AssertionError("not used here")


def desk_for(box: Outbox, platform: IdempotentPlatform, now: list[float],
             handed: list[tuple[str, str]] | None = None) -> SettlementDesk:
    return SettlementDesk(platform, box, offline=OfflineConfig(), station=Station("H", "k1"),
                          hold_s=0.0, retention_hours=lambda: 24, platform_now=lambda: now[0],
                          notify_cashier=lambda e: (handed if handed is not None
                                                    else []).append((e.session_id, e.reason)),
                          clock=lambda: now[0])


def test_classification_never_guesses_failed_for_money():
    assert classify(ErrorCode.BILL_ALREADY_SETTLED) is ReplyOutcome.REFUSED
    assert classify(ErrorCode.CREDIT_LIMIT_EXCEEDED) is ReplyOutcome.REFUSED
    assert classify(ErrorCode.IDEMPOTENCY_KEY_REUSED) is ReplyOutcome.REFUSED
    for code in (ErrorCode.NONCE_REPLAYED, ErrorCode.CLOCK_SKEW, ErrorCode.DEVICE_REVOKED,
                 ErrorCode.IDEMPOTENCY_IN_FLIGHT, ErrorCode.INTERNAL, ErrorCode.BACKEND_TIMEOUT,
                 ErrorCode.BACKEND_UNREACHABLE, ErrorCode.UNTRUSTED_RESPONSE,
                 ErrorCode.BACKEND_BAD_RESPONSE):
        assert classify(code) is ReplyOutcome.UNKNOWN, code
    assert BackendError(ErrorCode.INVALID_REQUEST, "x", status=503).outcome is ReplyOutcome.UNKNOWN


def test_enqueue_is_durable_idempotent_and_has_no_wal(tmp_path: Path):
    box = Outbox(tmp_path / "outbox.db")
    first = box.enqueue("k1", "s1", request(), 300, now=10.0)
    again = box.enqueue("k1", "s1", request("B2"), 999, now=11.0)
    assert again == first and again.amount_fen == 300 and again.request.bill_id == "B1"
    assert not (tmp_path / "outbox.db-wal").exists()  # every committed row in the main file
    box.close()
    raw = sqlite3.connect(tmp_path / "outbox.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
    assert raw.execute("SELECT amount_fen FROM outbox").fetchall() == [(300,)]
    with pytest.raises(ValueError):
        Outbox(tmp_path / "outbox.db").enqueue("k2", "s", request(), 1.5)  # never float money


def test_an_outbox_written_by_the_previous_version_opens_and_keeps_its_rows(tmp_path: Path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute("PRAGMA journal_mode=WAL")
    old.executescript("""CREATE TABLE outbox (idempotency_key TEXT PRIMARY KEY,
        session_id TEXT NOT NULL, payload TEXT NOT NULL, amount_fen INTEGER NOT NULL,
        created_at REAL NOT NULL, offline INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL, last_error TEXT, response TEXT, finished_at REAL);""")
    old.execute("INSERT INTO outbox (idempotency_key, session_id, payload, amount_fen, "
                "created_at, next_attempt_at) VALUES ('k', 's', ?, 120, 1, 1)",
                (request().model_dump_json(),))
    old.commit()
    old.close()
    (row,) = Outbox(path).pending()
    assert row.amount_fen == 120 and row.details == {} and row.request.bill_id == "B1"


def test_unknown_outcomes_back_off_and_final_refusals_stop_with_their_details(tmp_path: Path):
    box, platform, now = Outbox(tmp_path / "o.db"), IdempotentPlatform(), [100.0]
    desk = desk_for(box, platform, now)
    platform.up = False
    box.enqueue("k1", "s1", request(), 500, now=100.0)
    assert desk.run_due() == 0
    row = box.get("k1")
    assert row.attempts == 1 and 100.5 <= row.next_attempt_at <= 101.0
    assert desk.run_due() == 0 and box.get("k1").attempts == 1  # not due yet
    platform.up = True
    now[0] = 102.0
    assert desk.run_due() == 1 and box.get("k1").state is RowState.DELIVERED
    platform.refuse["B2"] = "bill.already_settled"
    box.enqueue("k2", "s2", request("B2"), 500, now=102.0)
    desk.run_due()
    refused = box.get("k2")
    assert refused.state is RowState.REJECTED and refused.last_error == "bill.already_settled"
    assert refused.taken_by == "stl_other"
    assert [a.outcome for a in box.history("k1")] == ["unknown", "delivered"]
    assert box.due(1e12) == []
    assert box.audit_head() == schemas.AuditHead(seq=1, hash=f"{1:064x}")


def test_a_replayed_copy_winning_is_unknown_then_done_never_failed(tmp_path: Path):
    box, platform, now = Outbox(tmp_path / "o.db"), IdempotentPlatform(), [100.0]
    desk = desk_for(box, platform, now)
    platform.copy_wins = True
    box.enqueue("k1", "s1", request(), 700, now=100.0)
    assert desk.run_due() == 0
    assert box.get("k1").state is RowState.PENDING
    assert box.get("k1").last_error == "auth.nonce_replayed"
    platform.copy_wins = False
    now[0] = 200.0
    assert desk.run_due() == 1
    assert box.get("k1").response.charge_to_credit_fen == 0 and platform.charges == {"k1": 0}


def test_rows_older_than_the_key_retention_go_to_the_cashier_not_the_platform(tmp_path: Path):
    box, platform, now = Outbox(tmp_path / "o.db"), IdempotentPlatform(), [0.0]
    handed: list[tuple[str, str]] = []
    desk = desk_for(box, platform, now, handed)
    platform.up = False
    box.enqueue("old", "sess-old", request(), 900, now=0.0)
    desk.run_due()
    platform.up = True
    now[0] = 23 * 3600.0  # inside two hours of the platform's 24 h key retention
    box.retry_now("old", now=now[0])
    assert desk.run_due() == 0
    assert box.get("old").state is RowState.EXPIRED and platform.charges == {}
    assert handed == [("sess-old", "settlement.expired")]
    assert [a.outcome for a in box.history("old")] == ["unknown", "expired"]


def test_a_storage_error_in_the_sender_is_reported_and_survived(tmp_path: Path, monkeypatch):
    box, platform, now = Outbox(tmp_path / "o.db"), IdempotentPlatform(), [100.0]
    desk = desk_for(box, platform, now)
    box.enqueue("k1", "s1", request(), 100, now=100.0)
    real = box.mark_delivered
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise sqlite3.OperationalError("disk I/O error")
        return real(*args, **kwargs)

    monkeypatch.setattr(box, "mark_delivered", failing)
    wait = desk.sender.round()
    health = desk.sender.health()
    assert health.reason == "outbox.sender_failed" and 0.5 <= wait <= 1.0
    assert box.get("k1").state is RowState.PENDING  # nothing lost
    desk.sender.round()  # the next round recovers: the stored result, charged once
    assert box.get("k1").state is RowState.DELIVERED and desk.sender.health().reason == "ok"
    assert platform.charges == {"k1": 0}


def test_a_dead_sender_thread_is_restarted_by_the_watchdog(tmp_path: Path):
    box, platform, now = Outbox(tmp_path / "o.db"), IdempotentPlatform(), [100.0]
    desk = desk_for(box, platform, now)
    desk.sender.start()
    desk.sender._stop.set()
    desk.sender._wake.set()
    desk.sender._thread.join(timeout=5)
    desk.sender._stop.clear()  # the thread is gone but nobody asked it to stop
    assert desk.sender.health().reason == "outbox.sender_stopped"
    assert desk.sender.ensure_running() and desk.sender.health().reason == "ok"
    desk.stop()


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
    """Any interleaving of enqueue / send / lost replies / copies winning / outages /
    crash-restart delivers each settlement exactly once."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name) / "outbox.db"
        self.box = Outbox(self.path)
        self.platform = IdempotentPlatform()
        self.now = [1000.0]
        self.keys: dict[str, int] = {}

    def teardown(self) -> None:
        self.box.close()
        self.dir.cleanup()

    def desk(self) -> SettlementDesk:
        return desk_for(self.box, self.platform, self.now)

    @rule(amount=st.integers(0, 10**7))
    def enqueue(self, amount: int) -> None:
        key = f"k{len(self.keys)}"
        self.box.enqueue(key, "s", schemas.SettleRequest(
            bill_id=f"B{len(self.keys)}", patient_id="P1", method=schemas.PaymentMethod.CARD,
            expected_self_pay_fen=amount), amount, now=self.now[0])
        self.keys[key] = amount

    @rule(up=st.booleans(), drop=st.booleans(), copy=st.booleans())
    def network(self, up: bool, drop: bool, copy: bool) -> None:
        self.platform.up, self.platform.drop_reply = up, drop
        self.platform.copy_wins = copy

    @rule(seconds=st.floats(0, 400))
    def time_passes(self, seconds: float) -> None:
        self.now[0] += seconds

    @rule()
    def send(self) -> None:
        self.desk().run_due()

    @rule()
    def crash_and_restart(self) -> None:
        self.box.close()
        self.box = Outbox(self.path)

    @invariant()
    def never_charged_twice_or_for_unknown(self) -> None:
        assert set(self.platform.charges) <= set(self.keys)
        for key, amount in self.platform.charges.items():
            assert amount == self.keys[key]

    @precondition(lambda self: self.keys)
    @rule()
    def recover_and_drain(self) -> None:
        """The network heals: everything ends delivered, each key charged exactly once."""
        self.platform.up, self.platform.drop_reply, self.platform.copy_wins = True, False, False
        for _ in range(3):
            self.now[0] += 301
            self.desk().run_due()
        assert self.box.pending() == []
        assert self.platform.charges == self.keys
        assert all(self.box.get(k).state is RowState.DELIVERED for k in self.keys)


OutboxMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30,
                                           deadline=None)
TestOutboxInterleavings = OutboxMachine.TestCase
