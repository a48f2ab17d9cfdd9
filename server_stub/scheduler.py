"""Schedules the platform runs itself: overdue handling, reminders, purging spent nonces and
old idempotency keys, and the daily reconciliation export.

Inside the platform, not systemd timers: every serving process (each uvicorn worker, each
host behind a load balancer) starts a scheduler thread with the app, so the jobs run
wherever the platform runs — a container, a developer's laptop, a second host — with the
platform's own config, database and clock, and no unit file to keep in step with it. Which
process executes a due job is decided in the database: one lease row per job
(``job_leases``), taken by a conditional UPDATE (``next_due_ms <= now AND lease_until_ms <=
now``) that exactly one process's statement can match, on SQLite and PostgreSQL alike. The
holder runs the job and, in the transaction that sets the next due time, releases the
lease — but only while the lease is still its own, so a holder that outlived its lease
(``[schedule] lease_s``) cannot overwrite the process that took over. Every job is
idempotent anyway (a status already changed, a reminder's primary key, a purge, a file
rewritten whole), so a take-over after a crash repeats no effect.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from common.atomic import atomic_write
from server_stub import audit, idempotency, ledger, nonces, recon, reminders
from server_stub.clock import from_datetime, local_day, now_ms
from server_stub.config import ServerConfig
from server_stub.db import job_leases, sites
from server_stub.notify import SmsGateway, gateway_for
from server_stub.storage import Database

log = logging.getLogger("server_stub.scheduler")
RETRY_MS = 60_000  # a job that failed is due again this soon (or at its interval, if sooner)
MAX_BACKFILL_DAYS = 31  # exports of days missed while no platform ran, at most


@dataclass(frozen=True)
class Outcome:
    result: dict[str, Any]
    cursor: str | None = None


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[int, str | None], Outcome]  # (now, cursor) -> outcome
    next_due: Callable[[int], int]  # after a run at now
    at_start: bool = True  # due as soon as the platform first runs (else at next_due)


def _every(seconds: int) -> Callable[[int], int]:
    return lambda now: now + seconds * 1000


def daily_at(hhmm: str, timezone: str) -> Callable[[int], int]:
    """The next local HH:MM strictly after ``now`` (DST-safe: computed in the zone)."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    zone = ZoneInfo(timezone)

    def next_due(now: int) -> int:
        day = local_day(now, timezone)
        while True:
            at = from_datetime(dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone))
            if at > now:
                return at
            day += dt.timedelta(days=1)
    return next_due


class Jobs:
    """The platform's jobs, each a function of the time (and its cursor)."""

    def __init__(self, db: Database, config: ServerConfig, gateway: SmsGateway) -> None:
        self.db, self.config, self.gateway = db, config, gateway

    def all(self) -> list[Job]:
        schedule = self.config.schedule
        return [
            Job("credit.overdue", self.overdue, _every(schedule.overdue_every_s)),
            Job("reminders", self.reminders, _every(schedule.reminders_every_s)),
            Job("purge", self.purge, _every(schedule.purge_every_s)),
            Job("recon.export", self.recon_export,
                daily_at(schedule.recon_export_at, self.config.server.timezone),
                at_start=False),
        ]

    def overdue(self, now: int, _cursor: str | None) -> Outcome:
        return Outcome(self.db.transact(lambda conn: ledger.process_overdue(
            conn, config=self.config, now=now)))

    def reminders(self, now: int, _cursor: str | None) -> Outcome:
        return Outcome(reminders.run(self.db, self.gateway, config=self.config, now=now))

    def purge(self, now: int, _cursor: str | None) -> Outcome:
        retention = self.config.security.idempotency_retention_hours

        def purge(conn: Connection) -> dict[str, Any]:
            return {"nonces": nonces.purge(conn, now=now), "idempotency_keys":
                    idempotency.purge(conn, now=now, retention_hours=retention)}
        return Outcome(self.db.transact(purge))

    def recon_export(self, now: int, cursor: str | None) -> Outcome:
        """Each site's reconciliation CSV of every local day since the last export, up to
        yesterday: ``<recon_export_dir>/<site code>/<date>.csv``, each written whole."""
        timezone = self.config.server.timezone
        yesterday = local_day(now, timezone) - dt.timedelta(days=1)
        first = dt.date.fromisoformat(cursor) + dt.timedelta(days=1) if cursor else yesterday
        first = max(first, yesterday - dt.timedelta(days=MAX_BACKFILL_DAYS - 1))
        folder, written = Path(self.config.schedule.recon_export_dir), []
        with self.db.read() as conn:
            for site in conn.execute(select(sites.c.site_id, sites.c.code)):
                day = first
                while day <= yesterday:
                    report = recon.reconcile(conn, site_id=site.site_id, day=day,
                                             config=self.config)
                    path = folder / site.code / f"{day.isoformat()}.csv"
                    atomic_write(path, recon.to_csv(report).encode("utf-8"))
                    written.append(str(path.relative_to(folder)))
                    day += dt.timedelta(days=1)
        return Outcome({"files": len(written), "days": [first.isoformat(),
                                                        yesterday.isoformat()]},
                       cursor=max(yesterday, dt.date.fromisoformat(cursor)
                                  if cursor else yesterday).isoformat())


class Scheduler:
    """One process's scheduler thread; ``tick`` is one look for due jobs (tests call it)."""

    def __init__(self, db: Database, config: ServerConfig, jobs: list[Job], *,
                 holder: str | None = None, clock: Callable[[], int] = now_ms) -> None:
        self.db, self.config, self.jobs, self.clock = db, config, jobs, clock
        self.holder = holder or f"{socket.gethostname()[:40]}:{os.getpid()}:" \
                                f"{secrets.token_hex(3)}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _ensure_rows(self) -> None:
        now = self.clock()

        def ensure(conn: Connection) -> None:
            have = set(conn.execute(select(job_leases.c.name)).scalars())
            for job in self.jobs:
                if job.name in have:
                    continue
                due = now if job.at_start else job.next_due(now)
                try:
                    with conn.begin_nested():
                        conn.execute(insert(job_leases).values(
                            name=job.name, holder=None, lease_until_ms=0, next_due_ms=due,
                            runs=0))
                except IntegrityError:
                    pass  # another process made it first
        self.db.transact(ensure)

    def _take(self, job: Job, now: int) -> tuple[int, str | None] | None:
        """The lease, if this process won it: (lease_until_ms, cursor)."""
        until = now + self.config.schedule.lease_s * 1000

        def take(conn: Connection) -> tuple[int, str | None] | None:
            won = conn.execute(update(job_leases).where(
                job_leases.c.name == job.name, job_leases.c.next_due_ms <= now,
                job_leases.c.lease_until_ms <= now).values(
                holder=self.holder, lease_until_ms=until, last_started_ms=now))
            if won.rowcount != 1:
                return None
            return until, conn.execute(select(job_leases.c.cursor).where(
                job_leases.c.name == job.name)).scalar()
        return self.db.transact(take)

    def _finish(self, job: Job, until: int, started: int, outcome: Outcome | None,
                error: str | None) -> None:
        finished = self.clock()
        if outcome is not None:
            next_due, result = job.next_due(started), outcome.result
        else:
            next_due = min(job.next_due(started), started + RETRY_MS)
            result = {"error": error}

        def finish(conn: Connection) -> None:
            values: dict[str, Any] = dict(
                holder=None, lease_until_ms=0, next_due_ms=next_due, last_finished_ms=finished,
                last_result=json.dumps(result, sort_keys=True, default=str))
            if outcome is not None:
                values["runs"] = job_leases.c.runs + 1
                if outcome.cursor is not None:
                    values["cursor"] = outcome.cursor
            done = conn.execute(update(job_leases).where(
                job_leases.c.name == job.name, job_leases.c.holder == self.holder,
                job_leases.c.lease_until_ms == until).values(**values))
            if done.rowcount != 1:
                log.warning("job lease lost before it finished", extra={"job": job.name})
                return
            audit.append(conn, at_ms=finished, actor="system", action="schedule.ran",
                         subject=job.name, details={"holder": self.holder, "ok": error is None,
                                                    "result": result})
        self.db.transact(finish)

    def tick(self) -> list[str]:
        """Run every job due now that this process wins; the names it ran."""
        ran = []
        for job in self.jobs:
            if self._stop.is_set():
                break
            now = self.clock()
            taken = self._take(job, now)
            if taken is None:
                continue
            until, cursor = taken
            try:
                outcome, error = job.run(now, cursor), None
            except Exception as exc:  # one failing job must not stop the others
                log.exception("scheduled job failed", extra={"job": job.name})
                outcome, error = None, f"{type(exc).__name__}: {exc}"[:200]
            self._finish(job, until, now, outcome, error)
            ran.append(job.name)
        return ran

    def _loop(self) -> None:
        try:
            self._ensure_rows()
        except Exception:
            log.exception("scheduler could not start")
            return
        log.info("scheduler started", extra={"holder": self.holder,
                                             "jobs": [j.name for j in self.jobs]})
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the database is unavailable: try again next tick
                log.exception("scheduler tick failed")
            self._stop.wait(self.config.schedule.tick_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="scheduler")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


def lifespan_for(db: Database, config: ServerConfig) -> Callable[[Any], Any]:
    """The app's lifespan: the scheduler runs while the app serves (``[schedule] enabled``)."""
    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        runner = (Scheduler(db, config, Jobs(db, config, gateway_for(config.reminders)).all())
                  if config.schedule.enabled else None)
        if runner is not None:
            runner.start()
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()
    return lifespan
