"""The durable settlement outbox.

A confirmed settlement is written here (SQLite, WAL, ``synchronous=FULL``: the row survives
``kill -9`` and a power cut once ``enqueue`` returns) *before* anything is sent. A sender
delivers due rows with exponential backoff; the backend's Idempotency-Key handling turns
"at least once" delivery into "exactly once" charging. The retry schedule lives in the
database, not in a retrying call (tenacity and urllib3's Retry keep their state in memory
and would forget it in a crash), so it is computed here by ``backoff_delay``.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PENDING = "pending"
DELIVERED = "delivered"
REJECTED = "rejected"

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
"""


def backoff_delay(attempt: int, base_s: float = 1.0, cap_s: float = 300.0,
                  rand: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff: uniform in [0.5, 1] x min(cap, base * 2^attempt)."""
    ceiling = min(cap_s, base_s * (2 ** min(attempt, 30)))
    return ceiling * (0.5 + 0.5 * rand())


@dataclass(frozen=True)
class Item:
    idempotency_key: str
    session_id: str
    payload: dict[str, Any]
    amount_fen: int
    created_at: float
    offline: bool
    state: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    response: dict[str, Any] | None


@dataclass(frozen=True)
class SendOutcome:
    """``delivered`` with the server's response, or a failure that is ``retryable``
    (network, timeout, 5xx, request still in flight) or final (a business refusal)."""

    delivered: bool
    response: dict[str, Any] | None = None
    error: str = ""
    retryable: bool = True


class Outbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), timeout=10, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def enqueue(self, key: str, session_id: str, payload: dict[str, Any], amount_fen: int,
                now: float | None = None, offline: bool = False, hold_s: float = 0.0) -> bool:
        """Durably record an intent; False if the key was already there (nothing changes).
        ``hold_s`` keeps the background sender off it while the caller sends it itself."""
        if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen < 0:
            raise ValueError("amount_fen must be a non-negative integer")
        now = time.time() if now is None else now
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO outbox (idempotency_key, session_id, payload, amount_fen,"
                " created_at, offline, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, session_id, json.dumps(payload, sort_keys=True), amount_fen, now,
                 int(offline), now + hold_s),
            )
            return cur.rowcount == 1

    def get(self, key: str) -> Item | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM outbox WHERE idempotency_key = ?",
                                   (key,)).fetchone()
        return _item(row) if row else None

    def due(self, now: float, limit: int = 20) -> list[Item]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM outbox WHERE state = ? AND next_attempt_at <= ? "
                "ORDER BY created_at LIMIT ?", (PENDING, now, limit)).fetchall()
        return [_item(r) for r in rows]

    def pending(self) -> list[Item]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM outbox WHERE state = ? ORDER BY created_at",
                                    (PENDING,)).fetchall()
        return [_item(r) for r in rows]

    def next_due_at(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(next_attempt_at) FROM outbox WHERE state = ?",
                                   (PENDING,)).fetchone()
        return row[0] if row else None

    def backlog(self) -> tuple[int, float | None]:
        """(count, oldest created_at) of every undelivered row: what the heartbeat reports."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE state = ?",
                                   (PENDING,)).fetchone()
        return int(row[0]), row[1]

    def offline_exposure(self) -> tuple[int, int, float | None]:
        """(count, total fen, oldest created_at) of settlements accepted while offline
        and not yet delivered: what the offline limits are checked against."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(amount_fen), 0), MIN(created_at) FROM outbox "
                "WHERE state = ? AND offline = 1", (PENDING,)).fetchone()
        return int(row[0]), int(row[1]), row[2]

    def mark_delivered(self, key: str, response: dict[str, Any], now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET state = ?, response = ?, finished_at = ?, last_error = NULL "
                "WHERE idempotency_key = ? AND state = ?",
                (DELIVERED, json.dumps(response, sort_keys=True), now, key, PENDING))

    def mark_failed(self, key: str, error: str, retryable: bool, now: float | None = None,
                    rand: Callable[[], float] = random.random) -> None:
        now = time.time() if now is None else now
        with self._lock:
            row = self._db.execute("SELECT attempts FROM outbox WHERE idempotency_key = ?",
                                   (key,)).fetchone()
            if row is None:
                return
            attempts = row[0] + 1
            if retryable:
                self._db.execute(
                    "UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ? "
                    "WHERE idempotency_key = ? AND state = ?",
                    (attempts, error, now + backoff_delay(attempts - 1, rand=rand), key, PENDING))
            else:
                self._db.execute(
                    "UPDATE outbox SET attempts = ?, last_error = ?, state = ?, finished_at = ? "
                    "WHERE idempotency_key = ? AND state = ?",
                    (attempts, error, REJECTED, now, key, PENDING))

    def mark_offline(self, key: str) -> None:
        """Count this item against the offline limits (accepted while unreachable)."""
        with self._lock:
            self._db.execute("UPDATE outbox SET offline = 1 WHERE idempotency_key = ?", (key,))

    def retry_now(self, key: str, now: float | None = None) -> None:
        """Make a pending item due immediately (the network came back)."""
        now = time.time() if now is None else now
        with self._lock:
            self._db.execute("UPDATE outbox SET next_attempt_at = ? WHERE idempotency_key = ? "
                             "AND state = ?", (now, key, PENDING))


def _item(row: tuple) -> Item:
    (key, session_id, payload, amount, created, offline, state, attempts, next_at, error,
     response, _finished) = row
    return Item(key, session_id, json.loads(payload), amount, created, bool(offline), state,
                attempts, next_at, error, json.loads(response) if response else None)


class OutboxSender:
    """Delivers due items; ``run_once`` is the testable unit, ``start`` runs it in a thread."""

    def __init__(self, outbox: Outbox, send: Callable[[Item], SendOutcome],
                 on_result: Callable[[Item, SendOutcome], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.outbox = outbox
        self.send = send
        self.on_result = on_result
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Try every due item once; returns how many were delivered."""
        delivered = 0
        for item in self.outbox.due(self.clock()):
            try:
                outcome = self.send(item)
            except Exception as exc:  # a sender bug must not stop delivery of the others
                outcome = SendOutcome(False, error=f"client.error: {type(exc).__name__}")
            if outcome.delivered:
                self.outbox.mark_delivered(item.idempotency_key, outcome.response or {},
                                           self.clock())
                delivered += 1
            else:
                self.outbox.mark_failed(item.idempotency_key, outcome.error, outcome.retryable,
                                        self.clock())
            if self.on_result is not None:
                self.on_result(item, outcome)
        return delivered

    def wake(self) -> None:
        self._wake.set()

    def start(self, idle_s: float = 5.0) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                self.run_once()
                next_at = self.outbox.next_due_at()
                wait = idle_s if next_at is None else max(0.05, min(idle_s,
                                                                    next_at - self.clock()))
                self._wake.wait(wait)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name="outbox-sender", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
