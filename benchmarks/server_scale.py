"""The platform at city scale, PostgreSQL against SQLite in the same run.

Each engine (a throwaway PostgreSQL 15 cluster from tests/pg.py on the same machine,
``fsync`` and ``synchronous_commit`` on, no standby; an SQLite file, WAL,
``synchronous=FULL``) is seeded once:

* ``--users`` credit users (default 316,800) across ``--sites`` sites (default 9), each
  with a sealed 128-d template and a row in their home site's gallery; and a day of
  ``--recon`` settlements (default 50,000) at one site.

Then ``--rounds`` rounds (default 3), in each of which the engines take turns phase by
phase (the round's first engine alternating), so both meet the same background load:

1. gallery sync of one site's gallery (its 1/9 of the users) from scratch through
   ``GET /v1/gallery`` (signed, paged, templates unsealed by the platform);
2. settlements/s and p50/p99 with 1, 2 and 4 platform processes (``run --workers N``):
   a paced phase (50/s from 4 clients) and a throughput phase (16 clients as fast as they
   can), the load generator of benchmarks/server_load.py (signed requests, every reply
   verified); CPU per settlement of the platform's processes and, apart, PostgreSQL's;
3. the T+1 reconciliation of the seeded day (report, then with its CSV).

``--database-cpus 1`` runs PostgreSQL on CPU 1 and everything else (the platforms, the load
generator, SQLite) on the other CPUs: the database on a machine of its own.

Prints each figure as the median and range over the rounds. Run from the repository
root: ``python -m benchmarks.server_scale [--rounds 3] [--json out.json]`` (about 30
minutes on 2 loaded cores). Time to serve again after losing the primary:
benchmarks/pg_failover.py.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import requests
from sqlalchemy import insert, update

from benchmarks.server_load import HOST, free_port, run_phase

PACK = "opencv-zoo-sface"
DIM = 128
CHUNK = 5000
# the benchmark cluster: durable as production (fsync, synchronous_commit, full-page writes
# all on), with shared buffers that hold the city's templates (205 MB) as a database
# server's would, and checkpoints spaced out during the bulk seed
PG_SETTINGS = {"shared_buffers": "512MB", "max_wal_size": "2GB"}


def write_config(directory: Path, db_url: str) -> Path:
    path = directory / "server.toml"
    path.write_text(f'[server]\ndb_url = "{db_url}"\nkey_file = "{directory}/key.pem"\n'
                    f'data_key_file = "{directory}/data.key"\nlog_level = "WARNING"\n'
                    f'log_dir = "{directory}/logs"\n'
                    '[security]\nrate_limit_per_minute = 100000\n', encoding="utf-8")
    return path


def seed_city(config_path: Path, *, users: int, sites: int) -> dict[str, Any]:
    """Sites, users with templates and home-site gallery rows, in bulk."""
    from server_stub.clock import now_ms
    from server_stub.config import load_config
    from server_stub.db import counters, gallery_entries, meta, templates
    from server_stub.db import users as users_table
    from server_stub.gallery import SCOPE_META_KEY
    from server_stub.keys import TemplateSealer
    from server_stub.records.sites import create_site
    from server_stub.storage import Database

    config = load_config(config_path)
    sealer = TemplateSealer.load(config.server.data_key_file)
    db = Database(config.server.db_url)
    db.create_schema()
    started, now = time.perf_counter(), now_ms()
    rng = np.random.default_rng(7)
    with db.write() as conn:
        site_ids = [create_site(conn, code=f"H{s:02d}", name=f"医院{s}", now=now)
                    for s in range(sites)]
        conn.execute(insert(meta).values(key=SCOPE_META_KEY, value=config.gallery.scope))
    for first in range(0, users, CHUNK):
        ids = [f"C{n:07d}" for n in range(first, min(users, first + CHUNK))]
        vectors = rng.standard_normal((len(ids), DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        with db.write() as conn:
            conn.execute(insert(users_table), [{
                "patient_id": pid, "name": "市民", "national_id_masked": "3307**********0000",
                "phone_masked": "138****0000", "phone_last4": "0000", "card_no": None,
                "category": "resident", "credit_limit_fen": 900_000_000, "outstanding_fen": 0,
                "status": "active", "status_reason": None, "overdue_count": 0,
                "consent_version": "v1", "consent_ms": now, "consent_withdrawn_ms": None,
                "created_ms": now} for pid in ids])
            conn.execute(insert(templates), [{
                "patient_id": pid, "pack": PACK, "dim": DIM, "enrolled_ms": now,
                "sealed": sealer.seal(pid, PACK, vector.tobytes())}
                for pid, vector in zip(ids, vectors, strict=True)])
            conn.execute(insert(gallery_entries), [{
                "site_id": site_ids[int(pid[1:]) % sites], "pack": PACK, "patient_id": pid,
                "version": int(pid[1:]) + 1, "present": True} for pid in ids])
    with db.write() as conn:
        conn.execute(update(counters).where(counters.c.name == "gallery_version")
                     .values(value=users))
    seconds = time.perf_counter() - started
    db.dispose()
    return {"site_ids": site_ids, "seed_s": round(seconds, 1)}


def seed_bills(config_path: Path, site_id: str, *, bills: int, tokens: int, tag: str,
               users: int, sites: int) -> dict[str, Any]:
    """Pending bills of the site's users and enrolment tokens, as the admin CLI would."""
    from server_stub.clock import now_ms
    from server_stub.config import load_config
    from server_stub.records.bills import NewItem, create_bill
    from server_stub.records.devices import issue_enrolment_token
    from server_stub.storage import Database

    config = load_config(config_path)
    db = Database(config.server.db_url)
    now = now_ms()
    items = [NewItem("exam", "load test", 1, 12_345, True), NewItem("drug", "x", 2, 999, False)]
    work: list[tuple[str, str]] = []
    with db.write() as conn:
        issued = [issue_enrolment_token(conn, site_id=site_id, role="kiosk", ttl_hours=2,
                                        now=now) for _ in range(tokens)]
        for b in range(bills):
            pid = f"C{(b * sites) % users:07d}"  # the site's own users (C0, C9, ...)
            work.append((create_bill(conn, site_id=site_id, patient_id=pid,
                                     visit_id=f"{tag}{b}", items=items, config=config,
                                     now=now, bill_id=f"{tag}{b:06d}"), pid))
    db.dispose()
    return {"tokens": issued, "work": work}


class Platform:
    """``python -m server_stub run --workers N`` on a free loopback port."""

    def __init__(self, config_path: Path, workers: int) -> None:
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server_stub", "--config", str(config_path), "run",
             "--host", HOST, "--port", str(self.port), "--workers", str(workers)],
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/v1/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("the platform did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def gallery_sync(base: str, token: str) -> dict[str, Any]:
    """A new kiosk's first full sync of its site's gallery, page by page."""
    from benchmarks.server_load import _register

    signer, verifier = _register(base, token)
    session = requests.Session()
    session.auth = signer
    cursor, templates, pages = 0, 0, 0
    started = time.perf_counter()
    while True:
        reply = session.get(f"{base}/v1/gallery", params={"pack": PACK, "cursor": cursor},
                            timeout=60)
        verifier.verify(reply)
        reply.raise_for_status()
        page = reply.json()
        templates += len(page["upserts"])
        pages += 1
        cursor = page["cursor"]
        if not page["more"]:
            break
    seconds = time.perf_counter() - started
    return {"templates": templates, "pages": pages, "seconds": round(seconds, 2),
            "templates_per_s": round(templates / seconds)}


RECON_DAY = dt.date(2026, 11, 23)


def seed_day(config_path: Path, site_id: str, count: int, users: int) -> None:
    """``count`` settlements on one day at one site, in bulk."""
    from server_stub.clock import day_bounds
    from server_stub.config import load_config
    from server_stub.db import bills, settlements
    from server_stub.storage import Database

    config = load_config(config_path)
    db = Database(config.server.db_url)
    start, _ = day_bounds(RECON_DAY, config.server.timezone)
    for first in range(0, count, CHUNK):
        span = range(first, min(count, first + CHUNK))
        with db.write() as conn:
            conn.execute(insert(bills), [{
                "bill_id": f"RB{n:06d}", "site_id": site_id, "patient_id": f"C{n * 9 % users:07d}",
                "visit_id": f"RV{n}", "category": "resident", "status": "settled",
                "total_fen": 12_345, "eligible_fen": 10_000, "created_ms": start,
                "settlement_id": f"stl_r{n:06d}"} for n in span])
            conn.execute(insert(settlements), [{
                "settlement_id": f"stl_r{n:06d}", "receipt_no": f"R-{n:08d}",
                "bill_id": f"RB{n:06d}", "site_id": site_id, "patient_id": f"C{n * 9 % users:07d}",
                "device_id": "dev_recon", "method": "card", "status": "settled",
                "total_fen": 12_345, "basic_pool_fen": 7_000, "critical_illness_fen": 0,
                "medical_aid_fen": 1_000, "self_pay_fen": 4_345,
                "charge_to_credit_fen": 4_345, "pay_at_counter_fen": 0, "year": 2026,
                "settled_ms": start + n * 1_000} for n in span])
    db.dispose()


def reconciliation(config_path: Path, site_id: str, count: int) -> dict[str, Any]:
    """The T+1 reconciliation of the day ``seed_day`` made, as the platform runs it."""
    from server_stub import recon
    from server_stub.config import load_config
    from server_stub.storage import Database

    config = load_config(config_path)
    db = Database(config.server.db_url)
    started, cpu_started = time.perf_counter(), time.process_time()
    with db.read() as conn:
        report = recon.reconcile(conn, site_id=site_id, day=RECON_DAY, config=config)
    report_s, report_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    csv_text = recon.to_csv(report)
    total_s = time.perf_counter() - started
    db.dispose()
    assert report.settled.count == count and report.balanced
    assert report.settled.total_fen == 12_345 * count
    return {"settlements": count, "report_s": round(report_s, 2),
            "report_cpu_s": round(report_cpu_s, 2), "report_and_csv_s": round(total_s, 2),
            "csv_bytes": len(csv_text)}


@dataclass
class Engine:
    """One engine's seeded city: its config, the site measured, PostgreSQL's postmaster."""

    name: str
    config: Path
    site: str
    seed_s: float
    database_pid: int | None = None


def prepare(name: str, db_url: str, directory: Path, args: argparse.Namespace,
            database_pid: int | None = None) -> Engine:
    config = write_config(directory, db_url)
    city = seed_city(config, users=args.users, sites=args.sites)
    seed_day(config, city["site_ids"][0], args.recon, args.users)
    engine = Engine(name, config, city["site_ids"][0], city["seed_s"], database_pid)
    print(json.dumps({"engine": name, "seed_s": engine.seed_s}), flush=True)
    return engine


def gallery_round(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    seeded = seed_bills(engine.config, engine.site, bills=0, tokens=1, tag="G",
                        users=args.users, sites=args.sites)
    platform = Platform(engine.config, 2)
    try:
        return gallery_sync(platform.base, seeded["tokens"][0])
    finally:
        platform.stop()


def load_round(engine: Engine, workers: int, tag: str, args: argparse.Namespace
               ) -> dict[str, Any]:
    """The paced phase, then the throughput phase, on a fresh platform of ``workers``."""
    budget = int(args.duration * (600 + args.rate)) + 100
    seeded = seed_bills(engine.config, engine.site, bills=budget, tokens=args.clients + 4,
                        tag=tag, users=args.users, sites=args.sites)
    platform = Platform(engine.config, workers)
    try:
        tokens, work = seeded["tokens"], seeded["work"]
        paced_work = work[: int(args.rate * args.duration) + 4]
        paced = run_phase(platform.base, tokens[:4], paced_work, clients=4,
                          duration=args.duration, rate=args.rate,
                          server_pid=platform.process.pid, database_pid=engine.database_pid)
        burst = run_phase(platform.base, tokens[4:], work[len(paced_work):],
                          clients=args.clients, duration=args.duration, rate=None,
                          server_pid=platform.process.pid, database_pid=engine.database_pid)
    finally:
        platform.stop()
    return {"workers": workers, "throughput": burst, "paced": paced}


def spread(values: list[float]) -> str:
    """``median [min–max]`` of the rounds' figures."""
    def show(value: float) -> str:
        return f"{round(value, 1):g}"

    if len(values) == 1:
        return show(values[0])
    return f"{show(statistics.median(values))} [{show(min(values))}–{show(max(values))}]"


def _cpus(text: str) -> set[int]:
    try:
        return {int(part) for part in text.split(",")}
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of CPU numbers: {text!r}") from None


def pin_tree(pid: int, cpus: set[int]) -> None:
    """``pid`` and its running children onto ``cpus``; backends forked later inherit it."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for member in (pid, *map(int, children)):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(member, cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.server_scale",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=316_800)
    parser.add_argument("--sites", type=int, default=9)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--rate", type=float, default=50.0, help="paced settlements/s")
    parser.add_argument("--recon", type=int, default=50_000)
    parser.add_argument("--engines", nargs="+", default=["postgresql", "sqlite"])
    parser.add_argument("--rounds", type=int, default=3, help="repeats of every phase")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--database-cpus", type=_cpus, metavar="N[,N...]",
                        help="run PostgreSQL on these CPUs and everything else (platform, "
                             "load generator, SQLite) on the others: the database on a "
                             "machine of its own")
    args = parser.parse_args(argv)
    from tests.pg import Cluster

    if args.database_cpus:
        rest = os.sched_getaffinity(0) - args.database_cpus
        if not rest or not args.database_cpus <= os.sched_getaffinity(0):
            parser.error(f"--database-cpus must leave CPUs of {sorted(os.sched_getaffinity(0))}"
                         " for the platform")
        os.sched_setaffinity(0, rest)  # inherited by the platforms and the load generator

    rounds: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        engines: list[Engine] = []
        for name in args.engines:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"scale-{name}-")))
            if name == "sqlite":
                engines.append(prepare(name, f"sqlite:///{tmp}/city.db", tmp, args))
                continue
            cluster = Cluster.create(settings=PG_SETTINGS)
            stack.callback(cluster.destroy)
            postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
            if args.database_cpus:
                pin_tree(postmaster, args.database_cpus)
            engines.append(prepare(name, cluster.url(cluster.database("city")), tmp, args,
                                   postmaster))
        for number in range(args.rounds):
            # the engines take turns phase by phase, and the round's first engine
            # alternates, so both meet the same background load
            order = engines if number % 2 == 0 else engines[::-1]
            result: dict[str, Any] = {"round": number + 1, "load_avg_1m": os.getloadavg()[0]}
            result["gallery"] = {e.name: gallery_round(e, args) for e in order}
            result["load"] = {e.name: [] for e in order}
            for workers in args.workers:
                for engine in order:
                    row = load_round(engine, workers, f"R{number}W{workers}B", args)
                    result["load"][engine.name].append(row)
                    print(json.dumps({"round": number + 1, "engine": engine.name, **row}),
                          flush=True)
            result["recon"] = {e.name: reconciliation(e.config, e.site, args.recon)
                               for e in order}
            print(json.dumps({k: result[k] for k in ("round", "gallery", "recon")}),
                  flush=True)
            rounds.append(result)
        seeds = {e.name: e.seed_s for e in engines}
    print(f"{len(rounds)} round(s); median [min–max] over the rounds")
    print(f"{'engine':<11} {'workers':>7} {'settle/s':>20} {'p50 ms':>20} {'p99 ms':>20} "
          f"{'paced p50':>20} {'paced p99':>20} {'cpu ms':>18} {'db cpu ms':>18}")
    for name in args.engines:
        for index, workers in enumerate(args.workers):
            rows = [r["load"][name][index] for r in rounds]
            t = [row["throughput"] for row in rows]
            p = [row["paced"] for row in rows]
            db_cpu = [x["database_cpu_ms_per_settlement"] for x in t
                      if x["database_cpu_ms_per_settlement"] is not None]
            print(f"{name:<11} {workers:>7} "
                  f"{spread([x['settlements_per_s'] for x in t]):>20} "
                  f"{spread([x['p50_ms'] for x in t]):>20} "
                  f"{spread([x['p99_ms'] for x in t]):>20} "
                  f"{spread([x['p50_ms'] for x in p]):>20} "
                  f"{spread([x['p99_ms'] for x in p]):>20} "
                  f"{spread([x['server_cpu_ms_per_settlement'] for x in t]):>18} "
                  f"{spread(db_cpu) if db_cpu else '-':>18}")
    for name in args.engines:
        print(f"{name}: seed {seeds[name]} s; gallery "
              f"{spread([r['gallery'][name]['seconds'] for r in rounds])} s "
              f"({rounds[0]['gallery'][name]['templates']} templates); recon report "
              f"{spread([r['recon'][name]['report_s'] for r in rounds])} s (CPU "
              f"{spread([r['recon'][name]['report_cpu_s'] for r in rounds])} s), with CSV "
              f"{spread([r['recon'][name]['report_and_csv_s'] for r in rounds])} s")
    if args.json:
        args.json.write_text(json.dumps({"seed_s": seeds, "rounds": rounds}, indent=2),
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
