"""Per-device brute-force guard: a request-rate limit and a failed-authentication lockout.

Both are counted per registered device (the ``keyid`` a request names), where every worker
process and platform host sees the same counts and a restart does not wipe a lockout: on
SQLite in a file of their own beside the database (``<db>.guard.sqlite``, WAL, off the
money writer), on PostgreSQL in the main database's ``device_guard`` table (several hosts
share nothing else). One short autocommit upsert per signed request; a failure adds one
more.

Why not a library: ``limits`` (behind slowapi) keeps its counters in memory, Redis,
Memcached, MongoDB or etcd. Memory is per process — with ``[server] workers = 4`` a device
would get four times its limit and a lockout on one worker only — and the platform has none
of the others: its only shared state is SQLite. A fixed-window counter in one table is a
few lines, and that is all this needs (the same statements on both engines).

Keyids that name no device are not counted (a stranger could otherwise grow the table
without bound); their requests fail at the key lookup anyway.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine, text

from common.errors import ErrorCode
from kiosk.protocol.errors import ProtocolError
from server_stub.config import SecuritySection

log = logging.getLogger("server_stub.guard")
RATE_WINDOW_MS = 60_000
PURGE_EVERY_MS = 60_000
# what counts as a failed authentication: a signature that does not hold for a known device.
# Not auth.clock_skew (a device's clock drifting is not a guess, and it must recover at once
# when the clock is right again), nor unknown/revoked keys (no device to lock).
COUNTED = frozenset({ErrorCode.BAD_SIGNATURE, ErrorCode.COMPONENT_MISSING,
                     ErrorCode.DIGEST_MISMATCH, ErrorCode.SIGNATURE_PARAM_MISSING,
                     ErrorCode.CRYPTO_PROFILE_MISMATCH})

_ADMIT = """
INSERT INTO {table} (device_id, window_ms, requests, fail_window_ms, failures, locked_until_ms)
VALUES (:device, :window, 1, 0, 0, 0)
ON CONFLICT (device_id) DO UPDATE SET
  requests = CASE WHEN {table}.window_ms = :window THEN {table}.requests + 1 ELSE 1 END,
  window_ms = :window
RETURNING requests, locked_until_ms
"""
_FAIL = """
UPDATE {table} SET
  failures = CASE WHEN fail_window_ms > :now - :window_ms THEN failures + 1 ELSE 1 END,
  fail_window_ms = CASE WHEN fail_window_ms > :now - :window_ms THEN fail_window_ms ELSE :now END
WHERE device_id = :device
RETURNING failures
"""
_LOCK = "UPDATE {table} SET locked_until_ms = :until, failures = 0 WHERE device_id = :device"
_PURGE = ("DELETE FROM {table} WHERE window_ms < :window AND locked_until_ms < :now AND "
          "fail_window_ms < :failed_before")


class DeviceGuard:
    """Counts one device's requests and failures (module docstring); blocking calls, for a
    worker thread."""

    def __init__(self, path: str | None, security: SecuritySection,
                 engine: Engine | None = None) -> None:
        """``path``: the SQLite file; or ``engine``: PostgreSQL's (``device_guard``), an
        autocommit one (engines.counters_engine)."""
        self.path = path
        self.security = security
        self._engine = engine
        self._local = threading.local()
        self._next_purge_ms = 0
        table = "device_guard" if engine is not None else "guard"
        self._sql: dict[str, Any] = {
            name: text(sql.format(table=table)) if engine is not None else sql.format(table=table)
            for name, sql in (("admit", _ADMIT), ("fail", _FAIL), ("lock", _LOCK),
                              ("purge", _PURGE))}
        if engine is None:
            self._connection().executescript(
                "CREATE TABLE IF NOT EXISTS guard (device_id TEXT PRIMARY KEY, "
                "window_ms INTEGER NOT NULL, requests INTEGER NOT NULL, "
                "fail_window_ms INTEGER NOT NULL, failures INTEGER NOT NULL, "
                "locked_until_ms INTEGER NOT NULL) WITHOUT ROWID;")

    def _run(self, name: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """One statement in its own transaction; its first row, if it returns any."""
        if self._engine is not None:
            # autocommit without waiting for the WAL flush (engines.counters_engine), as
            # SQLite's synchronous=NORMAL below: a counter lost to a crash costs nothing
            with self._engine.connect() as conn:
                result = conn.execute(self._sql[name], params)
                row = result.first() if result.returns_rows else None
            return tuple(row) if row is not None else None
        found: tuple[Any, ...] | None = self._connection().execute(
            self._sql[name], params).fetchone()
        return found

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # counters need no power-cut durability
            self._local.conn = conn
        return conn

    def admit(self, device_id: str, now: int) -> None:
        """Count this request; DEVICE_LOCKED while locked out, RATE_LIMITED over the rate."""
        window = now - now % RATE_WINDOW_MS
        admitted = self._run("admit", {"device": device_id, "window": window})
        assert admitted is not None
        requests, locked_until = admitted
        if locked_until > now:
            wait = -(-(locked_until - now) // 1000)
            raise ProtocolError(ErrorCode.DEVICE_LOCKED, "too many failed authentications "
                                "for this device; try again later", retry_after_s=wait)
        if requests > self.security.rate_limit_per_minute:
            wait = -(-(window + RATE_WINDOW_MS - now) // 1000)
            raise ProtocolError(ErrorCode.RATE_LIMITED, "too many requests from this device",
                                retry_after_s=wait)
        if now >= self._next_purge_ms:
            self._next_purge_ms = now + PURGE_EVERY_MS
            self._run("purge", {"window": window - RATE_WINDOW_MS, "now": now,
                                "failed_before": now - self.security.lockout_window_s * 1000})

    def failed(self, device_id: str, now: int) -> bool:
        """Count a failed authentication; True when it started a lockout."""
        row = self._run("fail", {"device": device_id, "now": now,
                                 "window_ms": self.security.lockout_window_s * 1000})
        if row is None or row[0] < self.security.lockout_failures:
            return False
        self._run("lock", {"device": device_id,
                           "until": now + self.security.lockout_s * 1000})
        log.warning("device locked out", extra={"device_id": device_id,
                                                "lockout_s": self.security.lockout_s})
        return True
