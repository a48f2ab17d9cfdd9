"""kill -9 the delivering kiosk process at random points, restart it, repeat: every bill ends
settled exactly once, none lost, and the credit ledger agrees."""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from kiosk.provisioning import connect
from kiosk.settlement.outbox import Outbox

WORKER = Path(__file__).with_name("outbox_worker.py")


def _start(cfg: Path, bills: list, env: dict) -> tuple[subprocess.Popen, queue.Queue]:
    proc = subprocess.Popen([sys.executable, str(WORKER), str(cfg), json.dumps(bills)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for raw in proc.stdout:
            lines.put(raw.decode().strip())

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def _wait_for(lines: queue.Queue, prefix: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if lines.get(timeout=0.1).startswith(prefix):
                return True
        except queue.Empty:
            continue
    return False


def _wait_deliveries(lines: queue.Queue, count: int) -> bool:
    return all(_wait_for(lines, "delivered", 60) for _ in range(count))


def test_kill9_at_random_points_settles_each_bill_exactly_once(platform, tmp_path):
    config = platform.device("kiosk", "kiosk-kill9")
    counter = connect(platform.device("counter", "counter-kill9"))
    before = counter.patient("P1006").credit.outstanding_fen
    bills = []
    for i in range(12):
        bill_id = f"K9-{i:02d}"
        platform.admin("bill", "create", "--site", platform.seed["site_id"], "--patient",
                       "P1006", "--visit", f"V-K9-{i}", "--bill-id", bill_id,
                       "--item", f"exam:血常规 blood count:1:{1000 + i}")
        bills.append({"bill_id": bill_id, "patient_id": "P1006", "self_pay_fen": 0})
    cfg_path = Path(config.source)
    rng = random.Random(9)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    kills = 0
    for _ in range(6):  # killed mid-delivery: after a random number of sends, at a random µs
        proc, lines = _start(cfg_path, bills, env)
        if _wait_for(lines, "started", 120) and _wait_deliveries(lines, rng.randint(0, 2)):
            time.sleep(rng.uniform(0, 0.03))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    proc, lines = _start(cfg_path, bills, env)  # and finally left alone to finish
    assert proc.wait(timeout=180) == 0, proc.stderr.read().decode()[-2000:]
    assert _wait_for(lines, "drained", 5)
    assert kills >= 3, "the test must actually kill the worker mid-delivery"
    day = counter.settlements_today()
    mine = [s for s in day.settlements if s.bill_id.startswith("K9-")]
    assert sorted(s.bill_id for s in mine) == [b["bill_id"] for b in bills]  # once each
    after = counter.patient("P1006").credit.outstanding_fen
    assert after - before == sum(s.charge_to_credit_fen for s in mine)


def test_confirmed_rows_survive_kill9_and_a_lost_journal(platform, tmp_path):
    """Killed right after the rows were written, then every journal file beside the outbox
    truncated (the -wal loss the fault run found): every row is still there."""
    config = platform.device("kiosk", "kiosk-wal")
    bills = [{"bill_id": f"WAL-{i:02d}", "patient_id": "P1006", "self_pay_fen": 100 + i}
             for i in range(20)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, str(WORKER), str(config.source), json.dumps(bills),
                             "enqueue-only"], stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"enqueued"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    path = config.paths.data_path() / "outbox.db"
    assert not Path(f"{path}-wal").exists()  # nothing lives outside the main file
    for sidecar in (Path(f"{path}-wal"), Path(f"{path}-journal"), Path(f"{path}-shm")):
        if sidecar.exists():
            sidecar.write_bytes(b"")
    box = Outbox(path)
    try:
        rows = box.pending()
        assert sorted(r.request.bill_id for r in rows) == [b["bill_id"] for b in bills]
        assert sum(r.amount_fen for r in rows) == sum(b["self_pay_fen"] for b in bills)
    finally:
        box.close()
