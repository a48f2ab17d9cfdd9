"""Signature nonces: each may be used once within its signature's validity window.

A primary key on ``(key_id, nonce)`` is the replay check, so a replay is refused by every
worker process and after a restart. A nonce is recorded before its request is answered, in
one of two places:

* **Money routes** record it inside their own transaction in the main database (so the
  settlement and the spent nonce commit together, in one group commit); so do the other
  routes that write the main database, in a transaction of its own before the route runs.
  Recording it re-reads the device's status in the same transaction.
* **Read-only routes** (every GET, and the look-ups ``POST /v1/quotes``,
  ``/v1/identify/*`` and ``/v1/second-factor/narrow``) record it in the ``NonceStore``: a
  small SQLite file of its own beside the database (WAL, one short autocommit insert per
  request, busy timeout). On SQLite the main database has one writer at a time, so a read
  whose nonce went through the money writer would wait behind every settlement and stall
  entirely if a worker froze holding the writer lock; the separate file has a writer lock
  of its own that is held for one insert. The device's status is read from the main
  database first (a WAL reader never waits for a writer), so a revocation committed before
  the request is still always seen. A signature covers method and path, so a read's nonce
  can only ever be replayed to the same read route, and one store per route class suffices.

On a database without one global writer (PostgreSQL) there is no such store: every nonce
goes to the main database's ``nonces`` table, which row locks keep concurrent.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Connection, String, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from common.errors import ErrorCode
from kiosk.protocol.errors import ProtocolError
from server_stub.clock import now_ms
from server_stub.db import devices, nonces
from server_stub.storage import Database

PURGE_EVERY_MS = 60_000

# one statement for both checks: the row is inserted only if the device is still active
# (no row: revoked), and the primary key refuses a nonce already spent
_SPEND = insert(nonces).from_select(
    ["key_id", "nonce", "expires_ms"],
    select(devices.c.device_id, bindparam("nonce", type_=String),
           bindparam("expires_ms", type_=BigInteger))
    .where(devices.c.device_id == bindparam("key_id"), devices.c.status == "active")
).execution_options(preserve_rowcount=True)  # an INSERT's rowcount is kept only when asked


@dataclass
class PendingNonce:
    device_id: str
    row: dict[str, Any] = field(repr=False)
    spent: bool = False  # set once the transaction that recorded it has committed

    def record(self, conn: Connection) -> None:
        """Inside the caller's transaction: DEVICE_REVOKED or NONCE_REPLAYED, else recorded."""
        try:
            recorded = conn.execute(_SPEND, self.row).rowcount
        except IntegrityError:
            raise ProtocolError(ErrorCode.NONCE_REPLAYED,
                                "this signature nonce was already used") from None
        if recorded != 1:
            raise ProtocolError(ErrorCode.DEVICE_REVOKED, "this device has been revoked")


def pending(device_id: str, nonce: str, created: int, skew_s: int) -> PendingNonce:
    return PendingNonce(device_id, {"key_id": device_id, "nonce": nonce,
                                    "expires_ms": (created + skew_s + 1) * 1000})


def purge(conn: Connection, *, now: int) -> int:
    """Forget nonces whose signatures have expired (they can no longer verify anyway)."""
    return conn.execute(delete(nonces).where(nonces.c.expires_ms < now)).rowcount


_STATUS = select(devices.c.status).where(devices.c.device_id == bindparam("device_id"))


class NonceStore:
    """Nonces of read-only requests, in an SQLite file of their own (module docstring)."""

    def __init__(self, path: str, db: Database) -> None:
        self.path = path
        self._db = db
        self._local = threading.local()
        self._next_purge_ms = 0
        self._connection().executescript(
            "CREATE TABLE IF NOT EXISTS nonces (key_id TEXT NOT NULL, nonce TEXT NOT NULL, "
            "expires_ms INTEGER NOT NULL, PRIMARY KEY (key_id, nonce)) WITHOUT ROWID;"
            "CREATE INDEX IF NOT EXISTS ix_nonces_expires ON nonces (expires_ms);")

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # a spent nonce survives a power cut
            self._local.conn = conn
        return conn

    def spend(self, nonce: PendingNonce) -> None:
        """Blocking (call it from a worker thread): DEVICE_REVOKED or NONCE_REPLAYED, else
        the nonce is recorded and committed."""
        with self._db.read() as conn:
            status = conn.execute(_STATUS, {"device_id": nonce.device_id}).scalar()
        if status != "active":
            raise ProtocolError(ErrorCode.DEVICE_REVOKED, "this device has been revoked")
        store = self._connection()
        try:
            store.execute("INSERT INTO nonces (key_id, nonce, expires_ms) VALUES "
                          "(:key_id, :nonce, :expires_ms)", nonce.row)
        except sqlite3.IntegrityError:
            raise ProtocolError(ErrorCode.NONCE_REPLAYED,
                                "this signature nonce was already used") from None
        nonce.spent = True
        now = now_ms()
        if now >= self._next_purge_ms:
            self._next_purge_ms = now + PURGE_EVERY_MS
            store.execute("DELETE FROM nonces WHERE expires_ms < ?", (now,))
