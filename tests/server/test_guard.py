"""Brute force (protocol §5): a device hammering the platform is slowed down or locked out,
and every other device is served as before. Real platform, two worker processes."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator

import pytest
import requests

from kiosk.protocol.keys import generate_private_key
from kiosk.protocol.signing import DeviceSigner
from tests.server.live import Server, error_code, start_server

LIMIT, FAILURES = 30, 5
CONFIG = (f"workers = 2\n[security]\nrate_limit_per_minute = {LIMIT}\n"
          f"lockout_failures = {FAILURES}\nlockout_window_s = 60\nlockout_s = 120\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, db_url: str | None) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("guard"), CONFIG, db_url=db_url)
    yield running
    running.stop()


def fresh(session: requests.Session) -> requests.Session:
    """A new connection per request, so both workers take their share."""
    session.headers["Connection"] = "close"
    return session


def test_a_device_over_its_rate_is_told_to_wait_and_others_are_not(server: Server):
    hammer, other = server.device("kiosk"), server.device("counter")
    fresh(hammer.session)
    replies = [hammer.get("/v1/gallery?pack=p") for _ in range(2 * LIMIT + 1)]
    limited = [r for r in replies if r.status_code == 429]
    assert limited, "never rate-limited"
    first = limited[0]
    assert error_code(first) == "auth.rate_limited"
    wait = first.json()["error"]["details"]["retry_after_s"]
    assert 1 <= wait <= 60 and first.headers["Retry-After"] == str(wait)
    assert other.get("/v1/handoffs").status_code == 200  # another device is not slowed
    audited = server.sql("select count(*) from audit_log where details like "
                         "'%auth.rate_limited%'")
    assert audited == [(0,)]  # the flood does not reach the money writer


def test_failed_authentications_lock_one_device_out(server: Server):
    victim, bystander = server.device("kiosk"), server.device("kiosk")
    assert victim.get("/v1/gallery?pack=p").status_code == 200
    impostor = fresh(requests.Session())
    impostor.auth = DeviceSigner(victim.device_id, generate_private_key())
    for _ in range(FAILURES):
        reply = impostor.get(f"{server.base}/v1/gallery?pack=p", timeout=10)
        assert (reply.status_code, error_code(reply)) == (401, "auth.bad_signature")
    locked = victim.get("/v1/gallery?pack=p")  # the right key, but the device is locked
    assert (locked.status_code, error_code(locked)) == (423, "auth.device_locked")
    assert 1 <= int(locked.headers["Retry-After"]) <= 120
    assert bystander.get("/v1/gallery?pack=p").status_code == 200
    verify = json.loads(server.admin("audit", "verify").stdout)
    assert verify["ok"]
    locks = server.sql("select subject from audit_log where action = 'device.locked'")
    assert locks == [(victim.device_id,)]


def test_unknown_keyids_are_not_counted(server: Server, db_url: str | None):
    stranger = requests.Session()
    stranger.auth = DeviceSigner("dev_ffffffffffffffff", generate_private_key())
    for _ in range(FAILURES + 1):
        reply = stranger.get(f"{server.base}/v1/gallery?pack=p", timeout=10)
        assert error_code(reply) == "auth.unknown_key"
    if db_url is not None:  # PostgreSQL: the main database's table
        counted = server.sql("select count(*) from device_guard where device_id = :d",
                             d="dev_ffffffffffffffff")
    else:
        with sqlite3.connect(f"{server.db_file}.guard.sqlite") as db:
            counted = db.execute("select count(*) from guard where device_id = ?",
                                 ("dev_ffffffffffffffff",)).fetchall()
    assert counted == [(0,)]


def test_a_kiosk_with_a_drifting_clock_is_not_locked_out(server: Server):
    device = server.device("kiosk")
    key = device.session.auth.private_key
    skewed = requests.Session()
    skewed.auth = DeviceSigner(device.device_id, key, clock=lambda: time.time() + 900)
    for _ in range(FAILURES + 1):
        reply = skewed.get(f"{server.base}/v1/gallery?pack=p", timeout=10)
        assert error_code(reply) == "auth.clock_skew"
    assert device.get("/v1/gallery?pack=p").status_code == 200


def test_postgresql_counters_skip_the_wal_wait_and_money_does_not(pg_url: str):
    """The guard's own pool: autocommit sessions with ``synchronous_commit = off``, one round
    trip per counter; the money pool beside it on the same database stays synchronous."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from server_stub import engines

    url = make_url(pg_url)
    counters, money = engines.counters_engine(url), engines.create(url)
    try:
        with counters.connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "off"
            conn.execute(text("CREATE TABLE guard_probe (n int)"))
            conn.execute(text("INSERT INTO guard_probe VALUES (1)"))  # no commit: autocommit
        with money.connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "on"
            assert conn.execute(text("SELECT n FROM guard_probe")).scalar() == 1
            assert conn.execute(text("SELECT current_setting('application_name')")
                                ).scalar() == "kiosk-server"
        with counters.connect() as conn:
            assert conn.execute(text("SELECT current_setting('application_name')")
                                ).scalar() == "kiosk-server-counters"
            conn.execute(text("DROP TABLE guard_probe"))
    finally:
        counters.dispose()
        money.dispose()
