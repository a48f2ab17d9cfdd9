"""The platform's database: engines and transactions, on SQLite (WAL, the embedded default)
or PostgreSQL (production; server_stub/engines.py says what differs). The tables are in
server_stub/db.py, the group-commit writer thread in server_stub/writer.py.

Rows that a money-moving transaction changes are read ``with_for_update()``: a no-op on
SQLite, where ``BEGIN IMMEDIATE`` plus one writer lock serialise writers, and row locks on
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.engine import make_url

from server_stub import engines
from server_stub.db import AUDIT_HEAD, COUNTERS, GENESIS_HASH, counters, meta
from server_stub.writer import GroupCommit, WriterLock

T = TypeVar("T")


class Database:
    """Engines and transactions.

    ``write()`` is one atomic, durable transaction. ``transact(fn)`` is the same guarantee
    with group commit (server_stub/writer.py): many callers' jobs, one commit, each caller
    answered only once its job is durable.
    """

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.is_sqlite = engines.is_sqlite(self.url)
        if self.is_sqlite and self.url.database and self.url.database != ":memory:":
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = engines.create(self.url)
        self._writer = WriterLock(self.url.database) if self.is_sqlite else None
        self.group_commit = GroupCommit(self._immediate, self._writer)

    @contextmanager
    def _transaction(self, conn: Connection, *, immediate: bool) -> Iterator[Connection]:
        """SQLite's driver runs in autocommit mode (server_stub/engines.py), so BEGIN is
        issued here; not from a "begin" event, because any connection event makes SQLAlchemy
        dispatch events around every statement (about a tenth of its cost per statement)."""
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
        return self.group_commit.transact(fn)

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """``transact`` for the event loop, without holding a worker thread."""
        return await self.group_commit.run(fn)

    def transact_later(self, fn: Callable[[Connection], Any]) -> None:
        """Queue ``fn`` for the next group commit without waiting for it."""
        self.group_commit.transact_later(fn)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, self._transaction(conn, immediate=False):
            yield conn

    def dispose(self) -> None:
        self.group_commit.close()
        if self._writer is not None:
            self._writer.close()
        self.engine.dispose()
