"""Load benchmark of the platform: signed settlements over loopback, durable commits.

Starts ``python -m server_stub run --workers W`` on a free 127.0.0.1 port with a fresh
SQLite file (WAL, synchronous=FULL), seeds bills, then runs two bounded phases from
separate client processes, each client a registered device signing with
``kiosk.protocol.DeviceSigner`` and verifying every signed response with
``ResponseVerifier``:

* paced: a fixed arrival rate (default 50 settlements/s) for D seconds, latency only;
* throughput: N concurrent clients settle as fast as they can for D seconds.

Clients sign their requests before the clock starts and verify the replies after it stops
(well inside the ±300 s the signatures are valid for): the load generator shares the 2
cores with the platform, and its own signatures are not what is being measured. Each
client keeps one HTTP/1.1 connection open, as a kiosk's session does.

Prints a table (and writes JSON with --json). Loopback only; every loop is bounded.

    python benchmarks/server_load.py --workers 2 --clients 16 --duration 15 --rate 50
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from common.net import free_port
from kiosk.protocol.keys import generate_private_key, load_public_key_b64, public_key_b64
from kiosk.protocol.signing import DeviceSigner, ResponseVerifier

HOST = "127.0.0.1"


def seed(config_path: Path, bills: int, devices: int) -> dict[str, Any]:
    """Site, users and ``bills`` pending bills, straight into the database."""
    from server_stub.clock import now_ms
    from server_stub.config import load_config
    from server_stub.records.bills import NewItem, create_bill
    from server_stub.records.devices import issue_enrolment_token
    from server_stub.records.patients import NewUser, enrol_user
    from server_stub.records.sites import create_site
    from server_stub.storage import Database

    config = load_config(config_path)
    db = Database(config.server.db_url)
    db.create_schema()
    now = now_ms()
    items = [NewItem("exam", "load test", 1, 12_345, True), NewItem("drug", "x", 2, 999, False)]
    work: list[tuple[str, str]] = []
    with db.write() as conn:
        site_id = create_site(conn, code="LOAD", name="load test", now=now)
        tokens = [issue_enrolment_token(conn, site_id=site_id, role="kiosk", ttl_hours=2,
                                        now=now) for _ in range(devices)]
        users = max(1, bills // 50)
        for u in range(users):
            enrol_user(conn, NewUser(f"L{u:05d}", "测试者", f"33078419900101{u % 10000:04d}",
                                     f"138{u:08d}", "employee", credit_limit_fen=900_000_000),
                       config, now)
        for b in range(bills):
            pid = f"L{b % users:05d}"
            work.append((create_bill(conn, site_id=site_id, patient_id=pid, visit_id=f"V{b}",
                                     items=items, config=config, now=now, bill_id=f"LB{b:06d}"),
                         pid))
    db.dispose()
    return {"tokens": tokens, "work": work}


@dataclass
class Received:
    """One reply as the response verifier reads it (the attributes of a requests.Response)."""

    status_code: int
    headers: CaseInsensitiveDict
    content: bytes
    request: requests.PreparedRequest


def _register(base: str, token: str) -> tuple[DeviceSigner, ResponseVerifier]:
    key = generate_private_key()
    reply = requests.post(f"{base}/v1/devices/register", timeout=10, json={
        "token": token, "public_key": public_key_b64(key), "name": "load"})
    reply.raise_for_status()
    data = reply.json()
    return (DeviceSigner(data["device_id"], key),
            ResponseVerifier(load_public_key_b64(data["server_key"]["public_key"])))


def _signed(base: str, signer: DeviceSigner, bill_id: str,
            patient_id: str) -> requests.PreparedRequest:
    body = {"bill_id": bill_id, "patient_id": patient_id, "method": "card"}
    return signer(requests.Request("POST", f"{base}/v1/settlements", json=body, headers={
        "Idempotency-Key": str(uuid.uuid4())}).prepare())


def client(base: str, token: str, work: list[tuple[str, str]], interval: float | None,
           offset: float, ready: Any, go: Any, queue: Any) -> None:
    """Settle bills from ``work`` for the phase (paced every ``interval`` s, if given).

    Every request is signed before the clock starts and every reply verified after it
    stops, so the shared cores measure the platform rather than this generator's own
    signatures; both stay well inside the ±300 s window the signatures are valid for.
    """
    signer, verifier = _register(base, token)
    prepared = [_signed(base, signer, bill_id, patient_id) for bill_id, patient_id in work]
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    ready.put(os.getpid())
    start_at, until = go.get()
    replies: list[tuple[float, Received]] = []
    next_at = start_at + offset
    while time.time() < next_at:
        time.sleep(0.0005)
    cpu_start = time.process_time()
    for request in prepared:
        now = time.time()
        if now >= until:
            break
        if interval is not None:
            if next_at > now:
                time.sleep(next_at - now)
            next_at += interval
        began = time.perf_counter()
        connection.request("POST", urlsplit(request.url).path, body=request.body,
                           headers=dict(request.headers))
        reply = connection.getresponse()
        content = reply.read()
        replies.append((time.perf_counter() - began, Received(
            reply.status, CaseInsensitiveDict(reply.getheaders()), content, request)))
    cpu = time.process_time() - cpu_start
    latencies, errors = [], 0
    for elapsed, reply in replies:
        verifier.verify(reply)  # raises on any reply the platform did not sign for us
        if reply.status_code == 201:
            latencies.append(elapsed)
        else:
            errors += 1
    queue.put((latencies, errors, cpu))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live descendants (the server's worker
    processes), from Linux /proc: its cost independent of how busy the machine is."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        times[child] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(times.get(p, 0.0) for p in tree)


def run_phase(base: str, tokens: list[str], work: list[tuple[str, str]], *, clients: int,
              duration: float, rate: float | None, server_pid: int,
              database_pid: int | None = None) -> dict[str, Any]:
    """One phase; ``database_pid``: a database server's (PostgreSQL's postmaster), whose
    processes' CPU is counted apart from the platform's."""
    ctx = mp.get_context("spawn")
    ready, go, queue = ctx.Queue(), ctx.Queue(), ctx.Queue()
    interval = clients / rate if rate else None
    shares = [work[i::clients] for i in range(clients)]
    procs = [ctx.Process(target=client, args=(base, tokens[i], shares[i], interval,
                                              (interval or 0) * i / clients, ready, go, queue))
             for i in range(clients)]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=120)  # registered and signed
    start_at = time.time() + 0.5
    until = start_at + duration
    for _ in procs:
        go.put((start_at, until))
    while time.time() < start_at:
        time.sleep(0.01)
    cpu_before, load_before = cpu_seconds(server_pid), os.getloadavg()[0]
    database_before = cpu_seconds(database_pid) if database_pid else 0.0
    while time.time() < until:
        time.sleep(0.05)
    server_cpu = cpu_seconds(server_pid) - cpu_before
    database_cpu = cpu_seconds(database_pid) - database_before if database_pid else None
    results = [queue.get(timeout=duration + 120) for _ in procs]
    for proc in procs:
        proc.join(timeout=10)
    latencies = sorted(x for lat, _, _ in results for x in lat)
    errors = sum(e for _, e, _ in results)
    client_cpu = sum(c for _, _, c in results)
    if not latencies:
        raise SystemExit("no settlement succeeded")
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"clients": clients, "duration_s": duration, "target_rate": rate,
            "settlements": len(latencies), "errors": errors,
            "settlements_per_s": round(len(latencies) / duration, 1),
            "p50_ms": round(q[49] * 1000, 2), "p99_ms": round(q[98] * 1000, 2),
            "max_ms": round(latencies[-1] * 1000, 2),
            "server_cpu_ms_per_settlement": round(server_cpu * 1000 / len(latencies), 2),
            "client_cpu_ms_per_settlement": round(client_cpu * 1000 / len(latencies), 2),
            "database_cpu_ms_per_settlement": None if database_cpu is None
            else round(database_cpu * 1000 / len(latencies), 2),
            "load_avg_1m": [round(load_before, 1), round(os.getloadavg()[0], 1)]}


def _bounded(kind: type, low: float, high: float) -> Any:
    """An argparse type: ``kind`` within [low, high], checked when the options are read."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}")
        return value
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clients", type=_bounded(int, 1, 64), default=16,
                        help="throughput phase")
    parser.add_argument("--paced-clients", type=_bounded(int, 1, 64), default=4)
    parser.add_argument("--duration", type=_bounded(float, 1, 120), default=15.0,
                        help="seconds per phase")
    parser.add_argument("--rate", type=_bounded(float, 1, 2000), default=50.0,
                        help="paced phase, settlements/s")
    parser.add_argument("--workers", type=_bounded(int, 1, 16), default=os.cpu_count() or 1,
                        help="server processes (default: one per core, as deployed)")
    parser.add_argument("--json", type=Path, help="also write the results here")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/server_load.py",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    budget = int(args.duration * (800 + args.rate)) + 200
    with tempfile.TemporaryDirectory(prefix="server-load-") as tmp:
        config = Path(tmp) / "server.toml"
        config.write_text(f'[server]\ndb_url = "sqlite:///{tmp}/load.db"\n'
                          f'key_file = "{tmp}/key.pem"\ndata_key_file = "{tmp}/data.key"\n'
                          'log_level = "WARNING"\n'
                          # throughput, not the per-device brute-force guard (protocol §5)
                          '[security]\nrate_limit_per_minute = 100000\n', encoding="utf-8")
        seeded = seed(config, budget, args.clients + args.paced_clients)
        port = free_port()
        base = f"http://{HOST}:{port}"
        server = subprocess.Popen([sys.executable, "-m", "server_stub", "--config", str(config),
                                   "run", "--host", HOST, "--port", str(port),
                                   "--workers", str(args.workers)],
                                  env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            for _ in range(100):
                try:
                    requests.get(f"{base}/v1/health", timeout=1).raise_for_status()
                    break
                except requests.RequestException:
                    time.sleep(0.1)
            tokens, work = seeded["tokens"], seeded["work"]
            paced_work = work[: int(args.rate * args.duration) + args.paced_clients]
            paced = run_phase(base, tokens[: args.paced_clients], paced_work,
                              clients=args.paced_clients, duration=args.duration,
                              rate=args.rate, server_pid=server.pid)
            burst = run_phase(base, tokens[args.paced_clients:], work[len(paced_work):],
                              clients=args.clients, duration=args.duration, rate=None,
                              server_pid=server.pid)
        finally:
            server.terminate()
            server.wait(timeout=10)
    rows = [("throughput", burst), ("paced", paced)]
    print(f"{'phase':<11} {'clients':>7} {'target/s':>8} {'done':>6} {'err':>4} "
          f"{'settle/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'srv cpu ms':>10} "
          f"{'cli cpu ms':>10} {'load avg':>10}")
    for name, r in rows:
        print(f"{name:<11} {r['clients']:>7} {r['target_rate'] or '-':>8} {r['settlements']:>6} "
              f"{r['errors']:>4} {r['settlements_per_s']:>9} {r['p50_ms']:>7} {r['p99_ms']:>7} "
              f"{r['max_ms']:>7} {r['server_cpu_ms_per_settlement']:>10} "
              f"{r['client_cpu_ms_per_settlement']:>10} "
              f"{'→'.join(map(str, r['load_avg_1m'])):>10}")
    print(f"cpu cores: {os.cpu_count()}; server workers: {args.workers}; SQLite WAL, "
          "synchronous=FULL, group commit; signed requests, every signed response verified; "
          "'srv cpu ms' = CPU time of the server's processes per settlement, 'cli cpu ms' = "
          "the clients' during the phase; 'load avg' = 1-min load before→after")
    if args.json:
        args.json.write_text(json.dumps(dict(rows), indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
