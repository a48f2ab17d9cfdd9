"""Subprocess for the kill -9 tests: enqueue one settlement per bill (deterministic
Idempotency-Keys, as a kiosk that already wrote its intents would have), then deliver
everything through the settlement desk; exits 0 when the outbox is drained. Killed at random
points by the test. ``enqueue-only`` stops after the rows are written (and waits to die)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from kiosk.config import OfflineConfig, load_config
from kiosk.protocol.schemas import PaymentMethod, SettleRequest
from kiosk.provisioning import connect
from kiosk.receipts import Station
from kiosk.settlement.desk import SettlementDesk
from kiosk.settlement.outbox import Outbox


def main() -> int:
    config = load_config(Path(sys.argv[1]))
    bills = json.loads(sys.argv[2])
    enqueue_only = sys.argv[3:] == ["enqueue-only"]
    box = Outbox(config.paths.data_path() / "outbox.db")
    for bill in bills:
        box.enqueue(f"kill9-{bill['bill_id']}", "kill9", SettleRequest(
            bill_id=bill["bill_id"], patient_id=bill["patient_id"], method=PaymentMethod.CARD),
            bill["self_pay_fen"])
    if enqueue_only:
        print("enqueued", flush=True)
        time.sleep(3600)
        return 1
    client = connect(config)
    desk = SettlementDesk(client, box, offline=OfflineConfig(), station=Station("", "k9"),
                          hold_s=0.0, retention_hours=lambda: client.retention_hours,
                          platform_now=client.clock.now, notify_cashier=lambda effect: None)
    print("started", flush=True)
    while box.pending():
        for row in box.due(time.time()):
            delivery = desk.deliver(row)
            state = "delivered" if delivery.settlement else f"failed {delivery.code}"
            print(f"{state} {row.idempotency_key}", flush=True)
        box.retry_now()  # the test wants speed, not politeness
        time.sleep(0.01)
    print("drained", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
