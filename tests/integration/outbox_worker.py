"""Subprocess for the kill -9 test: enqueue one settlement per bill (deterministic
Idempotency-Keys, as a kiosk that already wrote its intents would have), then deliver
everything; exits 0 when the outbox is drained. Killed at random points by the test."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from kiosk.backend import BackendError
from kiosk.config import load_config
from kiosk.outbox import Outbox, OutboxSender, SendOutcome
from kiosk.provisioning import connect


def main() -> int:
    config = load_config(Path(sys.argv[1]))
    bills = json.loads(sys.argv[2])
    client = connect(config)
    box = Outbox(config.paths.data_path() / "outbox.db")
    for bill in bills:
        box.enqueue(f"kill9-{bill['bill_id']}", "kill9",
                    {"bill_id": bill["bill_id"], "patient_id": bill["patient_id"],
                     "method": "card", "expected_self_pay_fen": None}, bill["self_pay_fen"])

    def send(item):
        try:
            return SendOutcome(True, client.settle(item.idempotency_key, item.payload))
        except BackendError as exc:
            return SendOutcome(False, error=exc.code, retryable=exc.retryable)

    def progress(item, outcome):
        state = "delivered" if outcome.delivered else f"failed {outcome.error}"
        print(f"{state} {item.idempotency_key}", flush=True)

    print("started", flush=True)
    sender = OutboxSender(box, send, on_result=progress)
    while box.pending():
        sender.run_once()
        for item in box.pending():
            box.retry_now(item.idempotency_key)  # the test wants speed, not politeness
        time.sleep(0.01)
    print("drained", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
