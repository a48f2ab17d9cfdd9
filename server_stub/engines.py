"""What differs between the two storage engines, in one place.

* **SQLite** (the embedded default: demo, development, single-kiosk trials): WAL,
  ``synchronous=FULL``, one writer at a time (``BEGIN IMMEDIATE`` behind a file lock) and
  group commit (server_stub/writer.py).
* **PostgreSQL** (production, through psycopg 3): group commit per process as well, but no
  file lock; rows a money transaction changes are locked ``FOR UPDATE``, so the batches of
  any number of processes and platform hosts queue on the rows they share and nothing
  else. A job that hit a deadlock (``40P01``) or serialization failure (``40001``) was
  rolled back whole and runs again. The URL may name several hosts
  (``?host=a,b&port=5432,5432&target_session_attrs=read-write``): libpq connects to
  whichever is the primary, which is how the platform follows a promoted standby.
"""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

# transient PostgreSQL conflicts: the transaction was rolled back and may simply run again
RETRY_SQLSTATES = frozenset({"40001", "40P01"})
# PostgreSQL "cannot serve now": connection failures, the server shutting down or starting,
# a read-only standby, a full disk, I/O errors, too many connections
_PG_UNAVAILABLE_CLASSES = ("08", "53", "57", "58", "25006")
_TRY_KEY_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))")
# one lock id for "the schema is being migrated" (any constant, the same on every host)
MIGRATION_LOCK_ID = 0x6B696F736B  # "kiosk"


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def create(url: URL) -> Engine:
    """The engine for ``url``, with the per-engine connection settings."""
    if is_sqlite(url):
        # sized for the worker threads: an overflow connection is opened and closed per use
        engine = create_engine(url, pool_size=24, max_overflow=16, pool_timeout=30)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # BEGIN is ours: Database._transaction
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")  # durable: fsync at every commit
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
        return engine
    # pre-ping: after a failover the pool's connections point at the dead primary; each is
    # tested on checkout and replaced by one the multi-host URL opens on the new primary
    return create_engine(_pg_url(url, "kiosk-server"), pool_size=16, max_overflow=16,
                         pool_timeout=30, pool_pre_ping=True, pool_recycle=1800)


def counters_engine(url: URL) -> Engine:
    """PostgreSQL: a small pool of its own for counters a crash may lose (the brute-force
    guard's). Its sessions run in autocommit with ``synchronous_commit = off``, set once
    when each connects, so a counter is one round trip, not BEGIN, SET LOCAL, the statement
    and COMMIT; the money transactions' pool keeps every commit synchronous."""
    query = dict(url.query)
    query["options"] = f"{query.get('options', '')} -c synchronous_commit=off".strip()
    return create_engine(_pg_url(url.set(query=query), "kiosk-server-counters"),
                         pool_size=4, max_overflow=12, pool_timeout=30, pool_pre_ping=True,
                         pool_recycle=1800, isolation_level="AUTOCOMMIT")


def _pg_url(url: URL, application: str) -> URL:
    query = dict(url.query)
    query.setdefault("connect_timeout", "5")
    query.setdefault("application_name", application)
    return url.set(query=query)


def sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE behind ``exc`` (a SQLAlchemy or psycopg error), if any."""
    seen: BaseException | None = exc
    while seen is not None:
        orig = seen.orig if isinstance(seen, DBAPIError) else seen
        state = getattr(orig, "sqlstate", None)
        if isinstance(state, str):
            return state
        seen = seen.__cause__ or seen.__context__
    return None


def retryable(exc: BaseException) -> bool:
    """A PostgreSQL conflict that rolled the whole transaction back (run it again)."""
    return sqlstate(exc) in RETRY_SQLSTATES


def pg_unavailable(exc: BaseException) -> bool:
    """PostgreSQL cannot serve right now (no primary reachable, one shutting down, a
    standby not yet promoted, a full disk): the request may be retried later."""
    state = sqlstate(exc)
    if state is not None:
        return state.startswith(_PG_UNAVAILABLE_CLASSES)
    seen: BaseException | None = exc
    while seen is not None:  # a connection that failed before the server said anything
        if isinstance(seen, DBAPIError) and (
                seen.connection_invalidated or isinstance(seen.orig, psycopg.OperationalError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def try_key_lock(conn: Connection, key: str) -> bool:
    """Claim ``key`` for the rest of the transaction, across every platform host; False
    when another transaction holds it. SQLite has one writer, so there it always holds."""
    if conn.dialect.name != "postgresql":
        return True
    return bool(conn.execute(_TRY_KEY_LOCK, {"key": key}).scalar_one())


def upsert(conn: Connection, table: Table, values: dict[str, Any], keys: list[str]) -> None:
    """Insert ``values``, or update the row with the same ``keys``: one statement, safe when
    two hosts write the same row at once."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(values)
    conn.execute(statement.on_conflict_do_update(
        index_elements=keys,
        set_={k: getattr(statement.excluded, k) for k in values if k not in keys}))

