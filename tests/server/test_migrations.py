"""Schema migrations on both engines: the revisions build exactly ``metadata`` (a table or
column added to server_stub/db.py without a revision fails here), and a database made
before migrations existed is upgraded in place by ``kiosk-server db upgrade`` with its data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, insert, select, text

from server_stub import audit, migrations
from server_stub.db import audit_log, metadata, settlements, sites, users
from server_stub.storage import Database
from tests.pg import Cluster
from tests.server.live import admin, write_config


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/server.db"
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    name = cluster.database("mig")
    yield cluster.url(name)
    cluster.drop(name)


def schema_diff(db: Database) -> list[object]:
    with db.read() as conn:
        return compare_metadata(MigrationContext.configure(
            conn, opts={"compare_type": True}), metadata)


def test_the_revisions_build_exactly_the_tables_of_db_py(url: str):
    db = Database(url)
    try:
        with db.migrating() as conn:  # the revisions alone, not create_all
            command.upgrade(migrations.alembic_config(conn), "head")
        assert schema_diff(db) == [], ("server_stub/db.py has changes no revision makes: "
                                       "`kiosk-server db revision -m ...` (see "
                                       "server_stub/migrations/versions/README.md)")
        with db.read() as conn:
            assert migrations.current(conn) == migrations.head()
    finally:
        db.dispose()


def test_a_new_database_is_made_from_metadata_and_stamped_at_head(url: str):
    db = Database(url)
    try:
        db.create_schema()
        db.create_schema()  # again: nothing to do
        with db.read() as conn:
            assert migrations.current(conn) == migrations.head()
        assert schema_diff(db) == []
    finally:
        db.dispose()


def _pre_migration_database(db: Database) -> None:
    """A database as the code before migrations made it: the baseline's tables, no
    ``alembic_version``; with data in it."""
    with db.migrating() as conn:
        command.upgrade(migrations.alembic_config(conn), migrations.BASELINE)
        conn.execute(text("DROP TABLE alembic_version"))
    with db.write() as conn:
        conn.execute(text("INSERT INTO counters (name, value) VALUES ('receipt', 41), "
                          "('gallery_version', 7)"))
        conn.execute(text("INSERT INTO meta (key, value) VALUES ('audit_head', :head)"),
                     {"head": f"0:{'0' * 64}"})
        conn.execute(insert(sites).values(site_id="site_old", code="OLD", name="旧院",
                                          created_ms=1))
        conn.execute(insert(users).values(
            patient_id="P9", name="老用户", national_id_masked="3307**********0011",
            phone_masked="137****0011", phone_last4="0011", card_no=None,
            category="resident", credit_limit_fen=200_000, outstanding_fen=12_345,
            status="active", overdue_count=0, created_ms=1))
        for n in range(3):
            audit.append(conn, at_ms=n, actor="admin", action="site.created",
                         subject="site_old", details={"n": n})


def test_kiosk_server_db_upgrade_keeps_a_pre_migration_databases_data(url: str,
                                                                        tmp_path: Path):
    db = Database(url)
    try:
        _pre_migration_database(db)
        config = write_config(tmp_path, db_url=url)
        before = admin(config, "db", "current", check=False)
        assert before.returncode == 2 and json.loads(before.stdout)["current"] is None
        upgraded = json.loads(admin(config, "db", "upgrade").stdout)
        assert upgraded == {"from": None, "to": migrations.head(), "head": migrations.head()}
        now = json.loads(admin(config, "db", "current").stdout)
        assert now == {"current": migrations.head(), "head": migrations.head(),
                       "up_to_date": True}
        assert schema_diff(db) == []
        with db.read() as conn:
            assert conn.execute(select(users.c.outstanding_fen, users.c.name)).all() == [
                (12_345, "老用户")]
            assert conn.execute(select(func.count()).select_from(audit_log)).scalar() == 3
            assert conn.execute(select(func.count()).select_from(settlements)).scalar() == 0
            assert conn.execute(text("SELECT value FROM counters WHERE name = 'receipt'")
                                ).scalar() == 41
        verify = json.loads(admin(config, "audit", "verify").stdout)
        assert verify["ok"] and verify["records"] == 3
        again = json.loads(admin(config, "db", "upgrade").stdout)
        assert again["from"] == again["to"] == migrations.head()
    finally:
        db.dispose()


def test_db_current_says_a_database_is_behind(url: str, tmp_path: Path):
    db = Database(url)
    try:
        with db.migrating() as conn:
            command.upgrade(migrations.alembic_config(conn), migrations.BASELINE)
    finally:
        db.dispose()
    config = write_config(tmp_path, db_url=url)
    behind = admin(config, "db", "current", check=False)
    assert behind.returncode == 2
    assert json.loads(behind.stdout) == {"current": migrations.BASELINE,
                                         "head": migrations.head(), "up_to_date": False}
