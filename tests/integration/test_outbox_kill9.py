"""kill -9 the delivering kiosk process at random points, restart it, repeat: every bill ends
settled exactly once, none lost, and the credit ledger agrees."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from kiosk.provisioning import connect

WORKER = Path(__file__).with_name("outbox_worker.py")


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
    kills = 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for _ in range(40):
        proc = subprocess.Popen([sys.executable, str(WORKER), str(cfg_path), json.dumps(bills)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        time.sleep(rng.uniform(0.3, 1.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        out, err = proc.communicate()
        assert proc.returncode == 0, err.decode()[-2000:]
        assert b"drained" in out
        break
    else:
        raise AssertionError("the worker never drained the outbox")
    assert kills >= 1, "the test must actually kill the worker at least once"
    day = counter.settlements_today()
    mine = [s for s in day.settlements if s.bill_id.startswith("K9-")]
    assert sorted(s.bill_id for s in mine) == [b["bill_id"] for b in bills]  # once each
    after = counter.patient("P1006").credit.outstanding_fen
    assert after - before == sum(s.charge_to_credit_fen for s in mine)
