"""Storage: SQLAlchemy Core tables and transactions, on SQLite (WAL, the embedded default)
or PostgreSQL (production; server_stub/engines.py says what differs).

Timestamps are integer milliseconds since the epoch (UTC) and money integer fen, so nothing
depends on a database's date or decimal types. Rows that a money-moving transaction changes
are read ``with_for_update()``: a no-op on SQLite, where ``BEGIN IMMEDIATE`` plus one
writer lock serialise writers, and row locks on PostgreSQL.

A new or changed table needs an Alembic revision too (server_stub/migrations/versions/);
tests/server/test_migrations.py fails until the revisions build exactly these tables.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
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
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url

from server_stub import engines

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
    # AES-256-GCM (SM4-GCM under the gm crypto profile): nonce + ciphertext + tag
    Column("sealed", LargeBinary, nullable=False),
    Column("enrolled_ms", BigInteger, nullable=False),
)

relatives = Table(  # 亲情付: a patient's recorded consent that a relative may pay for them
    "relatives", metadata,
    Column("patient_id", String(64), ForeignKey("users.patient_id"), primary_key=True),
    Column("relative_id", String(64), ForeignKey("users.patient_id"), primary_key=True),
    Column("relation", String(16), nullable=False),
    Column("consent_version", String(64), nullable=False),
    Column("consented_ms", BigInteger, nullable=False),
    Column("authorised_ms", BigInteger, nullable=False),
    Column("authorised_by", String(80), nullable=False),
    Column("withdrawn_ms", BigInteger),
    Column("withdrawn_by", String(80)),
)

gallery_entries = Table(
    "gallery_entries", metadata,
    Column("site_id", String(64), primary_key=True),
    Column("pack", String(64), primary_key=True),
    Column("patient_id", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("present", Boolean, nullable=False),
    Index("ix_gallery_sync", "site_id", "pack", "version"),
    # a user's rows, read at every settlement (gallery.refresh_user): without it, a scan
    # of every site's gallery (316,800 rows at city scale) inside the money transaction
    Index("ix_gallery_patient", "patient_id"),
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

repayment_orders = Table(  # a kiosk's payment QR at the provider (server_stub/repayment_orders)
    "repayment_orders", metadata,
    Column("order_id", String(64), primary_key=True),  # the provider's out_trade_no
    Column("site_id", String(64), ForeignKey("sites.site_id"), nullable=False),
    Column("device_id", String(64), ForeignKey("devices.device_id"), nullable=False),
    Column("patient_id", String(64), ForeignKey("users.patient_id"), nullable=False),
    Column("settlement_id", String(64)),  # the charge chosen first, if any
    Column("amount_fen", BigInteger, nullable=False),
    Column("provider", String(32), nullable=False),
    Column("code_url", String(512), nullable=False),
    Column("state", String(16), nullable=False),  # open | paid | failed | closed | expired
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("ended_ms", BigInteger),
    Column("transaction_id", String(64), unique=True),  # the provider's: credited once
    Column("repayment_id", String(64), ForeignKey("repayments.repayment_id")),
    Column("refund_id", String(64)),  # money the provider took that was not credited
    Column("refund_fen", BigInteger),
    Column("paid_by", String(64)),  # a relative paying for the patient (亲情付), if one
    Index("ix_repayment_orders_open", "state", "expires_ms"),
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

his_bills = Table(  # bills fed by a hospital system, keyed by its own bill number
    "his_bills", metadata,
    Column("site_id", String(64), ForeignKey("sites.site_id"), primary_key=True),
    Column("bill_no", String(64), primary_key=True),
    Column("bill_id", String(64), ForeignKey("bills.bill_id"), nullable=False, unique=True),
    Column("device_id", String(64), ForeignKey("devices.device_id"), nullable=False),
    Column("created_hash", String(64), nullable=False),  # sha256 of the create request
    Column("revision", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

his_bill_lines = Table(  # each fed line's insurance class (甲/乙/丙), beside bill_items
    "his_bill_lines", metadata,
    Column("bill_id", String(64), ForeignKey("bills.bill_id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("insurance_class", String(1), nullable=False),
)

reminders = Table(  # one repayment reminder per credit charge and stage, at most
    "reminders", metadata,
    Column("settlement_id", String(64), ForeignKey("credit_charges.settlement_id"),
           primary_key=True),
    Column("stage", String(16), primary_key=True),  # before | due | overdue
    Column("patient_id", String(64), ForeignKey("users.patient_id"), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),  # still owed on this charge
    Column("due_ms", BigInteger, nullable=False),
    Column("text", Text, nullable=False),
    Column("state", String(16), nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("sent_ms", BigInteger),
    Column("gateway_ref", String(64)),
    Index("ix_reminders_state", "state", "created_ms"),
)

job_leases = Table(  # the platform's own schedules: who runs each job, and when next
    "job_leases", metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(80)),
    Column("lease_until_ms", BigInteger, nullable=False),
    Column("next_due_ms", BigInteger, nullable=False),
    Column("runs", BigInteger, nullable=False),
    Column("cursor", String(64)),  # a job's own progress (the last day exported)
    Column("last_started_ms", BigInteger),
    Column("last_finished_ms", BigInteger),
    Column("last_result", Text),
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

device_guard = Table(  # PostgreSQL's brute-force counters (server_stub/guard.py)
    "device_guard", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("window_ms", BigInteger, nullable=False),
    Column("requests", BigInteger, nullable=False),
    Column("fail_window_ms", BigInteger, nullable=False),
    Column("failures", BigInteger, nullable=False),
    Column("locked_until_ms", BigInteger, nullable=False),
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
RETRIES = 8  # PostgreSQL: runs of one transaction that deadlocked or failed to serialise
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
    with group commit: one writer thread per process takes every job waiting, runs each in
    its own SAVEPOINT (a failing job rolls back alone), commits the batch with one fsync,
    and only then returns to the callers. A crash before that commit loses the whole batch
    and no caller has been answered, so nothing acknowledged is ever lost or half-applied.

    On SQLite the batches of all processes take turns behind the file lock. On PostgreSQL
    there is no file lock: batches of different processes and hosts meet only on the rows
    they share, locked ``FOR UPDATE``; a job that deadlocked or failed to serialise runs
    again in the next batch (jobs are functions of the connection only, so a rolled-back run
    leaves nothing behind). Group commit matters there too: every money transaction ends on
    the counters and the audit chain's head (one row each, held to the commit), so
    transactions one by one would take turns at one commit (and standby round trip) each;
    a batch takes its turn once for all its jobs (measured: README, Platform database).
    """

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.is_sqlite = engines.is_sqlite(self.url)
        if self.is_sqlite and self.url.database and self.url.database != ":memory:":
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = engines.create(self.url)
        self._writer = _WriterLock(self.url.database) if self.is_sqlite else None
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()

    @contextmanager
    def _transaction(self, conn: Connection, *, immediate: bool) -> Iterator[Connection]:
        """SQLite's driver runs in autocommit mode (above), so BEGIN is issued here; not from
        a "begin" event, because any connection event makes SQLAlchemy dispatch events
        around every statement (about a tenth of its cost per statement)."""
        with conn.begin():
            if self.is_sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
            elif not immediate:  # one snapshot for the whole read, as SQLite's WAL gives
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield conn

    def create_schema(self) -> None:
        """Bring the schema to the newest revision (server_stub/migrations), then make sure
        the counters and the audit chain's head exist."""
        from server_stub import migrations

        migrations.upgrade(self)
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

    @contextmanager
    def migrating(self) -> Iterator[Connection]:
        """One transaction holding the schema lock of every process and host: the SQLite
        writer lock, or a PostgreSQL advisory lock (hosts starting together migrate once)."""
        with self._writer or nullcontext(), self.engine.connect() as conn:
            if not self.is_sqlite:
                conn.exec_driver_sql(f"SELECT pg_advisory_lock({engines.MIGRATION_LOCK_ID})")
                conn.commit()
            try:
                with self._transaction(conn, immediate=True):
                    yield conn
            finally:
                if not self.is_sqlite:
                    conn.exec_driver_sql(
                        f"SELECT pg_advisory_unlock({engines.MIGRATION_LOCK_ID})")
                    conn.commit()

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
        rolled-back first run leaves nothing behind. On PostgreSQL, jobs that met a deadlock
        or a serialization failure run again (with a short, growing pause)."""
        pending = batch
        try:
            for attempt in range(RETRIES):
                try:
                    if len(pending) == 1 or not self._commit_all(pending):
                        self._commit_each(pending)
                except Exception as exc:  # the commit itself failed: none of it is kept
                    for job in pending:
                        job.error, job.result = job.error or exc, None
                pending = [job for job in pending
                           if job.error is not None and engines.retryable(job.error)]
                if not pending or attempt == RETRIES - 1:
                    break
                for job in pending:
                    job.error, job.result = None, None
                time.sleep(0.002 * 2 ** attempt)
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
