"""Structured logging for every process: the kiosk window, the counter console, the ``kiosk``
CLI, the platform and each of its worker processes. One JSON object per line, to stderr
(journald keeps it under systemd) and to a size-rotated file, with a last-line-of-defence
redactor.

Code logs ids and masked values only; the redactor additionally blanks anything that looks
like a mainland mobile number, an 18-digit national id or a letter-prefixed insurance card
number, in the message, in every ``extra=`` value (nested dicts and lists too) and in
exception text; values under a personal key (``phone``, ``card_no`` ...) are masked whole,
because an all-digit card number cannot be told from a settlement number by its looks.

Files: rotating a file that several processes write is unsafe (one renames it under the
others), so each process writes a file of its own. A process takes the first free *slot* of
its program name, ``<name>.jsonl``, ``<name>.2.jsonl``, ..., held by an advisory lock on
``<file>.lock`` while it lives: one writer per file, rotation is safe, and restarts reuse the
same names instead of piling up one file per pid.
"""

from __future__ import annotations

import fcntl
import json
import logging
import logging.handlers
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from common.privacy import mask_card, mask_number, mask_phone

MAX_BYTES = 10 * 1024 * 1024  # per file; with BACKUPS, at most 60 MiB per process slot
BACKUPS = 5
MAX_SLOTS = 72  # the platform's 64 workers, its supervisor and a few admin commands

_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_NATIONAL_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_CARD = re.compile(r"(?<![0-9A-Za-z])[A-Z]{1,4}\d{6,28}(?![0-9A-Za-z])")
_KEYED: dict[str, Callable[[str], str]] = {
    "phone": mask_phone, "mobile": mask_phone, "national_id": mask_number,
    "id_number": mask_number, "card_no": mask_card, "card": mask_card,
}
# uvicorn's color_message repeats msg with terminal colour codes
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName",
                                                     "color_message"}


def redact(text: str) -> str:
    text = _NATIONAL_ID.sub(lambda m: mask_number(m.group(0)), text)
    text = _CARD.sub(lambda m: mask_card(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


def redact_value(value: Any, key: str = "") -> Any:
    """``value`` with every string in it redacted, through dicts, lists and tuples."""
    if isinstance(value, str):
        mask = _KEYED.get(key.lower())
        return mask(value) if mask else redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v, key) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = redact_value(value, key)
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=lambda v: redact(str(v)))


class _SlotFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file that only this process writes (its slot's lock is held until close)."""

    def __init__(self, path: Path, lock_fd: int, max_bytes: int, backups: int) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self._lock_fd = lock_fd

    def close(self) -> None:
        super().close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the slot
            self._lock_fd = -1


def _claim_slot(log_dir: Path, name: str, max_bytes: int, backups: int) -> _SlotFileHandler:
    log_dir.mkdir(parents=True, exist_ok=True)
    for slot in range(1, MAX_SLOTS + 1):
        path = log_dir / (f"{name}.jsonl" if slot == 1 else f"{name}.{slot}.jsonl")
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return _SlotFileHandler(path, fd, max_bytes, backups)
    raise OSError(f"{log_dir}: all {MAX_SLOTS} log slots of {name!r} are held by live processes")


def setup_logging(level: str = "INFO", log_dir: str | Path | None = None, name: str = "kiosk", *,
                  stream: TextIO | None = None, max_bytes: int = MAX_BYTES,
                  backups: int = BACKUPS) -> Path | None:
    """The one logging set-up: replaces the root logger's handlers (closing the previous
    ones, so calling it again moves the logs) with JSON to ``stream`` (default stderr) and,
    with ``log_dir``, to this process's rotating file there, whose path is returned."""
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        if isinstance(old, _SlotFileHandler):
            old.close()  # frees its slot; other handlers' streams are not ours to close
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
    file = _claim_slot(Path(log_dir), name, max_bytes, backups) if log_dir is not None else None
    if file is not None:
        handlers.append(file)
    formatter = JsonFormatter()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    return Path(file.baseFilename) if file is not None else None
