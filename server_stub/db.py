"""Storage: SQLAlchemy Core tables and transactions (SQLite in WAL mode today, PostgreSQL later).

Timestamps are integer milliseconds since the epoch (UTC) and money integer fen, so nothing
depends on a database's date or decimal types. Rows that a money-moving transaction changes
are read ``with_for_update()``: a no-op on SQLite, where ``BEGIN IMMEDIATE`` plus one
in-process writer lock serialise writers, and row locks on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url

try:
    import fcntl
except ImportError:  # not POSIX: SQLite's busy handler alone serialises processes
    fcntl = None  # type: ignore[assignment]

metadata = MetaData()

sites = Table(
    "sites", metadata,
    Column("site_id", String(64), primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

devices = Table(
    "devices", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("site_id", String(64), ForeignKey("sites.site_id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("name", String(64), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # active | revoked
    Column("registered_ms", BigInteger, nullable=False),
    Column("revoked_ms", BigInteger),
    Column("revoke_reason", String(200)),
)

enrolment_tokens = Table(
    "enrolment_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 hex: the token is not kept
    Column("site_id", String(64), ForeignKey("sites.site_id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("issued_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("used_ms", BigInteger),
    Column("device_id", String(64)),
)

users = Table(
    "users", metadata,
    Column("patient_id", String(64), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("national_id_masked", String(32), nullable=False),
    Column("phone_masked", String(32), nullable=False),
    Column("phone_last4", String(4), nullable=False),
    Column("card_no", String(32), unique=True),
    Column("category", String(16), nullable=False),
    Column("credit_limit_fen", BigInteger, nullable=False),
    Column("outstanding_fen", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_reason", String(64)),
    Column("overdue_count", Integer, nullable=False),
    Column("consent_version", String(32)),
    Column("consent_ms", BigInteger),
    Column("consent_withdrawn_ms", BigInteger),
    Column("created_ms", BigInteger, nullable=False),
)

templates = Table(
    "templates", metadata,
    Column("patient_id", String(64), ForeignKey("users.patient_id"), primary_key=True),
    Column("pack", String(64), primary_key=True),
    Column("dim", Integer, nullable=False),
    Column("sealed", LargeBinary, nullable=False),  # AES-256-GCM: nonce + ciphertext + tag
    Column("enrolled_ms", BigInteger, nullable=False),
)

gallery_entries = Table(
    "gallery_entries", metadata,
    Column("site_id", String(64), primary_key=True),
    Column("pack", String(64), primary_key=True),
    Column("patient_id", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("present", Boolean, nullable=False),
    Index("ix_gallery_sync", "site_id", "pack", "version"),
)

bills = Table(
    "bills", metadata,
    Column("bill_id", String(64), primary_key=True),
    Column("site_id", String(64), ForeignKey("sites.site_id"), nullable=False),
    Column("patient_id", String(64), ForeignKey("users.patient_id"), nullable=False),
    Column("visit_id", String(64), nullable=False),
    Column("category", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # pending | settled
    Column("total_fen", BigInteger, nullable=False),
    Column("eligible_fen", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("settlement_id", String(64)),
    Index("ix_bills_patient", "patient_id", "site_id", "status"),
)

bill_items = Table(
    "bill_items", metadata,
    Column("bill_id", String(64), ForeignKey("bills.bill_id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("description", String(128), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_fen", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("eligible", Boolean, nullable=False),
)

settlements = Table(
    "settlements", metadata,
    Column("settlement_id", String(64), primary_key=True),
    Column("receipt_no", String(48), nullable=False, unique=True),
    Column("bill_id", String(64), ForeignKey("bills.bill_id"), nullable=False, index=True),
    Column("site_id", String(64), nullable=False),
    Column("patient_id", String(64), nullable=False, index=True),
    Column("device_id", String(64), nullable=False),
    Column("method", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # settled | reversed
    Column("total_fen", BigInteger, nullable=False),
    Column("basic_pool_fen", BigInteger, nullable=False),
    Column("critical_illness_fen", BigInteger, nullable=False),
    Column("medical_aid_fen", BigInteger, nullable=False),
    Column("self_pay_fen", BigInteger, nullable=False),
    Column("charge_to_credit_fen", BigInteger, nullable=False),
    Column("pay_at_counter_fen", BigInteger, nullable=False),
    Column("year", Integer, nullable=False),
    Column("settled_ms", BigInteger, nullable=False),
    Column("reversed_ms", BigInteger),
    Column("reverse_reason", String(200)),
    Column("reversed_by", String(64)),
    Column("refund_fen", BigInteger),
    Index("ix_settlements_site_day", "site_id", "settled_ms"),
    Index("ix_settlements_site_reversed", "site_id", "reversed_ms"),
)

credit_charges = Table(
    "credit_charges", metadata,
    Column("settlement_id", String(64), ForeignKey("settlements.settlement_id"),
           primary_key=True),
    Column("patient_id", String(64), nullable=False, index=True),
    Column("amount_fen", BigInteger, nullable=False),
    Column("repaid_fen", BigInteger, nullable=False),
    Column("due_ms", BigInteger, nullable=False),
    Column("cancelled", Boolean, nullable=False),
)

repayments = Table(
    "repayments", metadata,
    Column("repayment_id", String(64), primary_key=True),
    Column("patient_id", String(64), ForeignKey("users.patient_id"), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("method", String(16), nullable=False),
    Column("reference", String(64)),
    Column("received_ms", BigInteger, nullable=False),
    Column("actor", String(80), nullable=False),
)

vouchers = Table(
    "vouchers", metadata,
    Column("token", String(32), primary_key=True),
    Column("patient_id", String(64), ForeignKey("users.patient_id"), nullable=False),
    Column("issued_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("revoked_ms", BigInteger),
)

second_factor_failures = Table(
    "second_factor_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False),
    Column("session_id", String(64), nullable=False),
    Column("patient_id", String(64), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Index("ix_sf_session", "device_id", "session_id", "patient_id"),
    Index("ix_sf_patient", "patient_id", "at_ms"),
)

handoffs = Table(
    "handoffs", metadata,
    Column("handoff_id", String(64), primary_key=True),
    Column("site_id", String(64), ForeignKey("sites.site_id"), nullable=False),
    Column("kiosk_id", String(64), ForeignKey("devices.device_id"), nullable=False),
    Column("session_id", String(64), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("taken_by", String(64), ForeignKey("devices.device_id")),
    Column("taken_ms", BigInteger),
    Index("ux_handoffs_session", "kiosk_id", "session_id", unique=True),
    Index("ix_handoffs_site_day", "site_id", "created_ms"),
)

handoff_sessions = Table(  # sessions merged into an earlier open hand-off of their kiosk
    "handoff_sessions", metadata,
    Column("kiosk_id", String(64), ForeignKey("devices.device_id"), primary_key=True),
    Column("session_id", String(64), primary_key=True),
    Column("handoff_id", String(64), ForeignKey("handoffs.handoff_id"), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_handoff_sessions_handoff", "handoff_id"),
)

handoff_patients = Table(  # who and how much, when the kiosk knew (after a look-up)
    "handoff_patients", metadata,
    Column("handoff_id", String(64), ForeignKey("handoffs.handoff_id"), primary_key=True),
    Column("patient_id", String(64), ForeignKey("users.patient_id")),
    Column("amount_fen", BigInteger),
)

handoff_closures = Table(  # a counter resolved it (served) or dismissed it (with a reason)
    "handoff_closures", metadata,
    Column("handoff_id", String(64), ForeignKey("handoffs.handoff_id"), primary_key=True),
    Column("state", String(16), nullable=False),  # resolved | dismissed
    Column("outcome", String(32), nullable=False),  # a fixed code, never free text
    Column("settlement_id", String(64)),
    Column("closed_by", String(64), ForeignKey("devices.device_id"), nullable=False),
    Column("closed_ms", BigInteger, nullable=False),
)

heartbeats = Table(  # the latest heartbeat of each device, replaced by the next one
    "heartbeats", metadata,
    Column("device_id", String(64), ForeignKey("devices.device_id"), primary_key=True),
    Column("received_ms", BigInteger, nullable=False),
    Column("report", Text, nullable=False),  # the HeartbeatRequest, as the device sent it
)

nonces = Table(
    "nonces", metadata,
    Column("key_id", String(64), primary_key=True),
    Column("nonce", String(128), primary_key=True),
    Column("expires_ms", BigInteger, nullable=False, index=True),
)

idempotency = Table(
    "idempotency", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_ms", BigInteger, nullable=False, index=True),
)

audit_log = Table(
    "audit_log", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

reported_anchors = Table(  # audit heads devices reported through POST /v1/reconcile
    "reported_anchors", metadata,
    Column("device_id", String(64), ForeignKey("devices.device_id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(64), primary_key=True),
    Column("reported_ms", BigInteger, nullable=False),
)

counters = Table(
    "counters", metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

meta = Table(
    "meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

T = TypeVar("T")
log = logging.getLogger("server_stub.db")
MAX_BATCH = 64
GENESIS_HASH = "0" * 64
AUDIT_HEAD = "audit_head"  # meta row "seq:hash": the chain's one serialisation point
COUNTERS = ("gallery_version", "receipt")


class _JobFailed(Exception):
    """A job of an all-or-nothing batch run failed; the batch is run again job by job."""


class _WriterLock:
    """One SQLite writer at a time, across threads and processes (server workers, admin
    commands). SQLite's own busy handler would also serialise them, but it polls with
    sleeps of up to 100 ms; a blocking ``flock`` hands the lock over as soon as it is free."""

    def __init__(self, database: str | None) -> None:
        self._threads = threading.Lock()
        self._path = (f"{database}.writer-lock" if fcntl is not None and database
                      and database != ":memory:" else None)
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._threads.acquire()
        if self._path is None:
            return
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *_exc: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        with self._threads:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


@dataclass
class _Job:
    fn: Callable[[Connection], Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None
    awaited: bool = True
    on_done: Callable[[_Job], None] | None = None  # called from the writer thread


def _resolve(future: asyncio.Future[Any], job: _Job) -> None:
    if future.cancelled():  # the caller went away; the job's outcome stands regardless
        return
    if job.error is not None:
        future.set_exception(job.error)
    else:
        future.set_result(job.result)


class Database:
    """Engines and transactions.

    ``write()`` is one atomic, durable transaction. ``transact(fn)`` is the same guarantee
    with group commit: one writer thread takes every job waiting, runs each in its own
    SAVEPOINT (a failing job rolls back alone), commits the batch with one fsync, and only
    then returns to the callers. A crash before that commit loses the whole batch and no
    caller has been answered, so nothing acknowledged is ever lost or half-applied.
    """

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite and self.url.database and self.url.database != ":memory:":
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine = self._engine()
        self._writer = _WriterLock(self.url.database) if self.is_sqlite else None
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()

    def _engine(self) -> Engine:
        # sized for the worker threads: an overflow connection is opened and closed per use
        engine = create_engine(self.url, pool_size=24, max_overflow=16, pool_timeout=30)
        if self.is_sqlite:
            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.isolation_level = None  # BEGIN is ours: _transaction
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=FULL")  # durable: fsync at every commit
                cursor.execute("PRAGMA busy_timeout=10000")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()
        return engine

    @contextmanager
    def _transaction(self, conn: Connection, *, immediate: bool) -> Iterator[Connection]:
        """SQLite's driver runs in autocommit mode (above), so BEGIN is issued here; not from
        a "begin" event, because any connection event makes SQLAlchemy dispatch events
        around every statement (about a tenth of its cost per statement)."""
        with conn.begin():
            if self.is_sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
            yield conn

    def create_schema(self) -> None:
        metadata.create_all(self.engine)
        with self.write() as conn:
            have = set(conn.execute(select(counters.c.name)).scalars())
            for name in COUNTERS:
                if name not in have:
                    conn.execute(insert(counters).values(name=name, value=0))
            if conn.execute(select(meta.c.key).where(meta.c.key == AUDIT_HEAD)).first() is None:
                conn.execute(insert(meta).values(key=AUDIT_HEAD, value=f"0:{GENESIS_HASH}"))

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._writer or nullcontext(), self._immediate() as conn:
            yield conn

    @contextmanager
    def _immediate(self) -> Iterator[Connection]:
        """A write transaction; the caller holds the writer lock."""
        with self.engine.connect() as conn, self._transaction(conn, immediate=True):
            yield conn

    def transact(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` in the next group commit; its result once durable, or its error."""
        job = _Job(fn)
        self._submit(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """``transact`` for the event loop: awaits the group commit without holding a
        worker thread (one thread hop per request instead of three)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._submit(_Job(fn, on_done=lambda job: loop.call_soon_threadsafe(
            _resolve, future, job)))
        return await future

    def transact_later(self, fn: Callable[[Connection], Any]) -> None:
        """Queue ``fn`` for the next group commit without waiting for it."""
        self._submit(_Job(fn, awaited=False))

    def _submit(self, job: _Job) -> None:
        if self._thread is None:
            with self._thread_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._writer_loop, daemon=True,
                                                    name="db-writer")
                    self._thread.start()
        self._jobs.put(job)

    def _writer_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            # the lock first, then the batch: jobs that queued while another process was
            # writing join this batch, so each commit carries as many as are waiting
            with self._writer or nullcontext():
                batch = [job]
                while len(batch) < MAX_BATCH:
                    try:
                        more = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._jobs.put(None)
                        break
                    batch.append(more)
                self._run_batch(batch)

    def _run_batch(self, batch: list[_Job]) -> None:
        """Run the batch in one transaction. Jobs rarely fail, so they first run without a
        SAVEPOINT each (two statements per job saved); if one does fail, the whole
        transaction is rolled back and the batch runs again with one SAVEPOINT per job, so
        the failing job rolls back alone. Jobs are functions of the connection only, so a
        rolled-back first run leaves nothing behind."""
        try:
            if len(batch) == 1 or not self._commit_all(batch):
                self._commit_each(batch)
        except Exception as exc:  # the commit itself failed: nothing of the batch is kept
            for job in batch:
                job.error, job.result = job.error or exc, None
        finally:
            for job in batch:
                if job.error is not None and not job.awaited:
                    log.error("queued write failed", extra={"error": repr(job.error)})
                job.done.set()
                if job.on_done is not None:
                    job.on_done(job)

    def _commit_all(self, batch: list[_Job]) -> bool:
        """False (and nothing written) if any job failed."""
        try:
            with self._immediate() as conn:
                results = []
                for job in batch:
                    try:
                        results.append(job.fn(conn))
                    except Exception as exc:
                        raise _JobFailed from exc  # rolls the whole transaction back
        except _JobFailed:
            return False
        for job, result in zip(batch, results, strict=True):
            job.result = result
        return True

    def _commit_each(self, batch: list[_Job]) -> None:
        with self._immediate() as conn:
            for job in batch:
                try:
                    with conn.begin_nested():
                        job.result = job.fn(conn)
                except Exception as exc:
                    job.error = exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, self._transaction(conn, immediate=False):
            yield conn

    def dispose(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout=30)
            self._thread = None
        if self._writer is not None:
            self._writer.close()
        self.engine.dispose()


_NEXT = (update(counters).where(counters.c.name == bindparam("counter"))
         .values(value=counters.c.value + 1).returning(counters.c.value))


def next_value(conn: Connection, name: str) -> int:
    """Next number of a named counter, inside the caller's transaction."""
    return int(conn.execute(_NEXT, {"counter": name}).scalar_one())
