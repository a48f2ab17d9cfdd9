"""Losing the database primary under settlement load: the scenario, shared by the test
(tests/server/test_failover.py, once) and the benchmark (benchmarks/pg_failover.py, 20 runs).

A primary with a synchronous hot standby (``synchronous_commit = on``,
``synchronous_standby_names``); one platform host of two workers on the libpq multi-host
URL of both; several kiosks, each a real ``SettlementDesk`` with its own outbox on disk
delivering through ``PlatformClient``. Mid-load the primary is SIGKILLed, the standby is
promoted with ``pg_ctl promote`` (as Patroni would), and the kiosks carry on: what the
platform could not take stays in their outboxes until it can.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from kiosk.client import PlatformClient
from kiosk.config import OfflineConfig
from kiosk.protocol.keys import generate_private_key, load_public_key_b64, public_key_b64
from kiosk.protocol.schemas import PaymentMethod, SettleRequest
from kiosk.receipts import Station
from kiosk.settlement.desk import SettlementDesk
from kiosk.settlement.outbox import Outbox
from tests.pg import Cluster, multi_host_url
from tests.server.live import Server, seed_load, start_server

STANDBY = "standby1"


@dataclass
class Report:
    bills: int
    acknowledged: int  # settlements the platform answered 201 to, before all were delivered
    acknowledged_before_kill: int
    stored: int
    doubled: int  # bills with more than one settlement
    lost: list[str]  # acknowledged settlement ids the new primary does not have
    undelivered: int  # outbox rows not delivered at the end
    serving_again_s: float  # from the promotion to the first settlement answered 201
    audit_ok: bool
    recon_matches: bool
    owed_matches: bool
    details: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (not self.lost and not self.doubled and not self.undelivered
                and self.stored == self.bills and self.audit_ok and self.recon_matches
                and self.owed_matches)


class Kiosk:
    """A registered kiosk: its own key, outbox file and settlement desk."""

    def __init__(self, server: Server, directory: Path, token: str) -> None:
        key = generate_private_key()
        reply = requests.post(f"{server.base}/v1/devices/register", timeout=10, json={
            "token": token, "public_key": public_key_b64(key), "name": directory.name})
        reply.raise_for_status()
        data = reply.json()
        self.client = PlatformClient(server.base, data["device_id"], key,
                                     load_public_key_b64(data["server_key"]["public_key"]),
                                     connect_timeout_s=2.0, read_timeout_s=15.0, retries=0)
        self.outbox = Outbox(directory / "outbox.db")
        self.desk = SettlementDesk(
            self.client, self.outbox, offline=OfflineConfig(), station=Station("", "k"),
            hold_s=0.0, retention_hours=lambda: self.client.retention_hours,
            platform_now=self.client.clock.now, notify_cashier=lambda _effect: None)
        self.acknowledged: list[tuple[float, str, str]] = []  # (when, bill, settlement id)

    def enqueue(self, work: list[tuple[str, str]]) -> None:
        for bill, patient in work:
            self.outbox.enqueue(f"fo-{bill}", "failover", SettleRequest(
                bill_id=bill, patient_id=patient, method=PaymentMethod.CARD), 0)

    def deliver_until_drained(self, stop: threading.Event) -> None:
        while self.outbox.pending() and not stop.is_set():
            for row in self.outbox.due(time.time()):
                delivery = self.desk.deliver(row)
                if delivery.settlement is not None:
                    self.acknowledged.append((time.monotonic(), row.request.bill_id,
                                              delivery.settlement.settlement_id))
            self.outbox.retry_now()  # the test wants speed; a kiosk backs off
            time.sleep(0.02)


def run(directory: Path, *, kiosks: int = 4, bills_each: int = 30,
        kill_after: int = 40, promote_after_s: float = 0.5) -> Report:
    """One failover run in ``directory``; the clusters and the platform are gone after."""
    primary = Cluster.create(settings={"synchronous_standby_names": STANDBY,
                                       "synchronous_commit": "on"})
    server: Server | None = None
    desks: list[Kiosk] = []
    try:
        standby = primary.standby(STANDBY)
        deadline = time.monotonic() + 30
        while primary.execute("SELECT sync_state FROM pg_stat_replication") != [("sync",)]:
            if time.monotonic() > deadline:
                raise RuntimeError("the standby never became synchronous")
            time.sleep(0.1)
        name = primary.database("failover")
        (directory / "platform").mkdir(parents=True, exist_ok=True)
        server = start_server(directory / "platform", "workers = 2\n",
                              db_url=multi_host_url(name, primary, standby))
        work, tokens = seed_load(server, patients=kiosks, bills_each=bills_each, tokens=kiosks)
        desks = [Kiosk(server, directory / f"kiosk{i}", t) for i, t in enumerate(tokens)]
        for i, kiosk in enumerate(desks):
            kiosk.enqueue(work[i::kiosks])
        stop = threading.Event()
        threads = [threading.Thread(target=k.deliver_until_drained, args=(stop,))
                   for k in desks]
        for thread in threads:
            thread.start()
        until = time.monotonic() + 180
        while sum(len(k.acknowledged) for k in desks) < kill_after:
            if time.monotonic() > until:
                raise RuntimeError("the load never got going")
            time.sleep(0.01)
        primary.kill()
        acked_at_kill = sum(len(k.acknowledged) for k in desks)
        time.sleep(promote_after_s)  # what failure detection takes (Patroni: its TTL)
        standby.promote()
        promoted = time.monotonic()
        until = time.monotonic() + 120
        while any(t.is_alive() for t in threads) and time.monotonic() < until:
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        return _check(server, standby, name, desks, len(work), acked_at_kill, promoted)
    finally:
        for kiosk in desks:
            kiosk.outbox.close()
        if server is not None:
            server.stop()
        primary.destroy()


def _check(server: Server, new_primary: Cluster, database: str, desks: list[Kiosk],
           bills: int, acked_at_kill: int, promoted: float) -> Report:
    acknowledged = [a for k in desks for a in k.acknowledged]
    stored = dict(new_primary.execute("SELECT settlement_id, bill_id FROM settlements",
                                      database))
    per_bill = new_primary.execute("SELECT bill_id, count(*) FROM settlements GROUP BY bill_id "
                                   "HAVING count(*) > 1", database)
    after = [when for when, _, _ in acknowledged if when >= promoted]
    verify = json.loads(server.admin("audit", "verify").stdout)
    site = server.seed["site_id"]
    day = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    recon = json.loads(server.admin("recon", "--site", site, "--date", day).stdout)
    total_fen, credit_fen, owed = new_primary.execute(
        "SELECT (SELECT sum(total_fen) FROM settlements WHERE status = 'settled'), "
        "(SELECT sum(charge_to_credit_fen) FROM settlements WHERE status = 'settled'), "
        "(SELECT sum(outstanding_fen) FROM users WHERE patient_id LIKE 'LD%')", database)[0]
    return Report(
        bills=bills, acknowledged=len(acknowledged), acknowledged_before_kill=acked_at_kill,
        stored=len(stored), doubled=len(per_bill),
        lost=[sid for _, _, sid in acknowledged if sid not in stored],
        undelivered=sum(len(k.outbox.pending()) for k in desks),
        serving_again_s=(min(after) - promoted) if after else float("inf"),
        audit_ok=bool(verify["ok"]),
        recon_matches=(recon["balanced"] and recon["net"]["count"] == len(stored)
                       and recon["net"]["total_fen"] == total_fen
                       and recon["net"]["charge_to_credit_fen"] == credit_fen),
        owed_matches=owed == credit_fen,
        details={"recon_net": recon["net"], "settled_total_fen": total_fen,
                 "audit_records": verify["records"]})
