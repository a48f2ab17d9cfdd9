"""The platform's own schedules with two platform processes on one database (SQLite, then
PostgreSQL), their clock moved forward by libfaketime (the processes' own clock: no test
hook in the platform).

Each due job runs exactly once across both processes; overdue users are suspended, the
reminder of the stage goes out once and the day's reconciliation lands in the export folder
without anyone typing a command."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select, text

from common.net import free_port
from server_stub import scheduler
from server_stub.clock import from_datetime
from server_stub.config import PlatformConfigError, ScheduleSection, ServerConfig, load_config
from server_stub.db import audit_log, job_leases
from server_stub.storage import Database
from tests.server.live import Device, Server, admin, write_config

FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
JOBS = ("credit.overdue", "reminders", "purge", "recon.export")
ZONE = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.skipif(not FAKETIME.exists(),
                                reason="needs libfaketime (Debian package faketime)")


class Store:
    """The platforms' database, read by the test (the test's own clock is not faked)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    def query(self, sql: str, **params: object) -> list[tuple]:
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]

    def leases(self) -> dict[str, int]:
        return {name: int(runs) for name, runs in self.query(
            "SELECT name, runs FROM job_leases")}


@pytest.fixture
def platforms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str | None
              ) -> Iterator[tuple[list[Server], Path, dict[str, object], Store]]:
    clock = tmp_path / "faketime"
    clock.write_text("+0d\n")
    for name, value in {"LD_PRELOAD": str(FAKETIME), "FAKETIME_TIMESTAMP_FILE": str(clock),
                        "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}.items():
        monkeypatch.setenv(name, value)  # every platform process and admin command from here
    config = write_config(tmp_path, "[schedule]\ntick_s = 1\n", db_url)
    store = Store(db_url or f"sqlite:///{tmp_path / 'server.db'}")
    admin(config, "init")
    seed = json.loads(admin(config, "seed", "demo").stdout)
    servers = [Server(config=config, directory=tmp_path, port=free_port(), seed=seed)
               for _ in range(2)]
    try:
        for server in servers:
            server.start()
        yield servers, clock, seed, store
    finally:
        for server in servers:
            server.stop()
        store.engine.dispose()


def wait_for(store: Store, runs: dict[str, int], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if store.leases() == runs:
            time.sleep(3)  # three more ticks of each process: nothing may run again
            assert store.leases() == runs
            return
        time.sleep(0.2)
    raise AssertionError(f"jobs ran {store.leases()}, expected {runs}")


def test_each_due_job_runs_once_across_two_platform_processes(platforms):
    servers, clock, seed, store = platforms
    wait_for(store, {"credit.overdue": 1, "reminders": 1, "purge": 1, "recon.export": 0})
    for server in servers:
        assert "scheduler started" in server.log.read_text()  # both compete for every job
    counter = Device.register(servers[0], seed["enrolment_tokens"]["counter"])
    settled = counter.settle("B1003-1", "P1003", "card")
    assert settled.status_code == 201, settled.text
    settlement_id = settled.json()["settlement_id"]
    due_day = dt.date.fromisoformat(settled.json()["credit_due_date"])

    clock.write_text("+28d\n")  # 2 days before the due day (repayment_days 30)
    wait_for(store, {"credit.overdue": 2, "reminders": 2, "purge": 2, "recon.export": 1})
    assert store.query("SELECT stage, state FROM reminders WHERE settlement_id = :s",
                       s=settlement_id) == [("before", "sent")]
    yesterday = due_day - dt.timedelta(days=3)
    export = servers[0].directory / "var" / "recon" / "YK01" / f"{yesterday}.csv"
    assert export.read_text(encoding="utf-8").startswith("kind,")
    assert store.query("SELECT status FROM users WHERE patient_id = 'P1003'") == [("active",)]

    clock.write_text("+31d\n")  # the day after the due day
    wait_for(store, {"credit.overdue": 3, "reminders": 3, "purge": 3, "recon.export": 2})
    assert store.query("SELECT status, status_reason FROM users WHERE patient_id = 'P1003'"
                       ) == [("suspended", "overdue")]
    assert store.query("SELECT stage FROM reminders WHERE settlement_id = :s "
                       "ORDER BY created_ms", s=settlement_id) == [("before",), ("overdue",)]
    outboxes = list(servers[0].directory.rglob("*sms-outbox.jsonl"))
    assert len(outboxes) == 1, outboxes
    outbox = [json.loads(line) for line in outboxes[0].read_text(encoding="utf-8").splitlines()]
    assert [m["key"] for m in outbox] == [f"{settlement_id}:before", f"{settlement_id}:overdue"]
    # the export caught up on the days no run covered (between the two clock moves)
    days = sorted(p.stem for p in export.parent.glob("*.csv"))
    assert days[-1] == due_day.isoformat()
    assert len(days) == 4
    ran = store.query("SELECT subject, COUNT(*) FROM audit_log "
                      "WHERE action = 'schedule.ran' GROUP BY subject")
    assert dict(ran) == {"credit.overdue": 3, "reminders": 3, "purge": 3, "recon.export": 2}
    status = json.loads(servers[0].admin("schedule", "status").stdout)
    jobs = {job["name"]: job for job in status["jobs"]}
    assert {name: job["runs"] for name, job in jobs.items()} == store.leases()
    assert jobs["credit.overdue"]["last_result"] == {"suspended": 1, "blacklisted": 0}
    assert all(job["running_on"] is None for job in jobs.values())  # every lease released
    assert jobs["recon.export"]["cursor"] == due_day.isoformat()


def test_the_daily_export_is_due_at_its_local_time_the_next_day_across_midnight():
    at = scheduler.daily_at("01:30", "Asia/Shanghai")
    evening = from_datetime(dt.datetime(2026, 12, 3, 22, 0, tzinfo=ZONE))
    assert at(evening) == from_datetime(dt.datetime(2026, 12, 4, 1, 30, tzinfo=ZONE))
    exactly = from_datetime(dt.datetime(2026, 12, 4, 1, 30, tzinfo=ZONE))
    assert at(exactly) == from_datetime(dt.datetime(2026, 12, 5, 1, 30, tzinfo=ZONE))


class Counting:
    """A job that counts its runs; ``fail`` makes the next run raise."""

    def __init__(self) -> None:
        self.runs: list[int] = []
        self.fail = False

    def __call__(self, now: int, _cursor: str | None) -> scheduler.Outcome:
        if self.fail:
            self.fail = False
            raise OSError("disk full")
        self.runs.append(now)
        return scheduler.Outcome({"n": len(self.runs)})


def lease_world(tmp_path: Path) -> tuple[Database, ServerConfig, Counting, list[int]]:
    config = ServerConfig(schedule=ScheduleSection(lease_s=60))
    db = Database(f"sqlite:///{tmp_path / 'leases.db'}")
    db.create_schema()
    return db, config, Counting(), [1_000_000]


def test_a_dead_holders_job_is_taken_over_after_its_lease_and_its_late_finish_is_ignored(
        tmp_path: Path):
    db, config, job, clock = lease_world(tmp_path)
    jobs = [scheduler.Job("count", job, lambda now: now + 3_600_000)]
    a, b = (scheduler.Scheduler(db, config, jobs, holder=name, clock=lambda: clock[0])
            for name in ("a", "b"))
    try:
        a._ensure_rows()
        b._ensure_rows()
        taken = a._take(jobs[0], clock[0])  # a takes the job ... and dies before finishing
        assert taken is not None
        clock[0] += 30_000
        assert b.tick() == []  # a's lease still holds
        clock[0] += 31_000
        assert b.tick() == ["count"] and len(job.runs) == 1  # taken over once the lease ended
        a._finish(jobs[0], taken[0], clock[0] - 61_000, scheduler.Outcome({"late": True}), None)
        with db.read() as conn:
            row = conn.execute(select(job_leases)).one()
        assert (row.runs, row.holder, json.loads(row.last_result)) == (1, None, {"n": 1})
        assert a.tick() == b.tick() == []  # not due again for an hour
        clock[0] += 3_600_000
        assert a.tick() == ["count"] and b.tick() == [] and len(job.runs) == 2
    finally:
        db.dispose()


def test_a_failing_job_is_retried_soon_and_does_not_stop_the_others(tmp_path: Path):
    db, config, job, clock = lease_world(tmp_path)
    other = Counting()
    jobs = [scheduler.Job("count", job, lambda now: now + 3_600_000),
            scheduler.Job("other", other, lambda now: now + 3_600_000)]
    runner = scheduler.Scheduler(db, config, jobs, holder="a", clock=lambda: clock[0])
    try:
        runner._ensure_rows()
        job.fail = True
        assert runner.tick() == ["count", "other"]
        assert (len(job.runs), len(other.runs)) == (0, 1)
        clock[0] += scheduler.RETRY_MS
        assert runner.tick() == ["count"] and len(job.runs) == 1
        with db.read() as conn:
            failed = conn.execute(select(audit_log.c.details).where(
                audit_log.c.action == "schedule.ran", audit_log.c.subject == "count")
                .order_by(audit_log.c.seq)).scalars().all()
        assert [json.loads(d)["ok"] for d in failed] == [False, True]
        assert "disk full" in json.loads(failed[0])["result"]["error"]
    finally:
        db.dispose()


def test_the_schedule_config_names_a_bad_key(tmp_path: Path):
    for line, key in (('recon_export_at = "25:00"', "schedule.recon_export_at"),
                      ("enabled = 1", "schedule.enabled"), ("tick_s = 0", "schedule.tick_s")):
        path = tmp_path / "bad.toml"
        path.write_text(f"[schedule]\n{line}\n", encoding="utf-8")
        with pytest.raises(PlatformConfigError, match=key.replace(".", r"\.")):
            load_config(path)
    path.write_text('[reminders]\ngateway = "aliyun"\n', encoding="utf-8")
    with pytest.raises(PlatformConfigError, match=r"reminders\.gateway"):
        load_config(path)
