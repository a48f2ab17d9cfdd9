"""Every receipt kept on disk until well after it printed, so nothing is lost to a printer
that is offline, out of paper or vanishes mid-job, and the cashier can reprint any recent slip.

One JSON file per settlement id, written atomically (temp file + rename): a power cut during
a write leaves the previous version, never half a file.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from common.atomic import atomic_write
from common.errors import ErrorCode
from device.errors import ReceiptError, ReceiptNotFound
from device.printer.receipt import SETTLEMENT_ID, Receipt

log = logging.getLogger(__name__)


class ReceiptSpool:
    def __init__(self, folder: str | Path, *, keep: int = 500) -> None:
        self.folder = Path(folder)
        self.keep = keep

    def _path(self, settlement_id: str) -> Path:
        if not SETTLEMENT_ID.match(settlement_id):
            raise ReceiptNotFound(f"no receipt for settlement {settlement_id!r}")
        return self.folder / f"{settlement_id}.json"

    def save(self, receipt: Receipt) -> None:
        """Record (or replace) a receipt as not yet printed."""
        self._write(receipt.settlement_id, {"receipt": receipt.to_dict(), "printed": False,
                                            "attempts": 0, "last_error": None,
                                            "saved_at": time.time()})
        self._prune()

    def mark(self, settlement_id: str, *, printed: bool, error: str | None = None) -> None:
        record = self._read(settlement_id)
        record.update(printed=printed or record.get("printed", False), last_error=error,
                      attempts=int(record.get("attempts", 0)) + 1)
        self._write(settlement_id, record)

    def load(self, settlement_id: str) -> Receipt:
        return Receipt.from_dict(self._read(settlement_id)["receipt"])

    def unprinted(self) -> list[str]:
        """Settlement ids whose slip never came out, oldest first: the cashier's to-do list."""
        return [p.stem for p in self._files() if not self._safe_read(p).get("printed", True)]

    def recent(self, limit: int = 20) -> list[str]:
        return [p.stem for p in self._files()[-limit:]][::-1]

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("*.json"), key=lambda p: (p.stat().st_mtime_ns, p.name))

    def _read(self, settlement_id: str) -> dict[str, Any]:
        path = self._path(settlement_id)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ReceiptNotFound(f"no receipt for settlement {settlement_id}") from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ReceiptError(f"receipt file for {settlement_id} is unreadable: {exc}",
                               code=ErrorCode.RECEIPT_CORRUPT) from exc
        if not isinstance(record, dict) or not isinstance(record.get("receipt"), dict):
            raise ReceiptError(f"receipt file for {settlement_id} is malformed",
                               code=ErrorCode.RECEIPT_CORRUPT)
        return record

    def _safe_read(self, path: Path) -> dict[str, Any]:
        try:
            return self._read(path.stem)
        except ReceiptError:
            log.warning("unreadable receipt file", extra={"device": "printer",
                                                          "file": path.name})
            return {}

    def _write(self, settlement_id: str, record: dict[str, Any]) -> None:
        data = json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8")
        atomic_write(self._path(settlement_id), data)

    def _prune(self) -> None:
        """Drop the oldest printed receipts beyond ``keep``; unprinted ones always stay."""
        files = self._files()
        excess = len(files) - self.keep
        for path in files:
            if excess <= 0:
                break
            if self._safe_read(path).get("printed"):
                path.unlink(missing_ok=True)
                excess -= 1
