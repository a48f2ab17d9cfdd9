"""The durable settlement outbox: one row per bill a patient confirmed, written *before*
anything is sent, and every attempt's result recorded against it.

Durability: ``journal_mode=TRUNCATE`` with ``synchronous=FULL``. A committed row is in the
main file once ``enqueue`` returns; there is no ``-wal`` whose loss after a crash could take
confirmed rows with it (measured: 1.9 ms per enqueue + mark against 0.7 ms in WAL mode, for a
file written a few times per checkout). The retry schedule lives in the database, not in a
retrying call (tenacity keeps its state in memory and would forget it in a crash), so it is
computed here by ``backoff_delay``. Delivered rows keep the platform's signed answer as
received (a receipt whose signature can be checked again: ``kiosk outbox show --verify``)
and are the device's side of the batch totals (``SettlementDesk.reconcile``).
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from common.errors import ErrorCode
from kiosk.protocol import schemas
from kiosk.protocol.signing import SignedAnswer


class RowState(StrEnum):
    PENDING = "pending"  # outcome not known yet: will be sent again, same key
    DELIVERED = "delivered"  # the platform's answer is kept
    REJECTED = "rejected"  # a final business refusal: nothing was charged
    EXPIRED = "expired"  # too old to re-send blindly: handed to the cashier


SCHEMA_VERSION = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    idempotency_key TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    amount_fen      INTEGER NOT NULL CHECK (amount_fen >= 0),
    created_at      REAL NOT NULL,
    offline         INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT,
    response        TEXT,
    finished_at     REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS attempts (
    idempotency_key TEXT NOT NULL,
    at              REAL NOT NULL,
    outcome         TEXT NOT NULL,
    code            TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_key ON attempts (idempotency_key, at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_COLUMNS = ("idempotency_key, session_id, payload, amount_fen, created_at, offline, state, "
            "attempts, next_attempt_at, last_error, response, finished_at, details, answer")
_AUDIT_HEAD = "audit_head"


def backoff_delay(attempt: int, base_s: float = 1.0, cap_s: float = 300.0,
                  rand: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff: uniform in [0.5, 1] x min(cap, base * 2^attempt)."""
    ceiling = min(cap_s, base_s * (2 ** min(attempt, 30)))
    return ceiling * (0.5 + 0.5 * rand())


@dataclass(frozen=True)
class Attempt:
    at: float
    outcome: str
    code: str


@dataclass(frozen=True)
class OutboxRow:
    """One settlement in the durable outbox, as stored."""

    idempotency_key: str
    session_id: str
    request: schemas.SettleRequest
    amount_fen: int
    created_at: float
    offline: bool
    state: RowState
    attempts: int
    next_attempt_at: float
    last_error: ErrorCode | None  # the last answer's code (registry member)
    response: schemas.Settlement | None
    finished_at: float | None
    details: dict[str, Any] = field(default_factory=dict)  # a refusal's safe details
    answer: SignedAnswer | None = None  # delivered: the platform's signed answer, as received

    @property
    def taken_by(self) -> str | None:
        """``bill.already_settled``: the settlement that took the bill."""
        value = self.details.get("settlement_id")
        return str(value) if value else None


class Outbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), timeout=10, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=TRUNCATE")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            names = {r[1] for r in self._db.execute("PRAGMA table_info(outbox)")}
            for column in ("details", "answer"):  # older files: rows kept neither
                if column not in names:
                    self._db.execute(f"ALTER TABLE outbox ADD COLUMN {column} TEXT")
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, where: str, args: tuple[Any, ...] = (), tail: str = "") -> list[OutboxRow]:
        with self._lock:
            found = self._db.execute(f"SELECT {_COLUMNS} FROM outbox WHERE {where} "
                                     f"ORDER BY created_at, idempotency_key {tail}",
                                     args).fetchall()
        return [_row(r) for r in found]

    # ---------------------------------------------------------------- writes
    def enqueue(self, key: str, session_id: str, request: schemas.SettleRequest,
                amount_fen: int, now: float | None = None, hold_s: float = 0.0) -> OutboxRow:
        """Durably record an intent and return its row; a key already there is returned
        as it stands (nothing changes). ``hold_s`` keeps the background sender off it while
        the caller sends it itself."""
        if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen < 0:
            raise ValueError("amount_fen must be a non-negative integer")
        now = time.time() if now is None else now
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO outbox (idempotency_key, session_id, payload, amount_fen,"
                " created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)",
                (key, session_id, request.model_dump_json(), amount_fen, now, now + hold_s))
        if cur.rowcount == 1:
            return OutboxRow(key, session_id, request, amount_fen, now, False, RowState.PENDING, 0,
                             now + hold_s, None, None, None)
        existing = self.get(key)
        assert existing is not None
        return existing

    def _finish(self, db: sqlite3.Connection, key: str, state: RowState, code: str,
                now: float, **columns: Any) -> None:
        sets = ", ".join(f"{name} = ?" for name in columns)
        db.execute(f"UPDATE outbox SET state = ?, attempts = attempts + 1, finished_at = ?, "
                   f"last_error = ?{', ' + sets if sets else ''} "
                   f"WHERE idempotency_key = ? AND state = ?",
                   (state.value, now, code or None, *columns.values(), key,
                    RowState.PENDING.value))
        db.execute("INSERT INTO attempts VALUES (?, ?, ?, ?)", (key, now, state.value,
                                                                 code or "ok"))

    def mark_delivered(self, key: str, settlement: schemas.Settlement, answer: SignedAnswer,
                       now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._tx() as db:
            self._finish(db, key, RowState.DELIVERED, "", now,
                         response=settlement.model_dump_json(), answer=answer.to_json())
            head = settlement.audit_head
            if head is not None:
                db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                           "value = excluded.value WHERE CAST(json_extract(excluded.value, "
                           "'$.seq') AS INTEGER) > CAST(json_extract(meta.value, '$.seq') AS "
                           "INTEGER)", (_AUDIT_HEAD, head.model_dump_json()))

    def mark_refused(self, key: str, code: str, details: dict[str, Any],
                     now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._tx() as db:
            self._finish(db, key, RowState.REJECTED, code, now,
                         details=json.dumps(details, sort_keys=True))

    def mark_expired(self, key: str, code: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._tx() as db:
            self._finish(db, key, RowState.EXPIRED, code, now)

    def mark_unknown(self, key: str, code: str, now: float | None = None,
                     rand: Callable[[], float] = random.random) -> None:
        """The outcome is not known: stays pending, sent again after a backoff."""
        now = time.time() if now is None else now
        with self._tx() as db:
            row = db.execute("SELECT attempts FROM outbox WHERE idempotency_key = ? AND "
                             "state = ?", (key, RowState.PENDING.value)).fetchone()
            if row is None:
                return
            db.execute("UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ? "
                       "WHERE idempotency_key = ?",
                       (row[0] + 1, code, now + backoff_delay(row[0], rand=rand), key))
            db.execute("INSERT INTO attempts VALUES (?, ?, ?, ?)",
                       (key, now, "unknown", code))

    def mark_offline(self, key: str) -> None:
        """Count this row against the offline limits (accepted while unreachable)."""
        with self._lock:
            self._db.execute("UPDATE outbox SET offline = 1 WHERE idempotency_key = ?", (key,))

    def retry_now(self, key: str | None = None, now: float | None = None) -> int:
        """Make one pending row (or all of them) due at once: the platform answers again,
        or an operator asked. Returns how many rows that touched."""
        now = time.time() if now is None else now
        with self._lock:
            if key is None:
                cur = self._db.execute("UPDATE outbox SET next_attempt_at = ? WHERE state = ? "
                                       "AND next_attempt_at > ?",
                                       (now, RowState.PENDING.value, now))
            else:
                cur = self._db.execute("UPDATE outbox SET next_attempt_at = ? WHERE "
                                       "idempotency_key = ? AND state = ?",
                                       (now, key, RowState.PENDING.value))
            return cur.rowcount

    def requeue(self, key: str, reason: str, now: float | None = None) -> bool:
        """A delivered row the platform no longer has a record of (a restored database):
        pending again, due now; the same key makes a re-send safe."""
        now = time.time() if now is None else now
        with self._tx() as db:
            cur = db.execute("UPDATE outbox SET state = ?, next_attempt_at = ?, finished_at = "
                             "NULL, last_error = ? WHERE idempotency_key = ? AND state = ?",
                             (RowState.PENDING.value, now, reason, key,
                              RowState.DELIVERED.value))
            if cur.rowcount:
                db.execute("INSERT INTO attempts VALUES (?, ?, ?, ?)",
                           (key, now, "requeued", reason))
            return cur.rowcount == 1

    def purge(self, before: float) -> int:
        """Forget finished rows older than ``before`` (their receipts' retention is over)."""
        with self._tx() as db:
            db.execute("DELETE FROM attempts WHERE idempotency_key IN (SELECT idempotency_key "
                       "FROM outbox WHERE state != ? AND finished_at < ?)",
                       (RowState.PENDING.value, before))
            return db.execute("DELETE FROM outbox WHERE state != ? AND finished_at < ?",
                              (RowState.PENDING.value, before)).rowcount

    # ----------------------------------------------------------------- reads
    def get(self, key: str) -> OutboxRow | None:
        found = self._rows("idempotency_key = ?", (key,))
        return found[0] if found else None

    def due(self, now: float, limit: int = 20) -> list[OutboxRow]:
        return self._rows("state = ? AND next_attempt_at <= ?", (RowState.PENDING.value, now),
                          f"LIMIT {int(limit)}")

    def pending(self) -> list[OutboxRow]:
        return self._rows("state = ?", (RowState.PENDING.value,))

    def rows(self, state: RowState | None = None, limit: int = 200) -> list[OutboxRow]:
        """Newest last, for the operator's list."""
        if state is None:
            return self._rows("1", (), f"LIMIT {int(limit)}")
        return self._rows("state = ?", (state.value,), f"LIMIT {int(limit)}")

    def delivered_since(self, since: float) -> list[OutboxRow]:
        """Delivered rows finished at or after ``since``: the device's batch."""
        return self._rows("state = ? AND finished_at >= ?", (RowState.DELIVERED.value, since))

    def history(self, key: str) -> list[Attempt]:
        with self._lock:
            found = self._db.execute("SELECT at, outcome, code FROM attempts WHERE "
                                     "idempotency_key = ? ORDER BY at", (key,)).fetchall()
        return [Attempt(*r) for r in found]

    def next_due_at(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(next_attempt_at) FROM outbox WHERE state = ?",
                                   (RowState.PENDING.value,)).fetchone()
        return row[0] if row else None

    def backlog(self) -> tuple[int, float | None]:
        """(count, oldest created_at) of every undelivered row: what the heartbeat reports."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE state = ?",
                                   (RowState.PENDING.value,)).fetchone()
        return int(row[0]), row[1]

    def offline_exposure(self) -> tuple[int, int, float | None]:
        """(count, total fen, oldest created_at) of settlements accepted while offline
        and not yet delivered: what the offline limits are checked against."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(amount_fen), 0), MIN(created_at) FROM outbox "
                "WHERE state = ? AND offline = 1", (RowState.PENDING.value,)).fetchone()
        return int(row[0]), int(row[1]), row[2]

    def audit_head(self) -> schemas.AuditHead | None:
        """The newest audit chain head the platform has signed to this device."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?",
                                   (_AUDIT_HEAD,)).fetchone()
        return schemas.AuditHead.model_validate_json(row[0]) if row else None


def _row(r: tuple[Any, ...]) -> OutboxRow:
    (key, session_id, payload, amount, created, offline, state, attempts, next_at, error,
     response, finished, details, answer) = r
    return OutboxRow(key, session_id, schemas.SettleRequest.model_validate_json(payload), amount,
                     created, bool(offline), RowState(state), attempts, next_at,
                     ErrorCode(error) if error else None,
                     schemas.Settlement.model_validate_json(response) if response else None,
                     finished, json.loads(details) if details else {},
                     SignedAnswer.from_json(answer) if answer else None)
