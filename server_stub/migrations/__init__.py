"""Schema migrations (Alembic), the same revisions for SQLite and PostgreSQL.

``upgrade(db)`` brings any database to the newest revision under the schema lock
(``Database.migrating``: every worker and host that starts at once migrates it once):

* an empty database gets today's tables straight from ``metadata`` and is stamped at head
  (what the revisions would build, as tests/server/test_migrations.py checks);
* a database made before migrations existed (tables, no ``alembic_version``) is the
  baseline's schema: stamped ``BASELINE``, then upgraded;
* any other is upgraded from its revision.

Adding a revision: server_stub/migrations/versions/README.md.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from server_stub.db import metadata
from server_stub.storage import Database

HERE = Path(__file__).resolve().parent
BASELINE = "0001"
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin


def alembic_config(conn: Connection | None = None) -> Config:
    config = Config(stdout=sys.stderr)  # commands print progress; stdout is for results
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = conn
    return config


def head() -> str:
    """The newest revision the code knows."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads {heads}: merge them "
                           "(alembic merge) so there is one newest revision")
    return heads[0]


def next_id() -> str:
    """The id of the revision to add after the newest: the next four-digit number."""
    return f"{int(head()) + 1:04d}"


def current(conn: Connection) -> str | None:
    """The revision a database is at (None: made before migrations, or empty)."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str]:
    """Bring ``db`` to ``revision`` (module docstring); ``(revision before, after)``."""
    if revision == "head":  # the common case, every start and admin command: no lock
        newest = head()
        with db.read() as conn:
            if current(conn) == newest:
                return newest, newest
    with db.migrating() as conn:
        before = current(conn)
        config = alembic_config(conn)
        if before is None:
            if not set(inspect(conn).get_table_names()) & set(metadata.tables):
                if revision == "head":
                    metadata.create_all(conn)
                    command.stamp(config, "head")
                    return None, head()
            else:
                command.stamp(config, BASELINE)
        command.upgrade(config, revision)
        return before, current(conn) or ""
