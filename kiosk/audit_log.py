"""The kiosk's local audit log of flow events: append-only JSON lines, hash-chained.

Each line carries ``prev`` and ``hash`` = sha256(prev || canonical JSON of the event), so a
removed or edited line breaks the chain from there on (``verify``). Events hold session ids,
reason codes, amounts in fen and masked values only: never images, templates, full names,
ids, phone or card numbers (the logs' redactor runs over every string, nested ones too).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from common.logs import redact_value

GENESIS = "0" * 64


def _canonical(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str).encode("utf-8")


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._head = self._last_hash()

    def _last_hash(self) -> str:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return GENESIS
        with self.path.open("rb") as fh:
            fh.seek(max(0, self.path.stat().st_size - 4096))
            last = fh.read().splitlines()[-1]
        return json.loads(last)["hash"]

    def append(self, event: str, fields: dict[str, Any]) -> None:
        clean = redact_value(fields)
        with self._lock:
            record = {"ts": round(time.time(), 3), "event": event, **clean,
                      "prev": self._head}
            record["hash"] = hashlib.sha256(self._head.encode() + _canonical(record)).hexdigest()
            with self.path.open("ab") as fh:
                fh.write(_canonical(record) + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            self._head = record["hash"]


def verify(path: Path) -> tuple[bool, int, str]:
    """(ok, records checked, reason) — recomputes every hash from the genesis."""
    prev = GENESIS
    count = 0
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            record = json.loads(line)
            claimed = record.pop("hash")
        except (ValueError, KeyError):
            return False, count, f"line {number}: not an audit record"
        if record.get("prev") != prev:
            return False, count, f"line {number}: chain broken (a line was removed or moved)"
        if hashlib.sha256(prev.encode() + _canonical(record)).hexdigest() != claimed:
            return False, count, f"line {number}: record was altered"
        prev = claimed
        count += 1
    return True, count, "ok"
